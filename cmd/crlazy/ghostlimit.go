package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/crlazy/crlazy/dumper"
	"github.com/crlazy/crlazy/images"
	"github.com/spf13/pflag"
)

// sizeFlag is a byte count given as criu takes --ghost-limit: a number
// with an optional K, M or G suffix (powers of 1024).
type sizeFlag struct {
	v   *uint64
	max uint64
}

var sizeSuffixes = map[string]uint64{"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}

func (s sizeFlag) String() string { return strconv.FormatUint(*s.v, 10) }

func (s sizeFlag) Type() string { return "size" }

func (s sizeFlag) Set(text string) error {
	num := strings.TrimRight(text, "KMGkmg")
	mult := sizeSuffixes[strings.ToUpper(text[len(num):])]
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || mult == 0 || n > s.max/mult {
		return fmt.Errorf("%q is not a size of at most %d bytes (a number, optionally with K, M or G)", text, s.max)
	}
	*s.v = n * mult
	return nil
}

// addGhostLimit registers --ghost-limit: the largest deleted file whose
// contents the dump saves.
func addGhostLimit(fs *pflag.FlagSet, v *uint64) {
	*v = dumper.DefaultGhostLimit
	fs.Var(sizeFlag{v: v, max: images.GhostDataMax}, "ghost-limit",
		"largest deleted file (still open or mapped) whose contents are saved, e.g. 4M")
}
