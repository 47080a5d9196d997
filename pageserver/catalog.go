package pageserver

import (
	"github.com/crlazy/crlazy/images/crlazypb"
	"github.com/crlazy/crlazy/uffd"
)

// catalog is what a server serves: the stores of a directory, or the
// pages of one frozen process.
type catalog interface {
	// pull opens checkpoint name for a restore whose records have
	// identity ident. The entry is released with release.
	pull(name string, ident [identLen]byte) (*entry, error)
	// push starts receiving checkpoint name.
	push(name string, hdr *crlazypb.Header) (*incoming, error)
	// close releases what the catalog holds once every entry is released.
	close() error
}

// entry is a checkpoint opened for restores.
type entry struct {
	name      string
	pages     uffd.Source
	chunkSize uint32
	release   func()
}
