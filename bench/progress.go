package main

import (
	"fmt"
	"io"
	"os"
	"time"
)

// progress writes one status line to stderr: rewritten in place on a
// terminal, a line per step otherwise.
type progress struct {
	w     io.Writer
	tty   bool
	start time.Time
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// step says what the benchmark is doing now.
func (p *progress) step(format string, args ...any) {
	msg := fmt.Sprintf("[%4.0fs] ", time.Since(p.start).Seconds()) + fmt.Sprintf(format, args...)
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", msg)
		return
	}
	fmt.Fprintln(p.w, msg)
}

// linef prints a line that stays (a warning, a note).
func (p *progress) linef(format string, args ...any) {
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintf(p.w, format+"\n", args...)
}

// finish ends the status line.
func (p *progress) finish() {
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
