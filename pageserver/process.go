package pageserver

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	criucore "github.com/checkpoint-restore/go-criu/v8/crit/images/criu-core"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/pagemap"

	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/images/crlazypb"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/store"
)

// readBatchBytes is the most memory ProcessPages reads from the process
// with one call.
const readBatchBytes = 1 << 20

// ProcessPages serves the pages of a dumped process from its memory, read
// with process_vm_readv while the process stays frozen (criu's
// source-side lazy dump): the dump wrote the records and the pagemap into
// its store, but no chunks. Its chunks are the pagemap's runs of non-zero
// pages cut at images.ChunkMaxBytes boundaries; nothing else of the
// process is ever read. Its methods are safe for concurrent use.
type ProcessPages struct {
	name  string
	ident [identLen]byte
	mms   map[uint32]*mmPages
	bufs  sync.Pool // *[]byte of readBatchBytes

	served atomic.Bool // some pages were read for a restore

	mu       sync.Mutex // guards the fields below
	opens    int        // connections that opened the checkpoint
	active   int        // of them, still open
	lastLeft time.Time  // when active last dropped to zero
}

// mmPages is one address space: which process to read, and its runs of
// saved data in address order.
type mmPages struct {
	pid  int
	runs []dataRun
}

type dataRun struct{ start, end uint64 }

// NewProcessPages serves checkpoint name, whose records are in r, from
// the memory of the processes r describes. r is only read here.
func NewProcessPages(name string, r *store.Reader) (*ProcessPages, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	ident, err := Identity(r)
	if err != nil {
		return nil, err
	}
	p := &ProcessPages{name: name, ident: ident, mms: map[uint32]*mmPages{}}
	p.bufs.New = func() any { b := make([]byte, readBatchBytes); return &b }
	pids, err := r.IDs(images.Pstree)
	if err != nil {
		return nil, err
	}
	for _, pid := range pids {
		var ids criucore.TaskKobjIdsEntry
		if err := r.Record(images.Ids, pid, &ids); err != nil {
			return nil, err
		}
		if mm := ids.GetVmId(); p.mms[mm] == nil {
			runs, err := dataRuns(r, mm)
			if err != nil {
				return nil, err
			}
			p.mms[mm] = &mmPages{pid: int(pid), runs: runs}
		}
	}
	return p, nil
}

// dataRuns lists the runs of non-zero pages the pagemap of mm records.
func dataRuns(r *store.Reader, mm uint32) ([]dataRun, error) {
	var runs []dataRun
	err := r.SubRecords(images.Pagemap, mm, func(sub uint64, raw []byte) error {
		var e pagemap.PagemapEntry
		if err := images.UnmarshalRecord(raw, &e); err != nil {
			return err
		}
		n := e.GetNrPages()
		start := e.GetVaddr()
		end := start + n*images.PageSize
		switch {
		case e.GetFlags()&images.PagemapZero != 0 || n == 0:
			return nil
		case start%images.PageSize != 0 || end <= start || n > (1<<52):
			return fmt.Errorf("pagemap %d/%#x: run of %d pages at %#x", mm, sub, n, start)
		case len(runs) > 0 && start < runs[len(runs)-1].end:
			return fmt.Errorf("pagemap %d/%#x: overlaps the run before", mm, sub)
		}
		runs = append(runs, dataRun{start, end})
		return nil
	})
	return runs, err
}

// chunkAt returns the chunk that holds addr in run: the part of the run
// inside addr's ChunkMaxBytes-aligned window.
func chunkAt(run dataRun, addr uint64) (uint64, uint64) {
	w := addr &^ (images.ChunkMaxBytes - 1)
	return max(run.start, w), min(run.end, w+images.ChunkMaxBytes)
}

// find returns the process and the run of mm that hold addr.
func (p *ProcessPages) find(mm uint32, addr uint64) (int, dataRun, bool) {
	m := p.mms[mm]
	if m == nil {
		return 0, dataRun{}, false
	}
	i := sort.Search(len(m.runs), func(i int) bool { return m.runs[i].end > addr })
	if i == len(m.runs) || m.runs[i].start > addr {
		return 0, dataRun{}, false
	}
	return m.pid, m.runs[i], true
}

