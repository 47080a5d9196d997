package main

import "testing"

func TestSizeFlag(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true},
		{"4096", 4096, true},
		{"4K", 4 << 10, true},
		{"2m", 2 << 20, true},
		{"1G", 1 << 30, true},
		{"2G", 0, false}, // above the maximum
		{"5Q", 0, false},
		{"M", 0, false},
		{"-1", 0, false},
		{"", 0, false},
	} {
		var v uint64
		err := sizeFlag{v: &v, max: 1 << 30}.Set(c.in)
		if (err == nil) != c.ok || (c.ok && v != c.want) {
			t.Errorf("Set(%q) = %d, %v; want %d, ok %v", c.in, v, err, c.want, c.ok)
		}
	}
}
