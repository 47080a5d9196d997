package restorer

import (
	"errors"
	"testing"

	skinet "github.com/checkpoint-restore/go-criu/v8/crit/images/sk-inet"
	skopts "github.com/checkpoint-restore/go-criu/v8/crit/images/sk-opts"
	"github.com/crlazy/crlazy/internal/linux"
	"google.golang.org/protobuf/proto"
)

func listenerEntry() *skinet.InetSkEntry {
	z := proto.Uint32(0)
	return &skinet.InetSkEntry{
		Id: proto.Uint32(3), Ino: proto.Uint32(1234), Family: proto.Uint32(linux.AfInet),
		Type: proto.Uint32(linux.SockStream), Proto: proto.Uint32(linux.IpprotoMPTCP),
		State: proto.Uint32(linux.TCPListen), SrcPort: proto.Uint32(8080), DstPort: z,
		Flags: z, Backlog: proto.Uint32(128), SrcAddr: []uint32{0x0100007f},
		Opts: &skopts.SkOptsEntry{SoSndbuf: z, SoRcvbuf: z, SoSndTmoSec: proto.Uint64(0),
			SoSndTmoUsec: proto.Uint64(0), SoRcvTmoSec: proto.Uint64(0), SoRcvTmoUsec: proto.Uint64(0),
			Reuseaddr: proto.Bool(true)},
	}
}

func TestInetSpecOf(t *testing.T) {
	s, err := inetSpecOf(3, listenerEntry())
	if err != nil {
		t.Fatal(err)
	}
	if s.local.String() != "127.0.0.1:8080" || s.remote.IsValid() {
		t.Errorf("listener at %s, peer %s", s.local, s.remote)
	}
	for name, mutate := range map[string]func(*skinet.InetSkEntry){
		"family":     func(e *skinet.InetSkEntry) { e.Family = proto.Uint32(linux.AfUnix) },
		"raw":        func(e *skinet.InetSkEntry) { e.Type = proto.Uint32(linux.SockRaw) },
		"udp stream": func(e *skinet.InetSkEntry) { e.Proto = proto.Uint32(linux.IpprotoUDP) },
		"mptcp conn": func(e *skinet.InetSkEntry) { e.State = proto.Uint32(linux.TCPEstablished) },
		"backlog":    func(e *skinet.InetSkEntry) { e.Backlog = proto.Uint32(maxBacklog + 1) },
		"v6 address": func(e *skinet.InetSkEntry) { e.SrcAddr = []uint32{0, 0, 0, 1} },
		"port":       func(e *skinet.InetSkEntry) { e.SrcPort = proto.Uint32(70000) },
		"no peer": func(e *skinet.InetSkEntry) {
			e.Proto, e.State = proto.Uint32(linux.IpprotoTCP), proto.Uint32(linux.TCPEstablished)
		},
		"short address": func(e *skinet.InetSkEntry) { e.SrcAddr = nil },
	} {
		e := listenerEntry()
		mutate(e)
		if _, err := inetSpecOf(3, e); !errors.Is(err, ErrBadImage) {
			t.Errorf("%s: %v, want ErrBadImage", name, err)
		}
	}
}

// FuzzInetSpec: any inet_sk_entry is checked without panic, and the
// options of one accepted are listed without panic.
func FuzzInetSpec(f *testing.F) {
	seed, _ := proto.Marshal(listenerEntry())
	f.Add(seed)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var e skinet.InetSkEntry
		if (proto.UnmarshalOptions{AllowPartial: true}).Unmarshal(b, &e) != nil {
			return
		}
		if _, err := inetSpecOf(1, &e); err == nil && e.GetOpts() != nil {
			sockIntOpts(&e, true)
		}
	})
}
