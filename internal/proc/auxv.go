package proc

import (
	"encoding/binary"
	"strconv"
)

// auxvWord is the size of one auxv key or value (unsigned long on a 64-bit
// kernel).
const auxvWord = 8

// AtNull is AT_NULL, the key ending the auxiliary vector.
const AtNull = 0

// ReadAuxv reads /proc/PID/auxv (needs ptrace-read access) and returns it
// as key, value pairs flattened into one slice, up to and including the
// AT_NULL pair.
func ReadAuxv(pid int) ([]uint64, error) {
	dir := pidDir(pid)
	b, err := readFile(dir, "auxv")
	if err != nil {
		return nil, err
	}
	v, err := ParseAuxv(b)
	if err != nil {
		return nil, wrapRead(dir, dir+"/auxv", err)
	}
	return v, nil
}

// ParseAuxv decodes native-endian 64-bit key, value pairs up to and
// including the first AT_NULL pair; bytes after it are ignored.
func ParseAuxv(b []byte) ([]uint64, error) {
	var out []uint64
	for len(b) >= 2*auxvWord {
		key := binary.NativeEndian.Uint64(b)
		val := binary.NativeEndian.Uint64(b[auxvWord:])
		out = append(out, key, val)
		b = b[2*auxvWord:]
		if key == AtNull {
			return out, nil
		}
	}
	return nil, malformed("no AT_NULL in "+strconv.Itoa(len(out)/2)+" auxv entries", nil)
}
