package proc

import (
	"io"
	"strconv"
	"strings"
)

// Status holds the fields of /proc/PID/status (or .../task/TID/status) a
// dumper needs. Lines this package does not know are ignored.
type Status struct {
	Name     string // comm, with the kernel's \n and \\ escapes undone
	Umask    uint32
	HasUmask bool // false for zombies and kernels without the line
	State    byte // 'R', 'S', 'D', 'T', 't', 'Z', 'X', 'I', ...

	Tgid, Pid, PPid, TracerPid int

	Uid, Gid [4]uint32 // real, effective, saved, filesystem
	Groups   []uint32  // supplementary groups, nil when there are none

	// Ids in each nested pid namespace, outermost (the reader's) first.
	NStgid, NSpid, NSpgid, NSsid []int

	Kthread bool
	Threads int

	SigQ                                   string // "queued/limit", e.g. "0/96365"
	SigPnd, ShdPnd, SigBlk, SigIgn, SigCgt uint64 // bit n-1 is signal n
	CapInh, CapPrm, CapEff, CapBnd, CapAmb uint64

	NoNewPrivs     bool
	Seccomp        int // 0 disabled, 1 strict, 2 filter
	SeccompFilters int
	CoreDumping    bool
	THPEnabled     bool // false after prctl(PR_SET_THP_DISABLE)
	HasTHPEnabled  bool
}

// requiredStatus lists the lines ParseStatus insists on.
var requiredStatus = []string{"Name", "State", "Tgid", "Pid", "PPid", "Uid", "Gid"}

// ReadStatus reads /proc/PID/status.
func ReadStatus(pid int) (*Status, error) {
	return readParsed(pidDir(pid), "status", ParseStatus)
}

// ReadTaskStatus reads /proc/PID/task/TID/status; SigPnd and SigBlk there
// are the thread's own.
func ReadTaskStatus(pid, tid int) (*Status, error) {
	return readParsed(taskDir(pid, tid), "status", ParseStatus)
}

// ParseStatus parses the text of a status file. The lines in
// requiredStatus must be present; the others are optional.
func ParseStatus(r io.Reader) (*Status, error) {
	s := &Status{}
	seen := make(map[string]bool, len(statusSetters)+1)
	err := forEachLine(r, func(line string) error {
		key, raw, ok := strings.Cut(line, ":")
		if !ok {
			return nil
		}
		if key == "Name" { // not trimmed: a comm may begin or end with blanks
			s.Name, seen[key] = nameUnescaper.Replace(strings.TrimPrefix(raw, "\t")), true
			return nil
		}
		set := statusSetters[key]
		if set == nil {
			return nil
		}
		seen[key] = true
		if err := set(s, strings.Trim(raw, " \t")); err != nil {
			return malformed(key, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, k := range requiredStatus {
		if !seen[k] {
			return nil, malformed("missing "+k+" line", nil)
		}
	}
	return s, nil
}

// nameUnescaper undoes the escaping of "Name:" (proc_task_name escapes only
// newline and backslash).
var nameUnescaper = strings.NewReplacer(`\n`, "\n", `\\`, `\`)

var statusSetters = map[string]func(*Status, string) error{
	"Umask":           func(s *Status, v string) error { s.HasUmask = true; return parseOctal32(v, &s.Umask) },
	"State":           func(s *Status, v string) error { return parseState(v, &s.State) },
	"Tgid":            func(s *Status, v string) error { return parseInt(v, &s.Tgid) },
	"Pid":             func(s *Status, v string) error { return parseInt(v, &s.Pid) },
	"PPid":            func(s *Status, v string) error { return parseInt(v, &s.PPid) },
	"TracerPid":       func(s *Status, v string) error { return parseInt(v, &s.TracerPid) },
	"Uid":             func(s *Status, v string) error { return parseIDs(v, &s.Uid) },
	"Gid":             func(s *Status, v string) error { return parseIDs(v, &s.Gid) },
	"Groups":          func(s *Status, v string) error { return parseList(v, &s.Groups) },
	"NStgid":          func(s *Status, v string) error { return parseIntList(v, &s.NStgid) },
	"NSpid":           func(s *Status, v string) error { return parseIntList(v, &s.NSpid) },
	"NSpgid":          func(s *Status, v string) error { return parseIntList(v, &s.NSpgid) },
	"NSsid":           func(s *Status, v string) error { return parseIntList(v, &s.NSsid) },
	"Kthread":         func(s *Status, v string) error { return parseBool(v, &s.Kthread) },
	"Threads":         func(s *Status, v string) error { return parseInt(v, &s.Threads) },
	"SigQ":            func(s *Status, v string) error { s.SigQ = v; return nil },
	"SigPnd":          func(s *Status, v string) error { return parseHex64(v, &s.SigPnd) },
	"ShdPnd":          func(s *Status, v string) error { return parseHex64(v, &s.ShdPnd) },
	"SigBlk":          func(s *Status, v string) error { return parseHex64(v, &s.SigBlk) },
	"SigIgn":          func(s *Status, v string) error { return parseHex64(v, &s.SigIgn) },
	"SigCgt":          func(s *Status, v string) error { return parseHex64(v, &s.SigCgt) },
	"CapInh":          func(s *Status, v string) error { return parseHex64(v, &s.CapInh) },
	"CapPrm":          func(s *Status, v string) error { return parseHex64(v, &s.CapPrm) },
	"CapEff":          func(s *Status, v string) error { return parseHex64(v, &s.CapEff) },
	"CapBnd":          func(s *Status, v string) error { return parseHex64(v, &s.CapBnd) },
	"CapAmb":          func(s *Status, v string) error { return parseHex64(v, &s.CapAmb) },
	"NoNewPrivs":      func(s *Status, v string) error { return parseBool(v, &s.NoNewPrivs) },
	"Seccomp":         func(s *Status, v string) error { return parseInt(v, &s.Seccomp) },
	"Seccomp_filters": func(s *Status, v string) error { return parseInt(v, &s.SeccompFilters) },
	"CoreDumping":     func(s *Status, v string) error { return parseBool(v, &s.CoreDumping) },
	"THP_enabled": func(s *Status, v string) error {
		s.HasTHPEnabled = true
		return parseBool(v, &s.THPEnabled)
	},
}

func parseState(v string, dst *byte) error {
	if v == "" {
		return malformed("empty state", nil)
	}
	*dst = v[0]
	return nil
}

// parseIDs parses the four tab-separated ids of "Uid:" or "Gid:".
func parseIDs(v string, dst *[4]uint32) error {
	var ids []uint32
	if err := parseList(v, &ids); err != nil {
		return err
	}
	if len(ids) != len(dst) {
		return malformed("want 4 ids, got "+strconv.Itoa(len(ids)), nil)
	}
	copy(dst[:], ids)
	return nil
}
