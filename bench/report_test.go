package bench

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sampleResults is a two-target sweep with made-up figures.
func sampleResults() []Result {
	var out []Result
	for _, r := range DefaultRatios {
		for i, name := range []string{"zookeeper", "paddock <dev>"} {
			h := newHistogram()
			for v := range 100 {
				record(h, int64(v+1)*int64(time.Millisecond)/int64(i+1))
			}
			res := Result{
				Target: name, Workload: WorkloadRatio, ReadRatio: r, Sessions: 8, InFlight: 64,
				Keys: 1000, ValueSize: 100, Elapsed: 10 * time.Second, Ops: 100, Histogram: h,
			}
			res.finish(time.Duration(r*float64(time.Second)) + time.Second)
			res.Throughput = 10000 + 30000*r*float64(i+1)
			out = append(out, res)
		}
	}
	return out
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, sampleResults()); err != nil {
		t.Fatal(err)
	}
	var back []Result
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatalf("JSON does not parse: %v\n%s", err, b.String())
	}
	want := sampleResults()
	if len(back) != len(want) {
		t.Fatalf("%d results back, want %d", len(back), len(want))
	}
	for i := range back {
		if back[i].Target != want[i].Target || back[i].Latency != want[i].Latency || back[i].Throughput != want[i].Throughput {
			t.Errorf("result %d: got %+v, want %+v", i, back[i], want[i])
		}
	}
}

func TestWriteCSV(t *testing.T) {
	var b bytes.Buffer
	if err := WriteCSV(&b, sampleResults()); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v", err)
	}
	if len(rows) != 1+len(sampleResults()) {
		t.Fatalf("%d rows, want header + %d", len(rows), len(sampleResults()))
	}
	if strings.Join(rows[0], ",") != strings.Join(csvHeader, ",") {
		t.Errorf("header = %v", rows[0])
	}
	for _, r := range rows[1:] {
		if len(r) != len(csvHeader) {
			t.Errorf("row has %d fields, header %d: %v", len(r), len(csvHeader), r)
		}
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, sampleResults()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 1+len(sampleResults()) || !strings.Contains(lines[0], "p99 ms") || !strings.Contains(b.String(), "99%") {
		t.Errorf("table:\n%s", b.String())
	}
}

func TestWriteSVG(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSVG(&b, sampleResults()); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(&b)
	polylines, texts := 0, []string{}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not XML: %v", err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			if tk.Name.Local == "polyline" {
				polylines++
			}
		case xml.CharData:
			texts = append(texts, string(tk))
		}
	}
	if polylines != 4 { // 2 targets × 2 panels
		t.Errorf("%d lines drawn, want 4", polylines)
	}
	all := strings.Join(texts, "|")
	for _, want := range []string{"paddock <dev>", "zookeeper", "99%", "p99 latency (ms)", "throughput (ops/s)"} {
		if !strings.Contains(all, want) {
			t.Errorf("SVG lacks text %q", want)
		}
	}
}

func TestWritePNG(t *testing.T) {
	var b bytes.Buffer
	if err := WritePNG(&b, sampleResults()); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&b)
	if err != nil {
		t.Fatalf("PNG does not decode: %v", err)
	}
	if s := img.Bounds().Size(); s.X != chartW || s.Y != chartH {
		t.Errorf("size %v", s)
	}
	// Each target's colour must appear: its lines were drawn.
	for i := range 2 {
		want := palette[i]
		found := false
		for y := 0; y < chartH && !found; y++ {
			for x := 0; x < chartW; x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				if uint8(r>>8) == want.R && uint8(g>>8) == want.G && uint8(bl>>8) == want.B {
					found = true
					break
				}
			}
		}
		if !found {
			t.Errorf("colour of target %d not in the PNG", i)
		}
	}
}

func TestGlyphs(t *testing.T) {
	for r, g := range glyphs {
		if len(g) != 15 || strings.Trim(g, ".#") != "" {
			t.Errorf("glyph %q is %q: want 15 of '.' and '#'", r, g)
		}
	}
}

func TestEmptyReports(t *testing.T) {
	for name, w := range map[string]func(io.Writer, []Result) error{
		"json": WriteJSON, "csv": WriteCSV, "svg": WriteSVG, "png": WritePNG, "table": WriteTable,
	} {
		if err := w(io.Discard, nil); err != nil {
			t.Errorf("%s of no results: %v", name, err)
		}
	}
}

func TestWriteReports(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	if err := writeReports(dir, sampleResults()); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"results.json", "results.csv", "chart.svg", "chart.png"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}
