package dumper

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/fifo"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/pipe"
	pipedata "github.com/checkpoint-restore/go-criu/v8/crit/images/pipe-data"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/store"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Bounds on the pipe data a dump holds in memory until the store is
// written. A pipe holds at most its capacity, which only a process with
// CAP_SYS_RESOURCE can raise above /proc/sys/fs/pipe-max-size (1 MiB by
// default).
const (
	maxPipeBytes     = images.PipeDataMax // one pipe
	maxTreePipeBytes = 256 << 20          // all pipes of a dump
)

// The ends of a pipe seen in the tree.
const (
	pipeReadEnd = 1 << iota
	pipeWriteEnd
)

// pipeState is one pipe object (the same for every end and description).
type pipeState struct {
	id   uint32
	size int    // capacity in bytes
	data []byte // the bytes queued at the dump, not consumed
	ends int    // pipeReadEnd | pipeWriteEnd seen in the tree
	what string // the first descriptor that showed it
	fifo bool
}

// pipeEntry records a pipe or FIFO description; the pipe's data is read
// the first time the pipe is seen.
func (c *collector) pipeEntry(ft *fileTable, o openFd) (*fdinfo.FileEntry, error) {
	if o.info.Flags&linux.ODirect != 0 {
		return nil, unsupported("packet-mode pipes (O_DIRECT) are not supported yet", "%s", o.what)
	}
	p, err := c.pipeOf(ft, o)
	if err != nil {
		return nil, err
	}
	switch o.info.Flags & linux.OAccmode {
	case linux.ORdonly:
		p.ends |= pipeReadEnd
	case linux.OWronly:
		p.ends |= pipeWriteEnd
	default:
		p.ends |= pipeReadEnd | pipeWriteEnd
	}
	if o.kind == kindFifo {
		regID := ft.add(regEntry(o.link, o.st, o.statusFlags(), 0))
		return &fdinfo.FileEntry{Type: fdinfo.FdTypes_FIFO.Enum(),
			Fifo: &fifo.FifoEntry{PipeId: proto.Uint32(p.id), RegfId: proto.Uint32(regID)}}, nil
	}
	return &fdinfo.FileEntry{Type: fdinfo.FdTypes_PIPE.Enum(), Pipe: &pipe.PipeEntry{
		PipeId: proto.Uint32(p.id), Flags: proto.Uint32(o.statusFlags()), Fown: noOwner()}}, nil
}

// pipeOf returns the pipe behind o, reading its data if it is new.
func (c *collector) pipeOf(ft *fileTable, o openFd) (*pipeState, error) {
	key := [2]uint64{o.st.Dev, o.st.Ino}
	if p, ok := ft.pipes[key]; ok {
		return p, nil
	}
	size, data, err := readPipe(c.pid, o)
	if err != nil {
		return nil, err
	}
	if ft.pipeBytes+len(data) > maxTreePipeBytes {
		return nil, unsupported(fmt.Sprintf("the pipes of the tree hold more than %d bytes", maxTreePipeBytes), "%s", o.what)
	}
	ft.pipeBytes += len(data)
	p := &pipeState{id: ft.pipeID(o), size: size, data: data, what: o.what, fifo: o.kind == kindFifo}
	if q := ft.pipeByID[p.id]; q != nil {
		return nil, fmt.Errorf("%s and %s: two pipes with id %d", q.what, o.what, p.id)
	}
	ft.pipeByID[p.id] = p
	ft.pipes[key] = p
	ft.pipeIDs = append(ft.pipeIDs, p)
	c.log.Debug("pipe saved", "what", o.what, "pipe_id", p.id, "size", size, "queued", len(data))
	return p, nil
}

// fifoIDBase is where FIFO ids start, above the inode numbers pipes get
// their ids from.
const fifoIDBase = 1 << 31

