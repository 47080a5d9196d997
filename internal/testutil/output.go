package testutil

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

const (
	// failPrefix starts the line a victim prints when its own check fails.
	failPrefix = "FAIL"
	// tailLines is how many output lines a failure message shows.
	tailLines = 20
)

// scan reads the complete lines after v.consumed, consuming each, until one
// starts with FAIL (returned in failLine) or matches re (its submatches are
// returned). Without either it returns nils, having consumed every complete
// line. Callers hold v.mu.
func (v *Victim) scan(re *regexp.Regexp) (match []string, failLine string, err error) {
	b, err := readFrom(v.Out, v.consumed)
	if err != nil {
		return nil, "", err
	}
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return nil, "", nil
		}
		line := string(b[:i])
		b = b[i+1:]
		v.consumed += int64(i + 1)
		if strings.HasPrefix(line, failPrefix) {
			return nil, line, nil
		}
		if m := re.FindStringSubmatch(line); m != nil {
			return m, "", nil
		}
	}
}

func readFrom(path string, off int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read output: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return nil, fmt.Errorf("read output %s: %w", path, err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read output %s: %w", path, err)
	}
	return b, nil
}

// Tail returns the last n lines of the victim's output (all of it, consumed
// or not), or a note saying why it cannot be read.
func (v *Victim) Tail(n int) string {
	b, err := os.ReadFile(v.Out)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	if last := len(lines) - 1; lines[last] == "" {
		lines = lines[:last]
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "")
}
