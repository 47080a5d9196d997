package restorer

import (
	"errors"
	"testing"

	skopts "github.com/checkpoint-restore/go-criu/v8/crit/images/sk-opts"
	skunix "github.com/checkpoint-restore/go-criu/v8/crit/images/sk-unix"
	"github.com/crlazy/crlazy/internal/linux"
	"google.golang.org/protobuf/proto"
)

func usk(ino, typ, state, peer uint32, name string) *unixSpec {
	return &unixSpec{id: ino, usk: &skunix.UnixSkEntry{
		Ino: proto.Uint32(ino), Type: proto.Uint32(typ), State: proto.Uint32(state),
		Peer: proto.Uint32(peer), Name: []byte(name), Opts: &skopts.SkOptsEntry{},
	}}
}

func TestCheckUnixSpec(t *testing.T) {
	const est, listen, closed = linux.TCPEstablished, linux.TCPListen, linux.TCPClose
	for _, c := range []struct {
		s  *unixSpec
		ok bool
	}{
		{usk(1, linux.SockStream, listen, 0, "/a"), true},
		{usk(1, linux.SockSeqpacket, est, 2, ""), true},
		{usk(1, linux.SockDgram, closed, 0, "\x00x"), true},
		{usk(1, linux.SockDgram, listen, 0, "/a"), false},
		{usk(1, linux.SockRaw, closed, 0, ""), false},
		{usk(1, linux.SockStream, linux.TCPSynSent, 0, ""), false},
		{usk(1, linux.SockStream, closed, 0, string(make([]byte, 109))), false},
		{&unixSpec{usk: &skunix.UnixSkEntry{}}, false},
	} {
		if err := checkUnixSpec(c.s); (err == nil) != c.ok {
			t.Errorf("%v: %v, want ok=%v", c.s.usk, err, c.ok)
		}
	}
	ext := usk(1, linux.SockStream, closed, 0, "/srv")
	ext.usk.Uflags = proto.Uint32(uflagExtern)
	if checkUnixSpec(ext) == nil {
		t.Error("an outside stream peer was accepted")
	}
}

// TestAcceptedEnd: the end of a connection that came from accept is the
// one named like a listener of the tree, else the only named one, else
// the newer.
func TestAcceptedEnd(t *testing.T) {
	const est = linux.TCPEstablished
	l := usk(1, linux.SockStream, linux.TCPListen, 0, "srv")
	u := &unixRestore{socks: []*unixSpec{l}}
	for _, c := range []struct {
		a, b *unixSpec
		want uint32 // ino of the accepted end, 0 for none
	}{
		{usk(5, linux.SockStream, est, 6, "srv"), usk(6, linux.SockStream, est, 5, "cli"), 5},
		{usk(5, linux.SockStream, est, 6, "cli"), usk(6, linux.SockStream, est, 5, "srv"), 6},
		{usk(5, linux.SockStream, est, 6, "x"), usk(6, linux.SockStream, est, 5, ""), 5},
		{usk(5, linux.SockStream, est, 6, "x"), usk(6, linux.SockStream, est, 5, "y"), 6},
		{usk(5, linux.SockStream, est, 6, ""), usk(6, linux.SockStream, est, 5, ""), 0},
		{usk(5, linux.SockStream, est, 0, "gone"), nil, 5},
		{usk(5, linux.SockSeqpacket, est, 6, "srv"), usk(6, linux.SockSeqpacket, est, 5, ""), 5},
	} {
		acc, _ := u.acceptedEnd(c.a, c.b)
		got := uint32(0)
		if acc != nil {
			got = acc.usk.GetIno()
		}
		if got != c.want {
			t.Errorf("%v / %v: accepted end %d, want %d", c.a.usk, c.b, got, c.want)
		}
	}
}

// TestUnixLink: peers are checked, and an outside peer needs
// --ext-unix-sk.
func TestUnixLink(t *testing.T) {
	const est = linux.TCPEstablished
	ext := usk(9, linux.SockDgram, linux.TCPClose, 0, "/dev/log")
	ext.usk.Uflags = proto.Uint32(uflagExtern)
	c := usk(2, linux.SockDgram, est, 9, "")
	u := &unixRestore{byIno: map[uint32]*unixSpec{9: ext, 2: c}}
	if err := u.link(c, Options{}); !errors.Is(err, ErrNeedExtUnixSk) {
		t.Errorf("outside peer without the flag: %v", err)
	}
	if err := u.link(c, Options{ExtUnixSk: true}); err != nil || c.peer != ext {
		t.Errorf("outside peer with the flag: %v", err)
	}
	s := usk(3, linux.SockStream, est, 4, "")
	u.byIno[3], u.byIno[4] = s, usk(4, linux.SockStream, est, 7, "")
	if err := u.link(s, Options{}); err == nil {
		t.Error("a stream peer connected elsewhere was accepted")
	}
	if err := u.link(usk(5, linux.SockStream, est, 8, ""), Options{}); err == nil {
		t.Error("a peer missing from the image was accepted")
	}
}
