package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/testutil"
	"github.com/crlazy/crlazy/store"
)

// Tests of UNIX sockets: each victim checks every record it reads
// (numbered, sized, checksummed), so a lost, doubled or damaged message
// after restore shows as a FAIL line.

var (
	serverLine = regexp.MustCompile(`^server sent (\d+) got (\d+)$`)
	clientLine = regexp.MustCompile(`^client sent (\d+) got (\d+)$`)
	dgramLine  = regexp.MustCompile(`^dgram sent (\d+) got (\d+)$`)
	extGot     = regexp.MustCompile(`^server got (\d+)$`)
)

// unixQueued returns, per UNIX socket of the store at dir, how many bytes
// it held queued.
func unixQueued(t *testing.T, dir string) map[uint32]int {
	t.Helper()
	r, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ids, err := r.IDs(images.Files)
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint32]int{}
	for _, id := range ids {
		var f fdinfo.FileEntry
		if err := r.Record(images.Files, id, &f); err != nil {
			t.Fatal(err)
		}
		if f.GetType() != fdinfo.FdTypes_UNIXSK {
			continue
		}
		out[id] = 0
		err := r.SubRecords(images.UnixQueue, id, func(_ uint64, raw []byte) error {
			out[id] += len(raw)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// waitCounts waits until a line of re shows both counters above before's.
func waitCounts(t *testing.T, v *testutil.Victim, re *regexp.Regexp, before []string, more int) {
	t.Helper()
	for {
		m := v.WaitLine(t, re, lineTimeout)
		if atoi(t, m[1]) > atoi(t, before[1])+more && atoi(t, m[2]) > atoi(t, before[2])+more {
			return
		}
	}
}

// TestUnixStream: a server and its client (parent and child) over a
// stream connection accepted from a listener bound to a relative path,
// and a seqpacket socketpair, with records queued both ways on both; a
// connection waiting in the accept queue; a stream socketpair half shut
// down with bytes left in it. After restore every record arrives once
// and in order, the waiting connection is accepted and works, the
// half-closed pair gives its bytes then end-of-file, SO_SNDBUF is kept.
func TestUnixStream(t *testing.T) {
	testutil.RequirePriv(t)
	restoreModes(t, func(t *testing.T, checkpoint func(*testing.T, *testutil.Victim)) {
		v := testutil.StartVictim(t, testutil.BuildVictim(t, "unix_stream"))
		v.WaitLine(t, regexp.MustCompile(`^ready `), lineTimeout)
		srv := v.WaitLine(t, serverLine, lineTimeout)
		cli := v.WaitLine(t, clientLine, lineTimeout)
		checkpoint(t, v)
		waitCounts(t, v, serverLine, srv, 500)
		waitCounts(t, v, clientLine, cli, 500)
		if err := syscall.Kill(v.Pid, syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		v.WaitLine(t, regexp.MustCompile(`^pending ok$`), lineTimeout)
	})
}

// TestUnixStreamQueues: the dump saves bytes queued in both directions
// of the stream connection and of the seqpacket pair, and in the
// half-closed pair.
func TestUnixStreamQueues(t *testing.T) {
	testutil.RequirePriv(t)
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "unix_stream"))
	v.WaitLine(t, regexp.MustCompile(`^ready `), lineTimeout)
	v.WaitLine(t, clientLine, lineTimeout)
	dir := dump(t, v)
	v.Reap(t)
	nonEmpty := 0
	for _, n := range unixQueued(t, dir) {
		if n > 0 {
			nonEmpty++
		}
	}
	// stream both ways, seqpacket both ways, the half-closed pair
	if nonEmpty < 5 {
		t.Errorf("%d sockets with queued data in the store, want 5: %v", nonEmpty, unixQueued(t, dir))
	}
}

// TestUnixStreamLeaveRunning: a --leave-running dump reads the queues
// without consuming them: the original goes on checking every record;
// the store, restored once it is gone, goes on from the dump.
func TestUnixStreamLeaveRunning(t *testing.T) {
	testutil.RequirePriv(t)
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "unix_stream"))
	m := v.WaitLine(t, regexp.MustCompile(`^ready \d+ (\d+)$`), lineTimeout)
	child := atoi(t, m[1])
	srv := v.WaitLine(t, serverLine, lineTimeout)
	dir := dump(t, v, "--leave-running")
	testutil.CheckRunning(t, v.Pid)
	testutil.CheckRunning(t, child)
	waitCounts(t, v, serverLine, srv, 1000)
	if err := syscall.Kill(v.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	v.Reap(t)
	testutil.ReapGone(t, child)
	restore(t, dir)
	waitCounts(t, v, serverLine, srv, 500)
	waitCounts(t, v, clientLine, []string{"", "0", "0"}, 500)
}

// TestUnixDgram: datagram sockets bound to a path and to an abstract
// name, a client bound to an abstract name and connected, an unbound
// sender, a datagram socketpair, all with datagrams queued. After
// restore the datagrams come in order with their boundaries and
// senders' names (answers reach the client), names, peer and options
// are kept.
func TestUnixDgram(t *testing.T) {
	testutil.RequirePriv(t)
	restoreModes(t, func(t *testing.T, checkpoint func(*testing.T, *testutil.Victim)) {
		v := testutil.StartVictim(t, testutil.BuildVictim(t, "unix_dgram"))
		v.WaitLine(t, regexp.MustCompile(`^ready `), lineTimeout)
		before := v.WaitLine(t, dgramLine, lineTimeout)
		checkpoint(t, v)
		waitCounts(t, v, dgramLine, before, 300)
	})
}

// startExt starts unix_ext and returns it and the client's pid.
func startExt(t *testing.T, mode string) (*testutil.Victim, int) {
	t.Helper()
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "unix_ext"), mode)
	m := v.WaitLine(t, regexp.MustCompile(`^ready \d+ (\d+)$`), lineTimeout)
	v.WaitLine(t, extGot, lineTimeout)
	return v, atoi(t, m[1])
}

