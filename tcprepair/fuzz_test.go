package tcprepair

import (
	"net/netip"
	"testing"

	tcpstream "github.com/checkpoint-restore/go-criu/v8/crit/images/tcp-stream"
	"github.com/crlazy/crlazy/internal/linux"
	"google.golang.org/protobuf/proto"
)

func sampleState() *State {
	return &State{
		Family: linux.AfInet, TCPState: linux.TCPEstablished,
		Local: netip.MustParseAddrPort("127.0.0.1:40000"), Remote: netip.MustParseAddrPort("127.0.0.1:8080"),
		RecvSeq: 1000, SendSeq: 2000, RecvQueue: []byte("in"), SendQueue: []byte("out-queue"), Unsent: 3,
		Options: OptTimestamps | OptSack | OptWscale, SndWscale: 7, RcvWscale: 10, MSSClamp: 65495,
		Timestamp: 12345, Window: Window{SndWl1: 990, SndWnd: 65536, MaxWindow: 65536, RcvWnd: 65536, RcvWup: 1000},
	}
}

// TestEntryRoundTrip: Entry then FromEntry gives the state back.
func TestEntryRoundTrip(t *testing.T) {
	s := sampleState()
	back := &State{Family: s.Family, TCPState: s.TCPState, Local: s.Local, Remote: s.Remote,
		RecvQueue: s.RecvQueue, SendQueue: s.SendQueue}
	if err := back.FromEntry(s.Entry()); err != nil {
		t.Fatal(err)
	}
	if got, want := back.Entry(), s.Entry(); !proto.Equal(got, want) {
		t.Errorf("round trip gives %v, want %v", got, want)
	}
}

// TestValidateRefuses: states no connection can have are refused.
func TestValidateRefuses(t *testing.T) {
	for name, mutate := range map[string]func(*State){
		"family":       func(s *State) { s.Family = 1 },
		"state":        func(s *State) { s.TCPState = linux.TCPListen },
		"no port":      func(s *State) { s.Local = netip.AddrPortFrom(s.Local.Addr(), 0) },
		"mixed":        func(s *State) { s.Remote = netip.MustParseAddrPort("[::1]:80") },
		"unsent":       func(s *State) { s.Unsent = 100 },
		"wscale":       func(s *State) { s.SndWscale = 15 },
		"options":      func(s *State) { s.Options = 0x80 },
		"mss":          func(s *State) { s.MSSClamp = 0 },
		"huge queue":   func(s *State) { s.RecvQueue = make([]byte, QueueMax+1) },
		"v6 with v4":   func(s *State) { s.Family = linux.AfInet6 },
		"no addresses": func(s *State) { s.Local = netip.AddrPort{} },
	} {
		s := sampleState()
		mutate(s)
		if err := s.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, s)
		}
	}
	if err := sampleState().Validate(); err != nil {
		t.Errorf("sample: %v", err)
	}
}

// FuzzFromEntry feeds arbitrary tcp_stream_entry bytes and queue sizes
// to FromEntry: it must never panic, and what it accepts must be valid
// and round-trip.
func FuzzFromEntry(f *testing.F) {
	seed, _ := proto.Marshal(sampleState().Entry())
	f.Add(seed, uint16(2), uint16(9))
	f.Add([]byte{}, uint16(0), uint16(0))
	f.Fuzz(func(t *testing.T, raw []byte, recv, send uint16) {
		var e tcpstream.TcpStreamEntry
		if proto.Unmarshal(raw, &e) != nil {
			return
		}
		s := sampleState()
		s.RecvQueue, s.SendQueue = make([]byte, recv), make([]byte, send)
		if err := s.FromEntry(&e); err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("FromEntry accepted an invalid state: %v", err)
		}
		back := &State{Family: s.Family, TCPState: s.TCPState, Local: s.Local, Remote: s.Remote,
			RecvQueue: s.RecvQueue, SendQueue: s.SendQueue}
		if err := back.FromEntry(s.Entry()); err != nil {
			t.Fatalf("round trip: %v", err)
		}
	})
}