// pipeID names a pipe by its inode number, as criu does and as /proc
// shows it (pipe:[INODE]: the key of --inherit-fd); pipefs numbers its
// inodes with 32 bits. A FIFO, whose inode belongs to its file system,
// gets the next id from fifoIDBase.
func (ft *fileTable) pipeID(o openFd) uint32 {
	if o.kind != kindFifo {
		return uint32(o.st.Ino)
	}
	ft.fifos++
	return fifoIDBase + ft.fifos - 1
}

// readPipe returns the capacity of the pipe behind descriptor o of pid
// and a copy of the bytes queued in it, without consuming them: a new
// read-only description of the same pipe (opening /proc/PID/fd/N works
// for either end and for FIFOs) is tee(2)'d into a pipe of ours of the
// same capacity, which therefore has room for every buffer, and read
// from there.
func readPipe(pid int, o openFd) (int, []byte, error) {
	src, err := linux.OpenFile(fmt.Sprintf("/proc/%d/fd/%d", pid, o.fd), linux.ORdonly|linux.ONonblock)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", o.what, err)
	}
	defer src.Close()
	size, err := linux.PipeSize(src)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", o.what, err)
	}
	queued, err := linux.PipeQueued(src)
	if err != nil || queued == 0 {
		return size, nil, wrapWhat(o.what, err)
	}
	if queued > maxPipeBytes {
		return 0, nil, unsupported(fmt.Sprintf("the pipe holds %d bytes, more than %d", queued, maxPipeBytes), "%s", o.what)
	}
	data, err := teeCopy(src, size, queued)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: copy the %d bytes queued: %w", o.what, queued, err)
	}
	return size, data, nil
}

// teeCopy copies the queued bytes of src without consuming them.
func teeCopy(src *os.File, size, queued int) ([]byte, error) {
	r, w, err := linux.Pipe2()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	defer w.Close()
	if _, err := linux.SetPipeSize(w, size); err != nil {
		return nil, fmt.Errorf("make a pipe of %d bytes (above /proc/sys/fs/pipe-max-size crlazy needs CAP_SYS_RESOURCE): %w", size, err)
	}
	n, err := linux.Tee(src, w, queued)
	if err != nil {
		return nil, err
	}
	if n != queued {
		return nil, fmt.Errorf("tee copied %d bytes", n)
	}
	data := make([]byte, queued)
	if err := linux.ReadFull(r, data); err != nil {
		return nil, err
	}
	return data, nil
}

func wrapWhat(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

// warnExternalPipes logs the pipes that had only one end in the tree:
// after a restore nothing is at the other end (criu does the same).
func (ft *fileTable) warnExternalPipes(log *slog.Logger) {
	for _, p := range ft.pipeIDs {
		if p.ends != pipeReadEnd|pipeWriteEnd {
			end := "write"
			if p.ends&pipeReadEnd == 0 {
				end = "read"
			}
			if p.fifo {
				log.Warn("a FIFO's "+end+" end is not in the dumped tree; after restore nothing will be connected to it until a process opens the FIFO",
					"fd", p.what)
				continue
			}
			log.Warn(fmt.Sprintf("a pipe's %s end is not in the dumped tree; after restore nothing will be connected to it, unless a descriptor of the right end is given with --inherit-fd fd[N]:pipe:[%d]", end, p.id),
				"fd", p.what)
		}
	}
}

// writePipes stores the size and queued bytes of every pipe and FIFO.
func (ft *fileTable) writePipes(w *store.Writer) error {
	for _, p := range ft.pipeIDs {
		e := &pipedata.PipeDataEntry{PipeId: proto.Uint32(p.id), Bytes: proto.Uint32(uint32(len(p.data))),
			Size: proto.Uint32(uint32(p.size))}
		if err := w.PutRecord(images.PipeData, p.id, e); err != nil {
			return err
		}
		for off := 0; off < len(p.data); off += images.PipeBytesMax {
			piece := p.data[off:min(off+images.PipeBytesMax, len(p.data))]
			if err := w.PutSubRecord(images.PipeBytes, p.id, uint64(off), wrapperspb.Bytes(piece)); err != nil {
				return err
			}
		}
	}
	return nil
}
