package zoocfg

import (
	"fmt"
	"os"
	"strings"
)

// A JAAS login configuration file (java.security.auth.login.config), as
// the JDK's ConfigFile reads it:
//
//	Server {
//	    org.apache.zookeeper.server.auth.DigestLoginModule required
//	    user_super="adminsecret"
//	    user_bob="bobsecret";
//	};
//
// Sections ("login entries") hold login modules, each a class name, a
// control flag (required, requisite, sufficient, optional; any case) and
// key=value options up to ';'. Values are words or double-quoted strings
// with backslash escapes. Comments are // and /* */ (and, as the JDK's
// StreamTokenizer has it, a lone '/' starts a line comment). An unquoted
// value that starts with a digit is a number to the JDK's tokenizer, which
// its parser refuses: so does this one. ${property} expansion is refused
// (paddock has no Java system properties to expand).

// JAASModule is one login module of a section.
type JAASModule struct {
	Class   string
	Flag    string // upper case
	Options map[string]string
	Line    int
}

// JAAS is a parsed JAAS file: its sections by name.
type JAAS struct {
	File     string
	Sections map[string][]JAASModule
}

// maxJAASSize bounds the file read.
const maxJAASSize = 1 << 20

// ReadJAAS reads and parses the JAAS file at path.
func ReadJAAS(path string) (*JAAS, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: fmt.Sprintf("cannot read the JAAS file: %v", err)}
	}
	if len(data) > maxJAASSize {
		return nil, &Error{File: path, Msg: fmt.Sprintf("JAAS file larger than %d bytes", maxJAASSize)}
	}
	return ParseJAAS(path, string(data))
}

// ParseJAAS parses the text of a JAAS file; name is used in errors, which
// name the line and what was expected.
func ParseJAAS(name, src string) (*JAAS, error) {
	lx := &jaasLexer{src: src, line: 1, file: name}
	j := &JAAS{File: name, Sections: map[string][]JAASModule{}}
	tok, err := lx.next()
	for err == nil && tok.kind != tEOF {
		if tok.kind != tWord && tok.kind != tQuoted {
			return nil, lx.errorf(tok, "expected a login entry name, found %s", tok)
		}
		app, line := tok.text, tok.line
		var mods []JAASModule
		if tok, err = lx.expect(tPunct, "{"); err != nil {
			return nil, err
		}
		for {
			if tok, err = lx.next(); err != nil {
				return nil, err
			}
			if tok.is("}") {
				break
			}
			if tok.kind != tWord && tok.kind != tQuoted {
				return nil, lx.errorf(tok, "expected a login module class name, found %s", tok)
			}
			m := JAASModule{Class: tok.text, Line: tok.line, Options: map[string]string{}}
			if tok, err = lx.next(); err != nil {
				return nil, err
			}
			if tok.kind != tWord && tok.kind != tQuoted {
				return nil, lx.errorf(tok, "expected a control flag after %s, found %s", m.Class, tok)
			}
			m.Flag = strings.ToUpper(tok.text)
			switch m.Flag {
			case "REQUIRED", "REQUISITE", "SUFFICIENT", "OPTIONAL":
			default:
				return nil, lx.errorf(tok, "invalid control flag %q (want required, requisite, sufficient or optional)", tok.text)
			}
			for {
				if tok, err = lx.next(); err != nil {
					return nil, err
				}
				if tok.is(";") {
					break
				}
				if tok.kind != tWord && tok.kind != tQuoted {
					return nil, lx.errorf(tok, "expected an option key or ';' in %s, found %s", m.Class, tok)
				}
				key := tok.text
				if _, err = lx.expect(tPunct, "="); err != nil {
					return nil, err
				}
				if tok, err = lx.next(); err != nil {
					return nil, err
				}
				if tok.kind != tWord && tok.kind != tQuoted {
					return nil, lx.errorf(tok, "expected the value of option %s, found %s", key, tok)
				}
				if strings.Contains(tok.text, "${") {
					return nil, lx.errorf(tok, "option %s: ${property} expansion is not supported by paddock", key)
				}
				m.Options[key] = tok.text // a repeated key: the last wins, as in the JDK's HashMap
			}
			mods = append(mods, m)
		}
		if _, err = lx.expect(tPunct, ";"); err != nil {
			return nil, err
		}
		if _, dup := j.Sections[app]; dup {
			return nil, &Error{File: name, Line: line, Msg: fmt.Sprintf("login entry %s is given twice", app)}
		}
		j.Sections[app] = mods
		tok, err = lx.next()
	}
	if err != nil {
		return nil, err
	}
	return j, nil
}

type tokKind int

const (
	tEOF tokKind = iota
	tWord
	tQuoted
	tPunct
	tNumber
)

type jaasTok struct {
	kind tokKind
	text string
	line int
}

func (t jaasTok) is(p string) bool { return t.kind == tPunct && t.text == p }

