package walcheck

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/record"
)

// The logs here are written by pebble's own LogWriter (the version
// Dragonboat uses), so that the format Scan reads is pebble's, not ours.

const testLogNum = 7 // the file number of the logs written here

// pebbleLog writes n records of varied sizes (some span blocks) as log
// testLogNum, closed or, as a killed process leaves it, without the EOF
// trailer Close writes.
func pebbleLog(t testing.TB, n int, closed bool) ([]byte, [][]byte) {
	t.Helper()
	var buf bytes.Buffer
	w := record.NewLogWriter(&buf, testLogNum)
	rng := rand.New(rand.NewPCG(1, 2))
	var recs [][]byte
	for i := range n {
		size := 1 + rng.IntN(200)
		if i%17 == 5 {
			size = 40_000 + rng.IntN(30_000) // crosses one or two blocks
		}
		r := make([]byte, size)
		for j := range r {
			r[j] = byte(rng.UintN(256))
		}
		if _, err := w.SyncRecord(r, nil, nil); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b := bytes.Clone(buf.Bytes())
	if !closed {
		b = b[:len(b)-recyclableHeaderSize] // no EOF trailer: a killed process
	}
	return b, recs
}

// pebbleReads is what pebble's replay keeps of b: the records its reader
// returns before the first error or end.
func pebbleReads(b []byte) int {
	r := record.NewReader(bytes.NewReader(b), testLogNum)
	n := 0
	for {
		rec, err := r.Next()
		if err != nil {
			return n
		}
		if _, err := io.ReadAll(rec); err != nil {
			return n
		}
		n++
	}
}

func TestScanAcceptsIntactLogs(t *testing.T) {
	for _, closed := range []bool{true, false} {
		b, recs := pebbleLog(t, 300, closed)
		if got := pebbleReads(b); got != len(recs) {
			t.Fatalf("pebble reads %d of %d records", got, len(recs))
		}
		if bad, next, ok := Scan(b, testLogNum); !ok {
			t.Fatalf("closed %v: intact log reported corrupt at %d (next %d)", closed, bad, next)
		}
		// Preallocated space after the records reads as zeros.
		if _, _, ok := Scan(append(bytes.Clone(b), make([]byte, 3*blockSize)...), testLogNum); !ok {
			t.Fatalf("closed %v: zeros after the records reported corrupt", closed)
		}
	}
}

// A crash tears the log at its end: whatever is cut, nothing valid
// follows, and Scan accepts it as pebble's replay does.
func TestScanAcceptsATornTail(t *testing.T) {
	b, _ := pebbleLog(t, 200, true)
	for cut := len(b) - 1; cut > len(b)-3*blockSize && cut > 0; cut -= 97 {
		torn := bytes.Clone(b[:cut])
		if bad, next, ok := Scan(torn, testLogNum); !ok {
			t.Fatalf("log cut at %d of %d reported corrupt at %d (next %d)", cut, len(b), bad, next)
		}
		// The part not written reads as zeros when the file was preallocated.
		torn = append(torn, make([]byte, len(b)-cut+blockSize)...)
		if _, _, ok := Scan(torn, testLogNum); !ok {
			t.Fatalf("log cut at %d and zero-filled reported corrupt", cut)
		}
	}
}

// A flipped byte anywhere: Scan reports corruption exactly when pebble's
// replay would drop a record other than the damaged one.
func TestScanAgreesWithPebbleOnFlippedBytes(t *testing.T) {
	b, recs := pebbleLog(t, 300, true)
	rng := rand.New(rand.NewPCG(3, 4))
	detected := 0
	for i := range 1000 {
		off := rng.IntN(len(b))
		switch i {
		case 0:
			off = len(b) - 1 // the EOF trailer
		case 1:
			off = len(b) - recyclableHeaderSize - 1 // the last record: dropped alone, as a torn one
		}
		c := bytes.Clone(b)
		c[off] ^= byte(1 + rng.UintN(255))
		kept := pebbleReads(c)
		lostIntact := kept < len(recs)-1 // records after the damaged one are dropped
		bad, next, ok := Scan(c, testLogNum)
		if ok == lostIntact {
			t.Fatalf("byte %d flipped: pebble keeps %d of %d records, Scan ok=%v (stop %d, next %d)",
				off, kept, len(recs), ok, bad, next)
		}
		if !ok {
			detected++
			if bad > int64(off) || next <= bad {
				t.Fatalf("byte %d flipped: stop %d, next %d", off, bad, next)
			}
		}
	}
	if detected == 0 || detected == 1000 {
		t.Fatalf("%d of 1000 flips detected: the test checks one side only", detected)
	}
	t.Logf("%d of 1000 flips dropped intact records, all detected", detected)
}

// A recycled log file holds an older log's chunks after the new log's:
// they end the replay and are not the new log's records.
func TestScanAcceptsARecycledFile(t *testing.T) {
	var old bytes.Buffer
	w := record.NewLogWriter(&old, 3)
	for i := range 500 {
		if _, err := w.SyncRecord(fmt.Appendf(nil, "old record %d with some padding to fill blocks", i), nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := pebbleLog(t, 40, false)
	file := bytes.Clone(old.Bytes())
	copy(file, b)
	if bad, next, ok := Scan(file, testLogNum); !ok {
		t.Fatalf("recycled file reported corrupt at %d (next %d)", bad, next)
	}
	// The new log's first chunk damaged: its later chunks are found.
	file[recyclableHeaderSize+1] ^= 0xff
	if _, _, ok := Scan(file, testLogNum); ok {
		t.Fatal("a damaged first record of a recycled file went unnoticed")
	}
}

func TestCheckScansTheNewestLogOfEachDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := Check(filepath.Join(dir, "absent")); err != nil {
		t.Fatalf("absent directory: %v", err)
	}
	b, _ := pebbleLog(t, 100, true)
	damaged := bytes.Clone(b)
	damaged[recyclableHeaderSize+2] ^= 1
	write := func(p string, b []byte) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "wal", "logdb-0", "000007.log"), b)
	write(filepath.Join(dir, "wal", "logdb-1", "000007.log"), b)
	// An older, obsolete log is not replayed: its damage does not matter.
	write(filepath.Join(dir, "wal", "logdb-1", "000005.log"), damaged)
	write(filepath.Join(dir, "wal", "logdb-1", "MANIFEST-000001"), damaged)
	if err := Check(dir); err != nil {
		t.Fatalf("healthy newest logs: %v", err)
	}
	write(filepath.Join(dir, "wal", "logdb-0", "000007.log"), damaged)
	err := Check(dir)
	var c *Corruption
	if !errors.As(err, &c) {
		t.Fatalf("damaged newest log: %v", err)
	}
	if c.Path != filepath.Join(dir, "wal", "logdb-0", "000007.log") || c.Offset != 0 || c.Next <= 0 || c.Size != int64(len(b)) {
		t.Fatalf("corruption %+v", c)
	}
	t.Log(err)
}

