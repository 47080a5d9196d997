package proc

import (
	"encoding/hex"
	"strconv"
	"strings"
)

// The type-specific lines of /proc/PID/fdinfo/N, as the kernel prints them
// (fs/eventfd.c, fs/eventpoll.c, fs/signalfd.c, fs/timerfd.c,
// fs/notify/fdinfo.c, kernel/pid.c). Each accessor parses the Extra lines
// of an Fdinfo already read; every error wraps ErrMalformed.

// maxHandleBytes is MAX_HANDLE_SZ (include/linux/exportfs.h): the largest
// file handle an inotify watch can show.
const maxHandleBytes = 128

// Eventfd is the state of an eventfd.
type Eventfd struct {
	Count     uint64
	Semaphore bool // EFD_SEMAPHORE; false on kernels that do not show it
}

// Eventfd parses "eventfd-count:" (hex) and "eventfd-semaphore:".
func (fi *Fdinfo) Eventfd() (Eventfd, error) {
	var e Eventfd
	v, ok := fi.Field("eventfd-count")
	if !ok {
		return e, malformed("no eventfd-count line", nil)
	}
	if err := parseHex64(v, &e.Count); err != nil {
		return e, malformed("eventfd-count", err)
	}
	if v, ok := fi.Field("eventfd-semaphore"); ok {
		if err := parseBool(v, &e.Semaphore); err != nil {
			return e, malformed("eventfd-semaphore", err)
		}
	}
	return e, nil
}

// EpollTarget is one file registered in an epoll instance.
type EpollTarget struct {
	Fd     int    // the descriptor number it was registered under
	Events uint32 // the event mask, with EPOLLET, EPOLLONESHOT, ...
	Data   uint64 // the user data
	Pos    uint64 // the target file's offset
	Ino    uint64 // the target file's inode number
	Sdev   uint64 // the target file's device (kernel encoding)
}

// EpollTargets parses every "tfd:" line, in the kernel's order.
func (fi *Fdinfo) EpollTargets() ([]EpollTarget, error) {
	var out []EpollTarget
	for _, line := range fi.FieldsOf("tfd") {
		kv, err := splitAttrs(line)
		if err != nil {
			return nil, malformed("tfd", err)
		}
		var t EpollTarget
		var events uint64
		err = kv.parse(
			attr{key: "", parse: func(v string) error { return parseInt(v, &t.Fd) }},
			attr{key: "events", parse: func(v string) error { return parseHexN(v, 32, &events) }},
			attr{key: "data", parse: func(v string) error { return parseHex64(v, &t.Data) }},
			attr{key: "pos", parse: func(v string) error { return parseDec64(v, &t.Pos) }},
			attr{key: "ino", parse: func(v string) error { return parseHex64(v, &t.Ino) }},
			attr{key: "sdev", parse: func(v string) error { return parseHex64(v, &t.Sdev) }},
		)
		if err != nil || t.Fd < 0 {
			return nil, malformed("tfd "+strconv.Quote(line), err)
		}
		t.Events = uint32(events)
		out = append(out, t)
	}
	return out, nil
}

// SignalfdMask parses "sigmask:" (hex; bit n-1 is signal n).
func (fi *Fdinfo) SignalfdMask() (uint64, error) {
	v, ok := fi.Field("sigmask")
	if !ok {
		return 0, malformed("no sigmask line", nil)
	}
	var m uint64
	if err := parseHex64(v, &m); err != nil {
		return 0, malformed("sigmask", err)
	}
	return m, nil
}

// Timespec is a struct timespec as fdinfo prints it: "(sec, nsec)".
type Timespec struct {
	Sec, Nsec int64
}

// Timerfd is the state of a timerfd.
type Timerfd struct {
	Clock        int
	Ticks        uint64 // expirations not yet read
	SettimeFlags uint32 // TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET
	Value        Timespec
	Interval     Timespec
}

// Timerfd parses "clockid:", "ticks:", "settime flags:" (octal),
// "it_value:" (time left, even for an absolute timer) and "it_interval:".
func (fi *Fdinfo) Timerfd() (Timerfd, error) {
	var t Timerfd
	fields := []struct {
		key   string
		parse func(string) error
	}{
		{"clockid", func(v string) error { return parseInt(v, &t.Clock) }},
		{"ticks", func(v string) error { return parseDec64(v, &t.Ticks) }},
		{"settime flags", func(v string) error { return parseOctal32(v, &t.SettimeFlags) }},
		{"it_value", func(v string) error { return parseTimespec(v, &t.Value) }},
		{"it_interval", func(v string) error { return parseTimespec(v, &t.Interval) }},
	}
	for _, f := range fields {
		v, ok := fi.Field(f.key)
		if !ok {
			return t, malformed("no "+f.key+" line", nil)
		}
		if err := f.parse(v); err != nil {
			return t, malformed(f.key, err)
		}
	}
	return t, nil
}

