package dumper

import (
	"testing"

	"github.com/crlazy/crlazy/internal/linux"
)

// TestUnixUnsaved: options a restore would lose are named, a new socket
// has none.
func TestUnixUnsaved(t *testing.T) {
	for _, c := range []struct {
		opt, v int
		want   string
	}{
		{0, 0, ""},
		{linux.SoPeekOff, 0, "SO_PEEK_OFF set"},
		{linux.SoTimestampOpts[0], 1, "receive timestamps (SO_TIMESTAMP*) on"},
		{linux.SoPassrights, 0, "SO_PASSRIGHTS turned off"},
	} {
		a, b, err := linux.Socketpair(linux.SockDgram)
		if err != nil {
			t.Fatal(err)
		}
		if c.opt != 0 {
			if err := linux.SetsockoptInt(a, linux.SolSocket, c.opt, c.v); err != nil {
				t.Fatalf("set %d: %v", c.opt, err)
			}
		}
		got, err := unixUnsaved(a)
		a.Close()
		b.Close()
		if err != nil || got != c.want {
			t.Errorf("option %d = %d: %q, %v; want %q", c.opt, c.v, got, err, c.want)
		}
	}
}
