package images

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"google.golang.org/protobuf/proto"

	"github.com/crlazy/crlazy/images/crlazypb"
)

// The working-set file (WorkingSetFile in the images directory):
//
//	+0   8 bytes   magic "CRLZWSET"
//	+8   4 bytes   CRC32C (Castagnoli) of the payload, little endian
//	+12  ...       payload: crlazypb.WorkingSet
const (
	WorkingSetFile    = "working-set"
	WorkingSetVersion = 1
	// WorkingSetMaxBytes bounds the file: 16M pages (64 GiB of faulted
	// memory) at up to 10 bytes each.
	WorkingSetMaxBytes = 160 << 20
	wsetMagic          = "CRLZWSET"
	wsetHeaderLen      = len(wsetMagic) + 4
)

// ErrBadWorkingSet is returned for a working-set file that does not decode.
var ErrBadWorkingSet = errors.New("bad working-set file")

// EncodeWorkingSet returns the bytes of a working-set file.
func EncodeWorkingSet(ws *crlazypb.WorkingSet) ([]byte, error) {
	payload, err := proto.Marshal(ws)
	if err != nil {
		return nil, fmt.Errorf("encode working set: %w", err)
	}
	b := make([]byte, wsetHeaderLen, wsetHeaderLen+len(payload))
	copy(b, wsetMagic)
	binary.LittleEndian.PutUint32(b[len(wsetMagic):], crc32.Checksum(payload, castagnoli))
	return append(b, payload...), nil
}

// DecodeWorkingSet parses a working-set file.
func DecodeWorkingSet(b []byte) (*crlazypb.WorkingSet, error) {
	switch {
	case len(b) > WorkingSetMaxBytes:
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrBadWorkingSet, len(b), WorkingSetMaxBytes)
	case len(b) < wsetHeaderLen || string(b[:len(wsetMagic)]) != wsetMagic:
		return nil, fmt.Errorf("%w: no magic", ErrBadWorkingSet)
	}
	payload := b[wsetHeaderLen:]
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(b[len(wsetMagic):]) {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrBadWorkingSet)
	}
	ws := &crlazypb.WorkingSet{}
	if err := proto.Unmarshal(payload, ws); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadWorkingSet, err)
	}
	if ws.GetVersion() != WorkingSetVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrBadWorkingSet, ws.GetVersion(), WorkingSetVersion)
	}
	for _, p := range ws.GetPages() {
		if p%PageSize != 0 {
			return nil, fmt.Errorf("%w: page address %#x not aligned", ErrBadWorkingSet, p)
		}
	}
	return ws, nil
}
