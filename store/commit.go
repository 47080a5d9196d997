package store

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/crlazy/crlazy/images/crlazypb"
)

// Commit finishes the store: it waits for every batch to reach badger,
// makes all data durable (fsync of every value-log file and of the
// directory), then writes the header with complete = true and the
// contents as the last write, syncs again and closes the database. On
// error the store stays incomplete; call Abort to remove it.
func (w *Writer) Commit() (err error) {
	defer guard(&err, "commit", nil)()
	if w.setState(committing, writing) != writing {
		return fmt.Errorf("commit store %s: %w", w.dir, ErrClosed)
	}
	if err := w.commit(); err != nil {
		w.setState(failed, committing)
		return fmt.Errorf("commit store %s: %w", w.dir, err)
	}
	w.setState(committed, committing)
	return nil
}

// setState moves the Writer to state to if it is in one of the states
// from, and returns the state it was in.
func (w *Writer) setState(to writerState, from ...writerState) writerState {
	w.mu.Lock()
	defer w.mu.Unlock()
	was := w.state
	for _, f := range from {
		if was == f {
			w.state = to
		}
	}
	return was
}

func (w *Writer) commit() error {
	err := w.batch.flush()
	if serr := w.sync.stop(); err == nil && serr != nil {
		err = fmt.Errorf("background sync: %w", serr)
	}
	if err != nil {
		return errors.Join(err, w.db.Close())
	}
	if err := w.syncData(); err != nil {
		return errors.Join(err, w.db.Close())
	}
	w.hdr.Complete = true
	w.hdr.Contents = proto.Clone(&w.contents).(*crlazypb.Contents)
	if err := w.putHeader(); err != nil {
		return errors.Join(err, w.db.Close())
	}
	if err := w.db.Sync(); err != nil {
		return errors.Join(fmt.Errorf("sync header: %w", err), w.db.Close())
	}
	if err := w.db.Close(); err != nil {
		return fmt.Errorf("close badger: %w", err)
	}
	return syncPath(w.dir)
}

// syncData makes every record and chunk written so far durable.
func (w *Writer) syncData() error {
	if err := w.db.Sync(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	if err := syncFiles(w.dir); err != nil {
		return fmt.Errorf("sync value logs: %w", err)
	}
	return nil
}

// Abort drops the store: it closes the database and removes every badger
// file from the directory, and the directory if Create made it (unless
// something else put files there meanwhile). Abort after a failed Commit
// removes the files too; after a successful Commit, or a second Abort,
// it returns ErrClosed and removes nothing.
func (w *Writer) Abort() (err error) {
	defer guard(&err, "abort", nil)()
	var cerr error
	switch w.setState(aborted, writing, failed) {
	case writing:
		w.batch.discard()
		_ = w.sync.stop() // the data is being thrown away
		cerr = w.db.Close()
	case failed: // Commit closed the database
	default:
		return fmt.Errorf("abort store %s: %w", w.dir, ErrClosed)
	}
	if err := removeBadgerFiles(w.dir, w.created); err != nil {
		return fmt.Errorf("abort store %s: %w", w.dir, err)
	}
	if cerr != nil {
		return fmt.Errorf("abort store %s: close badger: %w", w.dir, cerr)
	}
	return nil
}
