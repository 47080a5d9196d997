package xsave

import (
	"encoding/binary"
	"fmt"
)

// Feature bits of XCR0 / xstate_bv.
const (
	FeatureX87      = 1 << 0
	FeatureSSE      = 1 << 1
	FeatureAVX      = 1 << 2
	FeatureBndregs  = 1 << 3
	FeatureBndcsr   = 1 << 4
	FeatureOpmask   = 1 << 5
	FeatureZmmHi256 = 1 << 6
	FeatureHi16Zmm  = 1 << 7
	FeaturePKRU     = 1 << 9
	FeatureTileCfg  = 1 << 17
	FeatureTileData = 1 << 18

	// Supported is every feature the image schema can carry.
	Supported = FeatureX87 | FeatureSSE | FeatureAVX | FeatureBndregs | FeatureBndcsr |
		FeatureOpmask | FeatureZmmHi256 | FeatureHi16Zmm | FeaturePKRU
)

// Offsets into the standard-format buffer.
const (
	legacySize   = 512
	offMxcsr     = 24
	offSt        = 32
	offXmm       = 160
	offPadding   = 416
	offSwBytes   = 464
	offHeader    = 512
	headerSize   = 64
	swMagic1     = 0x46505853
	offSwXfeat   = offSwBytes + 8
	minXsaveSize = offHeader + headerSize
)

// component is one XSAVE state component the schema stores.
type component struct {
	feature uint64
	off     int
	size    int
}

var (
	compAVX     = component{FeatureAVX, 576, 256}
	compBndregs = component{FeatureBndregs, 960, 64}
	compBndcsr  = component{FeatureBndcsr, 1024, 16}
	compOpmask  = component{FeatureOpmask, 1088, 64}
	compZmmHi   = component{FeatureZmmHi256, 1152, 512}
	compHi16    = component{FeatureHi16Zmm, 1664, 1024}
	compPKRU    = component{FeaturePKRU, 2688, 4}
)

// UnsupportedFeatureError reports xsave state crlazy cannot store or
// restore.
type UnsupportedFeatureError struct {
	Features uint64
	Where    string
}

func (e *UnsupportedFeatureError) Error() string {
	return fmt.Sprintf("xsave features %#x %s", e.Features, e.Where)
}

// HostFeatures returns the XCR0 feature mask the kernel advertises in the
// software-reserved bytes of a buffer it filled, or 0 if absent.
func HostFeatures(buf []byte) uint64 {
	if len(buf) < legacySize || binary.LittleEndian.Uint32(buf[offSwBytes:]) != swMagic1 {
		return 0
	}
	return binary.LittleEndian.Uint64(buf[offSwXfeat:])
}

// StateBV returns xstate_bv of buf.
func StateBV(buf []byte) uint64 {
	if len(buf) < minXsaveSize {
		return 0
	}
	return binary.LittleEndian.Uint64(buf[offHeader:])
}
