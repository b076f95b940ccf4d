package bench

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// The chart: two panels side by side, throughput and p99 latency against
// read ratio, one line per target. The x axis places the sweep's ratios
// at even spacing (0, 50, 90, 99, 100 would crowd at the right on a
// linear axis) and says so in its title; the y axes start at zero.
// Both SVG and PNG are drawn from the same layout.

const (
	chartW, chartH = 960, 450
	plotTop        = 60
	plotBottom     = 360
	legendY        = 432
)

var palette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, {0xd6, 0x27, 0x28, 0xff}, {0x2c, 0xa0, 0x2c, 0xff},
	{0xff, 0x7f, 0x0e, 0xff}, {0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff},
}

type panel struct {
	title  string
	x0, x1 int // plot area, pixels
	ymax   float64
	ticks  []float64
	label  func(float64) string
	values [][]float64 // by target, by ratio index; NaN where missing
}

type chart struct {
	title   string
	ratios  []float64
	targets []string
	panels  []panel
}

func buildChart(results []Result) chart {
	var c chart
	for _, r := range results {
		if !slices.Contains(c.ratios, r.ReadRatio) {
			c.ratios = append(c.ratios, r.ReadRatio)
		}
		if !slices.Contains(c.targets, r.Target) {
			c.targets = append(c.targets, r.Target)
		}
	}
	slices.Sort(c.ratios)
	thr := grid(len(c.targets), len(c.ratios))
	p99 := grid(len(c.targets), len(c.ratios))
	wl := ""
	for _, r := range results {
		t, x := slices.Index(c.targets, r.Target), slices.Index(c.ratios, r.ReadRatio)
		thr[t][x] = r.Throughput
		p99[t][x] = float64(r.Latency.P99) / 1e6
		wl = r.Workload
	}
	if len(results) > 0 {
		r := results[0]
		c.title = fmt.Sprintf("%s: %d sessions x %d in flight, %d keys, %d-byte values", wl, r.Sessions, r.InFlight, r.Keys, r.ValueSize)
	}
	c.panels = []panel{
		{title: "throughput (ops/s)", x0: 90, x1: 450, values: thr, label: func(v float64) string {
			if v >= 1000 {
				return strconv.FormatFloat(v/1000, 'g', 4, 64) + "k"
			}
			return strconv.FormatFloat(v, 'g', 4, 64)
		}},
		{title: "p99 latency (ms)", x0: 570, x1: 930, values: p99, label: func(v float64) string {
			return strconv.FormatFloat(v, 'g', 4, 64)
		}},
	}
	for i := range c.panels {
		p := &c.panels[i]
		m := 0.0
		for _, row := range p.values {
			for _, v := range row {
				if !math.IsNaN(v) {
					m = max(m, v)
				}
			}
		}
		p.ymax, p.ticks = niceAxis(m)
	}
	return c
}

func grid(rows, cols int) [][]float64 {
	g := make([][]float64, rows)
	for i := range g {
		g[i] = make([]float64, cols)
		for j := range g[i] {
			g[i][j] = math.NaN()
		}
	}
	return g
}

// niceAxis returns a round axis maximum at or above m and its ticks.
func niceAxis(m float64) (float64, []float64) {
	if m <= 0 || math.IsNaN(m) || math.IsInf(m, 0) {
		m = 1
	}
	raw := m / 5
	exp := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * exp
	for _, f := range []float64{1, 2, 2.5, 5, 10} {
		if f*exp >= raw {
			step = f * exp
			break
		}
	}
	top := math.Ceil(m/step) * step
	var ticks []float64
	for v := 0.0; v <= top+step/2; v += step {
		ticks = append(ticks, v)
	}
	return top, ticks
}

func (c chart) x(p panel, i int) float64 {
	if len(c.ratios) == 1 {
		return float64(p.x0+p.x1) / 2
	}
	pad := 20.0
	return float64(p.x0) + pad + float64(i)*(float64(p.x1-p.x0)-2*pad)/float64(len(c.ratios)-1)
}

func (p panel) y(v float64) float64 {
	return plotBottom - v/p.ymax*(plotBottom-plotTop)
}

func hex(c color.RGBA) string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

