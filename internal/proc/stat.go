package proc

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
)

// statFields is the number of fields of /proc/PID/stat since Linux 3.5
// (the last is exit_code). Later fields, if a kernel adds any, are ignored.
const statFields = 52

// Stat holds the fields of /proc/PID/stat a dumper needs. Field numbers in
// the comments are those of proc_pid_stat(5).
type Stat struct {
	Pid   int    // 1
	Comm  string // 2, raw: may contain blanks, parentheses and newlines
	State byte   // 3

	PPid, Pgrp, Session, TtyNr, Tpgid int    // 4-8
	Flags                             uint32 // 9, PF_* flags

	Nice       int64  // 19
	NumThreads int    // 20
	StartTime  uint64 // 22, clock ticks after boot
	ExitSignal int    // 38, -1 for a thread that is not a group leader
	Processor  int    // 39
	RtPriority uint32 // 40
	Policy     uint32 // 41, SCHED_*

	// 26-28 and 45-51; zero unless the reader may ptrace the process.
	StartCode, EndCode, StartStack                                   uint64
	StartData, EndData, StartBrk, ArgStart, ArgEnd, EnvStart, EnvEnd uint64

	ExitCode int // 52, the waitpid status of an exited (zombie) thread
}

// ReadStat reads /proc/PID/stat.
func ReadStat(pid int) (*Stat, error) {
	return readStatIn(pidDir(pid))
}

// ReadTaskStat reads /proc/PID/task/TID/stat.
func ReadTaskStat(pid, tid int) (*Stat, error) {
	return readStatIn(taskDir(pid, tid))
}

func readStatIn(dir string) (*Stat, error) {
	return readParsed(dir, "stat", func(r io.Reader) (*Stat, error) {
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		return ParseStat(b)
	})
}

// ParseStat parses one stat line. Comm is everything between the first '('
// and the last ')', since a comm may itself contain ")" and newlines.
func ParseStat(b []byte) (*Stat, error) {
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 1 || end < open || b[open-1] != ' ' {
		return nil, malformed("no \"pid (comm)\" prefix", nil)
	}
	s := &Stat{Comm: string(b[open+1 : end])}
	var err error
	if s.Pid, err = strconv.Atoi(string(b[:open-1])); err != nil {
		return nil, malformed("pid", err)
	}
	f := fieldList{f: bytes.Fields(b[end+1:])}
	if len(f.f) < statFields-2 {
		return nil, malformed(fmt.Sprintf("%d fields after comm, want %d", len(f.f), statFields-2), nil)
	}
	s.fill(&f)
	if f.err != nil {
		return nil, f.err
	}
	return s, nil
}

func (s *Stat) fill(f *fieldList) {
	s.State = f.state(3)
	s.PPid, s.Pgrp, s.Session = f.int(4), f.int(5), f.int(6)
	s.TtyNr, s.Tpgid = f.int(7), f.int(8)
	s.Flags = uint32(f.uint(9, 32))
	s.Nice = int64(f.int(19))
	s.NumThreads = f.int(20)
	s.StartTime = f.uint(22, 64)
	s.StartCode, s.EndCode, s.StartStack = f.uint(26, 64), f.uint(27, 64), f.uint(28, 64)
	s.ExitSignal, s.Processor = f.int(38), f.int(39)
	s.RtPriority, s.Policy = uint32(f.uint(40, 32)), uint32(f.uint(41, 32))
	s.StartData, s.EndData, s.StartBrk = f.uint(45, 64), f.uint(46, 64), f.uint(47, 64)
	s.ArgStart, s.ArgEnd = f.uint(48, 64), f.uint(49, 64)
	s.EnvStart, s.EnvEnd = f.uint(50, 64), f.uint(51, 64)
	s.ExitCode = f.int(52)
}

// fieldList reads stat fields by their proc(5) number (3 is the first field
// after comm) and keeps the first error.
type fieldList struct {
	f   [][]byte
	err error
}

func (l *fieldList) get(n int) string { return string(l.f[n-3]) }

func (l *fieldList) fail(n int, err error) {
	if l.err == nil {
		l.err = malformed("field "+strconv.Itoa(n), err)
	}
}

func (l *fieldList) state(n int) byte {
	v := l.get(n)
	if len(v) != 1 {
		l.fail(n, fmt.Errorf("state %q is not one letter", v))
		return 0
	}
	return v[0]
}

func (l *fieldList) int(n int) int {
	v, err := strconv.Atoi(l.get(n))
	if err != nil {
		l.fail(n, err)
	}
	return v
}

func (l *fieldList) uint(n, bitSize int) uint64 {
	v, err := strconv.ParseUint(l.get(n), 10, bitSize)
	if err != nil {
		l.fail(n, err)
	}
	return v
}
