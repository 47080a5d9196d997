package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/checkpoint-restore/go-criu/v8/crit"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/linux"
)

// checkAgainstProcess compares every memory file with the live process:
// pages the store holds (data and zero runs) equal /proc/PID/mem, all
// other pages read as zeros. The rseq area is left out: the kernel
// rewrites it (the CPU number) whenever the process moves to another CPU.
func checkAgainstProcess(t *testing.T, pid int, dir, memDir string) {
	t.Helper()
	recs := showRecords(t, dir)
	runs := pagemapRuns(t, recs)
	rseq := rseqArea(t, recs)
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	ents, err := os.ReadDir(memDir)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 4096)
	for _, e := range ents {
		start, end := parseRange(t, e.Name())
		got, err := os.ReadFile(filepath.Join(memDir, e.Name()))
		if err != nil || uint64(len(got)) != end-start {
			t.Fatalf("%s: %d bytes, %v", e.Name(), len(got), err)
		}
		for a := start; a < end; a += 4096 {
			clear(want)
			if inRuns(runs, a) {
				if _, err := mem.ReadAt(want, int64(a)); err != nil {
					t.Fatalf("read /proc/%d/mem at %#x: %v", pid, a, err)
				}
			}
			page := bytes.Clone(got[a-start : a-start+4096])
			maskRange(page, a, rseq)
			maskRange(want, a, rseq)
			if !bytes.Equal(page, want) {
				t.Fatalf("%s: page %#x differs from the process (dumped: %v)", e.Name(), a, inRuns(runs, a))
			}
		}
	}
}

// rseqArea returns the [start, end) of the rseq area the core records.
func rseqArea(t *testing.T, recs []images.JSONRecord) [2]uint64 {
	t.Helper()
	for _, rec := range recs {
		if rec.Kind != "core" {
			continue
		}
		var c struct {
			ThreadCore struct {
				RseqEntry struct {
					Pointer string `json:"rseqAbiPointer"`
					Size    uint64 `json:"rseqAbiSize"`
				} `json:"rseqEntry"`
			} `json:"threadCore"`
		}
		if err := json.Unmarshal(rec.Value, &c); err != nil {
			t.Fatal(err)
		}
		p, _ := strconv.ParseUint(c.ThreadCore.RseqEntry.Pointer, 10, 64)
		return [2]uint64{p, p + c.ThreadCore.RseqEntry.Size}
	}
	return [2]uint64{}
}

// maskRange clears the bytes of page (at address a) inside r.
func maskRange(page []byte, a uint64, r [2]uint64) {
	for i := range page {
		if x := a + uint64(i); x >= r[0] && x < r[1] {
			page[i] = 0
		}
	}
}

// pagemapRuns returns the [start, end) runs of pages the store holds
// (data and zero), from show --json.
func pagemapRuns(t *testing.T, recs []images.JSONRecord) [][2]uint64 {
	t.Helper()
	var runs [][2]uint64
	for _, rec := range recs {
		if rec.Kind != "pagemap" {
			continue
		}
		var e struct {
			Vaddr   string `json:"vaddr"`
			NrPages string `json:"nrPages"`
		}
		if err := json.Unmarshal(rec.Value, &e); err != nil {
			t.Fatal(err)
		}
		a, _ := strconv.ParseUint(e.Vaddr, 10, 64)
		n, _ := strconv.ParseUint(e.NrPages, 10, 64)
		runs = append(runs, [2]uint64{a, a + n*4096})
	}
	if len(runs) == 0 {
		t.Fatal("no pagemap records in show --json")
	}
	return runs
}

func inRuns(runs [][2]uint64, a uint64) bool {
	for _, r := range runs {
		if a >= r[0] && a < r[1] {
			return true
		}
	}
	return false
}

var rangeRe = regexp.MustCompile(`^([0-9a-f]+)-([0-9a-f]+)\.`)

func parseRange(t *testing.T, name string) (uint64, uint64) {
	t.Helper()
	m := rangeRe.FindStringSubmatch(name)
	if m == nil {
		t.Fatalf("memory file %q is not named <start>-<end>.<perms>", name)
	}
	s, _ := strconv.ParseUint(m[1], 16, 64)
	e, _ := strconv.ParseUint(m[2], 16, 64)
	return s, e
}

