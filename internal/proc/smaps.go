package proc

import (
	"io"
	"math"
	"strconv"
	"strings"
)

// ReadSmaps reads /proc/PID/smaps: the mappings of ReadMaps with VmFlags,
// Rss, Swap and Anonymous filled in. It is much slower than ReadMaps because
// the kernel walks the page tables of every VMA.
func ReadSmaps(pid int) ([]Mapping, error) {
	return readParsed(pidDir(pid), "smaps", ParseSmaps)
}

// ParseSmaps parses the text of /proc/PID/smaps. Each entry is a maps line
// followed by "Key: value" lines; VmFlags, Rss, Swap and Anonymous are kept
// and every other key is ignored.
func ParseSmaps(r io.Reader) ([]Mapping, error) {
	var out []Mapping
	err := forEachLine(r, func(line string) error {
		key, val, ok := cutField(line)
		if !ok || strings.ContainsRune(key, ' ') {
			m, err := parseMapsLine(line)
			out = append(out, m)
			return err
		}
		if len(out) == 0 {
			return malformed("field "+strconv.Quote(key)+" before the first mapping", nil)
		}
		return out[len(out)-1].setSmapsField(key, val)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (m *Mapping) setSmapsField(key, val string) error {
	var err error
	switch key {
	case "VmFlags":
		m.VmFlags, m.UnknownVmFlags = ParseVmFlags(val)
	case "Rss":
		m.Rss, err = parseKB(val)
	case "Swap":
		m.Swap, err = parseKB(val)
	case "Anonymous":
		m.Anonymous, err = parseKB(val)
	}
	if err != nil {
		return malformed(key, err)
	}
	return nil
}

// parseKB parses "123 kB" into bytes.
func parseKB(s string) (uint64, error) {
	num, ok := strings.CutSuffix(s, " kB")
	if !ok {
		return 0, malformed("missing kB unit in "+strconv.Quote(s), nil)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(num), 10, 64)
	if err != nil {
		return 0, err
	}
	if v > math.MaxUint64/1024 {
		return 0, malformed("size too large "+strconv.Quote(s), nil)
	}
	return v * 1024, nil
}