func TestLogNumber(t *testing.T) {
	for name, want := range map[string]uint64{"000007.log": 7, "123456789.log": 123456789} {
		if n, ok := logNumber(name); !ok || n != want {
			t.Errorf("%s: %d %v", name, n, ok)
		}
	}
	for _, name := range []string{"00007.log", "000007.log.tmp", "00000a.log", "MANIFEST-000001", ".log", "99999999999999999999999.log"} {
		if _, ok := logNumber(name); ok {
			t.Errorf("%s parsed as a log", name)
		}
	}
}

func FuzzScan(f *testing.F) {
	b, _ := pebbleLog(f, 5, true) // small records only: the fuzzer mutates small inputs faster
	f.Add(b, uint32(testLogNum))
	f.Add(b[:len(b)/2], uint32(testLogNum))
	f.Add([]byte{}, uint32(0))
	f.Fuzz(func(t *testing.T, b []byte, logNum uint32) {
		bad, next, ok := Scan(b, logNum)
		if bad < 0 || bad > int64(len(b)) {
			t.Fatalf("stop %d outside %d bytes", bad, len(b))
		}
		if !ok {
			if next <= bad || next >= int64(len(b)) {
				t.Fatalf("stop %d, next %d, %d bytes", bad, next, len(b))
			}
			if _, valid := chunkAt(b, int(next), logNum); !valid {
				t.Fatalf("next %d is not a valid chunk", next)
			}
		}
	})
}