// parseTimespec parses "(sec, nsec)" with non-negative parts, nsec below
// one second.
func parseTimespec(v string, ts *Timespec) error {
	inner, ok := strings.CutPrefix(v, "(")
	if inner, ok = strings.CutSuffix(inner, ")"); !ok {
		return malformed("timespec "+strconv.Quote(v), nil)
	}
	s, ns, ok := strings.Cut(inner, ",")
	if !ok {
		return malformed("timespec "+strconv.Quote(v), nil)
	}
	sec, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || sec < 0 {
		return malformed("timespec seconds "+strconv.Quote(s), err)
	}
	nsec, err := strconv.ParseInt(strings.TrimSpace(ns), 10, 64)
	if err != nil || nsec < 0 || nsec >= 1e9 {
		return malformed("timespec nanoseconds "+strconv.Quote(ns), err)
	}
	*ts = Timespec{Sec: sec, Nsec: nsec}
	return nil
}

// InotifyWatch is one watch of an inotify instance.
type InotifyWatch struct {
	Wd          int
	Ino         uint64
	Sdev        uint64 // the watched inode's device (kernel encoding: major<<20 | minor)
	Mask        uint32 // the mask given to inotify_add_watch (IN_*)
	IgnoredMask uint32
	HandleType  int32  // file handle type, for open_by_handle_at
	Handle      []byte // file handle bytes
}

// InotifyWatches parses every "inotify wd:" line, in the kernel's order.
func (fi *Fdinfo) InotifyWatches() ([]InotifyWatch, error) {
	var out []InotifyWatch
	for _, line := range fi.FieldsOf("inotify wd") {
		w, err := parseInotifyWatch(line)
		if err != nil {
			return nil, malformed("inotify wd "+strconv.Quote(line), err)
		}
		out = append(out, w)
	}
	return out, nil
}

func parseInotifyWatch(line string) (InotifyWatch, error) {
	var w InotifyWatch
	kv, err := splitAttrs(line)
	if err != nil {
		return w, err
	}
	var wd, mask, ignored, nbytes, typ uint64
	var handle string
	err = kv.parse(
		attr{key: "", parse: func(v string) error { return parseHexN(v, 31, &wd) }},
		attr{key: "ino", parse: func(v string) error { return parseHex64(v, &w.Ino) }},
		attr{key: "sdev", parse: func(v string) error { return parseHex64(v, &w.Sdev) }},
		attr{key: "mask", parse: func(v string) error { return parseHexN(v, 32, &mask) }},
		attr{key: "ignored_mask", parse: func(v string) error { return parseHexN(v, 32, &ignored) }},
		attr{key: "fhandle-bytes", parse: func(v string) error { return parseHexN(v, 32, &nbytes) }, optional: true},
		attr{key: "fhandle-type", parse: func(v string) error { return parseHexN(v, 31, &typ) }, optional: true},
		attr{key: "f_handle", parse: func(v string) error { handle = v; return nil }, optional: true},
	)
	if err != nil {
		return w, err
	}
	if handle != "" {
		w.Handle, err = hex.DecodeString(handle)
	}
	if err != nil || uint64(len(w.Handle)) != nbytes || nbytes > maxHandleBytes {
		return w, malformed("f_handle of "+strconv.FormatUint(nbytes, 10)+" bytes", err)
	}
	w.Wd, w.Mask, w.IgnoredMask, w.HandleType = int(wd), uint32(mask), uint32(ignored), int32(typ)
	return w, nil
}

// PidfdPid parses "Pid:": the pid the pidfd refers to, in the reader's pid
// namespace; -1 once that process has been reaped, 0 when it is not
// visible in the namespace.
func (fi *Fdinfo) PidfdPid() (int, error) {
	v, ok := fi.Field("Pid")
	if !ok {
		return 0, malformed("no Pid line", nil)
	}
	var pid int
	if err := parseInt(v, &pid); err != nil || pid < -1 {
		return 0, malformed("Pid "+strconv.Quote(v), err)
	}
	return pid, nil
}
