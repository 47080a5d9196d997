package restorer

import (
	"errors"
	"fmt"
	"os"

	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/store"
)

// createMemfd makes the memfd, of its size and empty, sealable (its seals
// come last, once it is filled) and executable as far as the kernel lets
// a memfd be (its mode, set last, says what it really is).
func (o *memObj) createMemfd() error {
	name := o.memfd.GetName()
	f, err := linux.MemfdCreateFlags(name, linux.MfdAllowSealing|linux.MfdExec)
	if errors.Is(err, linux.EINVAL) || errors.Is(err, linux.EACCES) {
		// Before 6.3 there is no MFD_EXEC; vm.memfd_noexec=2 refuses it.
		f, err = linux.MemfdCreateFlags(name, linux.MfdAllowSealing)
	}
	if err != nil {
		return err
	}
	if err := f.Truncate(int64(o.size)); err != nil {
		f.Close()
		return err
	}
	o.f = f
	return nil
}

// finishMemfd writes the contents no mapping saved, then gives the memfd
// its mode, owner and seals (F_SEAL_WRITE forbids writing, so last).
func (o *memObj) finishMemfd(r *store.Reader) error {
	e := o.memfd
	if err := fillPieces(r, images.MemfdBytes, o.id, o.f, o.size, images.MemfdBytesMax); err != nil {
		return err
	}
	if err := o.f.Chmod(os.FileMode(e.GetMode() & 0o777)); err != nil {
		return err
	}
	if err := o.f.Chown(int(e.GetUid()), int(e.GetGid())); err != nil {
		return err
	}
	seals := int(e.GetSeals())
	if seals&linux.FSealFutureWrite != 0 {
		// Mappings made writable before F_SEAL_FUTURE_WRITE stay so, but
		// no new one can be made: it comes once the processes have theirs
		// (sealLate), with F_SEAL_SEAL, which forbids adding it then.
		o.lateSeals = seals & (linux.FSealFutureWrite | linux.FSealSeal)
		seals &^= o.lateSeals
	}
	if seals != 0 {
		return linux.AddSeals(o.f, seals)
	}
	return nil
}

// sealLate adds the seals that had to wait until every process mapped
// its memfds (see finishMemfd).
func (m *memObjects) sealLate() error {
	if m == nil {
		return nil
	}
	for id, o := range m.memfds {
		if o.lateSeals == 0 {
			continue
		}
		if err := linux.AddSeals(o.f, o.lateSeals); err != nil {
			return fmt.Errorf("memfd %d (%q): %w", id, o.memfd.GetName(), err)
		}
	}
	return nil
}
