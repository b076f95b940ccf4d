package conform

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// line is one parsed script line.
type line struct {
	num  int      // 1-based line number in the script
	text string   // the command as written, whitespace normalised
	toks []string // tokens; "{", ";" and "}" are tokens of their own
}

// readScript splits a script into lines. Comment lines (starting with #)
// are kept with an empty toks so that they are copied into the
// transcript; blank lines are dropped.
func readScript(r io.Reader) ([]line, error) {
	var out []line
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	n := 0
	for sc.Scan() {
		n++
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		if strings.HasPrefix(s, "#") {
			out = append(out, line{num: n, text: s})
			continue
		}
		toks, err := tokenize(s)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, line{num: n, text: strings.Join(toks, " "), toks: toks})
	}
	return out, sc.Err()
}

// tokenize splits s on white space. A double-quoted part (Go syntax) may
// appear anywhere in a token and keeps its spaces; "{", "}" and ";" outside
// quotes are tokens of their own.
func tokenize(s string) ([]string, error) {
	var toks []string
	var cur strings.Builder
	have := false
	flush := func() {
		if have {
			toks = append(toks, cur.String())
			cur.Reset()
			have = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			flush()
		case c == '{' || c == '}' || c == ';':
			flush()
			toks = append(toks, string(c))
		case c == '"':
			j := i + 1
			for ; j < len(s); j++ {
				if s[j] == '\\' {
					j++
					continue
				}
				if s[j] == '"' {
					break
				}
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated quote in %q", s)
			}
			cur.WriteString(s[i : j+1])
			have = true
			i = j
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	flush()
	return toks, nil
}

// args are a command's arguments: bare words in order and key=value pairs.
type args struct {
	pos []string
	kv  map[string]string
}

func parseArgs(toks []string) (args, error) {
	a := args{kv: map[string]string{}}
	for _, t := range toks {
		k, v, ok := strings.Cut(t, "=")
		if !ok || strings.HasPrefix(t, "/") || strings.HasPrefix(t, `"`) {
			u, err := unquote(t)
			if err != nil {
				return a, err
			}
			a.pos = append(a.pos, u)
			continue
		}
		u, err := unquote(v)
		if err != nil {
			return a, err
		}
		a.kv[k] = u
	}
	return a, nil
}

// unquote replaces a double-quoted tail of s (Go syntax) by its value.
func unquote(s string) (string, error) {
	i := strings.IndexByte(s, '"')
	if i < 0 {
		return s, nil
	}
	u, err := strconv.Unquote(s[i:])
	if err != nil {
		return "", fmt.Errorf("bad quoted string %s: %w", s, err)
	}
	return s[:i] + u, nil
}

// path returns the i'th bare word, or def.
func (a args) arg(i int, def string) string {
	if i < len(a.pos) {
		return a.pos[i]
	}
	return def
}

func (a args) has(word string) bool {
	for _, p := range a.pos {
		if p == word {
			return true
		}
	}
	return false
}

func (a args) int32(key string, def int32) (int32, error) {
	v, ok := a.kv[key]
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 0, 32)
	if err != nil {
		return 0, fmt.Errorf("%s=%s: %w", key, v, err)
	}
	return int32(n), nil
}

func (a args) int64(key string, def int64) (int64, error) {
	v, ok := a.kv[key]
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 0, 64)
	if err != nil {
		return 0, fmt.Errorf("%s=%s: %w", key, v, err)
	}
	return n, nil
}

// list returns a comma-separated key as a slice; absent gives nil, and
// an empty value gives an empty, non-nil slice.
func (a args) list(key string) []string {
	v, ok := a.kv[key]
	if !ok {
		return nil
	}
	if v == "" {
		return []string{}
	}
	return strings.Split(v, ",")
}

// splitOps splits the tokens between "{" and "}" on ";".
func splitOps(toks []string) ([][]string, []string, error) {
	if len(toks) == 0 || toks[0] != "{" {
		return nil, nil, fmt.Errorf("expected { after multi")
	}
	var ops [][]string
	var cur []string
	for i := 1; i < len(toks); i++ {
		switch toks[i] {
		case ";":
			if len(cur) > 0 {
				ops = append(ops, cur)
			}
			cur = nil
		case "}":
			if len(cur) > 0 {
				ops = append(ops, cur)
			}
			return ops, toks[i+1:], nil
		default:
			cur = append(cur, toks[i])
		}
	}
	return nil, nil, fmt.Errorf("missing } in multi")
}
