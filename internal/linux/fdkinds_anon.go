package linux

import (
	"encoding/binary"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Wrappers for the anon_inode kinds crlazy rebuilds (eventfd, signalfd,
// timerfd, inotify, pidfd) and the socket queries that name a refused
// socket. Files are created blocking (see fdkinds.go).

// EventfdCreate creates an eventfd holding counter, in semaphore mode if
// asked. Counters above 2^32-1 are written after creation (eventfd2 takes
// an unsigned int).
func EventfdCreate(counter uint64, semaphore bool) (*os.File, error) {
	flags := unix.EFD_CLOEXEC
	if semaphore {
		flags |= unix.EFD_SEMAPHORE
	}
	fd, err := unix.Eventfd(0, flags)
	if err != nil {
		return nil, os.NewSyscallError("eventfd2", err)
	}
	f := newFile(fd, "eventfd")
	if counter == 0 {
		return f, nil
	}
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], counter)
	if err := WriteFull(f, b[:]); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// SignalfdCreate creates a signalfd for the signals in mask (bit n-1 for
// signal n).
func SignalfdCreate(mask uint64) (*os.File, error) {
	set := unix.Sigset_t{Val: [16]uint64{mask}}
	fd, err := unix.Signalfd(-1, &set, unix.SFD_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("signalfd4", err)
	}
	return newFile(fd, "signalfd"), nil
}

// TimerfdCreate creates a disarmed timerfd on clock.
func TimerfdCreate(clock int) (*os.File, error) {
	fd, err := unix.TimerfdCreate(clock, unix.TFD_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("timerfd_create", err)
	}
	return newFile(fd, "timerfd"), nil
}

// TimerfdSettime arms (or disarms) a timerfd; flags are TfdTimer*.
func TimerfdSettime(f *os.File, flags int, v Itimerspec) error {
	spec := unix.ItimerSpec{
		Interval: unix.Timespec{Sec: v.IntervalSec, Nsec: v.IntervalNsec},
		Value:    unix.Timespec{Sec: v.ValueSec, Nsec: v.ValueNsec},
	}
	err := control(f, func(fd uintptr) error {
		return unix.TimerfdSettime(int(fd), flags, &spec, nil)
	})
	return os.NewSyscallError("timerfd_settime", err)
}

// ClockGettime reads clock.
func ClockGettime(clock int) (sec, nsec int64, err error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(int32(clock), &ts); err != nil {
		return 0, 0, os.NewSyscallError("clock_gettime", err)
	}
	return ts.Sec, ts.Nsec, nil
}

// InotifyCreate creates an inotify instance without watches.
func InotifyCreate() (*os.File, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("inotify_init1", err)
	}
	return newFile(fd, "inotify"), nil
}

// InotifyAddWatch adds (or updates) the watch on path and returns its
// watch descriptor.
func InotifyAddWatch(f *os.File, path string, mask uint32) (int, error) {
	var wd int
	err := control(f, func(fd uintptr) error {
		var err error
		wd, err = unix.InotifyAddWatch(int(fd), path, mask)
		return err
	})
	if err != nil {
		return 0, &os.PathError{Op: "inotify_add_watch", Path: path, Err: err}
	}
	return wd, nil
}

// InotifyRmWatch removes watch wd.
func InotifyRmWatch(f *os.File, wd int) error {
	err := control(f, func(fd uintptr) error {
		_, err := unix.InotifyRmWatch(int(fd), uint32(wd))
		return err
	})
	return os.NewSyscallError("inotify_rm_watch "+strconv.Itoa(wd), err)
}

// OpenByHandle opens the file whose handle (of type typ, as
// name_to_handle_at or fdinfo give them) is on the filesystem of mount.
// It needs CAP_DAC_READ_SEARCH.
func OpenByHandle(mount *os.File, typ int32, handle []byte, flags int) (*os.File, error) {
	var fd int
	err := control(mount, func(mfd uintptr) error {
		var err error
		fd, err = unix.OpenByHandleAt(int(mfd), unix.NewFileHandle(typ, handle), flags|unix.O_CLOEXEC)
		return err
	})
	if err != nil {
		return nil, os.NewSyscallError("open_by_handle_at", err)
	}
	return newFile(fd, "handle"), nil
}

// PidfdOpenFlags returns a pidfd for pid with flags (PidfdThread; not
// O_NONBLOCK, see the note at the top of this file).
func PidfdOpenFlags(pid, flags int) (*os.File, error) {
	fd, err := unix.PidfdOpen(pid, flags)
	if err != nil {
		return nil, os.NewSyscallError("pidfd_open", err)
	}
	return newFile(fd, "pidfd"), nil
}

// SocketInfo returns the family, type and protocol of socket f.
func SocketInfo(f *os.File) (domain, typ, proto int, err error) {
	err = control(f, func(fd uintptr) error {
		var err error
		if domain, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN); err != nil {
			return err
		}
		if typ, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TYPE); err != nil {
			return err
		}
		proto, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PROTOCOL)
		return err
	})
	return domain, typ, proto, os.NewSyscallError("getsockopt", err)
}
