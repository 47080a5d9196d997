package dumper

import (
	"fmt"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/pagemap"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/internal/proc"
	"github.com/crlazy/crlazy/store"
	"google.golang.org/protobuf/proto"
)

const (
	// readBatchBytes is the most memory read by one batch of
	// process_vm_readv calls.
	readBatchBytes = 8 << 20
	// scanPages is how many pagemap entries are read at once.
	scanPages = 8192
	// batchesInFlight is how many read batches may wait for the writer.
	batchesInFlight = 2
	// readBuffers is how many batch buffers circulate: read, queued,
	// being cut into chunks, or held by the store until committed.
	readBuffers = 6
	pageSize    = linux.PageSize
)

// run is a range of pages to save, [start, start+pages*pageSize).
type run struct {
	start uint64
	pages uint64
}

// batch is memory read from the target: buf holds the runs back to back.
type batch struct {
	runs []run
	buf  []byte
	err  error
}

// newBufferPool returns the read buffers a dump recycles: they are reused
// once the store has committed their chunks, as fresh memory would cost a
// page fault and zeroing per page, twice.
func newBufferPool() chan []byte {
	free := make(chan []byte, readBuffers)
	for range readBuffers {
		free <- make([]byte, readBatchBytes)
	}
	return free
}

// dumpPages saves the pages of every planned area of the process of img,
// whose mm id is its pid.
func dumpPages(w *store.Writer, pages PageSink, img *image, free chan []byte, stats *Stats) error {
	pm, err := proc.OpenPagemap(img.pid)
	if err != nil {
		return err
	}
	defer pm.Close()
	batches := make(chan batch, batchesInFlight)
	stop := make(chan struct{})
	defer close(stop)
	go readBatches(img, pm, batches, free, stop)
	rec := &pagemapRecorder{w: w, pages: pages, mm: uint32(img.pid), stats: stats}
	for b := range batches {
		if b.err != nil {
			return b.err
		}
		if err := rec.batch(b); err != nil {
			return err
		}
		buf := b.buf[:cap(b.buf)]
		if err := pages.AfterCommit(func() { free <- buf }); err != nil {
			return err
		}
	}
	return rec.flush()
}

// readBatches scans the planned areas and sends batches of their pages.
// It runs in its own goroutine and closes out when done or on error.
func readBatches(img *image, pm *proc.Pagemap, out chan<- batch, free <-chan []byte, stop <-chan struct{}) {
	defer close(out)
	r := batchReader{pid: img.pid, out: out, free: free, stop: stop}
	for _, a := range img.areas {
		if err := r.scanArea(pm, a); err != nil {
			r.send(batch{err: err})
			return
		}
	}
	if err := r.flush(); err != nil {
		r.send(batch{err: err})
	}
}

type batchReader struct {
	pid   int
	out   chan<- batch
	free  <-chan []byte
	stop  <-chan struct{}
	runs  []run
	bytes uint64
	ents  [scanPages]proc.PagemapEntry
}

func (r *batchReader) send(b batch) bool {
	select {
	case r.out <- b:
		return true
	case <-r.stop:
		return false
	}
}

// scanArea walks the pagemap of a and queues the pages to save (for a
// shared memory mapping, its planned ranges).
func (r *batchReader) scanArea(pm *proc.Pagemap, a area) error {
	if a.mode == pagesShared {
		return r.addRanges(a.ranges)
	}
	for addr := a.start; addr < a.end; {
		n := min((a.end-addr)/pageSize, scanPages)
		ents := r.ents[:n]
		if err := pm.Read(addr, ents); err != nil {
			return fmt.Errorf("vma %x-%x: %w", a.start, a.end, err)
		}
		for i, e := range ents {
			if wanted(a.mode, e) {
				if err := r.add(addr + uint64(i)*pageSize); err != nil {
					return err
				}
			}
		}
		addr += n * pageSize
	}
	return nil
}

func wanted(mode pageMode, e proc.PagemapEntry) bool {
	switch mode {
	case pagesAnon:
		return e.Present() || e.Swapped()
	case pagesFilePrivate:
		return (e.Present() && !e.File()) || e.Swapped()
	}
	return false
}

// addRanges queues every page of ranges.
func (r *batchReader) addRanges(ranges [][2]uint64) error {
	for _, rg := range ranges {
		for addr := rg[0]; addr < rg[1]; addr += pageSize {
			if err := r.add(addr); err != nil {
				return err
			}
		}
	}
	return nil
}

