package restorer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/fsnotify"
	"github.com/crlazy/crlazy/internal/linux"
)

// Kernel device numbers in the image are MAJOR << 20 | MINOR.
const kdevMinorBits = 20

// maxWdSkip bounds the watches made and removed to reach the watch
// descriptor numbers of an inotify instance (they are allocated
// cyclically, so the only way to watch descriptor N is to let 1..N-1 be
// used first).
const maxWdSkip = 1 << 20

// inDontFollow is IN_DONT_FOLLOW: the saved path is the watched inode
// itself, never a link to follow (include/uapi/linux/inotify.h).
const inDontFollow = 0x02000000

// checkInotify checks, before anything is created, that every watched
// path still leads to the inode that was watched.
func checkInotify(f *fdinfo.FileEntry) error {
	if f.GetIfy() == nil {
		return badImage("inotify without its record")
	}
	for _, w := range f.GetIfy().GetWd() {
		path := w.GetFHandle().GetPath()
		st, err := linux.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: inotify watch %d: %s no longer exists", ErrFileChanged, w.GetWd(), path)
		}
		if err != nil {
			return err
		}
		if st.Ino != w.GetIIno() || linux.Major(st.Dev) != w.GetSDev()>>kdevMinorBits ||
			linux.Minor(st.Dev) != w.GetSDev()&(1<<kdevMinorBits-1) {
			return fmt.Errorf("%w: inotify watch %d: %s is another file now", ErrFileChanged, w.GetWd(), path)
		}
	}
	return nil
}

// buildInotify makes an inotify instance with the dumped watches under
// their numbers. Watches made only to use up numbers are removed, and the
// IN_IGNORED events that leaves are drained before the process gets the
// instance. Events queued at the dump are not restored.
func buildInotify(f *fdinfo.FileEntry) (*os.File, error) {
	in, err := linux.InotifyCreate()
	if err != nil {
		return nil, err
	}
	wds := append([]*fsnotify.InotifyWdEntry(nil), f.GetIfy().GetWd()...)
	sort.Slice(wds, func(i, j int) bool { return wds[i].GetWd() < wds[j].GetWd() })
	skipped := 0
	for _, w := range wds {
		if err = addWatch(in, w, &skipped); err != nil {
			break
		}
	}
	if err == nil {
		err = linux.SetStatusFlags(in, linux.ONonblock)
	}
	if err == nil {
		err = linux.Drain(in)
	}
	if err != nil {
		in.Close()
		return nil, err
	}
	return finish(in, nil)(f.GetIfy().GetFlags())
}

// addWatch adds watch w under its number.
func addWatch(in *os.File, w *fsnotify.InotifyWdEntry, skipped *int) error {
	path := w.GetFHandle().GetPath()
	for {
		wd, err := linux.InotifyAddWatch(in, path, w.GetMask()|inDontFollow)
		switch {
		case err != nil:
			return fmt.Errorf("inotify watch %d: %w", w.GetWd(), err)
		case wd == int(w.GetWd()):
			return nil
		case wd > int(w.GetWd()) || *skipped >= maxWdSkip:
			return fmt.Errorf("inotify watch %d: got watch descriptor %d", w.GetWd(), wd)
		}
		*skipped++
		if err := linux.InotifyRmWatch(in, wd); err != nil {
			return err
		}
	}
}
