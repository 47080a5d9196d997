package store

import (
	"errors"
	"fmt"
	"sync"

	"github.com/dgraph-io/badger/v4"
)

// batcher groups writes into badger transactions of about batchBytes and
// commits each in the background (Txn.CommitWith), with at most
// maxPendingBatches commits in flight: a full pipeline makes set wait,
// which bounds the memory held by chunks not yet in the value log.
//
// badger's WriteBatch does the same but cuts transactions by entry count
// and by the size of what goes into the LSM tree only; with chunks in the
// value log that lets one transaction hold gigabytes of chunk data.
//
// set and flush are not safe for concurrent use (Writer.mu guards them);
// the commit callbacks run on badger's goroutines and touch only pending,
// wg and err.
type batcher struct {
	db       *badger.DB
	txn      *badger.Txn
	size     int // bytes of keys and values in txn
	limit    int // commit txn once size reaches this (batchBytes)
	unsynced int // bytes committed since the last sync request
	sync     *syncer

	pending chan struct{} // one token per commit in flight
	wg      sync.WaitGroup
	seq     uint64 // sequence number of the next commit

	errMu sync.Mutex // guards err and the fields below
	err   error      // first commit error; sticky
	// done[s] marks commit s finished; doneUpTo is the count of commits
	// 0..doneUpTo-1 all finished; waiters run once doneUpTo reaches theirs.
	done     map[uint64]bool
	doneUpTo uint64
	waiters  []waiter
}

// waiter is a function to run once the first upTo commits are finished.
type waiter struct {
	upTo uint64
	fn   func()
}

func newBatcher(db *badger.DB, s *syncer, limit int) *batcher {
	return &batcher{db: db, txn: db.NewTransaction(true), limit: limit, sync: s,
		pending: make(chan struct{}, maxPendingBatches), done: map[uint64]bool{}}
}

// set adds key=val to the current transaction; neither is copied.
func (b *batcher) set(key, val []byte) error {
	if err := b.failed(); err != nil {
		return err
	}
	e := badger.NewEntry(key, val)
	err := b.txn.SetEntry(e)
	if errors.Is(err, badger.ErrTxnTooBig) {
		b.commit()
		err = b.txn.SetEntry(e)
	}
	if err != nil {
		return fmt.Errorf("badger set: %w", err)
	}
	if b.size += len(key) + len(val); b.size >= b.limit {
		b.commit()
	}
	return nil
}

// commit sends the current transaction to badger and starts a new one.
func (b *batcher) commit() {
	b.pending <- struct{}{}
	b.wg.Add(1)
	seq := b.seq
	b.seq++
	b.txn.CommitWith(func(err error) { b.committed(seq, err) })
	if b.unsynced += b.size; b.unsynced >= syncEveryBytes && b.sync != nil {
		b.sync.request()
		b.unsynced = 0
	}
	b.txn, b.size = b.db.NewTransaction(true), 0
}

func (b *batcher) committed(seq uint64, err error) {
	b.errMu.Lock()
	if err != nil && b.err == nil {
		b.err = fmt.Errorf("badger commit: %w", err)
	}
	b.done[seq] = true
	for b.done[b.doneUpTo] {
		delete(b.done, b.doneUpTo)
		b.doneUpTo++
	}
	ready := b.readyWaiters()
	b.errMu.Unlock()
	for _, fn := range ready {
		fn()
	}
	<-b.pending
	b.wg.Done()
}

// readyWaiters removes and returns the waiters whose commits are done.
// errMu must be held.
func (b *batcher) readyWaiters() []func() {
	var ready []func()
	keep := b.waiters[:0]
	for _, w := range b.waiters {
		if w.upTo <= b.doneUpTo {
			ready = append(ready, w.fn)
		} else {
			keep = append(keep, w)
		}
	}
	b.waiters = keep
	return ready
}

// afterCommit commits the current transaction and arranges for fn to run,
// on another goroutine, once it and every earlier commit are finished.
func (b *batcher) afterCommit(fn func()) {
	if b.size > 0 {
		b.commit()
	}
	b.errMu.Lock()
	if b.doneUpTo >= b.seq {
		b.errMu.Unlock()
		go fn()
		return
	}
	b.waiters = append(b.waiters, waiter{upTo: b.seq, fn: fn})
	b.errMu.Unlock()
}

func (b *batcher) failed() error {
	b.errMu.Lock()
	defer b.errMu.Unlock()
	return b.err
}

// flush commits what is left and waits for every commit to finish; then
// no waiter is left.
func (b *batcher) flush() error {
	b.commit()
	b.wg.Wait()
	b.txn.Discard()
	return b.failed()
}

// discard drops the current transaction and waits for commits in flight.
func (b *batcher) discard() {
	b.txn.Discard()
	b.wg.Wait()
}