// checkShape checks the victim's area against the pattern it wrote and
// its holes against SEEK_DATA/SEEK_HOLE.
func checkShape(t *testing.T, path string, area, pages uint64) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range pages {
		hole := i%64 >= 32 && i%64 < 40 || i%8 == 7
		for j := uint64(0); j < 4096; j += 8 {
			a := area + i*4096 + j
			want := a | 1
			if hole {
				want = 0
			}
			if w := binary.LittleEndian.Uint64(got[i*4096+j:]); w != want {
				t.Fatalf("page %d word %d = %#x, want %#x", i, j/8, w, want)
			}
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, c := range []struct{ whence, from, want int }{ // in pages
		{linux.SeekHole, 0, 7}, {linux.SeekData, 7, 8}, {linux.SeekHole, 24, 31}, {linux.SeekData, 32, 40},
	} {
		off, err := f.Seek(int64(c.from)*4096, c.whence)
		if err != nil || off != int64(c.want)*4096 {
			t.Errorf("lseek(page %d, %d) = %#x, %v; want page %d", c.from, c.whence, off, err, c.want)
		}
	}
}

// showRecords runs show --json on dir.
func showRecords(t *testing.T, dir string) []images.JSONRecord {
	t.Helper()
	var s struct {
		Records []images.JSONRecord `json:"records"`
	}
	if err := json.Unmarshal([]byte(mustCrlazy(t, "show", "-D", dir, "--json")), &s); err != nil {
		t.Fatal(err)
	}
	return s.Records
}

// checkJSONAgainstShow checks that the per-record files hold what show
// --json prints for the same records.
func checkJSONAgainstShow(t *testing.T, dir, pidDir string) {
	t.Helper()
	want := map[string]string{}
	for _, rec := range showRecords(t, dir) {
		want[rec.Key] = images.CompactJSON(rec.Value)
	}
	for _, name := range []string{"core.json", "mm.json", "fs.json", "ids.json", "../inventory.json"} {
		var rec images.JSONRecord
		b, err := os.ReadFile(filepath.Join(pidDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := images.CompactJSON(rec.Value); got != want[rec.Key] || got == "" {
			t.Errorf("%s: record %s differs from show --json", name, rec.Key)
		}
	}
	var fds []struct {
		Fd     uint32            `json:"fd"`
		Fdinfo images.JSONRecord `json:"fdinfo"`
	}
	b, err := os.ReadFile(filepath.Join(pidDir, "fds.json"))
	if err != nil || json.Unmarshal(b, &fds) != nil || len(fds) == 0 {
		t.Fatalf("fds.json: %v\n%s", err, b)
	}
	if images.CompactJSON(fds[0].Fdinfo.Value) != want[fds[0].Fdinfo.Key] {
		t.Errorf("fds.json: %s differs from show --json", fds[0].Fdinfo.Key)
	}
}

// checkCrit decodes the criu/ view with go-criu's crit.
func checkCrit(t *testing.T, dir string, pid int) {
	t.Helper()
	c := crit.New(nil, nil, dir, false, false)
	ps, err := c.ExplorePs()
	if err != nil || ps.PID != uint32(pid) {
		t.Fatalf("crit ExplorePs = %+v, %v", ps, err)
	}
	mems, err := c.ExploreMems()
	if err != nil || len(mems) != 1 || len(mems[0].Mems) == 0 {
		t.Fatalf("crit ExploreMems = %+v, %v", mems, err)
	}
	if _, err := c.ExploreFds(); err != nil {
		t.Fatalf("crit ExploreFds: %v", err)
	}
}

// checkTools runs ls -R, stat, find and du over the mount.
func checkTools(t *testing.T, mnt string) {
	t.Helper()
	for _, args := range [][]string{{"ls", "-lR", mnt}, {"stat", filepath.Join(mnt, "criu", "pages-1.img")},
		{"find", mnt, "-name", "*.json"}, {"du", "-sh", mnt}} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
