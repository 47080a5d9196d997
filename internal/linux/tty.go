package linux

import (
	"os"
	"os/signal"
	"strconv"

	"golang.org/x/sys/unix"
)

// Wrappers for terminals (include/uapi/asm-generic/ioctls.h, termbits.h):
// open a pty master and find or pick its number, termios, window size,
// session and foreground group, lock, packet and exclusive modes. On a
// pty master the mode ioctls (termios, window size, session, foreground
// group) act on its slave, from any process.

// Device numbers of terminals (Documentation/admin-guide/devices.txt).
const (
	TTYAuxMajor       = 5   // /dev/tty (0), /dev/console (1), /dev/ptmx (2)
	PtmxMinor         = 2   // /dev/ptmx
	TTYCurrentMinor   = 0   // /dev/tty
	PtsMajorLow       = 136 // UNIX98_PTY_SLAVE_MAJOR ..
	PtsMajorHigh      = 143 // .. + UNIX98_PTY_MAJOR_COUNT - 1
	ptsMinorsPerMajor = 256
	// PtyMax bounds a pty index (/proc/sys/kernel/pty/max is 4096 by
	// default; the kernel allows 1<<20).
	PtyMax = 1 << 20
)

// Termios is the terminal's struct termios.
type Termios = unix.Termios

// Winsize is the terminal's window size.
type Winsize = unix.Winsize

// PtsRdev returns the device number of pty slave index.
func PtsRdev(index int) uint64 {
	return unix.Mkdev(uint32(PtsMajorLow+index/ptsMinorsPerMajor), uint32(index%ptsMinorsPerMajor))
}

// PtsIndex returns the pty index of slave device rdev, or -1.
func PtsIndex(rdev uint64) int {
	maj, min := unix.Major(rdev), unix.Minor(rdev)
	if maj < PtsMajorLow || maj > PtsMajorHigh {
		return -1
	}
	return int(maj-PtsMajorLow)*ptsMinorsPerMajor + int(min)
}

// OpenPtmx opens a new pty master (devpts picks the lowest free index),
// blocking and not a controlling terminal, and returns its index.
func OpenPtmx() (*os.File, int, error) {
	f, err := OpenFile("/dev/ptmx", unix.O_RDWR)
	if err != nil {
		return nil, 0, err
	}
	n, err := ttyGetInt(f, unix.TIOCGPTN, "TIOCGPTN")
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, n, nil
}

// PtsPath is the slave of pty index.
func PtsPath(index int) string { return "/dev/pts/" + strconv.Itoa(index) }

func ttyGetInt(f *os.File, req int, name string) (int, error) {
	var v int
	err := control(f, func(fd uintptr) error {
		var err error
		v, err = unix.IoctlGetInt(int(fd), uint(req))
		return err
	})
	return v, os.NewSyscallError("ioctl "+name, err)
}

func ttySetPtr(f *os.File, req int, v int, name string) error {
	err := control(f, func(fd uintptr) error { return unix.IoctlSetPointerInt(int(fd), uint(req), v) })
	return os.NewSyscallError("ioctl "+name, err)
}

// PtyLocked reports whether a master's slave is still locked
// (TIOCGPTLCK); SetPtyLocked locks or unlocks it.
func PtyLocked(f *os.File) (bool, error) {
	v, err := ttyGetInt(f, unix.TIOCGPTLCK, "TIOCGPTLCK")
	return v != 0, err
}

// SetPtyLocked locks or unlocks a master's slave (TIOCSPTLCK).
func SetPtyLocked(f *os.File, on bool) error {
	return ttySetPtr(f, unix.TIOCSPTLCK, boolInt(on), "TIOCSPTLCK")
}

// PacketMode reports a master's packet mode (TIOCGPKT).
func PacketMode(f *os.File) (bool, error) {
	v, err := ttyGetInt(f, unix.TIOCGPKT, "TIOCGPKT")
	return v != 0, err
}

// SetPacketMode sets a master's packet mode (TIOCPKT).
func SetPacketMode(f *os.File, on bool) error {
	return ttySetPtr(f, unix.TIOCPKT, boolInt(on), "TIOCPKT")
}

