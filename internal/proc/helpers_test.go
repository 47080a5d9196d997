package proc

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixture returns the bytes of testdata/name.
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixtureReader returns testdata/name as a reader.
func fixtureReader(t *testing.T, name string) *bytes.Reader {
	return bytes.NewReader(fixture(t, name))
}

// wantMalformed fails unless err wraps ErrMalformed and mentions want.
func wantMalformed(t *testing.T, err error, want string) {
	t.Helper()
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v, want ErrMalformed", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %q, want it to mention %q", err, want)
	}
}

// findMapping returns the mapping starting at start.
func findMapping(t *testing.T, ms []Mapping, start uint64) Mapping {
	t.Helper()
	for _, m := range ms {
		if m.Start == start {
			return m
		}
	}
	t.Fatalf("no mapping at %#x", start)
	return Mapping{}
}
