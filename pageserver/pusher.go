package pageserver

import (
	"encoding/binary"
	"fmt"
	"os"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/images/crlazypb"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/store"
)

const (
	// commitTimeout bounds the server's commit of a pushed store (it
	// syncs everything it received to disk).
	commitTimeout = 10 * time.Minute
	// reasonTimeout bounds the wait for the server's error frame after a
	// failed write.
	reasonTimeout = time.Second
)

// Pusher sends a dump's chunks to a page server as they are read (it is
// a dumper.PageSink), and at Commit the records of the dump's local
// store, so that the server ends up with a complete store of its own
// under the checkpoint's name. A push is not retried: if the connection
// is lost the dump fails and the server drops what it received. PutChunk
// and AfterCommit are called from one goroutine.
type Pusher struct {
	c        *conn
	name     string
	localDir string
	sent     commitMsg
	addr     string // the server's, for messages
}

// PushHeader describes a dump made on this machine by crlazy toolVersion
// for the store a push creates on the server (the server cannot see the
// dump's own header, which is written last).
func PushHeader(toolVersion string) *crlazypb.Header {
	release, machine, _ := linux.Uname()
	host, _ := os.Hostname()
	return &crlazypb.Header{
		FormatVersion: images.FormatVersion, ToolVersion: toolVersion, Arch: machine,
		PageSize: images.PageSize, KernelRelease: release, CreatedUnixNano: time.Now().UnixNano(),
		ChunkSize: images.ChunkMaxBytes, Hostname: host,
	}
}

// Push opens a push of checkpoint name, whose records will be in the
// store in localDir once the dump commits it; hdr becomes the header of
// the server's store.
func Push(cfg ClientConfig, name, localDir string, hdr *crlazypb.Header) (*Pusher, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	hb, err := proto.Marshal(hdr)
	if err != nil {
		return nil, err
	}
	c, _, err := cfg.dial(openReq{lane: lanePush, name: name, header: hb})
	if err != nil {
		return nil, fmt.Errorf("page server %s: push %s: %w", cfg.Address, name, err)
	}
	return &Pusher{c: c, name: name, localDir: localDir, addr: cfg.Address}, nil
}

// PutChunk sends the pages of mm at addr. data is not kept: it has been
// handed to the kernel when PutChunk returns.
func (p *Pusher) PutChunk(mm uint32, addr uint64, data []byte) error {
	var b [putChunkHdrLen]byte
	binary.BigEndian.PutUint32(b[:], mm)
	binary.BigEndian.PutUint64(b[4:], addr)
	if err := p.c.send(tPutChunk, 0, b[:], data); err != nil {
		return p.why(fmt.Errorf("push chunk %d@%#x: %w", mm, addr, err))
	}
	p.sent.chunks++
	p.sent.chunkBytes += uint64(len(data))
	return nil
}

// AfterCommit runs fn at once: PutChunk does not keep the buffers.
func (p *Pusher) AfterCommit(fn func()) error {
	fn()
	return nil
}

// Commit sends every record of the local store (committed by now), then
// asks the server to commit, and waits until it has.
func (p *Pusher) Commit() error {
	r, err := store.Open(p.localDir)
	if err != nil {
		return fmt.Errorf("push %s: %w", p.name, err)
	}
	defer r.Close()
	err = r.Walk(func(k images.Key, raw []byte) error {
		switch k.Type {
		case images.KeyChunk:
			return p.PutChunk(k.ID, k.Addr, raw)
		case images.KeyRecord, images.KeySubRecord:
			return p.putRecord(k, raw)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("push %s: %w", p.name, err)
	}
	return p.commit()
}

func (p *Pusher) putRecord(k images.Key, payload []byte) error {
	kb := k.Bytes()
	if err := p.c.send(tPutRecord, 0, []byte{byte(len(kb))}, kb, payload); err != nil {
		return p.why(fmt.Errorf("push %s: %w", k, err))
	}
	p.sent.records++
	return nil
}

func (p *Pusher) commit() error {
	const commitID = 2
	if err := p.c.send(tCommit, commitID, p.sent.append(nil)); err != nil {
		return p.why(fmt.Errorf("push %s: commit: %w", p.name, err))
	}
	if err := p.c.nc.SetReadDeadline(time.Now().Add(commitTimeout)); err != nil {
		return err
	}
	var buf [2 + maxErrorText]byte
	if _, err := p.c.expect(tOK, commitID, buf[:]); err != nil {
		return fmt.Errorf("push %s: commit on %s: %w", p.name, p.addr, err)
	}
	p.c.close()
	return nil
}

// why replaces a failed write's error by the server's reason, if it sent
// one before it closed the connection.
func (p *Pusher) why(err error) error {
	if p.c.nc.SetReadDeadline(time.Now().Add(reasonTimeout)) != nil {
		return err
	}
	var buf [2 + maxErrorText]byte
	if _, rerr := p.c.expect(tOK, 0, buf[:]); rerr != nil {
		if _, ok := rerr.(*RemoteError); ok {
			return fmt.Errorf("%w: %w", err, rerr)
		}
	}
	return err
}

// Abort drops the push: the server removes what it received.
func (p *Pusher) Abort() error { return p.c.close() }
