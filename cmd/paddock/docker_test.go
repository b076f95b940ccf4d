package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// dockerCmd runs docker with args and returns its standard output.
func dockerCmd(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// containerLogs returns what the container wrote (paddock logs to
// standard error, which docker logs passes on as its own).
func containerLogs(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("docker", "logs", name).CombinedOutput()
	if err != nil {
		t.Fatalf("docker logs %s: %v\n%s", name, err, out)
	}
	return string(out)
}

// container is one `docker run` of the test image.
type container struct {
	name, addr, hostname string
}

// runContainer starts the image on the volume, waits until paddock serves
// and returns where.
func runContainer(t *testing.T, image, volume, name string) container {
	t.Helper()
	dockerCmd(t, "run", "-d", "--name", name, "-v", volume+":/data", "-p", "127.0.0.1::2181", image)
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", name).Run() })

	logs := exec.Command("docker", "logs", "--follow", name)
	pipe, err := logs.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs.Stderr = logs.Stdout // paddock logs to standard error
	if err := logs.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() { // ends when docker logs exits
		sc := bufio.NewScanner(pipe)
		found := false
		for sc.Scan() {
			if !found && servingAddr.MatchString(sc.Text()) {
				found = true
				ready <- true
			}
		}
		if !found {
			ready <- false
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			_ = logs.Wait()
			t.Fatalf("container %s stopped before serving:\n%s", name, containerLogs(t, name))
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("container %s did not serve within 60s", name)
	}
	_ = logs.Process.Kill()
	_ = logs.Wait()

	port := strings.Fields(dockerCmd(t, "port", name, "2181/tcp"))
	if len(port) == 0 {
		t.Fatalf("container %s publishes no port", name)
	}
	return container{name: name, addr: port[0], hostname: dockerCmd(t, "inspect", "-f", "{{.Config.Hostname}}", name)}
}

// TestContainerRecreatedOnSameVolume runs paddock in a FROM scratch image
// on a Docker volume, removes the container and creates a new one on the
// same volume, as `docker compose up --force-recreate` does: the new
// container has another hostname and serves the same data, zxid and
// session.
func TestContainerRecreatedOnSameVolume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an image and runs containers")
	}
	if out, err := exec.Command("docker", "info").CombinedOutput(); err != nil {
		t.Skipf("docker info failed (%v), so there is no Docker engine to re-create a container on: not run\n%s", err, out)
	}
	var r [6]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatal(err)
	}
	name := "paddock-test-" + hex.EncodeToString(r[:])

	buildDir := t.TempDir()
	bin := buildPaddock(t)
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(buildDir, "paddock"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	dockerfile := "FROM scratch\nCOPY paddock /paddock\n" +
		`ENTRYPOINT ["/paddock", "serve", "--data-dir", "/data", "--client-addr", "0.0.0.0:2181"]` + "\n"
	if err := os.WriteFile(filepath.Join(buildDir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	dockerCmd(t, "build", "-q", "-t", name, buildDir)
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", name).Run() })
	dockerCmd(t, "volume", "create", name)
	t.Cleanup(func() { _ = exec.Command("docker", "volume", "rm", "-f", name).Run() })

	first := runContainer(t, name, name, name+"-1")
	c := dialMoving(t, first.addr)
	sid := c.SessionID()
	acl := zk.WorldACL(zk.PermAll)
	for _, p := range []string{"/svc", "/svc/a", "/svc/b"} {
		if _, err := c.Create(p, []byte("data of "+p), 0, acl); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Create("/svc/lock-", nil, zk.FlagEphemeral|zk.FlagSequence, acl); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Set("/svc/a", []byte("changed"), 0); err != nil {
		t.Fatal(err)
	}
	want := walk(t, c.Conn)
	lastZxid := srvrZxid(t, first.addr)
	dockerCmd(t, "stop", "-t", "30", first.name)
	dockerCmd(t, "rm", first.name)

	second := runContainer(t, name, name, name+"-2")
	if second.hostname == first.hostname {
		t.Fatalf("both containers are named %s: the test proves nothing", first.hostname)
	}
	logs := containerLogs(t, second.name)
	if !strings.Contains(logs, "hostname changed since the last start") || !strings.Contains(logs, "was="+first.hostname) {
		t.Errorf("no log line for the hostname change %s -> %s:\n%s", first.hostname, second.hostname, logs)
	}
	if z := srvrZxid(t, second.addr); z != lastZxid {
		t.Errorf("last zxid in the new container 0x%x, in the old 0x%x", z, lastZxid)
	}
	if got := c.moveTo(t, second.addr); got != sid || c.expired.Load() {
		t.Fatalf("session 0x%x came back as 0x%x (expired: %v)", sid, got, c.expired.Load())
	}
	compareTrees(t, walk(t, c.Conn), want)
	c.Close()
	dockerCmd(t, "stop", "-t", "30", second.name)
}