// add queues one page, extending the last run when contiguous.
func (r *batchReader) add(addr uint64) error {
	if n := len(r.runs); n > 0 && r.runs[n-1].start+r.runs[n-1].pages*pageSize == addr {
		r.runs[n-1].pages++
	} else {
		if n == linux.MaxIovecs {
			if err := r.flush(); err != nil {
				return err
			}
		}
		r.runs = append(r.runs, run{start: addr, pages: 1})
	}
	r.bytes += pageSize
	if r.bytes >= readBatchBytes {
		return r.flush()
	}
	return nil
}

// flush reads the queued runs and sends them.
func (r *batchReader) flush() error {
	if len(r.runs) == 0 {
		return nil
	}
	var buf []byte
	select {
	case buf = <-r.free:
	case <-r.stop:
		return errStopped
	}
	b := batch{runs: r.runs, buf: buf[:r.bytes]}
	r.runs, r.bytes = nil, 0
	if err := readRuns(r.pid, b); err != nil {
		return err
	}
	if !r.send(b) {
		return errStopped
	}
	return nil
}

var errStopped = fmt.Errorf("page reader stopped")

// readRuns fills b.buf with the pages of b.runs.
func readRuns(pid int, b batch) error {
	rr := make([]linux.RemoteRange, len(b.runs))
	for i, r := range b.runs {
		rr[i] = linux.RemoteRange{Addr: linux.Addr(r.start), Len: r.pages * pageSize}
	}
	n, err := linux.ProcessVMReadv(pid, b.buf, rr)
	if err == nil && n == len(b.buf) {
		return nil
	}
	// Some range is not readable by the process itself (PROT_NONE):
	// read run by run, through /proc/PID/mem where needed.
	off := uint64(0)
	for _, r := range b.runs {
		l := r.pages * pageSize
		if err := linux.ReadRemote(pid, linux.Addr(r.start), b.buf[off:off+l]); err != nil {
			return fmt.Errorf("read pages %x-%x: %w", r.start, r.start+l, err)
		}
		off += l
	}
	return nil
}

// pagemapRecorder turns read pages into chunks and pagemap entries.
type pagemapRecorder struct {
	w     *store.Writer // records
	pages PageSink      // chunks
	mm    uint32
	stats *Stats
	cur   *pagemap.PagemapEntry // run being extended
	end   uint64                // end address of cur
}

func (p *pagemapRecorder) batch(b batch) error {
	off := uint64(0)
	for _, r := range b.runs {
		data := b.buf[off : off+r.pages*pageSize]
		if err := p.run(r.start, data); err != nil {
			return err
		}
		off += r.pages * pageSize
	}
	return nil
}

// run records the pages of data, which start at addr: zero pages as holes,
// non-zero pages as chunks.
func (p *pagemapRecorder) run(addr uint64, data []byte) error {
	return images.SplitPages(addr, data, p.span)
}

// span records pages of one kind: a chunk of non-zero pages (never
// crossing a ChunkMaxBytes boundary) or a run of zero pages.
func (p *pagemapRecorder) span(addr uint64, data []byte, zero bool) error {
	pages := uint64(len(data)) / pageSize
	if zero {
		p.stats.PagesZero += pages
	} else {
		if err := p.pages.PutChunk(p.mm, addr, data); err != nil {
			return err
		}
		p.stats.PagesData += pages
		p.stats.BytesData += uint64(len(data))
		p.stats.Chunks++
	}
	flags := uint32(images.PagemapPresent)
	if zero {
		flags |= images.PagemapZero
	}
	return p.extend(addr, pages, flags)
}

// extend grows the current pagemap entry or starts a new one.
func (p *pagemapRecorder) extend(addr, pages uint64, flags uint32) error {
	if p.cur != nil && p.end == addr && p.cur.GetFlags() == flags {
		n := p.cur.GetNrPages() + pages
		p.cur.NrPages = proto.Uint64(n)
		p.cur.CompatNrPages = proto.Uint32(uint32(min(n, 1<<32-1)))
		p.end += pages * pageSize
		return nil
	}
	if err := p.flush(); err != nil {
		return err
	}
	p.cur = &pagemap.PagemapEntry{
		Vaddr:         proto.Uint64(addr),
		NrPages:       proto.Uint64(pages),
		CompatNrPages: proto.Uint32(uint32(pages)),
		Flags:         proto.Uint32(flags),
	}
	p.end = addr + pages*pageSize
	return nil
}

func (p *pagemapRecorder) flush() error {
	if p.cur == nil {
		return nil
	}
	e := p.cur
	p.cur = nil
	return p.w.PutSubRecord(images.Pagemap, p.mm, e.GetVaddr(), e)
}
