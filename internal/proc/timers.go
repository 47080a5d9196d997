package proc

import (
	"io"
	"strconv"
	"strings"
)

// PosixTimer is one POSIX timer (timer_create) of a process, as
// /proc/PID/timers shows it. Its remaining time and interval are not
// shown: timer_gettime in the process gives them.
type PosixTimer struct {
	ID        int32
	Signo     int    // signal sent on expiry
	SigvalPtr uint64 // the sigev_value given, passed to the handler
	// Notify is how expiry is told: SIGEV_SIGNAL, SIGEV_NONE or
	// SIGEV_THREAD, plus SIGEV_THREAD_ID when the signal goes to the
	// thread NotifyPid rather than to the process.
	Notify    int
	NotifyPid int
	Clock     int32
}

// sigev_notify values (asm-generic/siginfo.h).
const (
	sigevSignal   = 0
	sigevNone     = 1
	sigevThread   = 2
	sigevThreadID = 4
)

// ReadPosixTimers reads /proc/PID/timers.
func ReadPosixTimers(pid int) ([]PosixTimer, error) {
	return readParsed(pidDir(pid), "timers", ParsePosixTimers)
}

// ParsePosixTimers parses /proc/PID/timers: for each timer the lines
// "ID: n", "signal: signo/sival_ptr in hex", "notify: how/pid.n" (or
// tid.n) and "ClockID: n", in that order.
func ParsePosixTimers(r io.Reader) ([]PosixTimer, error) {
	var out []PosixTimer
	var cur *PosixTimer
	next := "ID"
	err := forEachLine(r, func(line string) error {
		key, val, ok := cutField(line)
		if !ok || key != next {
			return malformed("timers line "+strconv.Quote(line), nil)
		}
		switch key {
		case "ID":
			id, err := strconv.ParseInt(val, 10, 32)
			if err != nil {
				return malformed("timer id", err)
			}
			out = append(out, PosixTimer{ID: int32(id)})
			cur = &out[len(out)-1]
			next = "signal"
		case "signal":
			signo, ptr, ok := strings.Cut(val, "/")
			if !ok {
				return malformed("timer signal "+strconv.Quote(val), nil)
			}
			if err := parseInt(signo, &cur.Signo); err != nil {
				return malformed("timer signal", err)
			}
			if err := parseHex64(ptr, &cur.SigvalPtr); err != nil {
				return malformed("timer sigval", err)
			}
			next = "notify"
		case "notify":
			if err := parseNotify(val, cur); err != nil {
				return err
			}
			next = "ClockID"
		case "ClockID":
			clock, err := strconv.ParseInt(val, 10, 32)
			if err != nil {
				return malformed("timer clock", err)
			}
			cur.Clock = int32(clock)
			next = "ID"
		}
		return nil
	})
	if err == nil && next != "ID" {
		err = malformed("timer "+strconv.Itoa(int(cur.ID))+" cut short", nil)
	}
	return out, err
}

// parseNotify parses "signal/pid.42", "none/pid.42" or "thread/tid.43".
func parseNotify(val string, t *PosixTimer) error {
	how, target, ok := strings.Cut(val, "/")
	kind, pid, ok2 := strings.Cut(target, ".")
	if !ok || !ok2 {
		return malformed("timer notify "+strconv.Quote(val), nil)
	}
	switch how {
	case "signal":
		t.Notify = sigevSignal
	case "none":
		t.Notify = sigevNone
	case "thread":
		t.Notify = sigevThread
	default:
		return malformed("timer notify "+strconv.Quote(how), nil)
	}
	switch kind {
	case "pid":
	case "tid":
		t.Notify |= sigevThreadID
	default:
		return malformed("timer notify target "+strconv.Quote(kind), nil)
	}
	if err := parseInt(pid, &t.NotifyPid); err != nil {
		return malformed("timer notify pid", err)
	}
	return nil
}
