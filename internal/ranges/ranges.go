// Package ranges works on half-open address or offset ranges [start, end),
// as the dumper and the restorer both need for memory areas and objects.
package ranges

import "sort"

// Merge sorts rs (in place) and joins the ranges that touch or overlap.
func Merge(rs [][2]uint64) [][2]uint64 {
	sort.Slice(rs, func(i, j int) bool { return rs[i][0] < rs[j][0] })
	var out [][2]uint64
	for _, r := range rs {
		if n := len(out); n > 0 && r[0] <= out[n-1][1] {
			out[n-1][1] = max(out[n-1][1], r[1])
			continue
		}
		out = append(out, r)
	}
	return out
}

// Subtract returns the parts of rs (sorted, disjoint) outside cut (sorted,
// disjoint).
func Subtract(rs, cut [][2]uint64) [][2]uint64 {
	var out [][2]uint64
	for _, r := range rs {
		s := r[0]
		for _, c := range cut {
			if c[1] <= s || c[0] >= r[1] {
				continue
			}
			if c[0] > s {
				out = append(out, [2]uint64{s, c[0]})
			}
			s = max(s, c[1])
		}
		if s < r[1] {
			out = append(out, [2]uint64{s, r[1]})
		}
	}
	return out
}

// Intersect returns the parts of a (sorted, disjoint) inside b (sorted,
// disjoint).
func Intersect(a, b [][2]uint64) [][2]uint64 {
	var out [][2]uint64
	for _, x := range a {
		for _, y := range b {
			if s, e := max(x[0], y[0]), min(x[1], y[1]); s < e {
				out = append(out, [2]uint64{s, e})
			}
		}
	}
	return out
}
