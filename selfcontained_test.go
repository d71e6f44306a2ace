package caddyedgeauth

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestNothingReferencesFilesOutsideTheRepository: a clone has no sibling
// folders, so no file may send a reader to one. The contract is
// docs/CONTRACT.md and the protocol facts are docs/PROTOCOL.md.
func TestNothingReferencesFilesOutsideTheRepository(t *testing.T) {
	out, err := exec.Command("git", "ls-files").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	// Spelled in pieces so that this file does not match itself.
	forbidden := []string{"../" + "shared", "DESIGN" + ".md", "ALIBABA" + ".md", "STYLE" + ".md"}
	files := strings.Fields(string(out))
	if len(files) < 50 {
		t.Fatalf("git ls-files listed only %d files; run the test from the repository", len(files))
	}
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			continue // deleted in the work tree
		}
		for i, line := range strings.Split(string(raw), "\n") {
			for _, f := range forbidden {
				if strings.Contains(line, f) {
					t.Errorf("%s:%d refers to %q, which a clone does not have; point to docs/ instead", name, i+1, f)
				}
			}
		}
	}
}
