package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/proc"
	"github.com/crlazy/crlazy/internal/testutil"
	"github.com/crlazy/crlazy/store"
)

var edgeLine = regexp.MustCompile(`^edge sent (\d+) got (\d+)$`)

// restoreDumped restores dir, eagerly or lazily, checks the pid came
// back and, for a lazy restore, that every page comes in.
func restoreDumped(t *testing.T, dir string, v *testutil.Victim, lazy bool) {
	t.Helper()
	pid := 0
	if !lazy {
		pid = restore(t, dir)
	} else {
		var log string
		pid, log = lazyRestore(t, dir)
		t.Cleanup(func() {
			if !t.Failed() {
				waitLog(t, log, allInRe, lineTimeout)
			}
		})
	}
	if pid != v.Pid {
		t.Fatalf("restored pid %d, dumped %d", pid, v.Pid)
	}
}

// mostSenders returns the most senders (file ids, 0 for unknown) that
// the datagrams queued on one socket of the store at dir came from.
func mostSenders(t *testing.T, dir string) int {
	t.Helper()
	r, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	most := 0
	for id := range unixQueued(t, dir) {
		senders := map[uint32]bool{}
		err := r.SubRecords(images.UnixQueue, id, func(sub uint64, _ []byte) error {
			senders[uint32(sub)] = true
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		most = max(most, len(senders))
	}
	return most
}

// TestUnixEdge: a seqpacket listener bound to an abstract name with an
// accepted connection (records queued both ways, boundaries kept) and
// one waiting to be accepted; a datagram socket with datagrams queued
// from four senders (abstract, relative path, unbound, and a socket
// shared by two processes), each with its sender's address; a listener
// whose file was unlinked; a half shut down for reading; options; a
// bound socket whose file is removed between dump and restore. The
// victim checks all of it; the test checks the shared socket is one
// socket again.
func TestUnixEdge(t *testing.T) {
	testutil.RequirePriv(t)
	for _, lazy := range []bool{false, true} {
		t.Run(map[bool]string{false: "eager", true: "lazy"}[lazy], func(t *testing.T) {
			v := testutil.StartVictim(t, testutil.BuildVictim(t, "unix_edge"))
			m := v.WaitLine(t, regexp.MustCompile(`^ready \d+ (\d+) (\d+)$`), lineTimeout)
			child, shared := atoi(t, m[1]), atoi(t, m[2])
			before := v.WaitLine(t, edgeLine, lineTimeout)
			dir := dump(t, v)
			v.Reap(t)
			if n := mostSenders(t, dir); n < 3 {
				t.Errorf("the store holds datagrams from at most %d senders on one socket, want R's from 3 or more", n)
			}
			if err := os.Remove(filepath.Join(filepath.Dir(v.Out), "missing.sock")); err != nil {
				t.Fatal(err)
			}
			restoreDumped(t, dir, v, lazy)
			a, err := proc.ReadFdLink(v.Pid, shared)
			if err != nil {
				t.Fatal(err)
			}
			if b, err := proc.ReadFdLink(child, shared); err != nil || a != b {
				t.Errorf("the shared socket is %s in the parent, %s in the child (%v): want one socket", a, b, err)
			}
			waitCounts(t, v, edgeLine, before, 200)
			if err := syscall.Kill(v.Pid, syscall.SIGUSR1); err != nil {
				t.Fatal(err)
			}
			v.WaitLine(t, regexp.MustCompile(`^checks ok$`), lineTimeout)
			waitCounts(t, v, edgeLine, before, 400)
		})
	}
}

// TestUnixEdgeLeaveRunning: a --leave-running dump of unix_edge takes
// nothing from any queue and changes no socket: the original goes on
// checking every record and every sender, and its one-time checks (the
// waiting connection, the bytes before the SHUT_RD end of file, the
// queued datagram, the options) still pass.
func TestUnixEdgeLeaveRunning(t *testing.T) {
	testutil.RequirePriv(t)
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "unix_edge"))
	v.WaitLine(t, regexp.MustCompile(`^ready `), lineTimeout)
	before := v.WaitLine(t, edgeLine, lineTimeout)
	dump(t, v, "--leave-running")
	waitCounts(t, v, edgeLine, before, 200)
	if err := syscall.Kill(v.Pid, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	v.WaitLine(t, regexp.MustCompile(`^checks ok$`), lineTimeout)
}

// TestUnixRefused: UNIX socket states crlazy cannot restore are refused
// at dump, naming the descriptor, and the victim goes on untouched: a
// descriptor in flight (SCM_RIGHTS), a connection not yet accepted that
// holds bytes, a connection from outside the tree waiting to be accepted
// (without --ext-unix-sk), SO_PEEK_OFF or timestamps in use, an
// out-of-band byte queued.
func TestUnixRefused(t *testing.T) {
	testutil.RequirePriv(t)
	for _, c := range []struct{ kind, want string }{
		{"rights", `fd %d \(socket:\[\d+\]\): descriptors in flight \(SCM_RIGHTS\)`},
		{"pending-data", `fd %d \(socket:\[\d+\]\): a UNIX socket whose connection is not yet accepted holds bytes it sent`},
		{"outside-pending", `fd %d \(socket:\[\d+\]\): a connection from a client outside the dumped tree \(inode \d+\) waits in the listening UNIX socket's accept queue .*--ext-unix-sk`},
		{"peek-off", `fd %d \(socket:\[\d+\]\): a UNIX socket with SO_PEEK_OFF set`},
		{"timestamp", `fd %d \(socket:\[\d+\]\): a UNIX socket with receive timestamps \(SO_TIMESTAMP\*\) on`},
		{"oob", `fd %d \(socket:\[\d+\]\): an out-of-band byte \(MSG_OOB\) queued`},
	} {
		t.Run(c.kind, func(t *testing.T) {
			v := testutil.StartVictim(t, testutil.BuildVictim(t, "unix_refuse"), c.kind)
			m := v.WaitLine(t, regexp.MustCompile(`^ready (\d+) (\d+)$`), lineTimeout)
			pid, fd := atoi(t, m[1]), atoi(t, m[2])
			dir := filepath.Join(t.TempDir(), "img")
			out, code := crlazy(t, "dump", "-t", strconv.Itoa(pid), "-D", dir)
			wantFailure(t, out, code, strings.Replace(c.want, "%d", strconv.Itoa(fd), 1))
			testutil.CheckRunning(t, pid)
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("a failed dump left %s behind (%v)", dir, err)
			}
			tick := regexp.MustCompile(`^tick (\d+)$`)
			first := v.WaitLine(t, tick, lineTimeout)
			v.WaitLine(t, regexp.MustCompile(`^tick `+strconv.Itoa(atoi(t, first[1])+2)+`$`), lineTimeout)
		})
	}
}

