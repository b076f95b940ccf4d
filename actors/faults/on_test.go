//go:build faults

package faults

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/lni/dragonboat/v4/config"
)

// The crash points, with the faults build tag: a child process (this test
// binary again) arms one and reaches it; it must die by SIGKILL at the
// armed hit and not before.

func init() { children["crash"] = crashChild }

// crashChild starts the layer from $PADDOCK_FAULTS and reaches apply-after
// three times, saying so after each.
func crashChild() {
	root := os.Getenv(EnvVar)
	nhc := config.NodeHostConfig{NodeHostDir: filepath.Join(root, "nh"), WALDir: filepath.Join(root, "wal")}
	on, err := Setup(&nhc)
	if err != nil || !on || nhc.Expert.FS == nil || nhc.Expert.LogDBFactory == nil {
		os.Stderr.WriteString("setup failed\n")
		os.Exit(3)
	}
	for i := 1; i <= 3; i++ {
		Hit(ApplyBefore) // not armed
		Hit(ApplyAfter)
		os.Stderr.WriteString("survived hit " + string(rune('0'+i)) + "\n")
	}
	os.Exit(0)
}

func runChild(t *testing.T, control string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	if control != "" {
		writeControl(t, dir, control)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=crash", EnvVar+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	return stderr.String(), err
}

func TestCrashPointKillsAtTheArmedHit(t *testing.T) {
	out, err := runChild(t, "crash=apply-after:2\n")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child: %v, want death by SIGKILL; stderr:\n%s", err, out)
	}
	if !strings.Contains(out, "survived hit 1") || strings.Contains(out, "survived hit 2") ||
		!strings.Contains(out, "crash point apply-after reached (hit 2)") {
		t.Fatalf("want the kill at the second hit, after one line naming it; stderr:\n%s", out)
	}
}

func TestNoCrashWhenNotArmed(t *testing.T) {
	out, err := runChild(t, "")
	if err != nil || !strings.Contains(out, "survived hit 3") {
		t.Fatalf("child without a crash armed: %v; stderr:\n%s", err, out)
	}
}

func TestSetupOffWithoutEnv(t *testing.T) {
	t.Setenv(EnvVar, "")
	var nhc config.NodeHostConfig
	if on, err := Setup(&nhc); on || err != nil || nhc.Expert.FS != nil || nhc.Expert.LogDBFactory != nil {
		t.Fatalf("Setup without $%s: %v %v %+v; want nothing changed", EnvVar, on, err, nhc.Expert)
	}
}

func TestSetupRefusesABadControlFile(t *testing.T) {
	dir := t.TempDir()
	writeControl(t, dir, "crash=nowhere\n")
	t.Setenv(EnvVar, dir)
	nhc := config.NodeHostConfig{NodeHostDir: filepath.Join(dir, "nh"), WALDir: filepath.Join(dir, "wal")}
	if _, err := Setup(&nhc); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("Setup with a bad control file: %v, want the line named", err)
	}
}
