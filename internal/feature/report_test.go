package feature

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fakeResults are results as a machine without userfaultfd and clone3
// set_tid (an unprivileged user, say) would give.
func fakeResults() []Result {
	return []Result{
		{Name: "ptrace", OK: true, Detail: "seized", NeededBy: needs(UseDump, UseRestore)},
		{Name: "clone3 set_tid", Detail: "clone3: operation not permitted", NeededBy: needs(UseRestore)},
		{Name: "userfaultfd", Detail: "userfaultfd: operation not permitted\nsecond line", NeededBy: needs(UseLazyPages, UseIncremental)},
		{Name: "PAGEMAP_SCAN", OK: true, Detail: "found", NeededBy: needs(UseIncremental)},
		{Name: "soft-dirty", Detail: "bit 55 never set"},
	}
}

func TestReportUses(t *testing.T) {
	r := NewReport(fakeResults())
	for use, want := range map[string]bool{
		UseDump: true, UseRestore: false, UseLazyPages: false, UseIncremental: false,
		UseTCPEstablished: true, UseMount: true, "no-such-use": false,
	} {
		if got := r.Works(use); got != want {
			t.Errorf("Works(%s) = %t, want %t", use, got, want)
		}
	}
}

func TestReportText(t *testing.T) {
	var b bytes.Buffer
	if err := NewReport(fakeResults()).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "check.txt", b.Bytes())
}

func TestReportJSON(t *testing.T) {
	var b bytes.Buffer
	if err := NewReport(fakeResults()).WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Features []struct {
			Name   string `json:"name"`
			Status string `json:"status"`
		} `json:"features"`
		Uses []UseStatus `json:"uses"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Features) != 5 || doc.Features[1].Status != StatusMissing || doc.Features[4].Status != StatusInfo {
		t.Errorf("features %+v", doc.Features)
	}
	if len(doc.Uses) != len(uses) || doc.Uses[1].Works || doc.Uses[1].Missing[0] != "clone3 set_tid" {
		t.Errorf("uses %+v", doc.Uses)
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s:\n%s\nwant:\n%s", path, got, want)
	}
}
