package pageserver

import (
	"os"
	"testing"
	"unsafe"

	"github.com/crlazy/crlazy/images"
)

// keep holds the memory of inMemory fixtures for the life of the test
// binary (ProcessPages reads it by address).
var keep [][]byte

// inMemory lays a fixture's data out in memory of this process, which
// ProcessPages then serves as if this process were the frozen dump; the
// fixture's base is that memory, 3 pages past a chunk boundary so that
// chunk cuts land inside runs.
func inMemory(t testing.TB, seed uint64) *fixture {
	t.Helper()
	fx := newFixture(uint32(os.Getpid()), seed, 0)
	size := fx.end()
	mem := make([]byte, size+images.ChunkMaxBytes+4*page)
	keep = append(keep, mem)
	base := uint64(uintptr(unsafe.Pointer(&mem[0])))
	fx.base = (base+images.ChunkMaxBytes-1)&^(images.ChunkMaxBytes-1) + 3*page
	fx.eachRun(func(s, e uint64, zero bool) {
		if !zero {
			copy(mem[s-base:e-base], fx.want(s, int(e-s)))
		}
	})
	return fx
}
