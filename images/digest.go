package images

// FNV-1a, 64 bit (the constants of the FNV specification).
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// KeyHash is the per-key term of Contents.key_digest: the 64-bit FNV-1a
// hash of the key. The digest of a set of keys is the sum of their
// hashes modulo 2^64, so that it does not depend on write order.
func KeyHash(key []byte) uint64 {
	h := uint64(fnvOffset64)
	for _, c := range key {
		h ^= uint64(c)
		h *= fnvPrime64
	}
	return h
}
