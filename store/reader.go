package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
	"google.golang.org/protobuf/proto"

	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/images/crlazypb"
)

// Reader reads a complete store. Any number of Readers, in this process
// and in others, may have the same store open at once (badger's read-only
// mode takes a shared lock). Every method is safe for concurrent use;
// Close waits for methods in progress.
type Reader struct {
	dir string
	hdr *crlazypb.Header

	mu sync.RWMutex // held for reading by every read, for writing by Close
	db *badger.DB   // nil once closed

	// broken is set when a call recovered from a panic inside badger,
	// which may have left its locks held: the Reader then refuses every
	// call, and Close leaves the database open rather than risk hanging.
	broken atomic.Pointer[error]
}

func (r *Reader) guard(errp *error, what string) func() {
	return guard(errp, what, func(err error) { r.broken.CompareAndSwap(nil, &err) })
}

// Open opens the store in dir read-only. It fails with a wrapped
// fs.ErrNotExist if dir does not exist, ErrCRIUImages for a CRIU image
// directory, ErrNotStore for anything else that is not a crlazy store,
// ErrLocked while a dump still writes it, ErrIncomplete if the dump did
// not complete, images.ErrVersion for a store layout this build cannot
// read, and a *CorruptError (ErrCorrupt) for damaged files or a store
// that lacks keys its header lists.
func Open(dir string, opts ...Option) (r *Reader, err error) {
	defer guard(&err, "open", nil)()
	r, err = open(dir, newConfig(opts))
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	return r, nil
}

func open(dir string, c config) (*Reader, error) {
	if err := checkDir(dir, !c.deferVerify); err != nil {
		return nil, err
	}
	db, err := badger.Open(readerOptions(dir, c))
	if err != nil {
		return nil, corrupt(err, "open badger") // checkDir ruled out the rest

	}
	r := &Reader{dir: dir, db: db}
	if err := r.load(c); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return r, nil
}

// checkDir classifies dir before badger sees it.
func checkDir(dir string, fullTables bool) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("not a directory: %w", ErrNotStore)
	}
	c, err := scanDir(dir)
	if err != nil {
		return err
	}
	if !c.has(manifestName) {
		if c.images > 0 {
			return fmt.Errorf("found %d *%s files: %w", c.images, criuImageExt, ErrCRIUImages)
		}
		return fmt.Errorf("no %s file: %w", manifestName, ErrNotStore)
	}
	if c.has(lockName) {
		return writerError(dir)
	}
	if err := checkManifest(dir); err != nil {
		return err
	}
	return checkTables(dir, fullTables)
}

// writerError explains a LOCK file. A writer (badger in read-write mode)
// keeps one, holding its pid, from Create until Commit or Abort closes
// the database; so the store is either being written or its writer died
// (then badger's log files are not closed and read-only badger cannot
// open them anyway).
func writerError(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, lockName))
	if err != nil {
		return fmt.Errorf("read %s: %w", lockName, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return fmt.Errorf("%s file without a pid: %w", lockName, ErrIncomplete)
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
		return fmt.Errorf("writer pid %d: %w", pid, ErrLocked)
	}
	return fmt.Errorf("writer pid %d died before commit: %w", pid, ErrIncomplete)
}

// load reads and checks the header and the key census.
func (r *Reader) load(c config) error {
	h := &crlazypb.Header{}
	err := r.db.View(func(txn *badger.Txn) error {
		return getRecord(txn, images.Key{Type: images.KeyHeader}, h)
	})
	if errors.Is(err, ErrNotFound) {
		return corrupt(nil, "no header record")
	}
	if err != nil {
		return fmt.Errorf("read header: %w", err)
	}
	if !h.Complete {
		return ErrIncomplete
	}
	if err := images.CheckHeader(h); err != nil {
		return err
	}
	r.hdr = h
	if c.deferVerify {
		return nil
	}
	return r.verify()
}

// Verify scans every key and checks the store holds exactly the keys its
// header lists (Open does this unless WithDeferredVerify was given).
func (r *Reader) Verify() (err error) {
	defer r.guard(&err, "verify")()
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.db == nil {
		return ErrClosed
	}
	if err := checkTables(r.dir, true); err != nil {
		return fmt.Errorf("verify store %s: %w", r.dir, err)
	}
	if err := r.verify(); err != nil {
		return fmt.Errorf("verify store %s: %w", r.dir, err)
	}
	return nil
}

// Header returns a copy of the store's header.
func (r *Reader) Header() *crlazypb.Header { return proto.Clone(r.hdr).(*crlazypb.Header) }

// Dir returns the store's directory.
func (r *Reader) Dir() string { return r.dir }

// Close releases the store. Methods called after Close return ErrClosed.
func (r *Reader) Close() (err error) {
	defer r.guard(&err, "close")()
	if b := r.broken.Load(); b != nil {
		return fmt.Errorf("close store %s: left open after: %w", r.dir, *b)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.db == nil {
		return fmt.Errorf("close store %s: %w", r.dir, ErrClosed)
	}
	err = r.db.Close()
	r.db = nil
	if err != nil {
		return fmt.Errorf("close store %s: %w", r.dir, err)
	}
	return nil
}

// view runs fn in a read transaction, with the Reader's lock held.
func (r *Reader) view(fn func(txn *badger.Txn) error) error {
	if b := r.broken.Load(); b != nil {
		return fmt.Errorf("unusable after: %w", *b)
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.db == nil {
		return ErrClosed
	}
	return r.db.View(fn)
}

// getRecord reads the value under key into m.
func getRecord(txn *badger.Txn, key images.Key, m proto.Message) error {
	item, err := txn.Get(key.Bytes())
	if errors.Is(err, badger.ErrKeyNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return corrupt(err, "get")
	}
	return readValue(item, key, func(v []byte) error {
		if err := images.DecodeRecord(item.Key(), v, m); err != nil {
			return corrupt(err, "decode")
		}
		return nil
	})
}

// readValue calls fn with the value of item (whose key is key), without
// a copy. badger's errors become a *CorruptError; fn's error is returned
// as it is.
func readValue(item *badger.Item, key images.Key, fn func(v []byte) error) error {
	var ferr error
	called := false
	err := item.Value(func(v []byte) error {
		called = true
		ferr = fn(v)
		return ferr
	})
	if called {
		return ferr
	}
	if err != nil {
		return corrupt(err, "read value of %s", key)
	}
	return nil
}
