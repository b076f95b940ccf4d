package faults

import (
	"os"
	"testing"
)

// Some tests run this test binary again as a child process in a role
// (childEnv) and kill it: the child's main is children[role].
const childEnv = "PADDOCK_FAULTS_TEST_CHILD"

var children = map[string]func(){}

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		main, ok := children[role]
		if !ok {
			os.Stderr.WriteString("no child role " + role + "\n")
			os.Exit(3)
		}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}
