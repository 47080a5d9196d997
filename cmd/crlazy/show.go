package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/store"
	"github.com/spf13/pflag"
)

func init() {
	register("show", "print the records of an images directory", runShow)
}

// chunkSummary totals the page chunks of one mm.
type chunkSummary struct {
	Chunks uint64 `json:"chunks"`
	Bytes  uint64 `json:"bytes"`
}

type shown struct {
	Header  json.RawMessage          `json:"header"`
	Records []images.JSONRecord      `json:"records"`
	Pages   map[uint32]*chunkSummary `json:"pages"`
}

func runShow(args []string) int {
	fs := pflag.NewFlagSet("show", pflag.ContinueOnError)
	var dir string
	var asJSON bool
	fs.StringVarP(&dir, "images-dir", "D", "", "directory holding the image store (required)")
	fs.BoolVar(&asJSON, "json", false, "print one JSON document")
	if st, ok := parseFlags(fs, args); !ok {
		return st
	}
	if dir == "" {
		fmt.Fprintln(os.Stderr, "crlazy show: -D DIR is required")
		return 2
	}
	s, err := collectShown(dir)
	if err != nil {
		return fail("show", err)
	}
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(s); err != nil {
			return fail("show", err)
		}
		return 0
	}
	printShown(os.Stdout, s)
	return 0
}

func collectShown(dir string) (*shown, error) {
	r, err := store.Open(dir)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	hdr, err := images.MessageJSON(r.Header())
	if err != nil {
		return nil, err
	}
	s := &shown{Header: hdr, Pages: map[uint32]*chunkSummary{}}
	err = r.Walk(func(k images.Key, raw []byte) error {
		switch k.Type {
		case images.KeyChunk:
			c := s.Pages[k.ID]
			if c == nil {
				c = &chunkSummary{}
				s.Pages[k.ID] = c
			}
			c.Chunks++
			c.Bytes += uint64(len(raw))
			return nil
		case images.KeyRecord, images.KeySubRecord:
			return s.addRecord(k, raw)
		}
		return nil
	})
	return s, err
}

func (s *shown) addRecord(k images.Key, raw []byte) error {
	rec, err := images.RecordJSON(k, raw)
	if err != nil {
		return err
	}
	s.Records = append(s.Records, rec)
	return nil
}

func printShown(w io.Writer, s *shown) {
	fmt.Fprintf(w, "header: %s\n", compact(s.Header))
	for _, r := range s.Records {
		fmt.Fprintf(w, "%s: %s\n", r.Key, compact(r.Value))
	}
	mms := make([]uint32, 0, len(s.Pages))
	for mm := range s.Pages {
		mms = append(mms, mm)
	}
	sort.Slice(mms, func(i, j int) bool { return mms[i] < mms[j] })
	for _, mm := range mms {
		c := s.Pages[mm]
		fmt.Fprintf(w, "pages/%d: %d chunks, %d bytes (%d pages)\n", mm, c.Chunks, c.Bytes, c.Bytes/images.PageSize)
	}
}

// compact prints protojson output (whose spacing is deliberately
// unstable) on one line.
func compact(b []byte) string { return images.CompactJSON(b) }
