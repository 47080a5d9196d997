package uffd

import "math/bits"

// bitset is a fixed-size set of page indexes.
type bitset struct {
	w []uint64
	n uint64 // number of bits
}

func newBitset(n uint64, full bool) bitset {
	b := bitset{w: make([]uint64, (n+63)/64), n: n}
	if full {
		for i := range b.w {
			b.w[i] = ^uint64(0)
		}
		b.trim()
	}
	return b
}

// trim clears the bits beyond n in the last word.
func (b *bitset) trim() {
	if r := b.n % 64; r != 0 && len(b.w) > 0 {
		b.w[len(b.w)-1] &= 1<<r - 1
	}
}

func (b *bitset) has(i uint64) bool { return b.w[i/64]&(1<<(i%64)) != 0 }

// clearRange clears bits [from, to) and returns how many were set.
func (b *bitset) clearRange(from, to uint64) uint64 {
	var cleared uint64
	for i := from; i < to; {
		w, off := i/64, i%64
		span := min(64-off, to-i)
		mask := ^uint64(0) >> (64 - span) << off
		cleared += uint64(bits.OnesCount64(b.w[w] & mask))
		b.w[w] &^= mask
		i += span
	}
	return cleared
}

// count returns how many bits are set.
func (b *bitset) count() uint64 {
	var c uint64
	for _, w := range b.w {
		c += uint64(bits.OnesCount64(w))
	}
	return c
}

// next returns the first set bit at or after i, or b.n.
func (b *bitset) next(i uint64) uint64 {
	for i < b.n {
		w, off := i/64, i%64
		if rest := b.w[w] >> off; rest != 0 {
			return min(i+uint64(bits.TrailingZeros64(rest)), b.n)
		}
		i += 64 - off
	}
	return b.n
}

// nextClear returns the first clear bit at or after i, or b.n.
func (b *bitset) nextClear(i uint64) uint64 {
	for i < b.n {
		w, off := i/64, i%64
		if rest := ^b.w[w] >> off; rest != 0 {
			return min(i+uint64(bits.TrailingZeros64(rest)), b.n)
		}
		i += 64 - off
	}
	return b.n
}

// slice returns a copy of bits [from, to).
func (b *bitset) slice(from, to uint64) bitset {
	out := newBitset(to-from, false)
	for i := b.next(from); i < to; {
		end := min(b.nextClear(i), to)
		out.setRange(i-from, end-from)
		i = b.next(end)
	}
	return out
}

// setRange sets bits [from, to).
func (b *bitset) setRange(from, to uint64) {
	for i := from; i < to; {
		w, off := i/64, i%64
		span := min(64-off, to-i)
		b.w[w] |= ^uint64(0) >> (64 - span) << off
		i += span
	}
}
