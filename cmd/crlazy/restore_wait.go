package main

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"github.com/crlazy/crlazy/internal/daemon"
	"github.com/crlazy/crlazy/restorer"
)

// spawnLazyDaemon runs the restore in a background crlazy that serves the
// lazy pages, and returns once the process runs there.
func spawnLazyDaemon(f *restoreFlags, args []string) int {
	args, extra := daemonInheritArgs(args, f.opts.InheritFds, daemon.ExtraFd)
	out, err := daemon.Spawn(append([]string{"restore"}, args...), extra...)
	if err != nil {
		return fail("restore", err)
	}
	pid, err := strconv.Atoi(out)
	if err != nil {
		return fail("restore", fmt.Errorf("daemon reported %q", out))
	}
	signalStatus(f.statusFd)
	fmt.Fprintf(os.Stderr, "crlazy restore: pid %d runs; its pages are served by a background crlazy\n", pid)
	return 0
}

// signalStatus writes a NUL byte to the --status-fd descriptor (as criu
// does) and closes it.
func signalStatus(fd int) {
	if fd < 0 {
		return
	}
	f := os.NewFile(uintptr(fd), "status-fd")
	if f == nil {
		return
	}
	_, _ = f.Write([]byte{0})
	f.Close()
}

// finishPages waits until a lazy restore's pages are all in, and returns
// why not if they could not be.
func finishPages(p *restorer.Process, log *slog.Logger) error {
	if err := p.WaitPages(); err != nil {
		log.Error("lazy pages", "err", err)
		return err
	}
	if st := p.LazyStats(); st.Spaces > 0 {
		log.Info("all pages in", "pid", p.PID, "after", st.AllIn, "faults", st.Faults,
			"zero_faults", st.ZeroFaults, "fault_bytes", st.FaultBytes, "prefetched_bytes", st.PrefetchBytes,
			"fault_p50", st.FaultPercentile(50), "fault_p99", st.FaultPercentile(99), "spaces", st.Spaces)
	}
	return nil
}

// waitRestored waits for the restored process and returns its exit status
// as criu does (128+N for death by signal N).
func waitRestored(p *restorer.Process, log *slog.Logger) int {
	ws, err := p.Wait()
	if err != nil {
		return fail("restore", err)
	}
	if ws.Signaled() {
		log.Info("restored process killed", "pid", p.PID, "signal", ws.Signal())
		return 128 + ws.Signal()
	}
	log.Info("restored process exited", "pid", p.PID, "status", ws.ExitStatus())
	return ws.ExitStatus()
}