// TestUnixOutsidePendingExt: with --ext-unix-sk a connection from outside
// the tree waiting in a listener's accept queue is dropped with a
// warning, and the listener is restored: it accepts new connections.
func TestUnixOutsidePendingExt(t *testing.T) {
	testutil.RequirePriv(t)
	v := testutil.StartVictim(t, testutil.BuildVictim(t, "unix_refuse"), "outside-pending")
	m := v.WaitLine(t, regexp.MustCompile(`^ready (\d+) (\d+)$`), lineTimeout)
	pid := atoi(t, m[1])
	dir := filepath.Join(t.TempDir(), "img")
	log := dir + ".dump.log"
	mustCrlazy(t, "dump", "-t", strconv.Itoa(pid), "-D", dir, "--ext-unix-sk", "-v", "4", "-o", log)
	waitLog(t, log, regexp.MustCompile(`level=WARN msg="a connection waiting in a listening UNIX socket's accept queue is dropped`), lineTimeout)
	if err := syscall.Kill(v.Pid, syscall.SIGKILL); err != nil { // the parent, which never reaps the dumped child
		t.Fatal(err)
	}
	v.Reap(t)
	testutil.ReapGone(t, pid)
	if got := restoreNet(t, dir, "--ext-unix-sk"); got != pid {
		t.Fatalf("restored pid %d, dumped %d", got, pid)
	}
	c, err := net.DialTimeout("unix", filepath.Join(filepath.Dir(v.Out), "out.sock"), lineTimeout)
	if err != nil {
		t.Fatalf("connect to the restored listener: %v", err)
	}
	c.Close()
	testutil.CheckRunning(t, pid)
}

