package main

import (
	"encoding/xml"
	"fmt"
	"math"
	"strings"
)

// svg builds a chart by hand: a white page, a title, a plot area.
type svg struct {
	b    strings.Builder
	w, h float64
}

// Plot area margins (px) and the palette, one colour per series.
const (
	marginL, marginR, marginT, marginB = 70.0, 20.0, 40.0, 70.0
	fontSize                           = 12
)

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"}

func newSVG(w, h float64, title string) *svg {
	s := &svg{w: w, h: h}
	fmt.Fprintf(&s.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="%d">`+"\n",
		w, h, w, h, fontSize)
	fmt.Fprintf(&s.b, `<rect x="0" y="0" width="%.0f" height="%.0f" fill="white"/>`+"\n", w, h)
	s.text(w/2, 22, "middle", title, fontSize+3)
	return s
}

func (s *svg) text(x, y float64, anchor, t string, size int) {
	var esc strings.Builder
	_ = xml.EscapeText(&esc, []byte(t))
	fmt.Fprintf(&s.b, `<text x="%.1f" y="%.1f" text-anchor="%s" font-size="%d">%s</text>`+"\n", x, y, anchor, size, esc.String())
}

func (s *svg) line(x1, y1, x2, y2 float64, color string, width float64) {
	fmt.Fprintf(&s.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%.1f"/>`+"\n", x1, y1, x2, y2, color, width)
}

func (s *svg) rect(x, y, w, h float64, color string) {
	fmt.Fprintf(&s.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", x, y, w, h, color)
}

func (s *svg) circle(x, y, r float64, color string) {
	fmt.Fprintf(&s.b, `<circle cx="%.1f" cy="%.1f" r="%.1f" fill="%s"/>`+"\n", x, y, r, color)
}

func (s *svg) polyline(pts [][2]float64, color string) {
	if len(pts) < 2 {
		return
	}
	var p strings.Builder
	for _, xy := range pts {
		fmt.Fprintf(&p, "%.1f,%.1f ", xy[0], xy[1])
	}
	fmt.Fprintf(&s.b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.TrimSpace(p.String()), color)
}

// legend draws the series names, in colors, at the top right of the
// plot area.
func (s *svg) legend(names []string, colors ...string) {
	s.legendAt(s.w-marginR-190, marginT+14, names, colors...)
}

// legendAt draws the series names, in colors, one under the other from
// (x, y).
func (s *svg) legendAt(x, y float64, names []string, colors ...string) {
	for i, n := range names {
		yi := y + float64(i)*16
		s.rect(x, yi-9, 10, 10, colors[i%len(colors)])
		s.text(x+15, yi, "start", n, fontSize-1)
	}
}

func (s *svg) bytes() []byte {
	s.b.WriteString("</svg>\n")
	return []byte(s.b.String())
}

// logAxis maps values in [lo, hi] (decades) to the plot's y pixels and
// draws the decade grid with labels made by label.
type logAxis struct {
	lo, hi   float64 // powers of ten
	top, bot float64
}

func newLogAxis(minV, maxV, top, bot float64) logAxis {
	lo := math.Pow(10, math.Floor(math.Log10(max(minV, 1e-9))))
	hi := math.Pow(10, math.Ceil(math.Log10(max(maxV, lo*10))))
	return logAxis{lo: lo, hi: hi, top: top, bot: bot}
}

func (a logAxis) y(v float64) float64 {
	v = min(max(v, a.lo), a.hi)
	f := (math.Log10(v) - math.Log10(a.lo)) / (math.Log10(a.hi) - math.Log10(a.lo))
	return a.bot - f*(a.bot-a.top)
}

func (a logAxis) draw(s *svg, label func(float64) string) {
	for v := a.lo; v <= a.hi*1.0001; v *= 10 {
		y := a.y(v)
		s.line(marginL, y, s.w-marginR, y, "#dddddd", 1)
		s.text(marginL-6, y+4, "end", label(v), fontSize-1)
	}
}

// linAxis maps [0, hi] to pixels (x or y) with a round upper bound.
type linAxis struct {
	hi       float64
	from, to float64 // pixel of 0 and of hi
}

func newLinAxis(maxV, from, to float64) linAxis {
	step := niceStep(max(maxV, 1e-9) / 5)
	return linAxis{hi: math.Ceil(max(maxV, 1e-9)/step) * step, from: from, to: to}
}

func (a linAxis) at(v float64) float64 { return a.from + (a.to-a.from)*min(max(v, 0), a.hi)/a.hi }

// niceStep rounds x up to 1, 2 or 5 times a power of ten.
func niceStep(x float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

// secondsLabel prints a time in s as "10 ms", "1 s".
func secondsLabel(v float64) string {
	switch {
	case v >= 1:
		return fmt.Sprintf("%g s", v)
	case v >= 1e-3:
		return fmt.Sprintf("%g ms", v*1e3)
	}
	return fmt.Sprintf("%g µs", v*1e6)
}

// nsLabel prints a latency in ns as "512 ns", "2 µs", "1 ms".
func nsLabel(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%g ms", math.Round(v/1e5)/10)
	case v >= 1e3:
		return fmt.Sprintf("%g µs", math.Round(v/1e2)/10)
	}
	return fmt.Sprintf("%g ns", v)
}
