package main

import (
	"math/rand/v2"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/testutil"
	"github.com/crlazy/crlazy/pageserver"
	"github.com/crlazy/crlazy/store"
)

// rttSamples is how many single-chunk lookups the round-trip figures take.
const rttSamples = 4000

// BenchmarkPageServer restores the dump of a victim holding 1 GiB (that
// keeps re-reading a hot 5% of it) lazily twice in the same run: from
// the local store, then with every page from a page server on loopback
// (in the benchmark's process, serving that same store); neither records
// a working set. It reports
//
//	allin-GB/s, local-allin-GB/s   memory brought in per second, from the
//	                    handler's start until every page is in
//	fault-p50-us, local-fault-p50-us  handler service time of a demand fault
//	rtt-p50-us, rtt-p99-us   one FindChunk through a page-server client
//	                    (a random chunk: request, server lookup, 128 KiB back)
//	local-p50-us, local-p99-us  the same lookups in the store directly
//	stream-GB/s, local-stream-GB/s  ChunksIn of the whole memory, doing
//	                    nothing with the chunks, through the client and directly
//
// It runs a warm-up cycle and reports the second.
func BenchmarkPageServer(b *testing.B) {
	testutil.RequirePriv(b)
	for range b.N {
		b.StopTimer()
		for cycle := range 2 {
			m := pageServerCycle(b)
			if cycle == 1 {
				m.report(b)
			}
		}
		b.StartTimer()
	}
}

type psMetrics struct {
	allIn, localAllIn              float64 // GB/s
	fault, localFault              time.Duration
	rtt50, rtt99, local50, local99 time.Duration
	stream, localStream            float64 // GB/s
}

func (m psMetrics) report(b *testing.B) {
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }
	b.ReportMetric(m.allIn, "allin-GB/s")
	b.ReportMetric(m.localAllIn, "local-allin-GB/s")
	b.ReportMetric(us(m.fault), "fault-p50-us")
	b.ReportMetric(us(m.localFault), "local-fault-p50-us")
	b.ReportMetric(us(m.rtt50), "rtt-p50-us")
	b.ReportMetric(us(m.rtt99), "rtt-p99-us")
	b.ReportMetric(us(m.local50), "local-p50-us")
	b.ReportMetric(us(m.local99), "local-p99-us")
	b.ReportMetric(m.stream, "stream-GB/s")
	b.ReportMetric(m.localStream, "local-stream-GB/s")
}

func pageServerCycle(b *testing.B) psMetrics {
	const mib = 1024
	crlazy := testutil.BuildCrlazy(b)
	v := testutil.StartVictim(b, testutil.BuildVictim(b, "lazytouch"), strconv.Itoa(mib), hotPercent)
	v.WaitLine(b, regexp.MustCompile(`^ready `), lineTimeout)
	v.WaitLine(b, regexp.MustCompile(`^pass `), lineTimeout)
	parent := b.TempDir()
	dir := filepath.Join(parent, "ckpt")
	if out, err := exec.Command(crlazy, "dump", "-t", strconv.Itoa(v.Pid), "-D", dir).CombinedOutput(); err != nil {
		b.Fatalf("dump: %v\n%s", err, out)
	}
	v.Reap(b)
	srv, err := pageserver.Listen(pageserver.Config{Address: "127.0.0.1:0", Dir: parent})
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve()
	defer srv.Close()
	var m psMetrics
	noRecord := "--record-working-set=false"
	local := restoreOnce(b, crlazy, v, dir, "--lazy-pages", noRecord)
	remote := restoreOnce(b, crlazy, v, dir, "--lazy-pages", noRecord, "--page-server",
		"--address", "127.0.0.1", "--port", portOf(b, srv), "--checkpoint-name", "ckpt")
	m.allIn = gbps(mib<<20, remote.allIn.Seconds())
	m.localAllIn = gbps(mib<<20, local.allIn.Seconds())
	m.fault, m.localFault = remote.p50, local.p50
	lookups(b, srv, dir, &m)
	return m
}

func portOf(b *testing.B, s *pageserver.Server) string {
	a, ok := s.Addr().(*net.TCPAddr)
	if !ok {
		b.Fatalf("page server address %v is not TCP", s.Addr())
	}
	return strconv.Itoa(a.Port)
}

// lookups measures single-chunk lookups and whole-memory streams, through
// a client of srv and in the store directly.
func lookups(b *testing.B, srv *pageserver.Server, dir string, m *psMetrics) {
	r, err := store.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	src, err := pageserver.Open(pageserver.ClientConfig{Address: srv.Addr().String()}, "ckpt", r)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	mms, err := r.IDs(images.Pagemap)
	if err != nil || len(mms) != 1 {
		b.Fatalf("pagemaps %v: %v", mms, err)
	}
	mm := mms[0]
	addrs := samplePages(b, r, mm)
	m.local50, m.local99 = timeLookups(b, addrs, func(a uint64) (bool, error) {
		return r.FindChunk(mm, a, func(uint64, []byte) error { return nil })
	})
	m.rtt50, m.rtt99 = timeLookups(b, addrs, func(a uint64) (bool, error) {
		return src.FindChunk(mm, a, func(uint64, []byte) error { return nil })
	})
	m.localStream = streamRate(b, func(fn func(uint64, []byte) error) error { return r.Chunks(mm, fn) })
	m.stream = streamRate(b, func(fn func(uint64, []byte) error) error { return src.ChunksIn(mm, 0, ^uint64(0), fn) })
}

// samplePages picks rttSamples random pages of random chunks of mm.
func samplePages(b *testing.B, r *store.Reader, mm uint32) []uint64 {
	var chunks [][2]uint64
	err := r.Chunks(mm, func(a uint64, data []byte) error {
		chunks = append(chunks, [2]uint64{a, uint64(len(data))})
		return nil
	})
	if err != nil || len(chunks) == 0 {
		b.Fatalf("chunks of mm %d: %d, %v", mm, len(chunks), err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	out := make([]uint64, rttSamples)
	for i := range out {
		c := chunks[rng.IntN(len(chunks))]
		out[i] = c[0] + rng.Uint64N(c[1]/images.PageSize)*images.PageSize
	}
	return out
}

// timeLookups times find on every address and returns the p50 and p99.
func timeLookups(b *testing.B, addrs []uint64, find func(uint64) (bool, error)) (time.Duration, time.Duration) {
	ts := make([]time.Duration, len(addrs))
	for i, a := range addrs {
		start := time.Now()
		found, err := find(a)
		ts[i] = time.Since(start)
		if err != nil || !found {
			b.Fatalf("find %#x: %v, %v", a, found, err)
		}
	}
	slices.Sort(ts)
	return ts[len(ts)/2], ts[len(ts)*99/100]
}

// streamRate times a walk over every chunk and returns GB/s.
func streamRate(b *testing.B, walk func(func(uint64, []byte) error) error) float64 {
	var n uint64
	start := time.Now()
	if err := walk(func(_ uint64, data []byte) error { n += uint64(len(data)); return nil }); err != nil {
		b.Fatal(err)
	}
	return gbps(n, time.Since(start).Seconds())
}
