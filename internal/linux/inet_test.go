package linux

import (
	"net/netip"
	"testing"
)

// TestAddrWords pins criu's address layout: the bytes in network order as
// native 32-bit words (127.0.0.1 is 0x0100007f on x86_64).
func TestAddrWords(t *testing.T) {
	for _, c := range []struct {
		addr  string
		words []uint32
	}{
		{"127.0.0.1", []uint32{0x0100007f}},
		{"::1", []uint32{0, 0, 0, 0x01000000}},
		{"::ffff:10.0.0.2", []uint32{0, 0, 0xffff0000, 0x0200000a}},
	} {
		a := netip.MustParseAddr(c.addr)
		got := AddrWords(a)
		if len(got) != len(c.words) {
			t.Fatalf("%s: %x", c.addr, got)
		}
		for i := range got {
			if got[i] != c.words[i] {
				t.Errorf("%s: words %x, want %x", c.addr, got, c.words)
			}
		}
		if back, ok := AddrFromWords(got); !ok || back != a {
			t.Errorf("%s: back to %s, %v", c.addr, back, ok)
		}
	}
	if _, ok := AddrFromWords([]uint32{1, 2}); ok {
		t.Error("two words decoded as an address")
	}
}

// TestParseTCPInfo reads the fields repair needs from struct tcp_info.
func TestParseTCPInfo(t *testing.T) {
	b := make([]byte, tcpInfoMinLen)
	b[tcpInfoState], b[tcpInfoOptions], b[tcpInfoWscale] = TCPCloseWait, 7, 0xa7
	b[tcpInfoSndMSS] = 0x10
	info, err := parseTCPInfo(b)
	if err != nil || info.State != TCPCloseWait || info.Options != 7 || info.SndWscale != 7 || info.RcvWscale != 10 || info.SndMSS != 16 {
		t.Errorf("parsed %+v, %v", info, err)
	}
	if _, err := parseTCPInfo(b[:tcpInfoMinLen-1]); err == nil {
		t.Error("short tcp_info accepted")
	}
}
