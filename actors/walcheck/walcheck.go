// Package walcheck finds corruption in the write-ahead logs of the pebble
// databases that hold Dragonboat's Raft log, before they are opened.
//
// Pebble replays the newest WAL of each database leniently: it stops at
// the first chunk that is zeroed, torn or fails its checksum, as it must
// for a write a crash cut short, and drops everything after it. A flipped
// byte in the middle of that log is dropped the same way, and with it
// every record written and synced after it: entries this member
// acknowledged, a snapshot record. What tells the two apart is what
// follows the bad chunk: a crash leaves nothing valid of the same log
// after the tear, corruption leaves the records written later. Check
// reports the second.
//
// The format is pebble's record package (of the version Dragonboat v4
// uses): the file is 32 KiB blocks of chunks; a chunk is a header (CRC32-C
// masked as LevelDB does, payload length, chunk type and, in the
// recyclable form pebble's writer uses, the low 32 bits of the log's file
// number) and its payload, never crossing a block; the rest of a block too
// short for a header is zero. A recycled log file keeps an older log's
// chunks after its own, told apart by their log number.
package walcheck

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

const (
	blockSize            = 32 * 1024
	legacyHeaderSize     = 7
	recyclableHeaderSize = legacyHeaderSize + 4

	// Chunk types: full, first, middle, last; 5 to 8 are the same with
	// the log number in the header.
	firstLegacyType     = 1
	lastLegacyType      = 4
	firstRecyclableType = 5
	lastRecyclableType  = 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Corruption is a WAL whose replay would stop at Offset and drop the valid
// chunks that begin at Next.
type Corruption struct {
	Path   string
	Offset int64 // where the replay stops: the first chunk not valid
	Next   int64 // the first valid chunk of the same log after it
	Size   int64
}

func (c *Corruption) Error() string {
	return fmt.Sprintf("write-ahead log %s is corrupt: the chunk at offset %d is not valid (checksum, length or type), and valid chunks of the same log follow it from offset %d of %d bytes; replaying it would drop them",
		c.Path, c.Offset, c.Next, c.Size)
}

// Check scans the newest WAL (the highest-numbered NNNNNN.log) of every
// directory under dir and returns a *Corruption for the first that is
// corrupt. A dir that does not exist holds nothing to check.
func Check(dir string) error {
	newest := map[string]uint64{} // directory -> newest log number
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == dir {
				return filepath.SkipAll
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		n, ok := logNumber(d.Name())
		if !ok {
			return nil
		}
		parent := filepath.Dir(p)
		if old, seen := newest[parent]; !seen || n > old {
			newest[parent] = n
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("walcheck: %w", err)
	}
	for parent, n := range newest {
		path := filepath.Join(parent, fmt.Sprintf("%06d.log", n))
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("walcheck: %w", err)
		}
		if bad, next, ok := Scan(b, uint32(n)); !ok {
			return &Corruption{Path: path, Offset: bad, Next: next, Size: int64(len(b))}
		}
	}
	return nil
}

// logNumber parses pebble's WAL file name: the file number in at least six
// decimal digits, then ".log".
func logNumber(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, ".log")
	if !ok || len(digits) < 6 {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	return n, err == nil
}

// Scan reads b as the WAL of log logNum the way pebble's replay does, to
// the first chunk that ends it (zeroed, not valid, or of another log).
// ok is false when a valid chunk of logNum begins after that point: bad is
// where the replay stops and next where that chunk begins.
func Scan(b []byte, logNum uint32) (bad, next int64, ok bool) {
	stop := replayEnd(b, logNum)
	for q := stop + 1; q < len(b); q++ {
		if hasLogNumber(b, q) && valid(b, q, logNum) {
			return int64(stop), int64(q), false
		}
	}
	return int64(stop), 0, true
}

// replayEnd is the offset of the first chunk the replay does not accept.
func replayEnd(b []byte, logNum uint32) int {
	off := 0
	for off < len(b) {
		left := blockEnd(off, len(b)) - off
		if left < legacyHeaderSize {
			off += left // the block's zero tail
			continue
		}
		if zeroHeader(b[off : off+legacyHeaderSize]) {
			if left < recyclableHeaderSize {
				off += left // too short for the writer's header: padding
				continue
			}
			return off // preallocated space: the log ends here
		}
		size, valid := chunkAt(b, off, logNum)
		if !valid {
			return off
		}
		off += size
	}
	return off
}

// chunkAt reports whether a valid chunk of logNum (or a legacy chunk, which
// has no log number) begins at off, and its size with the header.
func chunkAt(b []byte, off int, logNum uint32) (size int, valid bool) {
	end := blockEnd(off, len(b))
	if end-off < legacyHeaderSize {
		return 0, false
	}
	h := b[off:]
	length := int(binary.LittleEndian.Uint16(h[4:6]))
	typ := h[6]
	header := legacyHeaderSize
	switch {
	case typ >= firstRecyclableType && typ <= lastRecyclableType:
		header = recyclableHeaderSize
		if end-off < header || binary.LittleEndian.Uint32(h[7:11]) != logNum {
			return 0, false
		}
	case typ >= firstLegacyType && typ <= lastLegacyType:
	default:
		return 0, false
	}
	if off+header+length > end {
		return 0, false
	}
	if binary.LittleEndian.Uint32(h[0:4]) != maskedCRC(b[off+6:off+header+length]) {
		return 0, false
	}
	return header + length, true
}

// hasLogNumber: the chunk at off is of the recyclable form, whose log
// number ties it to this log (a legacy chunk found past the stop could be
// an older log's).
func hasLogNumber(b []byte, off int) bool {
	if off+legacyHeaderSize > len(b) {
		return false
	}
	t := b[off+6]
	return t >= firstRecyclableType && t <= lastRecyclableType
}

func valid(b []byte, off int, logNum uint32) bool {
	_, ok := chunkAt(b, off, logNum)
	return ok
}

func blockEnd(off, n int) int { return min((off/blockSize+1)*blockSize, n) }

func zeroHeader(h []byte) bool {
	for _, c := range h {
		if c != 0 {
			return false
		}
	}
	return true
}

// maskedCRC is LevelDB's masked CRC32-C of the chunk type, log number and
// payload.
func maskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return (c>>15 | c<<17) + 0xa282ead8
}
