package proc

import (
	"strconv"
	"strings"
)

// Small number parsers shared by the text parsers. Each stores into dst and
// returns the strconv error unchanged; callers add context.

func parseInt(v string, dst *int) error {
	n, err := strconv.Atoi(v)
	*dst = n
	return err
}

func parseHex64(v string, dst *uint64) error {
	n, err := strconv.ParseUint(v, 16, 64)
	*dst = n
	return err
}

func parseOctal32(v string, dst *uint32) error {
	n, err := strconv.ParseUint(v, 8, 32)
	*dst = uint32(n)
	return err
}

// parseBool accepts the kernel's "0" and "1".
func parseBool(v string, dst *bool) error {
	switch v {
	case "0":
		*dst = false
	case "1":
		*dst = true
	default:
		return malformed("boolean "+strconv.Quote(v), nil)
	}
	return nil
}

// parseList parses blank-separated decimal uint32s; an empty v gives nil.
func parseList(v string, dst *[]uint32) error {
	var out []uint32
	for _, w := range strings.Fields(v) {
		n, err := strconv.ParseUint(w, 10, 32)
		if err != nil {
			return err
		}
		out = append(out, uint32(n))
	}
	*dst = out
	return nil
}

// parseIntList parses blank-separated decimal ints; an empty v gives nil.
func parseIntList(v string, dst *[]int) error {
	var out []int
	for _, w := range strings.Fields(v) {
		n, err := strconv.Atoi(w)
		if err != nil {
			return err
		}
		out = append(out, n)
	}
	*dst = out
	return nil
}
