package proc

import (
	"io"
	"strconv"
	"strings"
)

// Resource numbers (RLIMIT_*), as on Linux x86_64 and every architecture
// that uses the generic numbering.
const (
	RlimitCPU        = 0
	RlimitFSize      = 1
	RlimitData       = 2
	RlimitStack      = 3
	RlimitCore       = 4
	RlimitRSS        = 5
	RlimitNProc      = 6
	RlimitNoFile     = 7
	RlimitMemLock    = 8
	RlimitAS         = 9
	RlimitLocks      = 10
	RlimitSigPending = 11
	RlimitMsgQueue   = 12
	RlimitNice       = 13
	RlimitRTPrio     = 14
	RlimitRTTime     = 15
	NumRlimits       = 16 // RLIM_NLIMITS
)

// RlimInfinity is RLIM_INFINITY, shown as "unlimited".
const RlimInfinity = ^uint64(0)

// Rlimit is a soft (Cur) and hard (Max) limit, in the resource's own unit
// (seconds for CPU, microseconds for RTTIME, bytes, counts...).
type Rlimit struct{ Cur, Max uint64 }

// limitNames holds the row label of /proc/PID/limits for each resource.
var limitNames = [NumRlimits]string{
	RlimitCPU:        "Max cpu time",
	RlimitFSize:      "Max file size",
	RlimitData:       "Max data size",
	RlimitStack:      "Max stack size",
	RlimitCore:       "Max core file size",
	RlimitRSS:        "Max resident set",
	RlimitNProc:      "Max processes",
	RlimitNoFile:     "Max open files",
	RlimitMemLock:    "Max locked memory",
	RlimitAS:         "Max address space",
	RlimitLocks:      "Max file locks",
	RlimitSigPending: "Max pending signals",
	RlimitMsgQueue:   "Max msgqueue size",
	RlimitNice:       "Max nice priority",
	RlimitRTPrio:     "Max realtime priority",
	RlimitRTTime:     "Max realtime timeout",
}

// ReadLimits reads /proc/PID/limits. Unlike prlimit(2) it needs no
// privilege over the target beyond read access to the file.
func ReadLimits(pid int) ([NumRlimits]Rlimit, error) {
	return readParsed(pidDir(pid), "limits", ParseLimits)
}

// ParseLimits parses the table of /proc/PID/limits: a header line starting
// with "Limit", then one row per resource. Every resource must appear exactly
// once; an unknown row is an error, so a kernel with a new limit is noticed.
func ParseLimits(r io.Reader) ([NumRlimits]Rlimit, error) {
	var out [NumRlimits]Rlimit
	var seen [NumRlimits]bool
	n := 0
	err := forEachLine(r, func(line string) error {
		if n++; n == 1 {
			if !strings.HasPrefix(line, "Limit ") {
				return malformed("header "+strconv.Quote(line), nil)
			}
			return nil
		}
		res, lim, err := parseLimitRow(line)
		if err != nil {
			return err
		}
		if seen[res] {
			return malformed("duplicate row "+strconv.Quote(limitNames[res]), nil)
		}
		seen[res], out[res] = true, lim
		return nil
	})
	if err != nil {
		return out, err
	}
	for res, ok := range seen {
		if !ok {
			return out, malformed("missing row "+strconv.Quote(limitNames[res]), nil)
		}
	}
	return out, nil
}

// parseLimitRow parses "Max open files  1024  4096  files"; the units
// column is empty for some rows.
func parseLimitRow(line string) (int, Rlimit, error) {
	for res, name := range limitNames {
		rest, ok := strings.CutPrefix(line, name+" ")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 && len(f) != 3 {
			return 0, Rlimit{}, malformed("row "+strconv.Quote(line), nil)
		}
		cur, err := parseLimitValue(f[0])
		if err != nil {
			return 0, Rlimit{}, malformed(name+" soft limit", err)
		}
		lim, err := parseLimitValue(f[1])
		if err != nil {
			return 0, Rlimit{}, malformed(name+" hard limit", err)
		}
		return res, Rlimit{Cur: cur, Max: lim}, nil
	}
	return 0, Rlimit{}, malformed("unknown row "+strconv.Quote(line), nil)
}

func parseLimitValue(s string) (uint64, error) {
	if s == "unlimited" {
		return RlimInfinity, nil
	}
	return strconv.ParseUint(s, 10, 64)
}
