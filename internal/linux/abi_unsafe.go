package linux

import "unsafe"

// StructBytes returns the in-memory bytes of *p, for copying an ABI struct
// into a target's memory. The slice aliases *p.
func StructBytes[T any](p *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), unsafe.Sizeof(*p))
}

// StructFromBytes copies b into *p; b must be exactly the size of T.
func StructFromBytes[T any](p *T, b []byte) bool {
	dst := StructBytes(p)
	if len(b) != len(dst) {
		return false
	}
	copy(dst, b)
	return true
}
