package linux

import (
	"errors"
	"fmt"
)

// PageSize is the page size of the only architecture crlazy supports
// (x86_64).
const PageSize = 4096

// Addr is an address in another process's address space.
type Addr uint64

// ErrAddrOverflow is returned when address arithmetic wraps around.
var ErrAddrOverflow = errors.New("address arithmetic overflows")

// Add returns a+n, or ErrAddrOverflow if the sum wraps.
func (a Addr) Add(n uint64) (Addr, error) {
	s := a + Addr(n)
	if s < a {
		return 0, fmt.Errorf("%#x + %#x: %w", uint64(a), n, ErrAddrOverflow)
	}
	return s, nil
}

// PageAligned reports whether a is a multiple of PageSize.
func (a Addr) PageAligned() bool { return a%PageSize == 0 }

// String formats a as hex.
func (a Addr) String() string { return fmt.Sprintf("%#x", uint64(a)) }
