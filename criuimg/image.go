package criuimg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"google.golang.org/protobuf/proto"
)

// Limits of the decoder. CRIU's largest entries are mm entries with
// every VMA of a process (about 100 bytes per VMA, 65530 VMAs at most by
// default) and core entries with the xsave area (a few KiB).
const (
	// MaxEntryBytes bounds one entry's protobuf payload.
	MaxEntryBytes = 64 << 20
	// MaxImageBytes bounds a metadata image read into memory (pages
	// images are never read whole).
	MaxImageBytes = 256 << 20
	// sizeLen is the length of the size word in front of every entry.
	sizeLen = 4
	// magicLen is the length of one magic word.
	magicLen = 4
)

// Errors of the decoder; they are wrapped with the image's name and the
// offset where decoding stopped.
var (
	ErrUnknownMagic = errors.New("unknown image magic")
	ErrTruncated    = errors.New("image truncated")
	ErrTooLarge     = errors.New("image or entry over the size limit")
	ErrWrongType    = errors.New("image of another type")
)

// Image is a decoded CRIU image file: its type and the protobuf payloads
// of its entries, in file order (slices of the decoded buffer, no copy).
type Image struct {
	Type    string // go-criu's magic name, "CORE"
	Entries [][]byte
}

// AppendHeader appends the magic words of an image of type name to b.
func AppendHeader(b []byte, name string) ([]byte, error) {
	words, err := header(name)
	if err != nil {
		return nil, err
	}
	for _, w := range words {
		b = binary.LittleEndian.AppendUint32(b, w)
	}
	return b, nil
}

// AppendEntry appends m as one entry (little-endian u32 size, then the
// message in protobuf wire format) to b.
func AppendEntry(b []byte, m proto.Message) ([]byte, error) {
	n := proto.Size(m)
	if n > MaxEntryBytes {
		return nil, fmt.Errorf("entry of %d bytes: %w", n, ErrTooLarge)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	b, err := proto.MarshalOptions{}.MarshalAppend(b, m)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return b, nil
}

// Encode returns a whole image of type name holding msgs in order.
func Encode(name string, msgs ...proto.Message) ([]byte, error) {
	b, err := AppendHeader(nil, name)
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		if b, err = AppendEntry(b, m); err != nil {
			return nil, fmt.Errorf("%s image: %w", name, err)
		}
	}
	return b, nil
}

// Decode splits an image into its entries. b is untrusted: any input
// gives an Image or an error, never a panic.
func Decode(b []byte) (*Image, error) {
	if len(b) > MaxImageBytes {
		return nil, fmt.Errorf("%d bytes: %w", len(b), ErrTooLarge)
	}
	name, off, err := decodeMagic(b)
	if err != nil {
		return nil, err
	}
	img := &Image{Type: name}
	for off < len(b) {
		if len(b)-off < sizeLen {
			return nil, fmt.Errorf("%s image: size word at %d: %w", name, off, ErrTruncated)
		}
		n := binary.LittleEndian.Uint32(b[off:])
		off += sizeLen
		switch {
		case n > MaxEntryBytes:
			return nil, fmt.Errorf("%s image: entry of %d bytes at %d: %w", name, n, off, ErrTooLarge)
		case uint64(n) > uint64(len(b)-off):
			return nil, fmt.Errorf("%s image: entry of %d bytes at %d: %w", name, n, off, ErrTruncated)
		}
		img.Entries = append(img.Entries, b[off:off+int(n):off+int(n)])
		off += int(n)
	}
	return img, nil
}

// decodeMagic reads the magic words at the start of b and returns the
// image type and the offset of the first entry.
func decodeMagic(b []byte) (string, int, error) {
	if len(b) < magicLen {
		return "", 0, fmt.Errorf("magic: %w", ErrTruncated)
	}
	v := binary.LittleEndian.Uint32(b)
	name, ok := MagicName(v)
	if !ok {
		return "", 0, fmt.Errorf("magic %#08x: %w", v, ErrUnknownMagic)
	}
	if name != nameCommon && name != nameService {
		return name, magicLen, nil
	}
	if len(b) < 2*magicLen {
		return "", 0, fmt.Errorf("magic after %s: %w", name, ErrTruncated)
	}
	v = binary.LittleEndian.Uint32(b[magicLen:])
	if name, ok = MagicName(v); !ok || name == nameCommon || name == nameService {
		return "", 0, fmt.Errorf("magic %#08x: %w", v, ErrUnknownMagic)
	}
	return name, 2 * magicLen, nil
}

// ReadFile reads and decodes the image at path, which must be of type
// want.
func ReadFile(path, want string) (*Image, error) {
	b, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	img, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if img.Type != want {
		return nil, fmt.Errorf("%s: %s image, want %s: %w", path, img.Type, want, ErrWrongType)
	}
	return img, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxImageBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > MaxImageBytes {
		return nil, fmt.Errorf("%s: %w", path, ErrTooLarge)
	}
	return b, nil
}

// Unmarshal decodes entry i of img into m.
func (img *Image) Unmarshal(i int, m proto.Message) error {
	if i >= len(img.Entries) {
		return fmt.Errorf("%s image has %d entries, no entry %d: %w", img.Type, len(img.Entries), i, ErrTruncated)
	}
	if err := proto.Unmarshal(img.Entries[i], m); err != nil {
		return fmt.Errorf("%s image entry %d: %w", img.Type, i, err)
	}
	return nil
}
