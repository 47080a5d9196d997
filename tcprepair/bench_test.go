package tcprepair

import (
	"testing"

	"github.com/crlazy/crlazy/internal/testutil"
)

// BenchmarkSaveRestore saves an idle loopback connection with 17 bytes
// queued and restores it, once per iteration.
func BenchmarkSaveRestore(b *testing.B) {
	testutil.RequirePriv(b)
	for b.Loop() {
		b.StopTimer()
		client, server := tcpPairB(b)
		if _, err := server.Write([]byte("hello-from-server")); err != nil {
			b.Fatal(err)
		}
		f, err := client.File()
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := Pause(f); err != nil {
			b.Fatal(err)
		}
		st, err := Save(f)
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
		client.Close()
		nf, err := Restore(st, RestoreOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		nf.Close()
		server.Close()
		b.StartTimer()
	}
}
