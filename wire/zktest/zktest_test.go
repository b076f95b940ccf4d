package zktest

import (
	"strings"
	"testing"
)

func TestStartRestart(t *testing.T) {
	s := Start(t)
	out, err := s.FourLetter("srvr")
	if err != nil || !strings.Contains(out, "Mode: standalone") {
		t.Fatalf("srvr = %q, %v", out, err)
	}
	s.Restart()
	if out, err := s.FourLetter("ruok"); err != nil || out != "imok" {
		t.Fatalf("ruok after restart = %q, %v", out, err)
	}
}
