package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/crlazy/crlazy/internal/linux"
)

const (
	psStartTimeout = 30 * time.Second
	helperTimeout  = 30 * time.Second
)

// runCrlazy runs crlazy with args and waits for it (at most timeout).
func (h *harness) runCrlazy(timeout time.Duration, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.crlazy, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("crlazy %s: %w: %s", args[0], err, oneLine(string(out)))
	}
	return nil
}

// timed runs f and returns its seconds.
func timed(f func() error) (float64, error) {
	start := time.Now()
	err := f()
	return time.Since(start).Seconds(), err
}

// waitHelpers waits until no crlazy process of ours runs but those in
// keep (a lazy restore's background handler exits once every page is in,
// a mount's server once unmounted), reaping them; after helperTimeout it
// kills what is left, by PID.
func (h *harness) waitHelpers(keep ...int) {
	deadline := time.Now().Add(helperTimeout)
	for {
		sweepZombies()
		left := h.helpers(keep)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, pid := range left {
				h.prog.linef("bench: crlazy %d still runs %v after its work was done: killing it", pid, helperTimeout)
				_ = linux.Kill(pid, int(linux.SIGKILL))
			}
			deadline = time.Now().Add(helperTimeout)
		}
		time.Sleep(pollEvery)
	}
}

// helpers lists the live (not zombie) processes running our crlazy,
// except keep.
func (h *harness) helpers(keep []int) []int {
	var out []int
	for _, pid := range pidsWithExePrefix(h.crlazy) {
		kept := false
		for _, k := range keep {
			kept = kept || k == pid
		}
		if !kept {
			out = append(out, pid)
		}
	}
	return out
}

// pageServer is a `crlazy page-server` the harness started on loopback.
type pageServer struct {
	cmd  *exec.Cmd
	port int
}

// startPageServer starts crlazy page-server for the checkpoints in dir
// and returns once it listens.
func (h *harness) startPageServer(dir, log string) (*pageServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer pr.Close()
	cmd := exec.Command(h.crlazy, "page-server", "-D", dir, "--port", strconv.Itoa(port), "--status-fd", "3", "-o", log)
	cmd.ExtraFiles = []*os.File{pw}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	pw.Close()
	if err != nil {
		return nil, err
	}
	ps := &pageServer{cmd: cmd, port: port}
	h.atCleanup(ps.stop)
	_ = pr.SetReadDeadline(time.Now().Add(psStartTimeout))
	if _, err := io.ReadFull(pr, make([]byte, 1)); err != nil {
		ps.stop()
		data, _ := os.ReadFile(log)
		return nil, fmt.Errorf("page server did not start: %w: %s", err, oneLine(string(data)))
	}
	return ps, nil
}

// stop stops the server (SIGTERM) and waits for it.
func (p *pageServer) stop() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(helperTimeout):
		_ = p.cmd.Process.Kill()
		<-done
	}
	p.cmd = nil
}

func (p *pageServer) pid() int { return p.cmd.Process.Pid }

// freePort returns a loopback TCP port free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// dirBytes is the disk space the files under dir take (st_blocks).
func dirBytes(dir string) (uint64, error) {
	var total uint64
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && !d.IsDir() {
			total += uint64(st.Blocks) * 512
		}
		return nil
	})
	return total, err
}
