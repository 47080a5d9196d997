package main

import (
	"io"
	"log/slog"
	"os"

	"github.com/spf13/pflag"
)

// logFlags are criu's -o/--log-file and -v.
type logFlags struct {
	file      string
	verbosity int
}

func (l *logFlags) add(fs *pflag.FlagSet) {
	fs.StringVarP(&l.file, "log-file", "o", "", "write the log to this file (default: standard error)")
	fs.IntVarP(&l.verbosity, "verbosity", "v", 2, "log level: 0 errors, 1 warnings, 2 info, 3 and up debug")
}

// open returns the logger and a function that closes the log file.
// Errors that end the command are printed on standard error by fail; the
// logger repeats them only when it writes to a file.
func (l *logFlags) open() (*slog.Logger, func(), error) {
	var w io.Writer = os.Stderr
	done := func() {}
	if l.file != "" {
		f, err := os.OpenFile(l.file, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, nil, err
		}
		w, done = f, func() { f.Close() }
	}
	level := slog.LevelDebug
	switch {
	case l.verbosity <= 0:
		level = slog.LevelError
	case l.verbosity == 1:
		level = slog.LevelWarn
	case l.verbosity == 2:
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), done, nil
}

// failed logs err to the log file, if there is one, and prints it.
func (l *logFlags) failed(log *slog.Logger, cmd string, err error) int {
	if l.file != "" {
		log.Error(cmd+" failed", "err", err)
	}
	return fail(cmd, err)
}

// notYet registers criu flags that later versions will support, so that
// using one gives a clear message instead of "unknown flag".
func notYet(fs *pflag.FlagSet, names ...string) func() error {
	for _, n := range names {
		fs.String(n, "", "not supported yet")
		fs.Lookup(n).NoOptDefVal = "set"
		fs.Lookup(n).Hidden = true
	}
	return func() error {
		for _, n := range names {
			if fs.Changed(n) {
				return &notSupportedError{flag: n}
			}
		}
		return nil
	}
}

type notSupportedError struct{ flag string }

func (e *notSupportedError) Error() string { return "--" + e.flag + " is not supported yet" }
