package proc

import (
	"io"
	"strconv"
	"strings"
)

// deletedSuffix is appended by the kernel to the path of an unlinked file.
const deletedSuffix = " (deleted)"

// Mapping is one VMA: a line of /proc/PID/maps, or an entry of
// /proc/PID/smaps (which adds VmFlags, UnknownVmFlags, Rss, Swap and
// Anonymous; those stay zero when parsed from maps).
type Mapping struct {
	Start, End uint64 // [Start, End), page aligned
	// Read, Write and Exec are the current protection; Shared is the 's'
	// (MAP_SHARED, VM_MAYSHARE) as opposed to 'p' (private).
	Read, Write, Exec, Shared bool
	Offset                    uint64 // file offset in bytes
	Major, Minor              uint32 // device of the backing inode
	Inode                     uint64
	// Path is the name column as the kernel shows it, minus a trailing
	// " (deleted)". Empty for anonymous memory. It is not unescaped: the
	// kernel shows a newline in a file name as the four bytes `\012` but
	// leaves backslashes alone, so the original name is ambiguous; use
	// /proc/PID/map_files/<start>-<end> for the exact file.
	Path string
	// Deleted reports that the name ended in " (deleted)". A live file
	// whose name really ends in " (deleted)" reads the same (seen on 6.18).
	Deleted bool

	VmFlags        VmFlags  // smaps only
	UnknownVmFlags []string // smaps only: mnemonics this package does not know
	Rss            uint64   // smaps only, bytes
	Swap           uint64   // smaps only, bytes
	Anonymous      uint64   // smaps only, bytes
}

// Len returns the size of the mapping in bytes.
func (m Mapping) Len() uint64 { return m.End - m.Start }

// IsSpecial reports a kernel-named mapping such as [heap], [stack], [vdso],
// [vvar], [vvar_vclock] or [vsyscall]. Anonymous memory named with
// PR_SET_VMA_ANON_NAME ("[anon:x]", "[anon_shmem:x]") is ordinary memory and
// not special.
func (m Mapping) IsSpecial() bool {
	if strings.HasPrefix(m.Path, "[anon:") || strings.HasPrefix(m.Path, "[anon_shmem:") {
		return false
	}
	return strings.HasPrefix(m.Path, "[")
}

// ReadMaps reads /proc/PID/maps.
func ReadMaps(pid int) ([]Mapping, error) {
	return readParsed(pidDir(pid), "maps", ParseMaps)
}

// ParseMaps parses the text of /proc/PID/maps.
func ParseMaps(r io.Reader) ([]Mapping, error) {
	var out []Mapping
	err := forEachLine(r, func(line string) error {
		m, err := parseMapsLine(line)
		out = append(out, m)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// parseMapsLine parses "start-end perms offset major:minor inode   path".
// The path starts after the blanks that pad the inode column and runs to the
// end of the line, so it may contain blanks.
func parseMapsLine(line string) (Mapping, error) {
	var m Mapping
	rng, rest, _ := strings.Cut(line, " ")
	perms, rest, _ := strings.Cut(rest, " ")
	off, rest, _ := strings.Cut(rest, " ")
	dev, rest, _ := strings.Cut(rest, " ")
	ino, rest, _ := strings.Cut(rest, " ")
	if err := m.parseRange(rng); err != nil {
		return m, err
	}
	if err := m.parsePerms(perms); err != nil {
		return m, err
	}
	var err error
	if m.Offset, err = strconv.ParseUint(off, 16, 64); err != nil {
		return m, malformed("offset", err)
	}
	if err := m.parseDev(dev); err != nil {
		return m, err
	}
	if m.Inode, err = strconv.ParseUint(ino, 10, 64); err != nil {
		return m, malformed("inode", err)
	}
	m.Path = strings.TrimLeft(rest, " ")
	m.Path, m.Deleted = strings.CutSuffix(m.Path, deletedSuffix)
	return m, nil
}

func (m *Mapping) parseRange(s string) error {
	lo, hi, ok := strings.Cut(s, "-")
	if !ok {
		return malformed("address range "+strconv.Quote(s), nil)
	}
	var err error
	if m.Start, err = strconv.ParseUint(lo, 16, 64); err != nil {
		return malformed("start address", err)
	}
	if m.End, err = strconv.ParseUint(hi, 16, 64); err != nil {
		return malformed("end address", err)
	}
	if m.Start >= m.End {
		return malformed("empty address range "+strconv.Quote(s), nil)
	}
	return nil
}

func (m *Mapping) parsePerms(s string) error {
	if len(s) != 4 || !strings.ContainsRune("r-", rune(s[0])) ||
		!strings.ContainsRune("w-", rune(s[1])) || !strings.ContainsRune("x-", rune(s[2])) ||
		!strings.ContainsRune("sp", rune(s[3])) {
		return malformed("permissions "+strconv.Quote(s), nil)
	}
	m.Read, m.Write, m.Exec, m.Shared = s[0] == 'r', s[1] == 'w', s[2] == 'x', s[3] == 's'
	return nil
}

func (m *Mapping) parseDev(s string) error {
	maj, mi, ok := strings.Cut(s, ":")
	if !ok {
		return malformed("device "+strconv.Quote(s), nil)
	}
	a, err := strconv.ParseUint(maj, 16, 32)
	if err != nil {
		return malformed("device major", err)
	}
	b, err := strconv.ParseUint(mi, 16, 32)
	if err != nil {
		return malformed("device minor", err)
	}
	m.Major, m.Minor = uint32(a), uint32(b)
	return nil
}
