package proc

import (
	"io"
	"strconv"
)

// Fdinfo is /proc/PID/fdinfo/N: the four common lines, and the
// type-specific rest (eventfd-count, tfd, inotify wd, lock, sigmask, ...).
type Fdinfo struct {
	Pos   uint64
	Flags uint32 // open flags (O_*), octal in the file; O_CLOEXEC included
	MntID int    // 0 for some internal mounts (memfd shows 0 on 6.18)
	Ino   uint64
	// Extra holds every other line verbatim, in file order. Keys repeat
	// (one "tfd:" per epoll target, one "inotify wd:" per watch), so they
	// are kept as lines; Field looks one up.
	Extra []string
}

// ListFds returns the open descriptors of pid, sorted. Listing /proc/self
// includes the descriptor used to read the directory, already closed on
// return.
func ListFds(pid int) ([]int, error) {
	return listInts(pidDir(pid), "fd")
}

// ReadFdLink returns the target of /proc/PID/fd/N ("/path", "pipe:[123]",
// "anon_inode:[eventfd]", "socket:[456]", ...). A closed fd of a live
// process gives an error matching fs.ErrNotExist but not ErrNoProcess.
func ReadFdLink(pid, fd int) (string, error) {
	return readLink(pidDir(pid), "fd/"+strconv.Itoa(fd))
}

// ReadFdinfo reads /proc/PID/fdinfo/N.
func ReadFdinfo(pid, fd int) (*Fdinfo, error) {
	return readParsed(pidDir(pid), "fdinfo/"+strconv.Itoa(fd), ParseFdinfo)
}

// ParseFdinfo parses the text of an fdinfo file. pos, flags, mnt_id and ino
// must each appear once (all kernels since 5.x print them).
func ParseFdinfo(r io.Reader) (*Fdinfo, error) {
	fi := &Fdinfo{}
	seen := map[string]bool{}
	err := forEachLine(r, func(line string) error {
		key, val, _ := cutField(line)
		switch key {
		case "pos", "flags", "mnt_id", "ino":
		default:
			fi.Extra = append(fi.Extra, line)
			return nil
		}
		if seen[key] {
			return malformed("duplicate "+key, nil)
		}
		seen[key] = true
		if err := fi.set(key, val); err != nil {
			return malformed(key, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, k := range []string{"pos", "flags", "mnt_id", "ino"} {
		if !seen[k] {
			return nil, malformed("missing "+k+" line", nil)
		}
	}
	return fi, nil
}

func (fi *Fdinfo) set(key, val string) error {
	var err error
	switch key {
	case "pos":
		fi.Pos, err = strconv.ParseUint(val, 10, 64)
	case "flags":
		err = parseOctal32(val, &fi.Flags)
	case "mnt_id":
		err = parseInt(val, &fi.MntID)
	case "ino":
		fi.Ino, err = strconv.ParseUint(val, 10, 64)
	}
	return err
}

// Field returns the value of the first Extra line whose key (the text before
// the first ':') is key, with blanks trimmed: Field("eventfd-count") is "5".
func (fi *Fdinfo) Field(key string) (string, bool) {
	for _, line := range fi.Extra {
		if k, v, ok := cutField(line); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// FieldsOf returns the values of every Extra line with the given key, in
// order: FieldsOf("tfd") has one entry per epoll target.
func (fi *Fdinfo) FieldsOf(key string) []string {
	var out []string
	for _, line := range fi.Extra {
		if k, v, ok := cutField(line); ok && k == key {
			out = append(out, v)
		}
	}
	return out
}
