package faults

import (
	"strings"
	"testing"
)

func TestParseControl(t *testing.T) {
	c, err := ParseControl("# the harness's\nlose-unsynced = true\ncrash=apply-after:3 # third\nenospc=wal,snapshot\neio=all\n")
	if err != nil {
		t.Fatal(err)
	}
	want := Control{LoseUnsynced: true, Crash: ApplyAfter, CrashAt: 3, NoSpace: ClassWAL | ClassSnapshot, SyncEIO: classAll}
	if c != want {
		t.Fatalf("got %+v, want %+v", c, want)
	}
	if c, err := ParseControl("crash=reply\n"); err != nil || c.CrashAt != 1 {
		t.Fatalf("a point without a count: %+v %v, want the first hit", c, err)
	}
	if c, err := ParseControl(""); err != nil || c != (Control{}) {
		t.Fatalf("empty: %+v %v", c, err)
	}
	if got := want.String(); got != "lose-unsynced=true crash=apply-after:3 enospc=wal,snapshot eio=all" {
		t.Fatalf("String: %q", got)
	}
}

func TestParseControlRefusesMalformed(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"crash=nowhere", `line 1: crash: unknown crash point "nowhere"`},
		{"crash=apply-after:0", "positive integer"},
		{"crash=apply-after:x", "positive integer"},
		{"crash=apply-after:-2", "positive integer"},
		{"\nenospc=disk", `line 2: enospc: unknown class "disk"`},
		{"eio=wal,,tape", `unknown class "tape"`},
		{"lose-unsynced=maybe", "lose-unsynced"},
		{"power=off", "unknown key"},
		{"justaword", "want key=value"},
		{"=1", "want key=value"},
		{"eio=wal\neio=all", "eio given twice"},
		{"crash=" + strings.Repeat("x", 5000), "unknown crash point"},
	} {
		if _, err := ParseControl(tc.text); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.40q: %v, want an error with %q", tc.text, err, tc.want)
		}
	}
}

func TestControlFileBadWhileRunningIsIgnored(t *testing.T) {
	l := newLayer(t, false, "enospc=wal\n")
	writeControl(t, l.stat, "enospc=floppy\n")
	// The bad file is read (and ignored) within a recheck; then a good one
	// replaces it and is taken.
	writeControl(t, l.stat, "eio=snapshot\n")
	waitControl(t, l.fs, func(c *Control) bool { return c.SyncEIO == ClassSnapshot && c.NoSpace == 0 })
}

func TestOpenControlRefusesMalformed(t *testing.T) {
	dir := t.TempDir()
	writeControl(t, dir, "crash=everywhere\n")
	if _, err := openControl(dir+"/"+ControlName, t.Logf); err == nil || !strings.Contains(err.Error(), "control: line 1") {
		t.Fatalf("a bad control file at start: %v, want an error naming the file and line", err)
	}
}