func esc(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// WriteSVG writes the throughput and p99 chart as a standalone SVG.
func WriteSVG(w io.Writer, results []Result) error {
	c := buildChart(results)
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="22" text-anchor="middle" font-size="14">%s</text>`+"\n", chartW/2, esc(c.title))
	for _, p := range c.panels {
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" font-size="13">%s</text>`+"\n", (p.x0+p.x1)/2, plotTop-14, esc(p.title))
		for _, t := range p.ticks {
			y := p.y(t)
			fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e0e0e0"/>`+"\n", p.x0, y, p.x1, y)
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", p.x0-6, y+4, esc(p.label(t)))
		}
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", p.x0, plotTop, p.x0, plotBottom)
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", p.x0, plotBottom, p.x1, plotBottom)
		for i, r := range c.ratios {
			x := c.x(p, i)
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="black"/>`+"\n", x, plotBottom, x, plotBottom+4)
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x, plotBottom+18, esc(pct(r)))
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">read ratio (sweep points, evenly spaced)</text>`+"\n", (p.x0+p.x1)/2, plotBottom+36)
		for t, row := range p.values {
			col := hex(palette[t%len(palette)])
			var pts []string
			for i, v := range row {
				if math.IsNaN(v) {
					continue
				}
				x, y := c.x(p, i), p.y(v)
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s %s: %s</title></circle>`+"\n",
					x, y, col, esc(c.targets[t]), esc(pct(c.ratios[i])), esc(p.label(v)))
			}
			if len(pts) > 1 {
				fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", col, strings.Join(pts, " "))
			}
		}
	}
	x := 90
	for t, name := range c.targets {
		col := hex(palette[t%len(palette)])
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="14" height="14" fill="%s"/>`+"\n", x, legendY-11, col)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", x+20, legendY, esc(name))
		x += 40 + 8*len(name)
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WritePNG writes the same chart as a PNG, drawn pixel by pixel with a
// small built-in bitmap font (upper case) for its labels.
func WritePNG(w io.Writer, results []Result) error {
	c := buildChart(results)
	img := image.NewRGBA(image.Rect(0, 0, chartW, chartH))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	black := color.RGBA{0, 0, 0, 0xff}
	light := color.RGBA{0xe0, 0xe0, 0xe0, 0xff}
	drawText(img, chartW/2, 14, c.title, black, alignCenter)
	for _, p := range c.panels {
		drawText(img, (p.x0+p.x1)/2, plotTop-22, p.title, black, alignCenter)
		for _, t := range p.ticks {
			y := int(math.Round(p.y(t)))
			line(img, p.x0, y, p.x1, y, light, 1)
			drawText(img, p.x0-6, y-5, p.label(t), black, alignRight)
		}
		line(img, p.x0, plotTop, p.x0, plotBottom, black, 1)
		line(img, p.x0, plotBottom, p.x1, plotBottom, black, 1)
		for i, r := range c.ratios {
			x := int(math.Round(c.x(p, i)))
			line(img, x, plotBottom, x, plotBottom+4, black, 1)
			drawText(img, x, plotBottom+9, pct(r), black, alignCenter)
		}
		drawText(img, (p.x0+p.x1)/2, plotBottom+28, "read ratio (sweep points, evenly spaced)", black, alignCenter)
		for t, row := range p.values {
			col := palette[t%len(palette)]
			px, py := -1, -1
			for i, v := range row {
				if math.IsNaN(v) {
					px = -1
					continue
				}
				x, y := int(math.Round(c.x(p, i))), int(math.Round(p.y(v)))
				if px >= 0 {
					line(img, px, py, x, y, col, 2)
				}
				fillRect(img, x-3, y-3, 7, 7, col)
				px, py = x, y
			}
		}
	}
	x := 90
	for t, name := range c.targets {
		col := palette[t%len(palette)]
		fillRect(img, x, legendY-11, 14, 14, col)
		x = drawText(img, x+20, legendY-9, name, black, alignLeft) + 30
	}
	return png.Encode(w, img)
}

func fillRect(img *image.RGBA, x, y, w, h int, c color.RGBA) {
	for j := y; j < y+h; j++ {
		for i := x; i < x+w; i++ {
			img.SetRGBA(i, j, c)
		}
	}
}

// line draws a line of the given thickness (Bresenham, thickened by
// stamping squares).
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA, thick int) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		fillRect(img, x0-(thick-1)/2, y0-(thick-1)/2, thick, thick, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}

type align int

const (
	alignLeft align = iota
	alignCenter
	alignRight
)

// The bitmap font: 3x5 glyphs drawn at scale 2 with one column of
// spacing, so a character is 8 pixels wide and 10 tall.
const (
	fontScale = 2
	glyphW    = (3 + 1) * fontScale
)

var glyphs = map[rune]string{
	'0': "####.##.##.####", '1': ".#.##..#..#.###", '2': "###..#####..###", '3': "###..#.##..####",
	'4': "#.##.####..#..#", '5': "####..###..####", '6': "####..####.####", '7': "###..#..#.#..#.",
	'8': "####.#####.####", '9': "####.####..####", 'A': ".#.#.#####.##.#", 'B': "##.#.###.#.###.",
	'C': ".###..#..#...##", 'D': "##.#.##.##.###.", 'E': "####..##.#..###", 'F': "####..##.#..#..",
	'G': ".###..#.##.#.##", 'H': "#.##.#####.##.#", 'I': "###.#..#..#.###", 'J': "..#..#..##.#.#.",
	'K': "#.##.###.#.##.#", 'L': "#..#..#..#..###", 'M': "#.########.##.#", 'N': "##.#.##.##.##.#",
	'O': ".#.#.##.##.#.#.", 'P': "##.#.###.#..#..", 'Q': ".#.#.##.###..##", 'R': "##.#.###.#.##.#",
	'S': ".###...#...###.", 'T': "###.#..#..#..#.", 'U': "#.##.##.##.####", 'V': "#.##.##.##.#.#.",
	'W': "#.##.########.#", 'X': "#.##.#.#.#.##.#", 'Y': "#.##.#.#..#..#.", 'Z': "###..#.#.#..###",
	'.': ".............#.", '%': "#.#..#.#.#..#.#", '/': "..#..#.#.#..#..", '-': "......###......",
	'_': "............###", '=': "...###...###...", ':': "....#.....#....", '(': "..#.#..#..#...#",
	')': "#...#..#..#.#..", ',': "..........#.#..", '+': "....#.###.#....", '?': "###..#.#.....#.",
	' ': "...............", '<': "..#.#.#...#...#", '>': "#...#...#.#.#..",
}

// drawText draws s with its top at y and returns the x after its end.
func drawText(img *image.RGBA, x, y int, s string, c color.RGBA, a align) int {
	s = strings.ToUpper(s)
	width := len([]rune(s)) * glyphW
	switch a {
	case alignCenter:
		x -= width / 2
	case alignRight:
		x -= width
	}
	for _, r := range s {
		g, ok := glyphs[r]
		if !ok {
			g = glyphs['?']
		}
		for i := 0; i < len(g) && i < 15; i++ {
			if g[i] == '#' {
				fillRect(img, x+(i%3)*fontScale, y+(i/3)*fontScale, fontScale, fontScale, c)
			}
		}
		x += glyphW
	}
	return x
}
