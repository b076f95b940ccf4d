package zoocfg

import (
	"fmt"
	"strconv"
	"strings"
)

// entry is one logical line of a properties file: a key, its value and the
// number of the natural line where the logical line starts (1-based).
type entry struct {
	key, value string
	line       int
}

// readProperties splits data into entries following the rules of
// java.util.Properties.load, which is what ZooKeeper's QuorumPeerConfig uses:
//
//   - natural lines end at "\n", "\r" or "\r\n";
//   - leading space, tab and form feed are skipped on every natural line;
//   - a line whose first other character is '#' or '!' is a comment (a
//     comment never continues onto the next line);
//   - a line ending in an odd number of backslashes continues on the next
//     natural line, whose leading whitespace is dropped;
//   - the key runs to the first unescaped '=', ':' or whitespace; then
//     whitespace, at most one '=' or ':', and whitespace again separate it
//     from the value; a line with a key alone has the empty value;
//   - escapes \t \n \r \f and \uXXXX are decoded, and a backslash before any
//     other character stands for that character.
//
// Unlike Java, which reads the bytes as ISO-8859-1, we keep them as they
// are, so UTF-8 paths survive. Keys and values are then trimmed as ZooKeeper
// does (String.trim). Errors (a malformed \u escape) name the line.
func readProperties(data string) ([]entry, error) {
	lines := naturalLines(data)
	var out []entry
	for i := 0; i < len(lines); i++ {
		s := trimLeadingWS(lines[i])
		if s == "" || s[0] == '#' || s[0] == '!' {
			continue
		}
		start := i + 1
		for oddTrailingBackslashes(s) {
			s = s[:len(s)-1]
			if i+1 >= len(lines) {
				break
			}
			i++
			s += trimLeadingWS(lines[i])
		}
		rawKey, rawValue := splitKeyValue(s)
		key, err := unescape(rawKey)
		if err != nil {
			return nil, &Error{Line: start, Msg: err.Error()}
		}
		value, err := unescape(rawValue)
		if err != nil {
			return nil, &Error{Line: start, Key: strings.TrimSpace(key), Msg: err.Error()}
		}
		out = append(out, entry{key: javaTrim(key), value: javaTrim(value), line: start})
	}
	return out, nil
}

func naturalLines(data string) []string {
	var lines []string
	for len(data) > 0 {
		j := strings.IndexAny(data, "\r\n")
		if j < 0 {
			lines = append(lines, data)
			break
		}
		lines = append(lines, data[:j])
		if data[j] == '\r' && j+1 < len(data) && data[j+1] == '\n' {
			j++
		}
		data = data[j+1:]
	}
	return lines
}

func isPropWS(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }

func trimLeadingWS(s string) string {
	i := 0
	for i < len(s) && isPropWS(s[i]) {
		i++
	}
	return s[i:]
}

func oddTrailingBackslashes(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// splitKeyValue splits a logical line (leading whitespace already gone)
// into its raw, still escaped, key and value.
func splitKeyValue(s string) (key, value string) {
	i := 0
	for i < len(s) {
		c := s[i]
		if c == '\\' {
			i += 2
			continue
		}
		if c == '=' || c == ':' || isPropWS(c) {
			break
		}
		i++
	}
	if i > len(s) {
		i = len(s)
	}
	key = s[:i]
	rest := trimLeadingWS(s[i:])
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = trimLeadingWS(rest[1:])
	}
	return key, rest
}

// unescape decodes the escapes of a properties key or value.
func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			break // a lone trailing backslash stands for nothing
		}
		switch c = s[i]; c {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+5 > len(s) {
				return "", fmt.Errorf(`malformed \uxxxx escape %q`, s[i-1:])
			}
			n, err := strconv.ParseUint(s[i+1:i+5], 16, 16)
			if err != nil {
				return "", fmt.Errorf(`malformed \uxxxx escape %q`, s[i-1:i+5])
			}
			b.WriteRune(rune(n))
			i += 4
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// javaTrim removes leading and trailing characters <= ' ', like Java's
// String.trim.
func javaTrim(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
}
