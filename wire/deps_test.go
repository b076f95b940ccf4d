package wire_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies enforces DESIGN.md's rule for wire: it imports only the
// standard library. wire/zktest, the test harness, and wire/sasl are held to the same rule.
func TestDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	const mod = "github.com/paddockdb/paddock/"
	allowed := map[string]bool{mod + "wire": true, mod + "wire/zktest": true, mod + "wire/sasl": true}
	for _, pkg := range []string{"./", "./zktest", "./sasl"} {
		out, err := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if !allowed[dep] {
				t.Errorf("%s imports %s: wire must use only the standard library", pkg, dep)
			}
		}
	}
}
