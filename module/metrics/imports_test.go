package metrics

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestMetricsDoesNotImportTheEngines: the collectors take their label
// values from module/decision; mapping engine errors (token, sts) to
// decisions is decision's job, so this package never imports them.
func TestMetricsDoesNotImportTheEngines(t *testing.T) {
	forbidden := []string{
		"github.com/edgeauth/caddy-edgeauth/module/token",
		"github.com/edgeauth/caddy-edgeauth/module/sts",
	}
	names, err := filepath.Glob("*.go")
	if err != nil || len(names) == 0 {
		t.Fatalf("no Go files here (%v)", err)
	}
	sawDecision := false
	for _, name := range names {
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, bad := range forbidden {
				if path == bad || strings.HasPrefix(path, bad+"/") {
					t.Errorf("%s imports %s; map the error in module/decision instead", name, path)
				}
			}
			sawDecision = sawDecision || path == "github.com/edgeauth/caddy-edgeauth/module/decision"
		}
	}
	if !sawDecision {
		t.Error("no file imports module/decision; the scan is looking in the wrong place")
	}
}