// FindChunk reads the chunk of mm that holds addr from the process.
func (p *ProcessPages) FindChunk(mm uint32, addr uint64, fn func(uint64, []byte) error) (bool, error) {
	pid, run, ok := p.find(mm, addr)
	if !ok {
		return false, nil
	}
	s, e := chunkAt(run, addr)
	return true, p.read(pid, s, e, fn)
}

// ChunksIn reads every chunk of mm that overlaps [start, end).
func (p *ProcessPages) ChunksIn(mm uint32, start, end uint64, fn func(uint64, []byte) error) error {
	m := p.mms[mm]
	if m == nil {
		return nil
	}
	i := sort.Search(len(m.runs), func(i int) bool { return m.runs[i].end > start })
	for ; i < len(m.runs) && m.runs[i].start < end; i++ {
		s, _ := chunkAt(m.runs[i], max(start, m.runs[i].start))
		e := min(m.runs[i].end, (end+images.ChunkMaxBytes-1)&^(images.ChunkMaxBytes-1))
		if err := p.read(m.pid, s, e, fn); err != nil {
			return err
		}
	}
	return nil
}

// read reads [s, e), a part of one run, from pid in batches that end on
// chunk boundaries and hands it out chunk by chunk.
func (p *ProcessPages) read(pid int, s, e uint64, fn func(uint64, []byte) error) error {
	p.served.Store(true)
	bp := p.bufs.Get().(*[]byte)
	defer p.bufs.Put(bp)
	for s < e {
		n := min(e-s, (s+readBatchBytes)&^(images.ChunkMaxBytes-1)-s)
		buf := (*bp)[:n]
		if err := linux.ReadRemote(pid, linux.Addr(s), buf); err != nil {
			return fmt.Errorf("read pid %d: %w", pid, err)
		}
		for off := uint64(0); off < n; {
			cs, ce := chunkAt(dataRun{s, s + n}, s+off)
			if err := fn(cs, buf[cs-s:ce-s]); err != nil {
				return err
			}
			off = ce - s
		}
		s += n
	}
	return nil
}

// HasData reports whether the pagemap saved data at addr.
func (p *ProcessPages) HasData(mm uint32, addr uint64) (bool, error) {
	_, _, ok := p.find(mm, addr)
	return ok, nil
}

func (p *ProcessPages) pull(name string, ident [identLen]byte) (*entry, error) {
	switch {
	case name != p.name:
		return nil, refuse(codeNoSuch, fmt.Errorf("this server serves checkpoint %s only, not %s", p.name, name))
	case ident != p.ident:
		return nil, refuse(codeMismatch, fmt.Errorf("checkpoint %s holds another dump than the client's records", name))
	}
	p.mu.Lock()
	p.opens++
	p.active++
	p.mu.Unlock()
	release := func() {
		p.mu.Lock()
		if p.active--; p.active == 0 {
			p.lastLeft = time.Now()
		}
		p.mu.Unlock()
	}
	return &entry{name: name, pages: p, chunkSize: images.ChunkMaxBytes, release: release}, nil
}

func (p *ProcessPages) push(name string, _ *crlazypb.Header) (*incoming, error) {
	return nil, refuse(codeBadRequest, fmt.Errorf("this server serves checkpoint %s from its process and takes no pushes", p.name))
}

func (p *ProcessPages) close() error { return nil }

// abandoned reports whether restores opened the checkpoint and all of
// them have been gone for longer than d.
func (p *ProcessPages) abandoned(d time.Duration) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.opens > 0 && p.active == 0 && time.Since(p.lastLeft) > d
}

// hasServed reports whether pages were read for a restore: from then on
// a restored process may hold part of the memory.
func (p *ProcessPages) hasServed() bool { return p.served.Load() }
