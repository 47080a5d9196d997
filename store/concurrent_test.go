package store

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"testing"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/pstree"
	"google.golang.org/protobuf/proto"

	"github.com/crlazy/crlazy/images"
)

// TestTwoReaders opens one store twice in this process and reads it from
// both at once.
func TestTwoReaders(t *testing.T) {
	dir, fx := newStore(t)
	want := fx.snapshot()
	var readers []*Reader
	for range 2 {
		r, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		readers = append(readers, r)
	}
	var wg sync.WaitGroup
	for _, r := range readers {
		for range 2 {
			wg.Go(func() {
				got, err := readAll(r, fixtureMMs)
				if err != nil {
					t.Error(err)
				} else if d := diff(want, got); d != "" {
					t.Error(d)
				}
			})
		}
	}
	wg.Wait()
}

// TestReadersInTwoProcesses has another process open the store while
// this one has it open, and both read it.
func TestReadersInTwoProcesses(t *testing.T) {
	dir, fx := newStore(t)
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := helper(t, "read", dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := bufio.NewReader(stdout)
	if line, err := out.ReadString('\n'); line != "open\n" {
		t.Fatalf("helper: %q %v", line, err)
	}
	// Both processes have the store open now.
	got, err := readAll(r, fixtureMMs)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(fx.snapshot(), got); d != "" {
		t.Fatal(d)
	}
	fmt.Fprintln(stdin, "go")
	rest, _ := io.ReadAll(out)
	if err := cmd.Wait(); err != nil || string(rest) != "ok\n" {
		t.Fatalf("helper: %v: %s", err, rest)
	}
}

// TestConcurrentPuts writes chunks and records from several goroutines.
func TestConcurrentPuts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "images")
	w, err := Create(dir, testHeader())
	if err != nil {
		t.Fatal(err)
	}
	const workers, perWorker = 4, 200
	var wg sync.WaitGroup
	for g := range uint32(workers) {
		wg.Go(func() {
			for i := range uint64(perWorker) {
				if err := w.PutChunk(g, i*2*page, bytes.Repeat([]byte{byte(g + 1)}, page)); err != nil {
					t.Error(err)
					return
				}
			}
			e := &pstree.PstreeEntry{Pid: proto.Uint32(g), Ppid: proto.Uint32(0), Pgid: proto.Uint32(g), Sid: proto.Uint32(g)}
			if err := w.PutRecord(images.Pstree, g, e); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for g := range uint32(workers) {
		n := 0
		err := r.Chunks(g, func(addr uint64, data []byte) error {
			if addr != uint64(n)*2*page || data[0] != byte(g+1) {
				return fmt.Errorf("mm %d chunk %d at %#x holds %d", g, n, addr, data[0])
			}
			n++
			return nil
		})
		if err != nil || n != perWorker {
			t.Fatalf("mm %d: %d chunks: %v", g, n, err)
		}
	}
	ids, err := r.IDs(images.Pstree)
	if err != nil || len(ids) != workers {
		t.Fatalf("pstree ids %v: %v", ids, err)
	}
}