// Exclusive reports a terminal's exclusive mode (TIOCGEXCL).
func Exclusive(f *os.File) (bool, error) {
	v, err := ttyGetInt(f, unix.TIOCGEXCL, "TIOCGEXCL")
	return v != 0, err
}

// SetExclusive puts a terminal in exclusive mode (TIOCEXCL).
func SetExclusive(f *os.File) error {
	err := control(f, func(fd uintptr) error { return unix.IoctlSetInt(int(fd), unix.TIOCEXCL, 0) })
	return os.NewSyscallError("ioctl TIOCEXCL", err)
}

// TTYSession returns the session whose controlling terminal this is
// (TIOCGSID; errors.Is(err, ENOTTY) for none).
func TTYSession(f *os.File) (int, error) { return ttyGetInt(f, unix.TIOCGSID, "TIOCGSID") }

// TTYForeground returns the terminal's foreground process group
// (TIOCGPGRP).
func TTYForeground(f *os.File) (int, error) { return ttyGetInt(f, unix.TIOCGPGRP, "TIOCGPGRP") }

// SetTTYForeground makes pgid the terminal's foreground process group
// (TIOCSPGRP). A caller in the background of its own controlling
// terminal must ignore SIGTTOU.
func SetTTYForeground(f *os.File, pgid int) error {
	return ttySetPtr(f, unix.TIOCSPGRP, pgid, "TIOCSPGRP")
}

// TTYQueued returns the bytes waiting to be read and to be sent
// (TIOCINQ, TIOCOUTQ).
func TTYQueued(f *os.File) (in, out int, err error) {
	if in, err = ttyGetInt(f, unix.TIOCINQ, "TIOCINQ"); err != nil {
		return 0, 0, err
	}
	out, err = ttyGetInt(f, unix.TIOCOUTQ, "TIOCOUTQ")
	return in, out, err
}

// GetTermios reads a terminal's termios (TCGETS); errors.Is(err,
// ENOTTY) when f is not a terminal.
func GetTermios(f *os.File) (*Termios, error) {
	var t *Termios
	err := control(f, func(fd uintptr) error {
		var err error
		t, err = unix.IoctlGetTermios(int(fd), unix.TCGETS)
		return err
	})
	return t, os.NewSyscallError("ioctl TCGETS", err)
}

// SetTermios sets a terminal's termios at once (TCSETS).
func SetTermios(f *os.File, t *Termios) error {
	err := control(f, func(fd uintptr) error { return unix.IoctlSetTermios(int(fd), unix.TCSETS, t) })
	return os.NewSyscallError("ioctl TCSETS", err)
}

// GetWinsize reads a terminal's window size (TIOCGWINSZ).
func GetWinsize(f *os.File) (*Winsize, error) {
	var w *Winsize
	err := control(f, func(fd uintptr) error {
		var err error
		w, err = unix.IoctlGetWinsize(int(fd), unix.TIOCGWINSZ)
		return err
	})
	return w, os.NewSyscallError("ioctl TIOCGWINSZ", err)
}

// SetWinsize sets a terminal's window size (TIOCSWINSZ).
func SetWinsize(f *os.File, w *Winsize) error {
	err := control(f, func(fd uintptr) error { return unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, w) })
	return os.NewSyscallError("ioctl TIOCSWINSZ", err)
}

// TIOCSCTTY makes a terminal the caller's controlling terminal; a
// restore injects it into a session leader.
const TIOCSCTTY = unix.TIOCSCTTY

// TIOCSPGRP sets the foreground group of the caller's controlling
// terminal; a restore injects it into the session leader.
const TIOCSPGRP = unix.TIOCSPGRP

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// PtmxRdev is the device number of /dev/ptmx, which every pty master
// has.
var PtmxRdev = unix.Mkdev(TTYAuxMajor, PtmxMinor)

// IgnoreSIGTTOU makes this process ignore SIGTTOU, so that it may set
// the foreground group of its controlling terminal, and write to it,
// while in the background.
func IgnoreSIGTTOU() { signal.Ignore(unix.SIGTTOU) }
