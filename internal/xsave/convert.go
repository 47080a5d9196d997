package xsave

import (
	"encoding/binary"
	"fmt"

	corex86 "github.com/checkpoint-restore/go-criu/v8/crit/images/core-x86"
	"google.golang.org/protobuf/proto"
)

var le = binary.LittleEndian

// Encode converts a kernel xsave buffer into CRIU's fpregs message.
func Encode(buf []byte) (*corex86.UserX86FpregsEntry, error) {
	if len(buf) < legacySize {
		return nil, fmt.Errorf("xsave buffer of %d bytes is shorter than the legacy area", len(buf))
	}
	fp := &corex86.UserX86FpregsEntry{
		Cwd:       proto.Uint32(uint32(le.Uint16(buf[0:]))),
		Swd:       proto.Uint32(uint32(le.Uint16(buf[2:]))),
		Twd:       proto.Uint32(uint32(le.Uint16(buf[4:]))),
		Fop:       proto.Uint32(uint32(le.Uint16(buf[6:]))),
		Rip:       proto.Uint64(le.Uint64(buf[8:])),
		Rdp:       proto.Uint64(le.Uint64(buf[16:])),
		Mxcsr:     proto.Uint32(le.Uint32(buf[offMxcsr:])),
		MxcsrMask: proto.Uint32(le.Uint32(buf[offMxcsr+4:])),
		StSpace:   words32(buf[offSt:offXmm]),
		XmmSpace:  words32(buf[offXmm:offPadding]),
		Padding:   words32(buf[offPadding:legacySize]),
	}
	if len(buf) < minXsaveSize {
		return fp, nil
	}
	bv := StateBV(buf)
	if extra := bv &^ Supported; extra != 0 {
		return nil, &UnsupportedFeatureError{Features: extra, Where: "are in use and cannot be saved (AMX tile state is not supported)"}
	}
	xs := &corex86.UserX86XsaveEntry{XstateBv: proto.Uint64(bv)}
	xs.YmmhSpace = words32(area(buf, compAVX))
	xs.BndregState = words64(area(buf, compBndregs))
	xs.BndcsrState = words64(area(buf, compBndcsr))
	xs.OpmaskReg = words64(area(buf, compOpmask))
	xs.ZmmUpper = words64(area(buf, compZmmHi))
	xs.Hi16Zmm = words64(area(buf, compHi16))
	xs.Pkru = words32(area(buf, compPKRU))
	fp.Xsave = xs
	return fp, nil
}

// Decode writes the state in fp over host, a buffer the kernel filled for
// the task being restored (so it has the host's size and software bytes),
// and returns host. Components the image holds that the host buffer cannot
// (a smaller CPU) give UnsupportedFeatureError.
func Decode(fp *corex86.UserX86FpregsEntry, host []byte) ([]byte, error) {
	if len(host) < legacySize {
		return nil, fmt.Errorf("host xsave buffer of %d bytes is shorter than the legacy area", len(host))
	}
	le.PutUint16(host[0:], uint16(fp.GetCwd()))
	le.PutUint16(host[2:], uint16(fp.GetSwd()))
	le.PutUint16(host[4:], uint16(fp.GetTwd()))
	le.PutUint16(host[6:], uint16(fp.GetFop()))
	le.PutUint64(host[8:], fp.GetRip())
	le.PutUint64(host[16:], fp.GetRdp())
	le.PutUint32(host[offMxcsr:], fp.GetMxcsr())
	le.PutUint32(host[offMxcsr+4:], fp.GetMxcsrMask())
	if err := putWords32(host[offSt:offXmm], fp.GetStSpace(), "st_space"); err != nil {
		return nil, err
	}
	if err := putWords32(host[offXmm:offPadding], fp.GetXmmSpace(), "xmm_space"); err != nil {
		return nil, err
	}
	xs := fp.GetXsave()
	if xs == nil {
		return host, nil
	}
	return decodeXsave(xs, host)
}

func decodeXsave(xs *corex86.UserX86XsaveEntry, host []byte) ([]byte, error) {
	bv := xs.GetXstateBv()
	hostFeat := HostFeatures(host)
	if hostFeat == 0 && len(host) >= minXsaveSize {
		hostFeat = Supported
	}
	if missing := bv &^ hostFeat; missing != 0 {
		return nil, &UnsupportedFeatureError{Features: missing, Where: "were saved but this CPU or kernel does not provide them"}
	}
	if len(host) < minXsaveSize {
		return host, nil
	}
	le.PutUint64(host[offHeader:], bv)
	le.PutUint64(host[offHeader+8:], 0) // xcomp_bv: standard format
	type put struct {
		c component
		b []byte
	}
	for _, p := range []put{
		{compAVX, bytes32(xs.GetYmmhSpace())},
		{compBndregs, bytes64(xs.GetBndregState())},
		{compBndcsr, bytes64(xs.GetBndcsrState())},
		{compOpmask, bytes64(xs.GetOpmaskReg())},
		{compZmmHi, bytes64(xs.GetZmmUpper())},
		{compHi16, bytes64(xs.GetHi16Zmm())},
		{compPKRU, bytes32(xs.GetPkru())},
	} {
		if err := putArea(host, p.c, p.b, bv); err != nil {
			return nil, err
		}
	}
	return host, nil
}

// area returns the bytes of component c, or nil if buf is too short.
func area(buf []byte, c component) []byte {
	if len(buf) < c.off+c.size {
		return nil
	}
	return buf[c.off : c.off+c.size]
}

// putArea copies b into component c of host. A component absent from the
// image is left in the host's (init) state.
func putArea(host []byte, c component, b []byte, bv uint64) error {
	if len(b) == 0 {
		return nil
	}
	if len(host) < c.off+c.size {
		if bv&c.feature == 0 {
			return nil
		}
		return &UnsupportedFeatureError{Features: c.feature, Where: "were saved but the host xsave area is too small"}
	}
	if len(b) != c.size {
		return fmt.Errorf("xsave component %#x: image holds %d bytes, want %d", c.feature, len(b), c.size)
	}
	copy(host[c.off:], b)
	return nil
}

func words32(b []byte) []uint32 {
	if b == nil {
		return nil
	}
	w := make([]uint32, len(b)/4)
	for i := range w {
		w[i] = le.Uint32(b[4*i:])
	}
	return w
}

func words64(b []byte) []uint64 {
	if b == nil {
		return nil
	}
	w := make([]uint64, len(b)/8)
	for i := range w {
		w[i] = le.Uint64(b[8*i:])
	}
	return w
}

func bytes32(w []uint32) []byte {
	b := make([]byte, 4*len(w))
	for i, v := range w {
		le.PutUint32(b[4*i:], v)
	}
	return b
}

func bytes64(w []uint64) []byte {
	b := make([]byte, 8*len(w))
	for i, v := range w {
		le.PutUint64(b[8*i:], v)
	}
	return b
}

func putWords32(dst []byte, w []uint32, name string) error {
	if len(w)*4 != len(dst) {
		return fmt.Errorf("fpregs %s: image holds %d words, want %d", name, len(w), len(dst)/4)
	}
	copy(dst, bytes32(w))
	return nil
}
