package restorer

import (
	"fmt"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/fown"
	"os"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	pipedata "github.com/checkpoint-restore/go-criu/v8/crit/images/pipe-data"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/store"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// treeFiles holds, for one restore, crlazy's own copy of the open file
// descriptions that more than one process restores (so that all get the
// same one: one offset, one set of flags, one pipe) or that crlazy builds
// itself (pipes, eventfds, ...: created here, filled, then installed into
// each process with pidfd_getfd). Processes are rebuilt one at a time on
// the tracer thread, so it needs no lock. close releases crlazy's copies
// once every process has its own.
type treeFiles struct {
	files map[uint32]*fdinfo.FileEntry // every file of the image, by id
	// objs: crlazy's copy of a description, by file id, once made.
	objs  map[uint32]*os.File
	pipes map[uint32]*pipeObj // by pipe id, once made
	// inherited: the files replaced by a descriptor of crlazy's
	// (--inherit-fd, fd_inherit.go), in objs from the start.
	inherited map[uint32]bool
	// owners of the descriptions in signal-driven mode, by file id, and
	// those already set (fd_owner.go).
	owners     map[uint32]*fown.FownEntry
	ownersDone map[uint32]bool
	content    map[uint32]*pipeContent // by pipe id, as loaded
	holders    map[uint32]int          // file id -> descriptor tables that hold it
	tids       map[int]bool            // every thread of the image (pidfds point inside)
	mem        *memObjects             // shared memory, memfds, deleted files (mem_objects.go)
	tty        *ttyRestore             // terminals (fd_tty*.go); nil when none
}

// pipeContent is what a pipe held at the dump.
type pipeContent struct {
	size int
	data []byte
}

// loadTreeFiles reads the pipe data of the image and checks every
// descriptor record that is not a plain file, before anything is created.
func loadTreeFiles(r *store.Reader, imgs []*image) (*treeFiles, error) {
	tf := &treeFiles{objs: map[uint32]*os.File{}, pipes: map[uint32]*pipeObj{},
		content: map[uint32]*pipeContent{}, holders: map[uint32]int{}, tids: map[int]bool{},
		inherited: map[uint32]bool{}}
	for _, img := range imgs {
		tf.files = img.files
		for _, tid := range img.pstree.GetThreads() {
			tf.tids[int(tid)] = true
		}
		seen := map[uint32]bool{}
		for _, e := range img.fds {
			if !seen[e.GetId()] {
				seen[e.GetId()] = true
				tf.holders[e.GetId()]++
			}
		}
	}
	for id, f := range tf.files {
		if err := tf.check(r, f); err != nil {
			return nil, fmt.Errorf("file id %d: %w", id, err)
		}
	}
	if err := tf.loadOwners(r); err != nil {
		return nil, err
	}
	return tf, nil
}

// check validates one file record and loads what it needs.
func (tf *treeFiles) check(r *store.Reader, f *fdinfo.FileEntry) error {
	switch f.GetType() {
	case fdinfo.FdTypes_REG:
		if f.GetReg() == nil {
			return badImage("regular file without its record")
		}
		return nil
	case fdinfo.FdTypes_PIPE:
		if f.GetPipe() == nil {
			return badImage("pipe without its record")
		}
		return tf.loadPipe(r, f.GetPipe().GetPipeId())
	case fdinfo.FdTypes_FIFO:
		return tf.checkFifo(r, f)
	case fdinfo.FdTypes_EVENTFD, fdinfo.FdTypes_EVENTPOLL, fdinfo.FdTypes_SIGNALFD, fdinfo.FdTypes_TIMERFD:
		return checkAnon(f)
	case fdinfo.FdTypes_INOTIFY:
		return checkInotify(f)
	case fdinfo.FdTypes_INETSK:
		return nil // checked and built before the tree by prepareInet (fd_inet.go)
	case fdinfo.FdTypes_UNIXSK:
		return nil // checked and built before the tree by buildUnix (fd_unix*.go)
	case fdinfo.FdTypes_TTY:
		return nil // checked and built before the tree by buildTTYs (fd_tty*.go)
	case fdinfo.FdTypes_PIDFD:
		if pid := int(f.GetPidfd().GetNspid()); f.GetPidfd() == nil || !tf.tids[pid] {
			return badImage("pidfd of pid %d, which is not in the image", pid)
		}
		return nil
	case fdinfo.FdTypes_MEMFD:
		return nil // checked by loadMemObjects
	}
	return badImage("descriptors of type %v cannot be restored", f.GetType())
}

func (tf *treeFiles) checkFifo(r *store.Reader, f *fdinfo.FileEntry) error {
	reg := tf.files[f.GetFifo().GetRegfId()].GetReg()
	if f.GetFifo() == nil || reg == nil {
		return badImage("FIFO without its record or path")
	}
	// checkFiles checks that the path is still a FIFO.
	return tf.loadPipe(r, f.GetFifo().GetPipeId())
}

// checkAnon checks that an anon_inode file has its record.
func checkAnon(f *fdinfo.FileEntry) error {
	if f.GetEfd() == nil && f.GetEpfd() == nil && f.GetSgfd() == nil && f.GetTfd() == nil {
		return badImage("%v without its record", f.GetType())
	}
	return nil
}

// loadPipe reads the size and contents of a pipe, once.
func (tf *treeFiles) loadPipe(r *store.Reader, id uint32) error {
	if tf.content[id] != nil {
		return nil
	}
	var e pipedata.PipeDataEntry
	if err := r.Record(images.PipeData, id, &e); err != nil {
		return fmt.Errorf("pipe %d: %w", id, err)
	}
	n := int(e.GetBytes())
	if n > images.PipeDataMax || n > int(e.GetSize()) {
		return badImage("pipe %d holds %d bytes, its capacity is %d (at most %d)", id, n, e.GetSize(), images.PipeDataMax)
	}
	c := &pipeContent{size: int(e.GetSize()), data: make([]byte, 0, n)}
	err := r.SubRecords(images.PipeBytes, id, func(sub uint64, raw []byte) error {
		var piece wrapperspb.BytesValue
		if err := images.UnmarshalRecord(raw, &piece); err != nil {
			return err
		}
		if sub != uint64(len(c.data)) || len(c.data)+len(piece.Value) > n {
			return badImage("pipe %d: %d bytes at offset %d, after %d of %d", id, len(piece.Value), sub, len(c.data), n)
		}
		c.data = append(c.data, piece.Value...)
		return nil
	})
	if err == nil && len(c.data) != n {
		err = badImage("pipe %d: %d bytes stored, %d recorded", id, len(c.data), n)
	}
	tf.content[id] = c
	return err
}

// close releases crlazy's copies; the restored processes keep theirs.
func (tf *treeFiles) close() {
	if tf == nil {
		return
	}
	for _, f := range tf.objs {
		f.Close()
	}
	for _, p := range tf.pipes {
		p.close()
	}
	tf.mem.close()
	tf.objs, tf.pipes = nil, nil
}