// pyUnixServer is a Python UNIX stream server (socketserver, a thread
// per connection) answering each line with its SHA-256, and a client in
// a child process that sends batches of requests before reading the
// answers (data queued both ways) and checks every answer.
const pyUnixServer = `import ctypes, hashlib, os, socket, socketserver, sys, time
PATH = "py.sock"
def answer(line):
    return hashlib.sha256(line).hexdigest().encode() + b"\n"
class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(answer(line.rstrip(b"\n")))
if os.path.exists(PATH):
    os.unlink(PATH)
srv = socketserver.ThreadingUnixStreamServer(PATH, Handler)
srv.daemon_threads = True
pid = os.fork()
if pid == 0:
    ctypes.CDLL(None).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    srv.socket.close()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(PATH)
    f = s.makefile("rwb")
    n = 0
    while True:
        batch = [str(n + i).encode() for i in range(200)]
        f.write(b"".join(b + b"\n" for b in batch))
        f.flush()
        for b in batch:
            got = f.readline()
            if got != answer(b):
                print("FAIL request", b, "answer", got, flush=True)
                os._exit(2)
        n += len(batch)
        print("client", n, "ok", flush=True)
        time.sleep(0.005)
print("ready", os.getpid(), pid, flush=True)
srv.serve_forever()
`

// askUnix sends one line to the UNIX stream server at path and returns
// its answer.
func askUnix(t *testing.T, path, line string) string {
	t.Helper()
	c, err := net.DialTimeout("unix", path, lineTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(lineTimeout)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		t.Fatal(err)
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("answer from %s: %v", path, err)
	}
	return strings.TrimSuffix(got, "\n")
}

// TestPythonUnixServer: a real UNIX socket server (Python's socketserver)
// with a connected client in the tree survives a checkpoint: the client
// goes on getting right answers, and new clients are served.
func TestPythonUnixServer(t *testing.T) {
	testutil.RequirePriv(t)
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is installed by scripts/setup.sh: %v", err)
	}
	script := filepath.Join(t.TempDir(), "unixserver.py")
	if err := os.WriteFile(script, []byte(pyUnixServer), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("hello"))
	want := hex.EncodeToString(sum[:])
	clientOK := regexp.MustCompile(`^client (\d+) ok$`)
	restoreModes(t, func(t *testing.T, checkpoint func(*testing.T, *testutil.Victim)) {
		v := testutil.StartVictim(t, py, script)
		v.WaitLine(t, regexp.MustCompile(`^ready \d+ \d+$`), lineTimeout)
		sock := filepath.Join(filepath.Dir(v.Out), "py.sock")
		if got := askUnix(t, sock, "hello"); got != want {
			t.Fatalf("before the dump: %q, want %q", got, want)
		}
		before := v.WaitLine(t, clientOK, lineTimeout)
		checkpoint(t, v)
		waitProgress(t, v, clientOK, 1, []string{"", strconv.Itoa(atoi(t, before[1]) + 2000)})
		for i := range 3 {
			if got := askUnix(t, sock, "hello"); got != want {
				t.Fatalf("after restore, request %d: %q, want %q", i, got, want)
			}
		}
	})
}
