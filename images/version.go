package images

import (
	"errors"
	"fmt"

	"github.com/crlazy/crlazy/images/crlazypb"
)

// Store layout versions. FormatVersion is written into every new store;
// a reader accepts MinFormatVersion..FormatVersion. Bump FormatVersion on
// any change a reader of the previous version would misread (key layout,
// value encoding, meaning of a header field); bump MinFormatVersion only
// when support for an old layout is dropped.
const (
	FormatVersion    = 1
	MinFormatVersion = 1
)

// Page and chunk sizes.
const (
	// PageSize is the only page size this build dumps and restores.
	PageSize = 4096
	// ChunkMaxBytes is the size of the page chunks the dumper writes: it
	// cuts runs of present pages into chunks of at most this many bytes.
	// Chosen by BenchmarkPutChunk (see the store package doc): larger
	// chunks write no faster, smaller ones make lazy-restore faults cheaper.
	ChunkMaxBytes = 128 << 10
	// ChunkLimitBytes bounds Header.chunk_size and so every chunk a store
	// accepts or returns.
	ChunkLimitBytes = 16 << 20
)

// ErrVersion is matched (errors.Is) by *VersionError.
var ErrVersion = errors.New("unsupported store format version")

// ErrBadHeader is returned for a header whose fields cannot describe a
// store this build can read.
var ErrBadHeader = errors.New("bad store header")

// VersionError reports a store written in a layout this build cannot read.
type VersionError struct {
	Store    uint32 // format_version found in the store
	Min, Max uint32 // versions this build reads
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("store format version %d not supported: this crlazy reads versions %d to %d",
		e.Store, e.Min, e.Max)
}

// Is makes errors.Is(err, ErrVersion) true.
func (e *VersionError) Is(target error) bool { return target == ErrVersion }

// CheckFormatVersion returns a *VersionError unless this build reads
// stores of version v.
func CheckFormatVersion(v uint32) error {
	if v < MinFormatVersion || v > FormatVersion {
		return &VersionError{Store: v, Min: MinFormatVersion, Max: FormatVersion}
	}
	return nil
}

// CheckHeader checks the fields of h that decide whether this build can
// read the store at all: the format version, the page size and the chunk
// size. Host compatibility (arch, xfeatures, kernel) is the restorer's
// business.
func CheckHeader(h *crlazypb.Header) error {
	if err := CheckFormatVersion(h.GetFormatVersion()); err != nil {
		return err
	}
	if ps := h.GetPageSize(); ps != PageSize {
		return fmt.Errorf("page size %d, this build handles %d: %w", ps, PageSize, ErrBadHeader)
	}
	return CheckChunkSize(h.GetChunkSize())
}

// CheckChunkSize checks a header's chunk_size: a non-zero multiple of
// PageSize no larger than ChunkLimitBytes.
func CheckChunkSize(n uint32) error {
	if n == 0 || n%PageSize != 0 || n > ChunkLimitBytes {
		return fmt.Errorf("chunk size %d: want a multiple of %d in (0, %d]: %w",
			n, PageSize, ChunkLimitBytes, ErrBadHeader)
	}
	return nil
}
