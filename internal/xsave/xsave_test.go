package xsave

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

const fullSize = 2696 // x87..PKRU, standard format

func hostBuf(size int, features uint64) []byte {
	b := make([]byte, size)
	le.PutUint32(b[offSwBytes:], swMagic1)
	le.PutUint64(b[offSwXfeat:], features)
	return b
}

func randomState(t *testing.T, bv uint64) []byte {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	b := hostBuf(fullSize, Supported)
	for i := 0; i < offPadding; i++ {
		b[i] = byte(r.Uint32())
	}
	for _, c := range []component{compAVX, compBndregs, compBndcsr, compOpmask, compZmmHi, compHi16, compPKRU} {
		for i := c.off; i < c.off+c.size; i++ {
			b[i] = byte(r.Uint32())
		}
	}
	le.PutUint64(b[offHeader:], bv)
	return b
}

func TestRoundTrip(t *testing.T) {
	src := randomState(t, Supported)
	fp, err := Encode(src)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(fp, hostBuf(fullSize, Supported))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[:offPadding], src[:offPadding]) {
		t.Error("legacy area differs after round trip")
	}
	for _, c := range []component{compAVX, compBndregs, compBndcsr, compOpmask, compZmmHi, compHi16, compPKRU} {
		if !bytes.Equal(area(got, c), area(src, c)) {
			t.Errorf("component %#x differs after round trip", c.feature)
		}
	}
	if StateBV(got) != Supported {
		t.Errorf("xstate_bv = %#x, want %#x", StateBV(got), uint64(Supported))
	}
}

func TestEncodeRefusesAMX(t *testing.T) {
	src := randomState(t, FeatureX87|FeatureSSE|FeatureTileData)
	_, err := Encode(src)
	var ufe *UnsupportedFeatureError
	if !errors.As(err, &ufe) || ufe.Features != FeatureTileData {
		t.Fatalf("Encode with AMX state: err = %v, want UnsupportedFeatureError for %#x", err, FeatureTileData)
	}
}

func TestDecodeRefusesMissingHostFeature(t *testing.T) {
	fp, err := Encode(randomState(t, FeatureX87|FeatureSSE|FeatureAVX|FeatureOpmask))
	if err != nil {
		t.Fatal(err)
	}
	// An AVX2-only host: 832-byte buffer, xcr0 = 7.
	_, err = Decode(fp, hostBuf(832, FeatureX87|FeatureSSE|FeatureAVX))
	var ufe *UnsupportedFeatureError
	if !errors.As(err, &ufe) || ufe.Features != FeatureOpmask {
		t.Fatalf("Decode on a smaller host: err = %v, want UnsupportedFeatureError for opmask", err)
	}
}

func TestDecodeOntoSmallerHostWhenUnused(t *testing.T) {
	// AVX-512 state present in the buffer but in init state (bit clear):
	// restoring on an AVX2 host must work.
	src := randomState(t, FeatureX87|FeatureSSE|FeatureAVX)
	fp, err := Encode(src)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(fp, hostBuf(832, FeatureX87|FeatureSSE|FeatureAVX))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(area(got, compAVX), area(src, compAVX)) {
		t.Error("AVX component differs")
	}
}

func TestEncodeShortBuffer(t *testing.T) {
	if _, err := Encode(make([]byte, 100)); err == nil {
		t.Fatal("Encode of a 100-byte buffer succeeded")
	}
}
