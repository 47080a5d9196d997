package imagefs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/crlazy/crlazy/internal/linux"
)

// FSType is the file system type of crlazy's mounts in /proc/mounts
// ("fuse." + the go-fuse mount name).
const (
	fsName = "crlazy"
	FSType = "fuse." + fsName
)

const mountInfoPath = "/proc/self/mountinfo"

// ErrNotMounted is returned by Unmount for a path where no crlazy view is
// mounted.
var ErrNotMounted = errors.New("no crlazy mount there")

// MountInfo is one line of /proc/self/mountinfo.
type MountInfo struct {
	Major, Minor uint32 // st_dev of the mount
	MountPoint   string
	FSType       string
	Source       string
}

// ParseMountInfo parses the text of a mountinfo file (proc(5)); lines it
// cannot parse are skipped.
func ParseMountInfo(r io.Reader) ([]MountInfo, error) {
	var out []MountInfo
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if m, ok := parseMountLine(sc.Text()); ok {
			out = append(out, m)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	return out, nil
}

// parseMountLine parses "id parent maj:min root mountpoint opts
// [optional...] - fstype source superopts".
func parseMountLine(line string) (MountInfo, bool) {
	f := strings.Fields(line)
	sep := -1
	for i := 6; i < len(f); i++ {
		if f[i] == "-" {
			sep = i
			break
		}
	}
	if sep < 0 || sep+2 >= len(f) {
		return MountInfo{}, false
	}
	majS, minS, ok := strings.Cut(f[2], ":")
	maj, err1 := strconv.ParseUint(majS, 10, 32)
	min, err2 := strconv.ParseUint(minS, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return MountInfo{}, false
	}
	return MountInfo{Major: uint32(maj), Minor: uint32(min), MountPoint: unescape(f[4]),
		FSType: unescape(f[sep+1]), Source: unescape(f[sep+2])}, true
}

// unescape undoes the kernel's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// FindMount returns the topmost crlazy mount at path (made absolute
// lexically: nothing under path is looked at, so a dead or stopped
// server cannot hang the caller).
func FindMount(path string) (MountInfo, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return MountInfo{}, err
	}
	f, err := os.Open(mountInfoPath)
	if err != nil {
		return MountInfo{}, err
	}
	defer f.Close()
	mounts, err := ParseMountInfo(f)
	if err != nil {
		return MountInfo{}, err
	}
	for i := len(mounts) - 1; i >= 0; i-- {
		if m := mounts[i]; m.MountPoint == abs && m.FSType == FSType {
			return m, nil
		}
	}
	return MountInfo{}, fmt.Errorf("%s: %w", abs, ErrNotMounted)
}

// Unmount unmounts the crlazy view mounted at path, whether its server
// runs, is stopped or died: umount2(2) without touching the mount. A
// mount still in use is detached lazily (it leaves the tree now and goes
// away when its last user closes it); detached reports that.
func Unmount(path string) (detached bool, err error) {
	m, err := FindMount(path)
	if err != nil {
		return false, fmt.Errorf("unmount: %w", err)
	}
	err = linux.Unmount(m.MountPoint, false)
	if errors.Is(err, linux.EBUSY) {
		detached, err = true, linux.Unmount(m.MountPoint, true)
	}
	if err != nil {
		return false, fmt.Errorf("unmount: %w", err)
	}
	return detached, nil
}