// TestUnixExternalRefused: a client whose socket is connected to a
// server outside the dumped tree is refused, naming --ext-unix-sk for a
// datagram socket; a stream connection is refused even with the flag.
// The client goes on untouched and no store is left.
func TestUnixExternalRefused(t *testing.T) {
	testutil.RequirePriv(t)
	for _, c := range []struct {
		mode, flag, want string
	}{
		{"dgram", "", `fd \d+ \(socket:\[\d+\]\): connected to a UNIX socket outside the dumped tree \(inode \d+, ".*ext.sock"\); dump with --ext-unix-sk`},
		{"stream", "--ext-unix-sk", `fd \d+ \(socket:\[\d+\]\): connected to a UNIX socket outside the dumped tree \(inode \d+\); a stream connection cannot be restored`},
	} {
		t.Run(c.mode, func(t *testing.T) {
			v, client := startExt(t, c.mode)
			dir := filepath.Join(t.TempDir(), "img")
			args := []string{"dump", "-t", strconv.Itoa(client), "-D", dir}
			if c.flag != "" {
				args = append(args, c.flag)
			}
			out, code := crlazy(t, args...)
			wantFailure(t, out, code, c.want)
			testutil.CheckRunning(t, client)
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("a failed dump left %s behind (%v)", dir, err)
			}
			last := v.WaitLine(t, extGot, lineTimeout)
			v.WaitLine(t, regexp.MustCompile(`^server got `+strconv.Itoa(atoi(t, last[1])+3)+`$`), lineTimeout)
		})
	}
}

// TestUnixExternalDgram: with --ext-unix-sk the client's datagram
// socket is saved and, restored with the flag, connected to the server
// by name again: the server goes on receiving the client's numbers
// where they stopped. Without the flag the restore is refused.
func TestUnixExternalDgram(t *testing.T) {
	testutil.RequirePriv(t)
	v, client := startExt(t, "dgram")
	dir := filepath.Join(t.TempDir(), "img")
	mustCrlazy(t, "dump", "-t", strconv.Itoa(client), "-D", dir, "--ext-unix-sk", "-v", "4", "-o", dir+".dump.log")
	v.WaitLine(t, regexp.MustCompile(`^client died$`), lineTimeout)
	testutil.WaitGone(t, client, lineTimeout)
	out, code := crlazy(t, "restore", "-D", dir, "-d")
	wantFailure(t, out, code, `connected outside the dumped tree: restore with --ext-unix-sk`)
	if pid := restoreNet(t, dir, "--ext-unix-sk"); pid != client {
		t.Fatalf("restored pid %d, dumped %d", pid, client)
	}
	// The server checks that the numbers go on where they stopped.
	first := v.WaitLine(t, extGot, lineTimeout)
	v.WaitLine(t, regexp.MustCompile(`^server got `+strconv.Itoa(atoi(t, first[1])+10)+`$`), lineTimeout)
}
