package zoocfg

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func envOf(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func writeConf(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestJVMFlagsFromEnvironment(t *testing.T) {
	got, err := JVMFlags(envOf(map[string]string{
		"SERVER_JVMFLAGS": "-Xmx512m -Dzookeeper.extendedTypesEnabled=true\t-Dzookeeper.DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=",
		"JVMFLAGS":        " -XX:+UseG1GC -Dzookeeper.snapCount=10 -Dflag -Da=b=c ",
	}), "")
	if err != nil {
		t.Fatal(err)
	}
	want := []Property{
		{Name: "zookeeper.extendedTypesEnabled", Value: "true", File: "$SERVER_JVMFLAGS"},
		{Name: "zookeeper.DigestAuthenticationProvider.superDigest", Value: "super:D/InIHSb7yEEbrWz8b9l71RjZJU=", File: "$SERVER_JVMFLAGS"},
		{Name: "zookeeper.snapCount", Value: "10", File: "$JVMFLAGS"},
		{Name: "flag", Value: "", File: "$JVMFLAGS"},
		{Name: "a", Value: "b=c", File: "$JVMFLAGS"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("JVMFlags\n got %+v\nwant %+v", got, want)
	}
}

// TestJVMFlagsFromFiles: zookeeper-env.sh then java.env are read as
// zkEnv.sh sources them: assignments replace or extend the environment's
// value, with the shell's quoting and $NAME expansion.
func TestJVMFlagsFromFiles(t *testing.T) {
	dir := writeConf(t, map[string]string{
		"zookeeper-env.sh": "# set by the package\nexport ZOO_LOG_DIR=/var/log/zk\nSERVER_JVMFLAGS=\"$SERVER_JVMFLAGS -Dzookeeper.snapCount=7\"\n",
		"java.env": `#!/bin/sh
# comment
export SERVER_JVMFLAGS="${SERVER_JVMFLAGS} -Djava.security.auth.login.config=$ZOOCFGDIR/jaas.conf" # trailing comment
JVMFLAGS='-Dzookeeper.4lw.commands.whitelist=*'\
' -Dq="x y"'
export JVMFLAGS
SERVER_JVMFLAGS="$SERVER_JVMFLAGS
  -Dzookeeper.extendedTypesEnabled=true"; X=1 Y=$X
JVMFLAGS=$JVMFLAGS\ -Dy=$Y\$
`,
	})
	got, err := JVMFlags(envOf(map[string]string{"SERVER_JVMFLAGS": "-Dzookeeper.maxCnxns=5"}), dir)
	if err != nil {
		t.Fatal(err)
	}
	env := filepath.Join(dir, "java.env")
	want := []Property{
		{Name: "zookeeper.maxCnxns", Value: "5", File: "$SERVER_JVMFLAGS"},
		{Name: "zookeeper.snapCount", Value: "7", File: filepath.Join(dir, "zookeeper-env.sh"), Line: 3},
		{Name: "java.security.auth.login.config", Value: dir + "/jaas.conf", File: env, Line: 3},
		{Name: "zookeeper.extendedTypesEnabled", Value: "true", File: env, Line: 7},
		{Name: "zookeeper.4lw.commands.whitelist", Value: "*", File: env, Line: 4},
		{Name: "q", Value: `"x`, File: env, Line: 4},
		{Name: "y", Value: "1$", File: env, Line: 9},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("JVMFlags\n got %+v\nwant %+v", got, want)
	}
}

// TestJVMFlagsConfDir: $ZOOCFGDIR names the directory when set; java.env
// sees it, and a missing directory or file is no error.
func TestJVMFlagsConfDir(t *testing.T) {
	dir := writeConf(t, map[string]string{"java.env": "SERVER_JVMFLAGS=-Dd=$ZOOCFGDIR\n"})
	got, err := JVMFlags(envOf(map[string]string{"ZOOCFGDIR": "/etc/zk"}), dir)
	if err != nil || len(got) != 1 || got[0].Value != "/etc/zk" {
		t.Errorf("got %+v, %v", got, err)
	}
	got, err = JVMFlags(envOf(nil), filepath.Join(dir, "nope"))
	if err != nil || got != nil {
		t.Errorf("missing dir: %+v, %v", got, err)
	}
}

// TestJVMFlagsMalformed: what paddock cannot read without running the
// file is an error naming the file and line, never skipped.
func TestJVMFlagsMalformed(t *testing.T) {
	tests := []struct{ name, text, want string }{
		{"command", "ulimit -n 65536\n", ":1: paddock reads this file without running it"},
		{"conditional", "X=1\nif [ -n \"$X\" ]; then\n  SERVER_JVMFLAGS=-Da=b\nfi\n", ":2: paddock reads this file without running it"},
		{"sourcing", ". /etc/default/zookeeper\n", ":1: paddock reads this file"},
		{"command substitution", "SERVER_JVMFLAGS=\"-Dh=$(hostname)\"\n", ":1: command substitution ($(…)) is not read"},
		{"backticks", "SERVER_JVMFLAGS=\"-Dh=`hostname`\"\n", ":1: command substitution (`…`) is not read"},
		{"backticks unquoted", "SERVER_JVMFLAGS=`hostname`\n", `:1: '` + "`" + `': pipes`},
		{"pipe", "X=1 | cat\n", `:1: '|': pipes`},
		{"and", "X=1 && Y=2\n", `:1: '&': pipes`},
		{"default expansion", "SERVER_JVMFLAGS=${X:--Da=b}\n", ":1: only ${NAME} expansions are read"},
		{"special parameter", "SERVER_JVMFLAGS=$1\n", ":1: special parameter $1 is not read"},
		{"unterminated double", "\nSERVER_JVMFLAGS=\"-Da=b\n", `:2: unterminated " quote`},
		{"unterminated single", "SERVER_JVMFLAGS='-Da=b\n", ":1: unterminated ' quote"},
		{"assignment before a command", "SERVER_JVMFLAGS=-Da=b java -version\n", ":1: paddock reads this file"},
		{"empty -D", "SERVER_JVMFLAGS='-Da=b -D'\n", ":1: -D: a -D flag needs a property name"},
		{"-D=value", "JVMFLAGS=-D=x\n", ":1: -D=x: a -D flag needs a property name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeConf(t, map[string]string{"java.env": tt.text})
			_, err := JVMFlags(envOf(nil), dir)
			want := filepath.Join(dir, "java.env") + tt.want
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %v, want prefix %q", err, want)
			}
		})
	}
	if _, err := JVMFlags(envOf(map[string]string{"SERVER_JVMFLAGS": "-D"}), ""); err == nil ||
		!strings.HasPrefix(err.Error(), "$SERVER_JVMFLAGS: -D: a -D flag needs a property name") {
		t.Errorf("empty -D in the environment: %v", err)
	}
	// Too large, and unreadable.
	dir := writeConf(t, map[string]string{"java.env": strings.Repeat("#", maxEnvFileSize+1)})
	if _, err := JVMFlags(envOf(nil), dir); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("large java.env: %v", err)
	}
	dir = t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "java.env"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := JVMFlags(envOf(nil), dir); err == nil {
		t.Error("a java.env that cannot be read was skipped")
	}
}

// FuzzJVMFlagsFile: any java.env either reads or fails with an *Error
// naming the file; it never panics or hangs.
func FuzzJVMFlagsFile(f *testing.F) {
	for _, s := range []string{
		"export SERVER_JVMFLAGS=\"$SERVER_JVMFLAGS -Da=b\"\n",
		"JVMFLAGS='-Dx=1'\\\n' -Dy=2'; X=${JVMFLAGS}\n",
		"A=\"unterminated\n", "B=$(x)", "C=`x`", "D=${E:-f}", "# c\n\n\t\n",
		"export A B=1 'C'=2\n", "X=\\$\\\"$\n", "Y=\"a\\\nb\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		if len(data) > 1<<16 {
			return
		}
		sh := &shellVars{vars: map[string][]segment{}, getenv: func(string) string { return "" }}
		err := sh.source("java.env", data)
		var e *Error
		if err != nil && (!errors.As(err, &e) || e.File != "java.env" || e.Line < 1) {
			t.Fatalf("source(%q) = %v, want an *Error naming java.env and a line", data, err)
		}
	})
}
