package pageserver

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/store"
)

// incoming is a checkpoint being pushed: a store written in a temporary
// directory, renamed to the checkpoint's name once committed, so that a
// push that fails half-way never shows under that name.
type incoming struct {
	name       string
	w          *store.Writer
	tmp, final string
	cat        *dirCatalog

	got commitMsg // what arrived so far
}

// checkLen refuses, before anything is allocated, a PUTCHUNK larger than
// the store's chunk size (the frame decoder bounds the others).
func (in *incoming) checkLen(h header) error {
	limit := putChunkHdrLen + in.w.Header().GetChunkSize()
	if h.typ == tPutChunk && h.len > limit {
		return badFrame(byte(h.typ), "oversize %s frame: %d bytes, this push takes at most %d", h.typ, h.len, limit)
	}
	return nil
}

// putChunk stores pages of mm at addr; the store owns data from now on.
func (in *incoming) putChunk(mm uint32, addr uint64, data []byte) error {
	if err := in.w.PutChunk(mm, addr, data); err != nil {
		return refuse(codeBadRequest, err)
	}
	in.got.chunks++
	in.got.chunkBytes += uint64(len(data))
	return nil
}

// putRecord decodes a pushed record (checking it is a valid message of
// its kind) and stores it.
func (in *incoming) putRecord(k images.Key, payload []byte) error {
	m := k.Kind.New()
	if err := images.UnmarshalRecord(payload, m); err != nil {
		return refuse(codeBadRequest, fmt.Errorf("record %s: %w", k, err))
	}
	var err error
	if k.Type == images.KeySubRecord {
		err = in.w.PutSubRecord(k.Kind, k.ID, k.Sub, m)
	} else {
		err = in.w.PutRecord(k.Kind, k.ID, m)
	}
	if err != nil {
		return refuse(codeBadRequest, err)
	}
	in.got.records++
	return nil
}

// commit checks that everything the pusher sent arrived, commits the
// store and gives it its name.
func (in *incoming) commit(sent commitMsg) error {
	if sent != in.got {
		return refuse(codeBadRequest, fmt.Errorf("push of %s: sent %d chunks (%d bytes) and %d records, received %d (%d bytes) and %d",
			in.name, sent.chunks, sent.chunkBytes, sent.records, in.got.chunks, in.got.chunkBytes, in.got.records))
	}
	if err := in.w.Commit(); err != nil {
		return err
	}
	if _, err := os.Lstat(in.final); !errors.Is(err, fs.ErrNotExist) {
		return refuse(codeExists, fmt.Errorf("checkpoint %s appeared during the push", in.name))
	}
	if err := os.Rename(in.tmp, in.final); err != nil {
		return err
	}
	in.tmp = ""
	in.cat.done(in.name)
	return syncDir(in.cat.dir)
}

// abort drops a push that did not commit.
func (in *incoming) abort() {
	if in.tmp == "" {
		return
	}
	_ = in.w.Abort()
	if err := os.RemoveAll(in.tmp); err != nil {
		in.cat.log.Warn("remove unfinished push", "dir", in.tmp, "err", err)
	}
	in.tmp = ""
	in.cat.done(in.name)
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
