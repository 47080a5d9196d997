package feature

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/crlazy/crlazy/internal/linux"
)

const devFUSE = "/dev/fuse"

var (
	errPulledData = errors.New("pulled descriptor reads other data")
	errKcmpWrong  = errors.New("kcmp compares descriptors wrongly")
)

// probePidfd pulls the read end of a pipe of this process through
// pidfd_open + pidfd_getfd and reads through the copy.
func probePidfd() (string, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return "", err
	}
	defer r.Close()
	defer w.Close()
	pidfd, err := linux.PidfdOpen(os.Getpid())
	if err != nil {
		return "", err
	}
	defer pidfd.Close()
	pulled, err := linux.PidfdGetfd(pidfd, int(r.Fd()))
	if err != nil {
		return "", err
	}
	defer pulled.Close()
	if _, err := w.Write([]byte{'p'}); err != nil {
		return "", err
	}
	var b [1]byte
	if _, err := io.ReadFull(pulled, b[:]); err != nil {
		return "", fmt.Errorf("read pulled pipe: %w", err)
	}
	if b[0] != 'p' {
		return "", fmt.Errorf("%w: %q", errPulledData, b[0])
	}
	return "pulled a pipe of this process and read through it", nil
}

// probeKcmp compares a pipe end with its duplicate (same file) and with
// the other end (not).
func probeKcmp() (string, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return "", err
	}
	defer r.Close()
	defer w.Close()
	d, err := linux.DupFile(r)
	if err != nil {
		return "", err
	}
	defer d.Close()
	self := os.Getpid()
	same, err := linux.KcmpFile(self, int(r.Fd()), self, int(d.Fd()))
	if err != nil {
		return "", err
	}
	other, err := linux.KcmpFile(self, int(r.Fd()), self, int(w.Fd()))
	if err != nil {
		return "", err
	}
	if !same || other {
		return "", fmt.Errorf("%w: duplicate same=%t, other end same=%t", errKcmpWrong, same, other)
	}
	return "told a duplicate from another file", nil
}

// probeTCPRepair puts a fresh TCP socket into repair mode (needs
// CAP_NET_ADMIN).
func probeTCPRepair() (string, error) {
	s, err := linux.TCPSocket()
	if err != nil {
		return "", err
	}
	defer s.Close()
	if err := linux.TCPRepair(int(s.Fd()), linux.TCPRepairOn); err != nil {
		return "", err
	}
	return "a fresh socket entered repair mode", nil
}

// probeFUSE opens the FUSE device, as a mount would.
func probeFUSE() (string, error) {
	f, err := os.OpenFile(devFUSE, os.O_RDWR, 0)
	if err != nil {
		return "", err
	}
	f.Close()
	return devFUSE + " opens read-write", nil
}
