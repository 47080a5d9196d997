package imagefs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/store"
)

// Mount tuning (KERNEL-FACTS §7: 1 MiB requests and a raised read-ahead
// are what reach 2 GB/s and more).
const (
	// maxRead is the largest read request: max_read and MaxWrite.
	// fs.fuse.max_pages_limit (256 pages here) caps it at 1 MiB.
	maxRead = 1 << 20
	// DefaultReadAheadKB is the bdi read_ahead_kb a mount gets: the
	// kernel leaves a FUSE mount at 128 KiB whatever MaxReadAhead says.
	DefaultReadAheadKB = 8192
	// cacheTimeout is how long the kernel may cache names and
	// attributes: the store never changes while it is mounted.
	cacheTimeout = 24 * time.Hour
	rootIno      = 1
	bdiPath      = "/sys/class/bdi/%d:%d/read_ahead_kb"
)

// Options configure Mount. The zero value is the default of each field.
type Options struct {
	// DirectIO opens memory and pages files with FOPEN_DIRECT_IO: reads
	// bypass the page cache (no read-ahead, nothing cached). Zero: reads
	// go through the page cache, which the kernel keeps across opens.
	DirectIO bool
	// ReadAheadKB is written to the mount's bdi read_ahead_kb. Zero:
	// DefaultReadAheadKB; negative: leave the kernel's value.
	ReadAheadKB int
	// Log receives errors that cannot be returned to a reader (a file
	// the store cannot produce reads as EIO). Nil: discarded.
	Log *slog.Logger
	// Debug logs every FUSE request to Log.
	Debug bool
}

// Server is a mounted view. Its methods are safe for concurrent use.
type Server struct {
	srv        *fuse.Server
	r          *store.Reader
	mountPoint string // absolute
}

// Mount mounts the store in storeDir read-only on mountPoint and serves
// it until it is unmounted. It needs root (the mount is made with
// mount(2) directly). A store a dump is still writing is refused
// (store.ErrLocked), as is an unfinished one (store.ErrIncomplete).
func Mount(storeDir, mountPoint string, opts Options) (s *Server, err error) {
	if mountPoint, err = filepath.Abs(mountPoint); err != nil {
		return nil, fmt.Errorf("mount: %w", err)
	}
	r, err := store.Open(storeDir)
	if err != nil {
		if errors.Is(err, store.ErrLocked) {
			err = fmt.Errorf("%w: mount it once the dump has finished", err)
		}
		return nil, fmt.Errorf("mount: %w", err)
	}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	tree, err := buildTree(r)
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", storeDir, err)
	}
	a := newAttrs(r, opts)
	root := &rootNode{dirNode: dirNode{a: a}, tree: tree}
	srv, err := fs.Mount(mountPoint, root, fsOptions(storeDir, opts))
	if err != nil {
		return nil, fmt.Errorf("mount %s on %s: %w", storeDir, mountPoint, err)
	}
	s = &Server{srv: srv, r: r, mountPoint: mountPoint}
	if err := s.raiseReadAhead(opts.ReadAheadKB); err != nil {
		logger(opts).Warn("imagefs: read-ahead not raised", "err", err)
	}
	return s, nil
}

func logger(opts Options) *slog.Logger {
	if opts.Log == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return opts.Log
}

func newAttrs(r *store.Reader, opts Options) *attrs {
	return &attrs{mtime: time.Unix(0, r.Header().GetCreatedUnixNano()), directIO: opts.DirectIO, log: logger(opts)}
}

func fsOptions(storeDir string, opts Options) *fs.Options {
	timeout := cacheTimeout
	source, err := filepath.Abs(storeDir)
	if err != nil {
		source = storeDir
	}
	return &fs.Options{
		MountOptions: fuse.MountOptions{
			DirectMountStrict: true,
			DirectMountFlags:  linux.ReadOnlyMountFlags,
			MaxWrite:          maxRead,
			MaxReadAhead:      maxRead,
			Name:              fsName,
			FsName:            source,
			DisableXAttrs:     true,
			// Reads return bytes in memory, never a descriptor to
			// splice from; trying would cost a pipe resize per read.
			DisableSplice: true,
			Debug:         opts.Debug,
			Logger:        log.New(logWriter{logger(opts)}, "", 0),
		},
		EntryTimeout:    &timeout,
		AttrTimeout:     &timeout,
		NegativeTimeout: &timeout,
		RootStableAttr:  &fs.StableAttr{Ino: rootIno},
	}
}

// raiseReadAhead sets the bdi read_ahead_kb of the new mount.
func (s *Server) raiseReadAhead(kb int) error {
	if kb < 0 {
		return nil
	}
	if kb == 0 {
		kb = DefaultReadAheadKB
	}
	m, err := FindMount(s.mountPoint)
	if err != nil {
		return err
	}
	return os.WriteFile(fmt.Sprintf(bdiPath, m.Major, m.Minor), []byte(strconv.Itoa(kb)), 0)
}

// MountPoint returns where the view is mounted.
func (s *Server) MountPoint() string { return s.mountPoint }

// Wait returns once the view is unmounted (by Unmount, `crlazy umount`
// or umount(8)) and every request is answered, then closes the store.
func (s *Server) Wait() error {
	s.srv.Wait()
	return s.r.Close()
}

// Unmount unmounts the view; if it is busy, it detaches it lazily and
// the server goes on until its last user closes it (Wait returns then).
func (s *Server) Unmount() error {
	err := linux.Unmount(s.mountPoint, false)
	if errors.Is(err, linux.EBUSY) {
		err = linux.Unmount(s.mountPoint, true)
	}
	if err != nil && !errors.Is(err, linux.EINVAL) {
		return fmt.Errorf("unmount %s: %w", s.mountPoint, err)
	}
	return nil
}

// logWriter sends go-fuse's log lines to the mount's logger.
type logWriter struct{ l *slog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.l.Warn("go-fuse: " + string(bytes.TrimSpace(p)))
	return len(p), nil
}
