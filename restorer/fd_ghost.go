package restorer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/store"
)

// build makes the deleted file again: a new file in the directory it was
// in, under its old name if that is free (so that /proc shows the same
// "name (deleted)") and unlinked at once, or else an O_TMPFILE there; its
// contents, size, owner, mode and times are the dumped ones.
func (g *ghostObj) build(r *store.Reader) error {
	e := g.entry
	if e.GetMode()&linux.SIfmt == linux.SIfdir {
		f, err := createGhostDir(g.name)
		if err != nil {
			return err
		}
		g.f = f
		return g.setAttrs(f)
	}
	f, err := createGhost(g.name)
	if err != nil {
		return err
	}
	g.f = f
	if err := f.Truncate(int64(e.GetSize())); err != nil {
		return err
	}
	if err := fillPieces(r, images.GhostBytes, g.id, f, e.GetSize(), images.GhostBytesMax); err != nil {
		return err
	}
	return g.setAttrs(f)
}

// setAttrs gives the remade file its owner, mode and times.
func (g *ghostObj) setAttrs(f *os.File) error {
	e := g.entry
	if err := f.Chown(int(e.GetUid()), int(e.GetGid())); err != nil {
		return err
	}
	if err := f.Chmod(os.FileMode(e.GetMode() & 0o777)); err != nil {
		return err
	}
	at, mt := e.GetAtim(), e.GetMtim()
	return linux.Futimens(f, linux.Timespec{Sec: int64(at.GetTvSec()), Nsec: int64(at.GetTvUsec()) * 1000},
		linux.Timespec{Sec: int64(mt.GetTvSec()), Nsec: int64(mt.GetTvUsec()) * 1000})
}

// createGhostDir makes a removed directory again: a new directory under
// its old name (or, if that is taken, a temporary one beside it), opened
// and removed at once, so that a process can be put in it (fchdir) and
// /proc shows "name (deleted)" as before.
func createGhostDir(name string) (*os.File, error) {
	path := name
	if err := os.Mkdir(path, ghostMode|0o100); errors.Is(err, fs.ErrExist) {
		if path, err = os.MkdirTemp(filepath.Dir(name), ".crlazy-ghost-dir."); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrFileChanged, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFileChanged, err)
	}
	f, err := os.Open(path)
	if rerr := os.Remove(path); err == nil && rerr != nil {
		f.Close()
		return nil, rerr
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}

// ghostMode is the mode a ghost is created with, before it gets its own:
// crlazy's alone meanwhile.
const ghostMode = 0o600

// createGhost creates an unlinked file in the directory of name.
func createGhost(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, ghostMode)
	if err == nil {
		if err := os.Remove(name); err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%w: %w", ErrFileChanged, err)
	}
	f, err = os.OpenFile(filepath.Dir(name), os.O_RDWR|linux.OTmpfile, ghostMode)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFileChanged, err)
	}
	return f, nil
}
