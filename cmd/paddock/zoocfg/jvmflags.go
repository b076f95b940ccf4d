package zoocfg

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Property is one Java system property given to ZooKeeper's JVM as
// -Dname=value, and where it was given.
type Property struct {
	Name, Value string
	File        string // "$SERVER_JVMFLAGS", "$JVMFLAGS", or the file that set it
	Line        int    // the line in File; 0 for the environment
}

// Where zkServer.sh finds its JVM flags.
const (
	// EnvServerJVMFlags and EnvJVMFlags are the environment variables
	// zkServer.sh passes to the JVM, SERVER_JVMFLAGS first.
	EnvServerJVMFlags = "SERVER_JVMFLAGS"
	EnvJVMFlags       = "JVMFLAGS"
	// EnvConfDir is zkEnv.sh's configuration directory; without it the
	// directory of the zoo.cfg is used.
	EnvConfDir = "ZOOCFGDIR"
)

// EnvFiles are the files of the configuration directory that zkEnv.sh
// sources, in its order.
var EnvFiles = []string{"zookeeper-env.sh", "java.env"}

const maxEnvFileSize = 1 << 20

// JVMFlags returns the -D flags ZooKeeper's zkServer.sh would start the
// JVM with, in the JVM's order (a later one of a name overrides an earlier
// one): $SERVER_JVMFLAGS then $JVMFLAGS, from the environment as changed
// by confDir's zookeeper-env.sh and java.env. Those files are read, never
// run: they may hold only assignments (NAME=value, export NAME=value,
// with '…' and "…" quoting and $NAME / ${NAME} expansion); anything else
// is an error naming the file and line, since a line paddock cannot read
// might set a flag that asks for security. Other JVM options (-Xmx, -XX:…)
// are not ZooKeeper settings and are skipped. confDir "" reads no file.
func JVMFlags(getenv func(string) string, confDir string) ([]Property, error) {
	sh := &shellVars{vars: map[string][]segment{}, getenv: getenv, confDir: confDir}
	if confDir != "" {
		for _, name := range EnvFiles {
			path := filepath.Join(confDir, name)
			data, err := readEnvFile(path)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if err := sh.source(path, data); err != nil {
				return nil, err
			}
		}
	}
	// zkServer.sh: JVMFLAGS="$SERVER_JVMFLAGS $JVMFLAGS", then $JVMFLAGS
	// unquoted on the java command line, so split at blanks.
	var props []Property
	for _, v := range []string{EnvServerJVMFlags, EnvJVMFlags} {
		for _, w := range splitWords(sh.lookup(v)) {
			if !strings.HasPrefix(w.text, "-D") {
				continue
			}
			name, value, _ := strings.Cut(w.text[2:], "=")
			if name == "" {
				return nil, &Error{File: w.file, Line: w.line, Key: w.text, Msg: "a -D flag needs a property name (-Dname=value)"}
			}
			props = append(props, Property{Name: name, Value: value, File: w.file, Line: w.line})
		}
	}
	return props, nil
}

