package statemachine

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// ErrInvalidPath is returned by ValidatePath; Apply maps it to
// wire.ErrBadArguments.
var ErrInvalidPath = errors.New("paddock/statemachine: invalid path")

// ValidatePath applies ZooKeeper's PathUtils.validatePath rules: the path
// starts with '/', does not end with '/' (unless it is "/"), has no empty,
// "." or ".." component, and no NUL, control (U+0001–U+001F,
// U+007F–U+009F), surrogate or private-use (U+D800–U+F8FF), or
// U+FFF0–U+FFFF character. Java checks UTF-16 units, so any character
// outside the Basic Multilingual Plane (a surrogate pair in Java) is invalid
// too, and so are bytes that are not UTF-8 (Java decodes them to U+FFFD).
func ValidatePath(path string) error {
	if path == "" || path[0] != '/' {
		return ErrInvalidPath
	}
	if len(path) == 1 {
		return nil
	}
	if path[len(path)-1] == '/' {
		return ErrInvalidPath
	}
	for i := 1; i < len(path); {
		r, size := utf8.DecodeRuneInString(path[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return ErrInvalidPath
		case r == 0:
			return ErrInvalidPath
		case r == '/' && path[i-1] == '/':
			return ErrInvalidPath
		case r <= 0x1f, r >= 0x7f && r <= 0x9f, r >= 0xd800 && r <= 0xf8ff, r >= 0xfff0:
			return ErrInvalidPath
		}
		i += size
	}
	for _, comp := range strings.Split(path[1:], "/") {
		if comp == "." || comp == ".." {
			return ErrInvalidPath
		}
	}
	return nil
}

// splitPath returns ZooKeeper's parent key and child name of path: the text
// before and after the last '/'. The parent of a top-level node is "",
// ZooKeeper's alias of the root, which rootKey maps to "/". ok is false
// when path has no '/'.
func splitPath(path string) (parent, name string, ok bool) {
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return "", "", false
	}
	return rootKey(path[:i]), path[i+1:], true
}

// rootKey maps ZooKeeper's root alias "" to "/".
func rootKey(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// childPath joins a parent path and a child name.
func childPath(parent, name string) string {
	if parent == "/" {
		return "/" + name
	}
	return parent + "/" + name
}

// isSpecialPath reports the nodes ZooKeeper owns and never deletes
// (DataTree.isSpecialPath).
func isSpecialPath(p string) bool {
	return p == "/" || p == procPath || p == quotaPath || p == configPath
}
