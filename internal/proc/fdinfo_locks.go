package proc

import (
	"strconv"
	"strings"
)

// The "lock:" lines of /proc/PID/fdinfo/N (fs/locks.c, show_fd_locks and
// lock_get_status). The kernel prints one for every lock on the file's
// inode that was taken through this open file description and is owned
// either by the description (flock, OFD locks, leases) or by the reading
// process's descriptor table (POSIX locks):
//
//	lock:	1: POSIX  ADVISORY  WRITE 4242 fe:00:9994740 0 99
//	lock:	2: POSIX  ADVISORY  READ 4242 fe:00:9994740 200 EOF
//	lock:	1: OFDLCK ADVISORY  WRITE -1 fe:00:9994756 10 14
//	lock:	1: FLOCK  ADVISORY  WRITE 4242 fe:00:9994726 0 EOF
//	lock:	1: LEASE  ACTIVE    READ 4242 fe:00:9994842 0 EOF
//
// Waiters blocked on a lock are not shown there (only in /proc/locks).

// LockToEOF is FileLock.End of a lock that runs to the end of the file.
const LockToEOF = -1

// Lock kinds and types as the kernel prints them.
const (
	LockPosix = "POSIX"
	LockOFD   = "OFDLCK"
	LockFlock = "FLOCK"
	LockLease = "LEASE"
	LockDeleg = "DELEG"

	LockAdvisory  = "ADVISORY"
	LockMandatory = "MANDATORY" // kernels before 5.15

	LockRead   = "READ"
	LockWrite  = "WRITE"
	LockUnlock = "UNLCK" // a lease being broken to nothing
)

// FileLock is one "lock:" line of an fdinfo file.
type FileLock struct {
	Kind  string // LockPosix, LockOFD, LockFlock, LockLease, LockDeleg, or another word the kernel printed
	Mode  string // LockAdvisory or LockMandatory for locks; ACTIVE, BREAKING or BREAKER for leases
	Type  string // LockRead, LockWrite or LockUnlock
	Pid   int    // the process that took it; -1 for OFD locks
	Dev   string // the inode's device, "fe:00"
	Ino   uint64
	Start int64 // first byte (0 for flock and leases)
	End   int64 // last byte, or LockToEOF
}

// lockFields is the number of words of a lock line.
const lockFields = 8

// Locks parses every "lock:" line, in the kernel's order.
func (fi *Fdinfo) Locks() ([]FileLock, error) {
	var out []FileLock
	for _, line := range fi.FieldsOf("lock") {
		l, err := parseLock(line)
		if err != nil {
			return nil, malformed("lock "+strconv.Quote(line), err)
		}
		out = append(out, l)
	}
	return out, nil
}

func parseLock(line string) (FileLock, error) {
	var l FileLock
	f := strings.Fields(line)
	if len(f) != lockFields {
		return l, malformed("want "+strconv.Itoa(lockFields)+" words", nil)
	}
	if n, ok := strings.CutSuffix(f[0], ":"); !ok || !isDigits(n) {
		return l, malformed("lock number "+strconv.Quote(f[0]), nil)
	}
	l.Kind, l.Mode, l.Type = f[1], f[2], f[3]
	switch l.Type {
	case LockRead, LockWrite, LockUnlock:
	default:
		return l, malformed("lock type "+strconv.Quote(l.Type), nil)
	}
	pid, err := strconv.Atoi(f[4])
	if err != nil || pid < -1 {
		return l, malformed("pid "+strconv.Quote(f[4]), err)
	}
	l.Pid = pid
	i := strings.LastIndexByte(f[5], ':')
	if i <= 0 {
		return l, malformed("inode "+strconv.Quote(f[5]), nil)
	}
	l.Dev = f[5][:i]
	if l.Ino, err = strconv.ParseUint(f[5][i+1:], 10, 64); err != nil {
		return l, malformed("inode "+strconv.Quote(f[5]), err)
	}
	return l, parseLockRange(f[6], f[7], &l)
}

// parseLockRange parses the first and last byte ("EOF": to the end).
func parseLockRange(start, end string, l *FileLock) error {
	var err error
	if l.Start, err = strconv.ParseInt(start, 10, 64); err != nil || l.Start < 0 {
		return malformed("lock start "+strconv.Quote(start), err)
	}
	if end == "EOF" {
		l.End = LockToEOF
		return nil
	}
	if l.End, err = strconv.ParseInt(end, 10, 64); err != nil || l.End < l.Start {
		return malformed("lock end "+strconv.Quote(end), err)
	}
	return nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