func (t jaasTok) String() string {
	switch t.kind {
	case tEOF:
		return "the end of the file"
	case tNumber:
		return fmt.Sprintf("the number %s (quote it)", t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

type jaasLexer struct {
	src  string
	pos  int
	line int
	file string
}

func (lx *jaasLexer) errorf(t jaasTok, format string, args ...any) error {
	return &Error{File: lx.file, Line: t.line, Msg: fmt.Sprintf(format, args...)}
}

func (lx *jaasLexer) expect(kind tokKind, text string) (jaasTok, error) {
	t, err := lx.next()
	if err != nil {
		return t, err
	}
	if t.kind != kind || t.text != text {
		return t, lx.errorf(t, "expected %q, found %s", text, t)
	}
	return t, nil
}

func isJAASWordStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0xa0 || c == '$' || c == '_' || c == '-' || c == '*'
}

func isJAASWord(c byte) bool { return isJAASWordStart(c) || c >= '0' && c <= '9' || c == '.' }

func (lx *jaasLexer) next() (jaasTok, error) {
	for lx.pos < len(lx.src) {
		c := lx.src[lx.pos]
		switch {
		case c == '\n':
			lx.line++
			lx.pos++
		case c <= ' ':
			lx.pos++
		case c == '/' && strings.HasPrefix(lx.src[lx.pos:], "/*"):
			end := strings.Index(lx.src[lx.pos+2:], "*/")
			if end < 0 {
				return jaasTok{}, &Error{File: lx.file, Line: lx.line, Msg: "unterminated /* comment"}
			}
			lx.line += strings.Count(lx.src[lx.pos:lx.pos+2+end], "\n")
			lx.pos += 2 + end + 2
		case c == '/':
			for lx.pos < len(lx.src) && lx.src[lx.pos] != '\n' {
				lx.pos++
			}
		case c == '"' || c == '\'':
			return lx.quoted(c)
		case isJAASWordStart(c) && c != '-':
			start := lx.pos
			for lx.pos < len(lx.src) && isJAASWord(lx.src[lx.pos]) {
				lx.pos++
			}
			return jaasTok{kind: tWord, text: lx.src[start:lx.pos], line: lx.line}, nil
		case c >= '0' && c <= '9' || c == '.' || c == '-':
			start := lx.pos
			for lx.pos < len(lx.src) && isJAASWord(lx.src[lx.pos]) {
				lx.pos++
			}
			return jaasTok{kind: tNumber, text: lx.src[start:lx.pos], line: lx.line}, nil
		default:
			lx.pos++
			return jaasTok{kind: tPunct, text: string(c), line: lx.line}, nil
		}
	}
	return jaasTok{kind: tEOF, line: lx.line}, nil
}

// quoted reads a string quoted by q; a single-quoted one is refused, as
// the JDK's parser refuses it.
func (lx *jaasLexer) quoted(q byte) (jaasTok, error) {
	line := lx.line
	lx.pos++
	var b strings.Builder
	for lx.pos < len(lx.src) {
		c := lx.src[lx.pos]
		lx.pos++
		switch c {
		case q:
			if q == '\'' {
				return jaasTok{}, &Error{File: lx.file, Line: line, Msg: "single-quoted strings are not allowed; use double quotes"}
			}
			return jaasTok{kind: tQuoted, text: b.String(), line: line}, nil
		case '\n':
			return jaasTok{}, &Error{File: lx.file, Line: line, Msg: "unterminated quoted string"}
		case '\\':
			if lx.pos == len(lx.src) {
				break
			}
			e := lx.src[lx.pos]
			lx.pos++
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'a':
				b.WriteByte(7)
			case 'v':
				b.WriteByte(11)
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return jaasTok{}, &Error{File: lx.file, Line: line, Msg: "unterminated quoted string"}
}

// The login modules of a ZooKeeper server's section.
const (
	DigestLoginModule = "org.apache.zookeeper.server.auth.DigestLoginModule"
	krb5LoginModule   = "com.sun.security.auth.module.Krb5LoginModule"
)

// DigestUsers returns the DIGEST-MD5 users (user_NAME="password") of
// section, as SaslServerCallbackHandler collects them; ok is false when
// the file has no such section. A module other than DigestLoginModule is
// an error (paddock reads a section with a Krb5LoginModule through
// krb5Login instead).
func (j *JAAS) DigestUsers(section string) (users map[string]string, ok bool, err error) {
	mods, ok, err := j.digestModules(section)
	if !ok || err != nil {
		return nil, ok, err
	}
	users = map[string]string{}
	for _, m := range mods {
		for k, v := range m.Options {
			if name, ok := strings.CutPrefix(k, "user_"); ok {
				users[name] = v
			}
		}
	}
	return users, true, nil
}

// DigestCredentials returns the username and password options of
// section's DigestLoginModule: the credentials of the side that logs in
// (ZooKeeper's QuorumLearner section, as its DigestLoginModule takes
// them); ok is false when the file has no such section. line is the
// module's, for errors; a section with a module other than
// DigestLoginModule is an error, as in DigestUsers.
func (j *JAAS) DigestCredentials(section string) (user, password string, line int, ok bool, err error) {
	mods, ok, err := j.digestModules(section)
	if !ok || err != nil {
		return "", "", 0, ok, err
	}
	for _, m := range mods {
		u, hasUser := m.Options["username"]
		pw, hasPassword := m.Options["password"]
		if hasUser || hasPassword {
			return u, pw, m.Line, true, nil
		}
		line = m.Line
	}
	return "", "", line, true, nil
}

// digestModules returns section's login modules, all DigestLoginModule.
func (j *JAAS) digestModules(section string) ([]JAASModule, bool, error) {
	mods, ok := j.Sections[section]
	if !ok {
		return nil, false, nil
	}
	for _, m := range mods {
		switch m.Class {
		case DigestLoginModule:
		case krb5LoginModule:
			return nil, true, &Error{File: j.File, Line: m.Line, Msg: fmt.Sprintf("section %s: %s (SASL GSSAPI, Kerberos) where DIGEST-MD5 credentials are read", section, m.Class)}
		default:
			return nil, true, &Error{File: j.File, Line: m.Line, Msg: fmt.Sprintf("section %s: unknown login module %s (paddock knows %s)", section, m.Class, DigestLoginModule)}
		}
	}
	return mods, true, nil
}
