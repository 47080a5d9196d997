package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/crlazy/crlazy/imagefs"
	"github.com/crlazy/crlazy/internal/daemon"
	"github.com/spf13/pflag"
)

func init() {
	register("mount", "show an images directory as a read-only file system", runMount)
	register("umount", "unmount what crlazy mount mounted", runUmount)
}

// mountFlags are mount's command line.
type mountFlags struct {
	dir, mountPoint string
	foreground      bool
	directIO        bool
	pidfile         string
	lf              logFlags
}

func parseMount(args []string) (*mountFlags, int, bool) {
	f := &mountFlags{}
	fs := pflag.NewFlagSet("mount", pflag.ContinueOnError)
	fs.StringVarP(&f.dir, "images-dir", "D", "", "directory holding the image store (required)")
	fs.BoolVar(&f.foreground, "foreground", false, "serve in this process until unmounted (default: in the background)")
	fs.BoolVar(&f.directIO, "direct-io", false, "read memory files past the page cache")
	fs.StringVar(&f.pidfile, "pidfile", "", "write the pid of the serving process to this file")
	f.lf.add(fs)
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: crlazy mount -D DIR MOUNTPOINT [--foreground]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil, 0, false
		}
		fmt.Fprintf(os.Stderr, "crlazy mount: %v\n", err)
		return nil, 2, false
	}
	if f.dir == "" || fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "crlazy mount: -D DIR and one MOUNTPOINT are required")
		return nil, 2, false
	}
	f.mountPoint = fs.Arg(0)
	return f, 0, true
}

func runMount(args []string) int {
	f, st, ok := parseMount(args)
	if !ok {
		return st
	}
	if !f.foreground && !daemon.IsDaemon() {
		return spawnMount(f, args)
	}
	return serveMount(f)
}

// spawnMount serves the mount from a background crlazy and returns once
// it is mounted.
func spawnMount(f *mountFlags, args []string) int {
	out, err := daemon.Spawn(append([]string{"mount"}, args...))
	if err != nil {
		return fail("mount", err)
	}
	fmt.Fprintf(os.Stderr, "crlazy mount: %s mounted on %s, served by pid %s\n", f.dir, f.mountPoint, out)
	return 0
}

// serveMount mounts and serves until the view is unmounted: by crlazy
// umount, umount(8), or SIGINT/SIGTERM to this process.
func serveMount(f *mountFlags) int {
	isDaemon := daemon.IsDaemon() // Report clears it
	log, done, err := f.lf.open()
	if err != nil {
		daemon.Report("", err)
		return fail("mount", err)
	}
	defer done()
	s, err := imagefs.Mount(f.dir, f.mountPoint, imagefs.Options{DirectIO: f.directIO, Log: log})
	if err != nil {
		daemon.Report("", err)
		return f.lf.failed(log, "mount", err)
	}
	if f.pidfile != "" {
		if err := os.WriteFile(f.pidfile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			log.Error("write pidfile", "err", err)
		}
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		for sig := range sigs {
			log.Info("unmounting", "signal", sig, "mountpoint", f.mountPoint)
			if err := s.Unmount(); err != nil {
				log.Error("unmount", "err", err)
			}
		}
	}()
	log.Info("mounted", "dir", f.dir, "mountpoint", f.mountPoint, "pid", os.Getpid())
	daemon.Report(strconv.Itoa(os.Getpid()), nil)
	if isDaemon {
		_ = os.Chdir("/") // keep no directory busy
	}
	if err := s.Wait(); err != nil {
		return f.lf.failed(log, "mount", err)
	}
	log.Info("unmounted", "mountpoint", f.mountPoint)
	return 0
}

func runUmount(args []string) int {
	fs := pflag.NewFlagSet("umount", pflag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(os.Stderr, "usage: crlazy umount MOUNTPOINT") }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(os.Stderr, "crlazy umount: %v\n", err)
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "crlazy umount: one MOUNTPOINT is required")
		return 2
	}
	detached, err := imagefs.Unmount(filepath.Clean(fs.Arg(0)))
	if err != nil {
		return fail("umount", err)
	}
	if detached {
		fmt.Fprintf(os.Stderr, "crlazy umount: %s is busy: detached; it goes away when its last user closes it\n", fs.Arg(0))
	}
	return 0
}
