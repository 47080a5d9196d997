package proc

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// The fuzzers check that no input panics, that every error wraps
// ErrMalformed (parsers never do I/O of their own), and a property or two
// of every accepted input. Seeds live in testdata/fuzz/FuzzXxx/.

func checkParseErr(t *testing.T, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, ErrMalformed) {
		t.Fatalf("error does not wrap ErrMalformed: %v", err)
	}
}

func FuzzParseMaps(f *testing.F) {
	f.Add([]byte("7f00-8000 r-xs 00001000 103:02 12   /a b (deleted)\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, err := ParseMaps(bytes.NewReader(b))
		checkParseErr(t, err)
		for _, m := range ms {
			if m.Start >= m.End || strings.ContainsRune(m.Path, '\n') || m.VmFlags != 0 {
				t.Fatalf("accepted bad mapping %+v", m)
			}
		}
	})
}

func FuzzParseSmaps(f *testing.F) {
	f.Add([]byte("7f00-8000 rw-p 00000000 00:00 0 \nRss: 4 kB\nVmFlags: rd wr zz \n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, err := ParseSmaps(bytes.NewReader(b))
		checkParseErr(t, err)
		for _, m := range ms {
			flags, unknown := ParseVmFlags(m.VmFlags.String())
			if flags != m.VmFlags || unknown != nil || m.Rss%1024 != 0 {
				t.Fatalf("%+v: flags do not round-trip", m)
			}
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte("Name:\tx\\n\nState:\tR\nTgid:\t1\nPid:\t1\nPPid:\t0\nUid:\t0 0 0 0\nGid:\t0 0 0 0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStatus(bytes.NewReader(b))
		checkParseErr(t, err)
		if err == nil && s == nil {
			t.Fatal("nil status without error")
		}
	})
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("1 (a) (b) S" + strings.Repeat(" 0", 49)))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStat(b)
		checkParseErr(t, err)
		if err == nil && !bytes.Contains(b, []byte("("+s.Comm+")")) {
			t.Fatalf("comm %q not in input", s.Comm)
		}
	})
}

func FuzzParseLimits(f *testing.F) {
	f.Add([]byte("Limit x\nMax cpu time unlimited 1 seconds\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := ParseLimits(bytes.NewReader(b))
		checkParseErr(t, err)
	})
}

func FuzzParseFdinfo(f *testing.F) {
	f.Add([]byte("pos:\t0\nflags:\t02\nmnt_id:\t1\nino:\t1\ntfd: 1 events: 19\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fi, err := ParseFdinfo(bytes.NewReader(b))
		checkParseErr(t, err)
		if err != nil {
			return
		}
		for _, k := range []string{"pos", "flags", "mnt_id", "ino"} {
			if _, ok := fi.Field(k); ok {
				t.Fatalf("%s kept in Extra %q", k, fi.Extra)
			}
		}
	})
}

func FuzzParseAuxv(f *testing.F) {
	f.Add([]byte{6, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseAuxv(b)
		checkParseErr(t, err)
		if err != nil {
			return
		}
		if len(v)%2 != 0 || len(v) > len(b)/auxvWord || v[len(v)-2] != AtNull {
			t.Fatalf("bad vector %v", v)
		}
		for i := 0; i < len(v)-2; i += 2 {
			if v[i] == AtNull {
				t.Fatalf("AT_NULL before the end: %v", v)
			}
		}
	})
}
