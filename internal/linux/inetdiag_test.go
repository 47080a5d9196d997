package linux

import (
	"net/netip"
	"strconv"
	"testing"

	"github.com/crlazy/crlazy/internal/testutil"
)

// TestInetDiagListener finds a listening socket of ours in the dump, with
// its backlog, for TCP and MPTCP.
func TestInetDiagListener(t *testing.T) {
	testutil.RequirePriv(t)
	for _, proto := range []int{IpprotoTCP, IpprotoMPTCP} {
		f, err := NewSocket(AfInet, SockStream, proto)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := Bind(f, AfInet, netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
			t.Fatal(err)
		}
		if err := Listen(f, 17); err != nil {
			t.Fatal(err)
		}
		fd, _ := RawFd(f)
		st, err := Stat("/proc/self/fd/" + strconv.Itoa(fd))
		if err != nil {
			t.Fatal(err)
		}
		socks, err := InetDiagDump(AfInet, proto)
		if err != nil {
			t.Fatal(err)
		}
		name, _ := SockName(f)
		found := false
		for _, d := range socks {
			if d.Inode == st.Ino {
				found = true
				if d.State != TCPListen || d.WQueue != 17 || d.Local != name {
					t.Errorf("proto %d: diag %+v, want LISTEN backlog 17 at %s", proto, d, name)
				}
			}
		}
		if !found {
			t.Errorf("proto %d: inode %d not among %d sockets", proto, st.Ino, len(socks))
		}
	}
}

// FuzzParseInetDiag: any datagram is parsed without panic.
func FuzzParseInetDiag(f *testing.F) {
	f.Add(inetDiagRequest(AfInet, IpprotoTCP))
	f.Add(append(make([]byte, 0, 88), inetDiagRequest(AfInet6, IpprotoMPTCP)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		var out []InetDiag
		_, _ = ParseInetDiag(b, &out)
	})
}
