package store

import (
	"testing"
)

func TestRoundTrip(t *testing.T) {
	dir, fx := newStore(t)
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := readAll(r, fixtureMMs)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(fx.snapshot(), got); d != "" {
		t.Fatal(d)
	}
	h := r.Header()
	t.Logf("header: %v", h)
}
