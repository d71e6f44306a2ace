package edgeauth

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryTokenErrorHasACode parses the glue package and the token
// package and fails for a token.Error literal without a Code: such an
// error would reach the handler and be logged as detail "other" (the
// verifier's own errors are checked end to end by the metrics package's
// TestTokenErrorDetailsFromTheRealVerifier).
func TestEveryTokenErrorHasACode(t *testing.T) {
	files := map[string]string{} // file → the selector naming token.Error there
	for dir, sel := range map[string]string{".": "token.Error", "token": "Error"} {
		names, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if !strings.HasSuffix(n, "_test.go") {
				files[n] = sel
			}
		}
	}
	literals := 0
	for name, want := range files {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok || typeName(lit.Type) != want {
				return true
			}
			literals++
			for _, e := range lit.Elts {
				if kv, ok := e.(*ast.KeyValueExpr); ok {
					if id, ok := kv.Key.(*ast.Ident); ok && id.Name == "Code" {
						return true
					}
				}
			}
			t.Errorf("%s: a %s without a Code", fset.Position(lit.Pos()), want)
			return true
		})
	}
	if literals < 15 {
		t.Fatalf("found %d token.Error literals; the scan is looking in the wrong place", literals)
	}
}

// typeName spells a composite literal's type as written ("token.Error").
func typeName(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		if id, ok := x.X.(*ast.Ident); ok {
			return id.Name + "." + x.Sel.Name
		}
	}
	return ""
}
