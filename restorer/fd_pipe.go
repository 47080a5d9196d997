package restorer

import (
	"fmt"
	"os"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	"github.com/crlazy/crlazy/internal/linux"
)

// pipeObj is a pipe crlazy made for the restore, filled with the data the
// dumped one held: both ends of a pipe(2), or a FIFO opened read-write
// (which neither blocks nor fails for want of a peer, and keeps the pipe
// alive while its descriptions are opened).
type pipeObj struct {
	r, w     *os.File // the pipe's ends, or the FIFO's read-write keeper in r
	usedR    bool     // r was handed out (a process owns that description now)
	usedW    bool
	fifoPath string
}

func (p *pipeObj) close() {
	if !p.usedR && p.r != nil {
		p.r.Close()
	}
	if !p.usedW && p.w != nil {
		p.w.Close()
	}
}

// pipeEnd returns crlazy's copy of a pipe description: the end of a new
// pipe the first time, another description of it for a second read (or
// write) description of the same pipe.
func (tf *treeFiles) pipeEnd(f *fdinfo.FileEntry) (*os.File, error) {
	pe := f.GetPipe()
	p, err := tf.pipe(pe.GetPipeId(), "")
	if err != nil {
		return nil, err
	}
	var end *os.File
	switch acc := int(pe.GetFlags()) & linux.OAccmode; {
	case acc == linux.ORdonly && !p.usedR:
		end, p.usedR = p.r, true
	case acc == linux.OWronly && !p.usedW:
		end, p.usedW = p.w, true
	default:
		if end, err = reopenPipe(p.r, acc); err != nil {
			return nil, err
		}
	}
	return end, setStatus(end, pe.GetFlags())
}

// reopenPipe opens another description of the pipe whose read end is r.
func reopenPipe(r *os.File, acc int) (*os.File, error) {
	fd, err := linux.RawFd(r)
	if err != nil {
		return nil, err
	}
	return linux.OpenFile(fmt.Sprintf("/proc/self/fd/%d", fd), acc|linux.ONonblock)
}

// fifoEnd opens a FIFO description, after filling the FIFO.
func (tf *treeFiles) fifoEnd(f *fdinfo.FileEntry) (*os.File, error) {
	reg := tf.files[f.GetFifo().GetRegfId()].GetReg()
	if _, err := tf.pipe(f.GetFifo().GetPipeId(), reg.GetName()); err != nil {
		return nil, err
	}
	end, err := linux.OpenFile(reg.GetName(), int(reg.GetFlags())&linux.OAccmode|linux.ONonblock)
	if err != nil {
		return nil, err
	}
	if err := setStatus(end, reg.GetFlags()); err != nil {
		end.Close()
		return nil, err
	}
	return end, nil
}

// pipe returns the pipe (fifoPath empty) or FIFO with pipe id id, making
// and filling it the first time.
func (tf *treeFiles) pipe(id uint32, fifoPath string) (*pipeObj, error) {
	if p := tf.pipes[id]; p != nil {
		return p, nil
	}
	c := tf.content[id]
	if c == nil {
		return nil, badImage("pipe %d was not loaded", id)
	}
	p, err := newPipe(fifoPath)
	if err != nil {
		return nil, err
	}
	if err := fillPipe(p.r, p.w, c); err != nil {
		p.close()
		return nil, fmt.Errorf("pipe %d: %w", id, err)
	}
	tf.pipes[id] = p
	return p, nil
}

func newPipe(fifoPath string) (*pipeObj, error) {
	if fifoPath == "" {
		r, w, err := linux.Pipe2()
		return &pipeObj{r: r, w: w}, err
	}
	keeper, err := linux.OpenFile(fifoPath, linux.ORdwr)
	if err != nil {
		return nil, err
	}
	return &pipeObj{r: keeper, w: keeper, usedW: true, fifoPath: fifoPath}, nil
}

// fillPipe gives the pipe its capacity and writes its data (which fits:
// it is at most that capacity).
func fillPipe(r, w *os.File, c *pipeContent) error {
	size, err := linux.PipeSize(r)
	if err != nil {
		return err
	}
	if size != c.size {
		if _, err := linux.SetPipeSize(r, c.size); err != nil {
			return fmt.Errorf("capacity %d: %w", c.size, err)
		}
	}
	queued, err := linux.PipeQueued(r)
	if err != nil {
		return err
	}
	if queued != 0 {
		return fmt.Errorf("%w: the FIFO holds %d bytes already", ErrFileChanged, queued)
	}
	return linux.WriteFull(w, c.data)
}
