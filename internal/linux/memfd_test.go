package linux

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"testing"

	"github.com/crlazy/crlazy/internal/testutil"
)

func TestMemfdSeals(t *testing.T) {
	f, err := MemfdCreateFlags("crlazy test", MfdAllowSealing)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if s, err := Seals(f); err != nil || s != 0 {
		t.Fatalf("seals of a new sealable memfd: %#x, %v", s, err)
	}
	want := FSealWrite | FSealShrink | FSealSeal
	if err := AddSeals(f, want); err != nil {
		t.Fatal(err)
	}
	if s, err := Seals(f); err != nil || s != want {
		t.Fatalf("seals %#x, %v; want %#x", s, err, want)
	}
	if _, err := f.Write([]byte("x")); !errors.Is(err, EPERM) {
		t.Errorf("write to a write-sealed memfd: %v, want EPERM", err)
	}
	if err := AddSeals(f, FSealGrow); !errors.Is(err, EPERM) {
		t.Errorf("adding a seal after F_SEAL_SEAL: %v, want EPERM", err)
	}
	st, err := StatFile(f)
	if err != nil || st.Size != 5 || st.FsType != TmpfsMagic || st.Nlink != 0 {
		t.Errorf("StatFile = %+v, %v", st, err)
	}
}

func TestMemfdReopenAndDataRanges(t *testing.T) {
	f, err := MemfdCreateFlags("sparse", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	page := int64(PageSize)
	for _, off := range []int64{page, 5 * page} {
		if _, err := f.WriteAt([]byte{1}, off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(8 * page); err != nil {
		t.Fatal(err)
	}
	var got [][2]int64
	err = DataRanges(f, 8*page, func(off, n int64) error {
		got = append(got, [2]int64{off, n})
		return nil
	})
	want := [][2]int64{{page, page}, {5 * page, page}}
	if err != nil || len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("DataRanges = %v, %v; want %v", got, err, want)
	}
	r, err := Reopen(f, os.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b := make([]byte, 1)
	if _, err := r.ReadAt(b, 5*page); err != nil || !bytes.Equal(b, []byte{1}) {
		t.Errorf("read through the reopened description: %v, %v", b, err)
	}
	if _, err := r.Write(b); err == nil {
		t.Error("a read-only description took a write")
	}
}

func TestNewAnonShmem(t *testing.T) {
	testutil.RequirePriv(t) // /proc/self/map_files takes CAP_SYS_ADMIN
	f, err := NewAnonShmem(4 * PageSize)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	if err != nil || link != "/dev/zero (deleted)" {
		t.Errorf("shared memory descriptor is %q, %v", link, err)
	}
	st, err := StatFile(f)
	if err != nil || st.Size != 4*PageSize {
		t.Errorf("StatFile = %+v, %v", st, err)
	}
	if _, err := NewAnonShmem(100); !errors.Is(err, EINVAL) {
		t.Errorf("NewAnonShmem(100): %v, want EINVAL", err)
	}
}
