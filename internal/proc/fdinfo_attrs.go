package proc

import (
	"strconv"
	"strings"
)

// attrs are the "key:value" and "key: value" pairs of one fdinfo line of
// an epoll target or an inotify watch; key "" holds the value that opens
// the line ("tfd:  4 events: 19 ..." -> "" = "4", "events" = "19").
type attrs map[string]string

// splitAttrs splits the value of such a line into attrs.
func splitAttrs(s string) (attrs, error) {
	toks := strings.Fields(s)
	if len(toks) == 0 {
		return nil, malformed("empty line", nil)
	}
	kv := attrs{"": toks[0]}
	for i := 1; i < len(toks); i++ {
		k, v, ok := strings.Cut(toks[i], ":")
		if !ok || k == "" {
			return nil, malformed("attribute "+strconv.Quote(toks[i]), nil)
		}
		if v == "" && i+1 < len(toks) && !strings.Contains(toks[i+1], ":") {
			i++
			v = toks[i]
		}
		if _, dup := kv[k]; dup {
			return nil, malformed("duplicate "+k, nil)
		}
		kv[k] = v
	}
	return kv, nil
}

// attr is one attribute to parse; an optional one may be missing.
type attr struct {
	key      string
	parse    func(string) error
	optional bool
}

// parse runs each attribute's parser on its value.
func (kv attrs) parse(list ...attr) error {
	for _, a := range list {
		v, ok := kv[a.key]
		if !ok {
			if a.optional {
				continue
			}
			return malformed("no "+a.key, nil)
		}
		if err := a.parse(v); err != nil {
			return malformed(a.key+" "+strconv.Quote(v), err)
		}
	}
	return nil
}

// parseHexN parses a hex number that fits in bits bits.
func parseHexN(v string, bits int, dst *uint64) error {
	n, err := strconv.ParseUint(v, 16, bits)
	*dst = n
	return err
}

// parseDec64 parses a decimal uint64.
func parseDec64(v string, dst *uint64) error {
	n, err := strconv.ParseUint(v, 10, 64)
	*dst = n
	return err
}
