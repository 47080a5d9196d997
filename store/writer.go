package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"google.golang.org/protobuf/proto"

	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/images/crlazypb"
)

// dirMode is the mode of a directory Create makes: stores hold process
// memory, so only the owner may look inside.
const dirMode = 0o700

// Writer writes one store. It is created by Create and ends with Commit
// or Abort. PutRecord, PutSubRecord and PutChunk may be called from any
// number of goroutines at once; Commit and Abort must be called once,
// after every Put has returned.
type Writer struct {
	dir     string
	created bool // Create made dir
	db      *badger.DB
	hdr     *crlazypb.Header // as given to Create, format fields filled in

	mu       sync.Mutex // guards the fields below
	seen     map[string]struct{}
	contents crlazypb.Contents
	state    writerState
	batch    *batcher

	sync *syncer // background fsync of value-log files
}

// writerState is where a Writer is in its life.
type writerState uint8

const (
	writing    writerState = iota // Puts accepted
	committing                    // Commit running
	committed                     // Commit succeeded
	failed                        // Commit failed; the database is closed
	aborted                       // Abort was called
)

// Create makes a new store in dir, creating dir (mode 0700, parent must
// exist) if it is missing. It refuses a dir that already holds a store
// or any badger file (ErrStoreExists) or CRIU images (ErrCRIUImages);
// other files, such as a log, may be there. hdr is copied; Create fills in
// format_version, and page_size, chunk_size and created_unix_nano when
// they are zero. The header is written at once with complete = false, so
// that a dump that dies leaves a store that Open reports as incomplete.
func Create(dir string, hdr *crlazypb.Header, opts ...Option) (w *Writer, err error) {
	defer guard(&err, "create", nil)()
	h, err := newHeader(hdr)
	if err != nil {
		return nil, fmt.Errorf("create store %s: %w", dir, err)
	}
	created, err := prepareDir(dir)
	if err != nil {
		return nil, fmt.Errorf("create store %s: %w", dir, err)
	}
	w, err = openWriter(dir, created, h, newConfig(opts))
	if err != nil {
		if rerr := removeBadgerFiles(dir, created); rerr != nil {
			err = errors.Join(err, fmt.Errorf("clean up: %w", rerr))
		}
		return nil, fmt.Errorf("create store %s: %w", dir, err)
	}
	return w, nil
}

func newHeader(hdr *crlazypb.Header) (*crlazypb.Header, error) {
	if hdr == nil {
		return nil, fmt.Errorf("nil header: %w", images.ErrBadHeader)
	}
	h := proto.Clone(hdr).(*crlazypb.Header)
	h.FormatVersion, h.Complete, h.Contents = images.FormatVersion, false, nil
	if h.PageSize == 0 {
		h.PageSize = images.PageSize
	}
	if h.ChunkSize == 0 {
		h.ChunkSize = images.ChunkMaxBytes
	}
	if h.CreatedUnixNano == 0 {
		h.CreatedUnixNano = time.Now().UnixNano()
	}
	return h, images.CheckHeader(h)
}

// prepareDir checks dir, or makes it; it reports whether it made it.
func prepareDir(dir string) (bool, error) {
	c, err := scanDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return true, os.Mkdir(dir, dirMode)
	}
	if err != nil {
		return false, err
	}
	if len(c.badger) > 0 {
		return false, fmt.Errorf("found %s: %w", strings.Join(c.badger, ", "), ErrStoreExists)
	}
	if c.images > 0 {
		return false, fmt.Errorf("found %d *%s files: %w", c.images, criuImageExt, ErrCRIUImages)
	}
	return false, nil
}

func openWriter(dir string, created bool, h *crlazypb.Header, c config) (*Writer, error) {
	db, err := badger.Open(writerOptions(dir, c))
	if err != nil {
		return nil, fmt.Errorf("open badger: %w", err)
	}
	w := &Writer{dir: dir, created: created, db: db, hdr: h, seen: map[string]struct{}{}}
	if err := w.putHeader(); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	w.sync = startSyncer(dir)
	w.batch = newBatcher(db, w.sync, int(orDefault(c.batchBytes, batchBytes)))
	return w, nil
}

// putHeader writes w.hdr synchronously.
func (w *Writer) putHeader() error {
	v, err := images.EncodeRecord(images.HeaderKey(), w.hdr)
	if err != nil {
		return err
	}
	if err := w.db.Update(func(txn *badger.Txn) error { return txn.Set(images.HeaderKey(), v) }); err != nil {
		return fmt.Errorf("write header: %w", err)
	}
	return nil
}

// Header returns a copy of the header the Writer will commit (without
// contents and complete).
func (w *Writer) Header() *crlazypb.Header { return proto.Clone(w.hdr).(*crlazypb.Header) }
