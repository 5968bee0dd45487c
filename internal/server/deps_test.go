package server

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/tessera-iam/tessera/"

// domainOrder is DESIGN.md's order: a domain may import only those before it.
var domainOrder = []string{"audit", "tenant", "keys", "apitoken", "user", "group", "access", "session", "grant"}

// leaves are small shared packages any layer may import.
var leaves = []string{"errkind", "id", "page", "idempotency"}

// adapters sit on top of the domains and never import store or each other.
var adapters = []string{"api", "console", "login", "oidcop", "samlidp"}

type pkg struct {
	ImportPath string
	Dir        string
	Imports    []string
	Deps       []string
	GoFiles    []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", "github.com/tessera-iam/tessera/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []pkg
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// rel names an internal package by its path under internal/ ("user/password"),
// or the module-relative path for others ("cmd/tessera").
func rel(path string) string {
	return strings.TrimPrefix(strings.TrimPrefix(path, module), "internal/")
}

// domainOf returns the domain a package belongs to ("user" for
// "user/password"), or "" when it is not a domain package.
func domainOf(r string) string {
	top, _, _ := strings.Cut(r, "/")
	if slices.Contains(domainOrder, top) {
		return top
	}
	return ""
}

func TestDependencyRules(t *testing.T) {
	for _, p := range listPackages(t) {
		me := rel(p.ImportPath)
		var internal []string
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, module) {
				internal = append(internal, rel(imp))
			}
		}
		var allowed func(imp string) bool
		switch {
		case slices.Contains(leaves, me):
			allowed = func(imp string) bool { return imp == "errkind" }
		case domainOf(me) != "":
			rank := slices.Index(domainOrder, domainOf(me))
			allowed = func(imp string) bool {
				d := domainOf(imp)
				return slices.Contains(leaves, imp) || (d != "" && (slices.Index(domainOrder, d) < rank || d == domainOf(me)))
			}
			for _, dep := range p.Deps {
				if slices.Contains([]string{"net/http", "database/sql", "html/template"}, dep) {
					t.Errorf("domain %s depends on %s", me, dep)
				}
			}
		case me == "web", me == "mail":
			allowed = func(imp string) bool { return imp == "errkind" }
		case slices.Contains(adapters, me):
			allowed = func(imp string) bool {
				return slices.Contains(leaves, imp) || domainOf(imp) != "" || imp == "web" || imp == "mail"
			}
		case me == "store":
			allowed = func(imp string) bool { return slices.Contains(leaves, imp) || domainOf(imp) != "" }
		case me == "config":
			allowed = func(string) bool { return false }
		case me == "cmd/tessera":
			allowed = func(imp string) bool {
				return slices.Contains([]string{"server", "config", "apitoken", "tenant", "user"}, imp)
			}
		case me == "server", me == "testkit", strings.HasPrefix(me, "store/"), strings.HasPrefix(me, "bench"), strings.HasPrefix(me, "e2e"):
			continue // composition roots and test support (e2e: test files only) may import anything
		default:
			t.Errorf("package %s has no dependency rule: add it to deps_test.go", me)
			continue
		}
		for _, imp := range internal {
			if !allowed(imp) {
				t.Errorf("%s must not import %s", me, imp)
			}
		}
	}
}

// TestNoGlobalState refuses init functions and slog.SetDefault anywhere.
func TestNoGlobalState(t *testing.T) {
	fset := token.NewFileSet()
	for _, p := range listPackages(t) {
		for _, name := range p.GoFiles {
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.FuncDecl:
					if n.Name.Name == "init" && n.Recv == nil {
						t.Errorf("%s: init function (register explicitly instead)", fset.Position(n.Pos()))
					}
				case *ast.SelectorExpr:
					if x, ok := n.X.(*ast.Ident); ok && x.Name == "slog" && n.Sel.Name == "SetDefault" {
						t.Errorf("%s: slog.SetDefault (pass loggers explicitly)", fset.Position(n.Pos()))
					}
				}
				return true
			})
		}
	}
}