func readEnvFile(path string) (string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if err != nil {
		return "", fmt.Errorf("paddock/zoocfg: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxEnvFileSize+1))
	if err != nil {
		return "", fmt.Errorf("paddock/zoocfg: reading %s: %w", path, err)
	}
	if len(data) > maxEnvFileSize {
		return "", &Error{File: path, Msg: fmt.Sprintf("larger than %d bytes", maxEnvFileSize)}
	}
	return string(data), nil
}

// segment is a piece of a shell value and where it was written, so that a
// flag built from several assignments names the one it came from.
type segment struct {
	text string
	file string
	line int
}

// shellVars are the variables of the sourced files; unset ones come from
// the environment, and ZOOCFGDIR defaults to the configuration directory
// as zkEnv.sh sets it.
type shellVars struct {
	vars    map[string][]segment
	getenv  func(string) string
	confDir string
}

func (sh *shellVars) lookup(name string) []segment {
	if v, ok := sh.vars[name]; ok {
		return v
	}
	v := sh.getenv(name)
	if v == "" && name == EnvConfDir {
		v = sh.confDir
	}
	if v == "" {
		return nil
	}
	return []segment{{text: v, file: "$" + name}}
}

// word is a blank-separated word of a flags value and where it starts.
type word struct {
	text string
	file string
	line int
}

// splitWords splits a value at blanks as the shell does an unquoted
// expansion; a word belongs to the segment where it starts.
func splitWords(segs []segment) []word {
	var out []word
	var cur *word
	for _, s := range segs {
		for i := 0; i < len(s.text); i++ {
			c := s.text[i]
			if c == ' ' || c == '\t' || c == '\n' {
				cur = nil
				continue
			}
			if cur == nil {
				out = append(out, word{file: s.file, line: s.line})
				cur = &out[len(out)-1]
			}
			cur.text += string(c)
		}
	}
	return out
}

// source runs the assignments of a sourced file, refusing anything else.
func (sh *shellVars) source(file, data string) error {
	lx := &shellLexer{file: file, src: data, line: 1, sh: sh}
	for !lx.eof() {
		if err := lx.command(); err != nil {
			return err
		}
	}
	return nil
}

// assign performs the n-th word of a simple command made of assignments
// alone (NAME=value words, or "export" then NAME and NAME=value words),
// left to right as the shell does; any other word is an error.
func (sh *shellVars) assign(file string, line int, n int, w shellWord, export *bool) error {
	if n == 0 && !w.quoted && w.plain == "export" {
		*export = true
		return nil
	}
	name, ok := w.assignName()
	if !ok {
		if *export && !w.quoted && isShellName(w.plain) {
			return nil // export NAME: nothing to read
		}
		return &Error{File: file, Line: line, Msg: "paddock reads this file without running it and understands " +
			"only assignments (NAME=value, export NAME=value); this line is a command"}
	}
	sh.vars[name] = w.value
	return nil
}

func isShellName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// shellWord is one word of a command: its text as written up to the first
// quote or expansion (plain, to recognise NAME= and export), and its value
// with quotes removed and variables expanded, after NAME= for an
// assignment.
type shellWord struct {
	plain  string // the unquoted literal prefix
	quoted bool   // something in the word was quoted or expanded
	value  []segment
	eq     int // length of "NAME=" when plain starts with an assignment, else 0
}

func (w shellWord) assignName() (string, bool) {
	if w.eq == 0 {
		return "", false
	}
	return w.plain[:w.eq-1], true
}

// shellLexer reads the POSIX shell subset of JVMFlags' doc.
type shellLexer struct {
	file string
	src  string
	pos  int
	line int
	sh   *shellVars
}

func (lx *shellLexer) eof() bool { return lx.pos >= len(lx.src) }

func (lx *shellLexer) errorf(format string, args ...any) error {
	return &Error{File: lx.file, Line: lx.line, Msg: fmt.Sprintf(format, args...)}
}

// command reads and performs one command, up to a newline, ';' or the
// end of the file.
func (lx *shellLexer) command() error {
	n, start, export := 0, 0, false
	for {
		// Blanks and line continuations between words.
		for !lx.eof() {
			c := lx.src[lx.pos]
			if c == ' ' || c == '\t' || c == '\r' {
				lx.pos++
			} else if c == '\\' && lx.pos+1 < len(lx.src) && lx.src[lx.pos+1] == '\n' {
				lx.pos += 2
				lx.line++
			} else {
				break
			}
		}
		if lx.eof() {
			return nil
		}
		switch c := lx.src[lx.pos]; c {
		case '\n', ';':
			lx.pos++
			if c == '\n' {
				lx.line++
			}
			if n > 0 {
				return nil
			}
			continue
		case '#':
			for !lx.eof() && lx.src[lx.pos] != '\n' {
				lx.pos++
			}
			continue
		}
		if n == 0 {
			start = lx.line
		}
		w, err := lx.word()
		if err != nil {
			return err
		}
		if err := lx.sh.assign(lx.file, start, n, w, &export); err != nil {
			return err
		}
		n++
	}
}

const shellSpecial = "|&<>()`"

// word reads one word.
func (lx *shellLexer) word() (shellWord, error) {
	var w shellWord
	var text strings.Builder
	line := lx.line
	flush := func() {
		if text.Len() > 0 {
			w.value = append(w.value, segment{text: text.String(), file: lx.file, line: line})
			text.Reset()
		}
	}
	literal := func(c byte) {
		if !w.quoted {
			w.plain += string(c)
			if c == '=' && w.eq == 0 && isShellName(w.plain[:len(w.plain)-1]) {
				w.eq = len(w.plain)
			}
		}
		text.WriteByte(c) // finish drops the "NAME=" of an assignment
	}
	for !lx.eof() {
		c := lx.src[lx.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';':
			flush()
			return lx.finish(w), nil
		case strings.IndexByte(shellSpecial, c) >= 0:
			return w, lx.errorf("%q: pipes, redirections, subshells and command substitution are not read; "+
				"only assignments (NAME=value) are", c)
		case c == '\\':
			if lx.pos+1 >= len(lx.src) {
				lx.pos++
				continue
			}
			n := lx.src[lx.pos+1]
			lx.pos += 2
			if n == '\n' {
				lx.line++
				continue
			}
			w.quoted = true
			text.WriteByte(n)
		case c == '\'':
			w.quoted = true
			end := strings.IndexByte(lx.src[lx.pos+1:], '\'')
			if end < 0 {
				return w, lx.errorf("unterminated ' quote")
			}
			s := lx.src[lx.pos+1 : lx.pos+1+end]
			text.WriteString(s)
			lx.line += strings.Count(s, "\n")
			lx.pos += end + 2
		case c == '"':
			w.quoted = true
			lx.pos++
			if err := lx.doubleQuoted(&text, flush, &w); err != nil {
				return w, err
			}
		case c == '$':
			w.quoted = true
			flush()
			if err := lx.expand(&w, &text); err != nil {
				return w, err
			}
		default:
			lx.pos++
			literal(c)
		}
	}
	flush()
	return lx.finish(w), nil
}

// finish drops the "NAME=" prefix from an assignment's value.
func (lx *shellLexer) finish(w shellWord) shellWord {
	if w.eq == 0 {
		return w
	}
	// value holds the whole word; the first w.eq bytes are "NAME=".
	skip := w.eq
	for len(w.value) > 0 && skip > 0 {
		s := &w.value[0]
		if len(s.text) <= skip {
			skip -= len(s.text)
			w.value = w.value[1:]
			continue
		}
		s.text = s.text[skip:]
		skip = 0
	}
	return w
}

// doubleQuoted reads up to the closing '"' (the opening one is consumed).
func (lx *shellLexer) doubleQuoted(text *strings.Builder, flush func(), w *shellWord) error {
	open := lx.line
	for !lx.eof() {
		c := lx.src[lx.pos]
		switch c {
		case '"':
			lx.pos++
			return nil
		case '\\':
			if lx.pos+1 < len(lx.src) {
				switch n := lx.src[lx.pos+1]; n {
				case '$', '`', '"', '\\':
					text.WriteByte(n)
					lx.pos += 2
					continue
				case '\n':
					lx.pos += 2
					lx.line++
					continue
				}
			}
			text.WriteByte(c)
			lx.pos++
		case '`':
			return lx.errorf("command substitution (`…`) is not read; only assignments (NAME=value) are")
		case '$':
			flush()
			if err := lx.expand(w, text); err != nil {
				return err
			}
		default:
			if c == '\n' {
				lx.line++
			}
			text.WriteByte(c)
			lx.pos++
		}
	}
	lx.line = open
	return lx.errorf(`unterminated " quote`)
}

// expand reads $NAME or ${NAME} at lx.pos and appends the variable's
// segments; a '$' before anything else stands for itself.
func (lx *shellLexer) expand(w *shellWord, text *strings.Builder) error {
	lx.pos++ // '$'
	rest := lx.src[lx.pos:]
	var name string
	switch {
	case strings.HasPrefix(rest, "{"):
		end := strings.IndexByte(rest, '}')
		if end < 0 || !isShellName(rest[1:end]) {
			return lx.errorf("only ${NAME} expansions are read, not %q", shortPrefix(rest, 20))
		}
		name = rest[1:end]
		lx.pos += end + 1
	case strings.HasPrefix(rest, "("):
		return lx.errorf("command substitution ($(…)) is not read; only assignments (NAME=value) are")
	default:
		n := 0
		for n < len(rest) && isShellName(rest[:n+1]) {
			n++
		}
		if n == 0 {
			if rest != "" && strings.IndexByte("0123456789@*#?$!-", rest[0]) >= 0 {
				return lx.errorf("special parameter $%c is not read", rest[0])
			}
			text.WriteByte('$')
			return nil
		}
		name = rest[:n]
		lx.pos += n
	}
	w.value = append(w.value, lx.sh.lookup(name)...)
	return nil
}

func shortPrefix(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
