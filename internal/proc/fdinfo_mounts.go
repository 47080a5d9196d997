package proc

import (
	"io"
	"strconv"
	"strings"
)

// Mount is one line of /proc/PID/mountinfo, the part needed to turn a
// file handle (an inotify watch shows one) back into a path: a file
// descriptor on the mount's file system is the mount_fd of
// open_by_handle_at.
type Mount struct {
	ID           int
	Major, Minor uint32
	Root         string // the path inside the file system that is mounted
	Point        string // where it is mounted, as the reader sees it
}

// ReadMountinfo reads /proc/PID/mountinfo.
func ReadMountinfo(pid int) ([]Mount, error) {
	return readParsed(pidDir(pid), "mountinfo", ParseMountinfo)
}

// ParseMountinfo parses mountinfo text (Documentation/filesystems/proc.rst
// 3.5): "36 35 98:0 /mnt1 /mnt/parent rw ... - ext3 /dev/root rw".
func ParseMountinfo(r io.Reader) ([]Mount, error) {
	var out []Mount
	err := forEachLine(r, func(line string) error {
		f := strings.Fields(line)
		if len(f) < 5 {
			return malformed("mountinfo line with "+strconv.Itoa(len(f))+" fields", nil)
		}
		var m Mount
		if err := parseInt(f[0], &m.ID); err != nil {
			return malformed("mount id", err)
		}
		maj, min, ok := strings.Cut(f[2], ":")
		if !ok {
			return malformed("device "+strconv.Quote(f[2]), nil)
		}
		if err := parseDec32(maj, &m.Major); err != nil {
			return malformed("major", err)
		}
		if err := parseDec32(min, &m.Minor); err != nil {
			return malformed("minor", err)
		}
		m.Root, m.Point = unescapeOctal(f[3]), unescapeOctal(f[4])
		out = append(out, m)
		return nil
	})
	return out, err
}

func parseDec32(v string, dst *uint32) error {
	n, err := strconv.ParseUint(v, 10, 32)
	*dst = uint32(n)
	return err
}

// unescapeOctal undoes the kernel's \ooo escapes of blanks, newlines and
// backslashes in mountinfo paths; a backslash not followed by three octal
// digits is kept.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1:i+4]) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '7' {
			return false
		}
	}
	return len(s) == 3
}
