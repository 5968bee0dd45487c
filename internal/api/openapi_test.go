package api_test

// The OpenAPI suite keeps openapi.json equal to the code: the routes Routes
// registers, the handlers, roles and conventions routes.go and the handlers
// use, and the JSON the server really answers. Every name in this file starts
// with "oas" so that the suites sharing package api_test cannot collide.

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"mime"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tessera-iam/tessera/internal/access"
	"github.com/tessera-iam/tessera/internal/api"
	"github.com/tessera-iam/tessera/internal/apitoken"
	"github.com/tessera-iam/tessera/internal/config"
	"github.com/tessera-iam/tessera/internal/group"
	"github.com/tessera-iam/tessera/internal/keys"
	"github.com/tessera-iam/tessera/internal/page"
	"github.com/tessera-iam/tessera/internal/session"
	"github.com/tessera-iam/tessera/internal/tenant"
	"github.com/tessera-iam/tessera/internal/testkit"
	"github.com/tessera-iam/tessera/internal/user"
	"github.com/tessera-iam/tessera/internal/user/password"
)

// ---------------------------------------------------------------- the document

type oasDoc struct {
	raw  []byte
	root map[string]any
}

func oasLoad(t *testing.T) *oasDoc {
	t.Helper()
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(raw, &root); err != nil {
		t.Fatalf("openapi.json is not a JSON object: %v", err)
	}
	return &oasDoc{raw: raw, root: root}
}

func oasObj(v any) map[string]any { m, _ := v.(map[string]any); return m }

func oasSortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// pointer resolves a local JSON pointer reference such as "#/components/schemas/User".
func (d *oasDoc) pointer(ref string) (any, error) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("%q: only local references are allowed", ref)
	}
	var cur any = d.root
	for _, tok := range strings.Split(rest, "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%q does not resolve", ref)
		}
		if cur, ok = m[tok]; !ok {
			return nil, fmt.Errorf("%q does not resolve", ref)
		}
	}
	return cur, nil
}

// deref follows $ref until it reaches an object without one.
func (d *oasDoc) deref(v any) (map[string]any, error) {
	for range 32 {
		m := oasObj(v)
		ref, ok := m["$ref"].(string)
		if !ok {
			return m, nil
		}
		var err error
		if v, err = d.pointer(ref); err != nil {
			return nil, err
		}
	}
	return nil, errors.New("reference cycle")
}

func (d *oasDoc) mustDeref(t *testing.T, v any) map[string]any {
	t.Helper()
	m, err := d.deref(v)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type oasOp struct {
	method string // upper case, as in a ServeMux pattern
	path   string
	id     string
	op     map[string]any
}

var oasMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func (d *oasDoc) operations() []oasOp {
	var ops []oasOp
	paths := oasObj(d.root["paths"])
	for _, p := range oasSortedKeys(paths) {
		item := oasObj(paths[p])
		for _, m := range oasMethods {
			if o := oasObj(item[m]); o != nil {
				id, _ := o["operationId"].(string)
				ops = append(ops, oasOp{method: strings.ToUpper(m), path: p, id: id, op: o})
			}
		}
	}
	return ops
}

func (d *oasDoc) byID(id string) (oasOp, bool) {
	for _, o := range d.operations() {
		if o.id == id {
			return o, true
		}
	}
	return oasOp{}, false
}

// params returns the operation's parameters (and its path item's), resolved.
func (d *oasDoc) params(t *testing.T, o oasOp) []map[string]any {
	t.Helper()
	var out []map[string]any
	item := oasObj(oasObj(d.root["paths"])[o.path])
	for _, list := range []any{item["parameters"], o.op["parameters"]} {
		ps, _ := list.([]any)
		for _, p := range ps {
			out = append(out, d.mustDeref(t, p))
		}
	}
	return out
}

func (d *oasDoc) paramNames(t *testing.T, o oasOp, in string) []string {
	var names []string
	for _, p := range d.params(t, o) {
		if p["in"] == in {
			names = append(names, p["name"].(string))
		}
	}
	sort.Strings(names)
	return names
}

// responses returns the operation's responses by status, resolved.
func (d *oasDoc) responses(t *testing.T, o oasOp) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for code, r := range oasObj(o.op["responses"]) {
		out[code] = d.mustDeref(t, r)
	}
	return out
}

func oasHeaderNames(resp map[string]any) []string {
	var hs []string
	for h := range oasObj(resp["headers"]) {
		hs = append(hs, http.CanonicalHeaderKey(h))
	}
	sort.Strings(hs)
	return hs
}

// oasTemplateMatches reports whether a request path fits an OpenAPI path template.
func oasTemplateMatches(template, path string) bool {
	ts, ps := strings.Split(template, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return false
	}
	for i := range ts {
		if strings.HasPrefix(ts[i], "{") && strings.HasSuffix(ts[i], "}") {
			if ps[i] == "" {
				return false
			}
		} else if ts[i] != ps[i] {
			return false
		}
	}
	return true
}

var oasTemplateVar = regexp.MustCompile(`\{([^}]+)\}`)

// ---------------------------------------------------------------- the shape checker

// check appends to errs every way v does not fit schema. It reads the subset of
// JSON Schema 2020-12 the document uses ($ref, type and type arrays, enum,
// properties, required, additionalProperties, items, anyOf, allOf, not,
// pattern, format date-time) and refuses keywords it does not read, so a
// schema cannot silently pass unchecked. An object schema that does not say
// additionalProperties is closed: every member must be declared.
func (d *oasDoc) check(at string, schema, v any, errs *[]string) {
	fail := func(format string, args ...any) { *errs = append(*errs, at+": "+fmt.Sprintf(format, args...)) }
	if b, ok := schema.(bool); ok {
		if !b {
			fail("no value is allowed here")
		}
		return
	}
	s, err := d.deref(schema)
	if err != nil || s == nil {
		fail("bad schema %v: %v", schema, err)
		return
	}
	for _, k := range []string{"oneOf", "if", "dependentSchemas", "dependentRequired", "patternProperties",
		"unevaluatedProperties", "prefixItems", "contains", "const", "$dynamicRef"} {
		if _, ok := s[k]; ok {
			fail("the checker in openapi_test.go does not read %q; extend it", k)
		}
	}
	if branches, ok := s["anyOf"].([]any); ok {
		fits := slices.ContainsFunc(branches, func(b any) bool {
			var e []string
			d.check(at, b, v, &e)
			return len(e) == 0
		})
		if !fits {
			fail("fits no anyOf branch")
		}
	}
	if all, ok := s["allOf"].([]any); ok {
		for _, b := range all {
			d.check(at, b, v, errs)
		}
	}
	if not, ok := s["not"]; ok {
		var e []string
		d.check(at, not, v, &e)
		if len(e) == 0 {
			fail("matches a schema it must not match")
		}
	}
	kind := oasKind(v)
	types := oasTypes(s)
	if types != nil && !slices.Contains(types, kind) && !(kind == "integer" && slices.Contains(types, "number")) {
		fail("is %s, the document says %s", kind, strings.Join(types, " or "))
		return
	}
	if enum, ok := s["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return reflect.DeepEqual(e, v) }) {
		fail("%v is not one of %v", v, enum)
	}
	switch v := v.(type) {
	case string:
		if s["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
				fail("%q is not an RFC 3339 date-time", v)
			}
		}
		if p, ok := s["pattern"].(string); ok {
			if re, err := regexp.Compile(p); err != nil {
				fail("pattern %q: %v", p, err)
			} else if !re.MatchString(v) {
				fail("%q does not match %s", v, p)
			}
		}
	case []any:
		if items, ok := s["items"]; ok {
			for i, x := range v {
				d.check(fmt.Sprintf("%s[%d]", at, i), items, x, errs)
			}
		}
	case map[string]any:
		props := oasObj(s["properties"])
		closed := props != nil || slices.Contains(types, "object")
		for _, k := range oasSortedKeys(v) {
			if ps, ok := props[k]; ok {
				d.check(at+"."+k, ps, v[k], errs)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case nil:
				if closed {
					fail("member %q is not declared in the document", k)
				}
			case bool:
				if !ap {
					fail("member %q is not declared in the document", k)
				}
			default:
				d.check(at+"."+k, ap, v[k], errs)
			}
		}
		req, _ := s["required"].([]any)
		for _, r := range req {
			if _, ok := v[r.(string)]; !ok {
				fail("required member %q is missing", r)
			}
		}
	}
}

func oasKind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		if v == float64(int64(v)) {
			return "integer"
		}
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func oasTypes(s map[string]any) []string {
	switch ty := s["type"].(type) {
	case string:
		return []string{ty}
	case []any:
		var out []string
		for _, x := range ty {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return nil
}

// ---------------------------------------------------------------- routes and handlers

type oasMux struct{ patterns []string }

func (m *oasMux) Handle(pattern string, _ http.Handler) { m.patterns = append(m.patterns, pattern) }

func oasRegistered() []string {
	var mux oasMux
	(&api.API{}).Routes(&mux)
	return mux.patterns
}

// TestOpenAPIMatchesRoutes: every route Routes registers (but the /api/
// catch-all) has exactly one operation with its method and path, and the
// document has no other operation.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	d := oasLoad(t)
	registered := map[string]bool{}
	for _, p := range oasRegistered() {
		if p == "/api/" {
			continue
		}
		method, path, ok := strings.Cut(p, " ")
		if !ok || !slices.Contains(oasMethods, strings.ToLower(method)) {
			t.Errorf("route %q names no method; every API route but the /api/ catch-all must", p)
			continue
		}
		if registered[p] {
			t.Errorf("route %q is registered twice", p)
		}
		registered[p] = true
		n := 0
		for _, o := range d.operations() {
			if o.method == method && o.path == path {
				n++
			}
		}
		if n != 1 {
			t.Errorf("route %q has %d operations in openapi.json, want 1", p, n)
		}
	}
	for _, o := range d.operations() {
		if !registered[o.method+" "+o.path] {
			t.Errorf("openapi.json has %s %s (%s), which Routes does not register", o.method, o.path, o.id)
		}
	}
	if len(registered) == 0 {
		t.Fatal("Routes registered nothing")
	}
}

// oasDuplicateKeys lists object members that appear twice in the same object,
// which encoding/json would silently merge (a second "get" under one path).
func oasDuplicateKeys(raw []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	var dups []string
	var walk func(path string) error
	walk = func(path string) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				k := kt.(string)
				if seen[k] {
					dups = append(dups, path+"/"+k)
				}
				seen[k] = true
				if err := walk(path + "/" + k); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				if err := walk(path + "/" + strconv.Itoa(i)); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		}
		return nil
	}
	if err := walk(""); err != nil {
		return []string{"unreadable: " + err.Error()}
	}
	return dups
}

// TestOpenAPIDocumentIsWellFormed checks the document on its own: OpenAPI
// 3.1.0, references resolve, ids unique, path parameters match the templates,
// schemas closed and consistent, security as the API has it.
func TestOpenAPIDocumentIsWellFormed(t *testing.T) {
	d := oasLoad(t)
	if dups := oasDuplicateKeys(d.raw); len(dups) > 0 {
		t.Errorf("duplicate JSON members: %v", dups)
	}
	if d.root["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", d.root["openapi"])
	}
	info := oasObj(d.root["info"])
	if info["title"] == nil || info["version"] == nil {
		t.Errorf("info needs a title and a version")
	}

	// Every $ref resolves; every object schema is closed explicitly and
	// requires only members it declares.
	var walk func(at string, v any)
	walk = func(at string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if _, err := d.pointer(ref); err != nil {
					t.Errorf("%s: %v", at, err)
				}
			}
			if props, ok := v["properties"].(map[string]any); ok && !strings.HasSuffix(at, "/properties") {
				if _, ok := v["additionalProperties"]; !ok {
					t.Errorf("%s: object schema must say additionalProperties (false when unknown members are refused)", at)
				}
				req, _ := v["required"].([]any)
				for _, r := range req {
					if _, ok := props[r.(string)]; !ok {
						t.Errorf("%s: requires %q, which it does not declare", at, r)
					}
				}
			}
			for _, k := range oasSortedKeys(v) {
				walk(at+"/"+k, v[k])
			}
		case []any:
			for i, x := range v {
				walk(at+"/"+strconv.Itoa(i), x)
			}
		}
	}
	walk("#", d.root)

	scheme := oasObj(oasObj(oasObj(d.root["components"])["securitySchemes"])["bearer"])
	if scheme["type"] != "http" || scheme["scheme"] != "bearer" {
		t.Errorf("components.securitySchemes.bearer = %v, want an http bearer scheme", scheme)
	}
	if global, _ := json.Marshal(d.root["security"]); string(global) != `[{"bearer":[]}]` {
		t.Errorf("global security = %s, want [{\"bearer\":[]}]", global)
	}

	ids := map[string]string{}
	for _, o := range d.operations() {
		name := o.method + " " + o.path
		switch {
		case o.id == "":
			t.Errorf("%s has no operationId", name)
		case ids[o.id] != "":
			t.Errorf("operationId %s is used by %s and %s", o.id, ids[o.id], name)
		}
		ids[o.id] = name
		if s, _ := o.op["summary"].(string); s == "" {
			t.Errorf("%s has no summary", name)
		}

		// Path parameters: exactly the template's, all required; no parameter twice.
		var want []string
		for _, m := range oasTemplateVar.FindAllStringSubmatch(o.path, -1) {
			want = append(want, m[1])
		}
		sort.Strings(want)
		if got := d.paramNames(t, o, "path"); !slices.Equal(got, want) {
			t.Errorf("%s: path parameters %v, the template has %v", name, got, want)
		}
		seen := map[string]bool{}
		for _, p := range d.params(t, o) {
			key := fmt.Sprint(p["in"], ":", p["name"])
			if seen[key] {
				t.Errorf("%s: parameter %s listed twice", name, key)
			}
			seen[key] = true
			if p["in"] == "path" && p["required"] != true {
				t.Errorf("%s: path parameter %v must be required", name, p["name"])
			}
		}

		// Responses: a success, never 304, Problem for errors.
		success := false
		for code, r := range d.responses(t, o) {
			if code == "304" {
				t.Errorf("%s documents 304; the API never answers it", name)
			}
			if strings.HasPrefix(code, "2") {
				success = true
			}
			if code != "default" && !regexp.MustCompile(`^[1-5][0-9][0-9]$`).MatchString(code) {
				t.Errorf("%s: response key %q is not a status code", name, code)
			}
			if s, _ := r["description"].(string); s == "" {
				t.Errorf("%s: response %s has no description", name, code)
			}
			if code == "default" || code >= "400" {
				pj := oasObj(oasObj(r["content"])["application/problem+json"])
				if ref, _ := pj["schema"].(map[string]any)["$ref"].(string); ref != "#/components/schemas/Problem" {
					t.Errorf("%s: response %s is not an application/problem+json Problem", name, code)
				}
			}
		}
		if !success {
			t.Errorf("%s documents no 2xx answer", name)
		}

		// Bodies: JSON, closed; merge patches in both media types.
		if rb := oasObj(o.op["requestBody"]); rb != nil {
			content := oasObj(d.mustDeref(t, rb)["content"])
			types := oasSortedKeys(content)
			wantTypes := []string{"application/json"}
			switch {
			case o.method == "PATCH":
				wantTypes = []string{"application/json", "application/merge-patch+json"}
			case o.id == "importApplicationSAMLMetadata": // SAML metadata also comes as itself
				wantTypes = []string{"application/json", "application/samlmetadata+xml", "application/xml"}
			}
			if !slices.Equal(types, wantTypes) {
				t.Errorf("%s: request media types %v, want %v", name, types, wantTypes)
			}
			for _, mt := range types {
				s := d.mustDeref(t, oasObj(content[mt])["schema"])
				if strings.HasSuffix(mt, "xml") {
					if s["type"] != "string" {
						t.Errorf("%s: %s request schema must be a string", name, mt)
					}
					continue
				}
				if s["additionalProperties"] != false {
					t.Errorf("%s: %s request schema must say additionalProperties: false (unknown members are refused)", name, mt)
				}
			}
		}
	}

	// The problem schema carries errors[] {field, detail}.
	problem := d.mustDeref(t, map[string]any{"$ref": "#/components/schemas/Problem"})
	var errs []string
	d.check("Problem", problem, map[string]any{"type": "urn:tessera:problem:invalid-request", "title": "Bad Request",
		"status": 400.0, "errors": []any{map[string]any{"field": "name", "detail": "is required"}}}, &errs)
	if len(errs) > 0 {
		t.Errorf("the Problem schema does not describe a problem with errors[]: %v", errs)
	}
}

type oasRoute struct {
	pattern    string
	handler    string
	role       string // minimum role; "" for routes without a token
	idempotent bool
}

// oasParseRoutes reads routes.go: mux.Handle(pattern, h(access, a.handler)),
// h(access, a.idempotent(a.handler)), or web.Chain(e.Handle(handler), ...)
// for routes without a token.
func oasParseRoutes(t *testing.T) []oasRoute {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "routes.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]string{"read": "read-only", "manageUser": "user-manager", "administer": "admin"}
	name := func(e ast.Expr) string {
		switch e := e.(type) {
		case *ast.SelectorExpr:
			return e.Sel.Name
		case *ast.Ident:
			return e.Name
		}
		return ""
	}
	var routes []oasRoute
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) != 2 || name(call.Fun) != "Handle" {
			return true
		}
		lit, ok := call.Args[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		rt := oasRoute{}
		rt.pattern, _ = strconv.Unquote(lit.Value)
		if h, ok := call.Args[1].(*ast.CallExpr); ok && name(h.Fun) == "h" && len(h.Args) == 2 {
			rt.role = roles[name(h.Args[0])]
			fn := h.Args[1]
			if c, ok := fn.(*ast.CallExpr); ok && name(c.Fun) == "idempotent" && len(c.Args) == 1 {
				rt.idempotent, fn = true, c.Args[0]
			}
			rt.handler = name(fn)
		} else {
			ast.Inspect(call.Args[1], func(n ast.Node) bool {
				if c, ok := n.(*ast.CallExpr); ok && name(c.Fun) == "Handle" && len(c.Args) == 1 && rt.handler == "" {
					rt.handler = name(c.Args[0])
				}
				return true
			})
		}
		if rt.handler == "" || (strings.HasPrefix(name(call.Args[1]), "h") && rt.role == "") {
			t.Errorf("routes.go: cannot read the handler of %q; teach oasParseRoutes the new form", rt.pattern)
		}
		routes = append(routes, rt)
		return true
	})
	return routes
}

// oasHandler is what a handler's source shows about its HTTP contract.
type oasHandler struct {
	ifMatch     bool     // reads If-Match
	wide        bool     // refuses organization-scoped tokens (tenantWide, or a service method that does): 403 for any role
	services    []string // the domain service methods it calls, as "Field.Method" (a.Access.AccountsAt: "Access.AccountsAt")
	decodes     bool     // reads a JSON body
	versioned   bool     // answers through writeVersioned (ETag)
	location    bool     // sets Location
	list        bool     // answers through writeList
	knownParams bool     // refuses unknown query parameters
	params      []string // the query parameters it allows
	statuses    []int    // success statuses it writes
}

// oasParseHandlers reads the package's non-test sources for the facts of
// every function.
func oasParseHandlers(t *testing.T) map[string]*oasHandler {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	statuses := map[string]int{"StatusOK": 200, "StatusCreated": 201, "StatusAccepted": 202, "StatusNoContent": 204}
	var parsed []*ast.File
	var pageParams []string
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, f)
		ast.Inspect(f, func(n ast.Node) bool {
			if vs, ok := n.(*ast.ValueSpec); ok && len(vs.Names) == 1 && vs.Names[0].Name == "pageParams" && len(vs.Values) == 1 {
				ast.Inspect(vs.Values[0], func(n ast.Node) bool {
					if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						s, _ := strconv.Unquote(lit.Value)
						pageParams = append(pageParams, s)
					}
					return true
				})
			}
			return true
		})
	}
	if len(pageParams) == 0 {
		t.Fatal("found no pageParams declaration")
	}
	out := map[string]*oasHandler{}
	for _, f := range parsed {
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			h := &oasHandler{}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CallExpr:
					var fn string
					switch f := n.Fun.(type) {
					case *ast.Ident:
						fn = f.Name
					case *ast.SelectorExpr:
						fn = f.Sel.Name
						if field, ok := f.X.(*ast.SelectorExpr); ok {
							if _, ok := field.X.(*ast.Ident); ok {
								h.services = append(h.services, field.Sel.Name+"."+f.Sel.Name)
							}
						}
					}
					switch fn {
					case "ifMatch":
						h.ifMatch = true
					case "tenantWide":
						h.wide = true
					case "DecodeJSON":
						h.decodes = true
					case "writeVersioned":
						h.versioned = true
					case "writeList":
						h.list = true
					case "knownParams":
						h.knownParams = true
						for _, arg := range n.Args[1:] {
							ast.Inspect(arg, func(n ast.Node) bool {
								switch n := n.(type) {
								case *ast.BasicLit:
									if n.Kind == token.STRING {
										s, _ := strconv.Unquote(n.Value)
										h.params = append(h.params, s)
									}
								case *ast.Ident:
									if n.Name == "pageParams" {
										h.params = append(h.params, pageParams...)
									}
								}
								return true
							})
						}
					}
				case *ast.BasicLit:
					if n.Value == `"Location"` {
						h.location = true
					}
				case *ast.SelectorExpr:
					if x, ok := n.X.(*ast.Ident); ok && x.Name == "http" {
						if code, ok := statuses[n.Sel.Name]; ok && !slices.Contains(h.statuses, code) {
							h.statuses = append(h.statuses, code)
						}
					}
				}
				return true
			})
			if len(h.statuses) == 0 {
				h.statuses = []int{200} // writeList, or a plain Write
			}
			sort.Ints(h.statuses)
			sort.Strings(h.params)
			out[fd.Name.Name] = h
		}
	}
	refuses := oasScopeRefusals(t, parsed)
	for _, h := range out {
		if slices.ContainsFunc(h.services, func(s string) bool { return refuses[s] }) {
			h.wide = true
		}
	}
	return out
}

// oasScopeRefusals reads the domain packages behind the API's service fields
// (Access *access.Service, ...) and returns "Field.Method" for every Service
// method that itself refuses its caller with errkind.Denied, directly or
// through a package-level error wrapping it: a refusal of organization-scoped
// tokens whatever their role (access.Service.AccountsAt), so a read route
// calling it answers 403 too. A helper's refusal does not count: a method
// such as Holders calls checkPrincipal only to filter.
func oasScopeRefusals(t *testing.T, apiFiles []*ast.File) map[string]bool {
	t.Helper()
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	module := ""
	for _, line := range strings.Split(string(gomod), "\n") {
		if m, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			module = strings.TrimSpace(m)
		}
	}
	// API struct field -> the directory of its *pkg.Service.
	dirs := map[string]string{}
	for _, f := range apiFiles {
		imports := map[string]string{}
		for _, is := range f.Imports {
			p, _ := strconv.Unquote(is.Path.Value)
			name := p[strings.LastIndex(p, "/")+1:]
			if is.Name != nil {
				name = is.Name.Name
			}
			imports[name] = p
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok || ts.Name.Name != "API" {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return false
			}
			for _, field := range st.Fields.List {
				star, ok := field.Type.(*ast.StarExpr)
				if !ok {
					continue
				}
				sel, ok := star.X.(*ast.SelectorExpr)
				if !ok || sel.Sel.Name != "Service" {
					continue
				}
				pkg, ok := sel.X.(*ast.Ident)
				if !ok {
					continue
				}
				rel, ok := strings.CutPrefix(imports[pkg.Name], module+"/")
				if !ok {
					t.Fatalf("API.%s: %s is not a package of module %s", field.Names[0].Name, pkg.Name, module)
				}
				for _, name := range field.Names {
					dirs[name.Name] = filepath.Join("..", "..", filepath.FromSlash(rel))
				}
			}
			return false
		})
	}
	if len(dirs) == 0 {
		t.Fatal("found no *pkg.Service field in type API; teach oasScopeRefusals the new form")
	}
	isDenied := func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "Denied" {
			return false
		}
		pkg, ok := sel.X.(*ast.Ident)
		return ok && pkg.Name == "errkind"
	}
	refuses := map[string]bool{}
	for field, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("API.%s: no sources in %s (%v)", field, dir, err)
		}
		var parsed []*ast.File
		denied := map[string]bool{} // package-level errors wrapping errkind.Denied
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			parsed = append(parsed, f)
			for _, decl := range f.Decls {
				if gd, ok := decl.(*ast.GenDecl); ok && gd.Tok == token.VAR {
					for _, spec := range gd.Specs {
						vs := spec.(*ast.ValueSpec)
						for i, v := range vs.Values {
							ast.Inspect(v, func(n ast.Node) bool {
								if isDenied(n) && i < len(vs.Names) {
									denied[vs.Names[i].Name] = true
								}
								return true
							})
						}
					}
				}
			}
		}
		for _, f := range parsed {
			for _, decl := range f.Decls {
				fd, ok := decl.(*ast.FuncDecl)
				if !ok || fd.Body == nil || fd.Recv == nil || len(fd.Recv.List) != 1 {
					continue
				}
				star, ok := fd.Recv.List[0].Type.(*ast.StarExpr)
				if !ok {
					continue
				}
				if recv, ok := star.X.(*ast.Ident); !ok || recv.Name != "Service" {
					continue
				}
				ast.Inspect(fd.Body, func(n ast.Node) bool {
					if id, ok := n.(*ast.Ident); (ok && denied[id.Name]) || isDenied(n) {
						refuses[field+"."+fd.Name.Name] = true
					}
					return true
				})
			}
		}
	}
	return refuses
}

// TestOpenAPIMatchesHandlers compares each operation with the code that
// serves it: operationId is the handler's name; the role is the one routes.go
// demands; Idempotency-Key is documented exactly where a.idempotent wraps the
// handler; If-Match, request body, query parameters, success statuses, ETag,
// Location and Link exactly where the handler reads or writes them.
func TestOpenAPIMatchesHandlers(t *testing.T) {
	d := oasLoad(t)
	routes := oasParseRoutes(t)
	var parsed []string
	for _, r := range routes {
		parsed = append(parsed, r.pattern)
	}
	registered := oasRegistered()
	if !slices.Equal(parsed, registered) {
		t.Fatalf("routes.go as parsed registers %v, Routes registers %v; teach oasParseRoutes the new form", parsed, registered)
	}
	handlers := oasParseHandlers(t)
	for _, rt := range routes {
		if rt.pattern == "/api/" {
			continue
		}
		method, path, _ := strings.Cut(rt.pattern, " ")
		var o oasOp
		for _, x := range d.operations() {
			if x.method == method && x.path == path {
				o = x
			}
		}
		if o.op == nil {
			continue // reported by TestOpenAPIMatchesRoutes
		}
		name := rt.pattern
		if o.id != rt.handler {
			t.Errorf("%s: operationId %q, the handler is %s", name, o.id, rt.handler)
		}
		if role, _ := o.op["x-tessera-role"].(string); role != rt.role {
			t.Errorf("%s: x-tessera-role %q, routes.go demands %q", name, role, rt.role)
		}
		if desc, _ := o.op["description"].(string); rt.role != "" && !strings.Contains(desc, "Role: ") {
			t.Errorf("%s: the description does not say which role it needs", name)
		}
		sec, hasSec := o.op["security"].([]any)
		if open := hasSec && len(sec) == 0; open != (rt.role == "") {
			t.Errorf("%s: security override %v, but the route needs a token: %v", name, o.op["security"], rt.role != "")
		}
		headers := d.paramNames(t, o, "header")
		if has := slices.Contains(headers, "Idempotency-Key"); has != rt.idempotent {
			t.Errorf("%s: documents Idempotency-Key %v, wrapped in a.idempotent %v", name, has, rt.idempotent)
		}
		h := handlers[rt.handler]
		if h == nil {
			t.Errorf("%s: no function %s in the package", name, rt.handler)
			continue
		}
		if has := slices.Contains(headers, "If-Match"); has != h.ifMatch {
			t.Errorf("%s: documents If-Match %v, %s reads it %v", name, has, rt.handler, h.ifMatch)
		}
		if has := o.op["requestBody"] != nil; has != h.decodes {
			t.Errorf("%s: documents a request body %v, %s decodes one %v", name, has, rt.handler, h.decodes)
		}
		query := d.paramNames(t, o, "query")
		if !slices.Equal(query, h.params) {
			t.Errorf("%s: documents query parameters %v, %s allows %v", name, query, rt.handler, h.params)
		}
		if len(query) > 0 && !h.knownParams {
			t.Errorf("%s: documents query parameters but %s does not check them with knownParams", name, rt.handler)
		}
		var codes []int
		rs := d.responses(t, o)
		for code, r := range rs {
			n, err := strconv.Atoi(code)
			if err != nil || n >= 300 {
				continue
			}
			codes = append(codes, n)
			hs := oasHeaderNames(r)
			if has := slices.Contains(hs, "Etag"); has != h.versioned {
				t.Errorf("%s %d: documents ETag %v, %s writes one %v", name, n, has, rt.handler, h.versioned)
			}
			if has := slices.Contains(hs, "Location"); has != h.location {
				t.Errorf("%s %d: documents Location %v, %s sets it %v", name, n, has, rt.handler, h.location)
			}
			cursor := slices.Contains(query, "cursor")
			if has := slices.Contains(hs, "Link"); has != cursor || (has && !h.list) {
				t.Errorf("%s %d: documents Link %v; a list with a cursor parameter (here %v) answers through writeList (here %v) with Link",
					name, n, has, cursor, h.list)
			}
			if has := slices.Contains(hs, "Idempotent-Replayed"); has != rt.idempotent {
				t.Errorf("%s %d: documents Idempotent-Replayed %v, idempotent %v", name, n, has, rt.idempotent)
			}
			if (n == 204) != (r["content"] == nil) {
				t.Errorf("%s %d: a 204, and only a 204, has no content", name, n)
			}
		}
		sort.Ints(codes)
		if !slices.Equal(codes, h.statuses) {
			t.Errorf("%s: documents success statuses %v, %s writes %v", name, codes, rt.handler, h.statuses)
		}
		// Error statuses the route's shape implies.
		implied := map[string]bool{
			"401": rt.role != "",
			"403": rt.role == "user-manager" || rt.role == "admin" || h.wide,
			"412": h.ifMatch,
			"413": h.decodes,
			"415": h.decodes,
			"422": rt.idempotent,
		}
		for _, c := range oasSortedKeys(implied) {
			if _, has := rs[c]; has != implied[c] {
				t.Errorf("%s: documents %s %v, want %v", name, c, has, implied[c])
			}
		}
		if _, has := rs["400"]; !has && (h.decodes || h.knownParams || h.ifMatch) {
			t.Errorf("%s: reads a body, query parameters or If-Match but documents no 400", name)
		}
	}
}

// TestOpenAPIMatchesDomainValues compares the document's enums, defaults and
// bounds with the values the domain packages define.
func TestOpenAPIMatchesDomainValues(t *testing.T) {
	d := oasLoad(t)
	strs := func(v any) []string {
		var out []string
		list, _ := v.([]any)
		for _, x := range list {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	same := func(what string, got []string, want ...string) {
		t.Helper()
		if g, w := slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want)); !slices.Equal(g, w) {
			t.Errorf("%s: the document has %v, the code %v", what, got, want)
		}
	}
	prop := func(schema, name string) map[string]any {
		s := d.mustDeref(t, map[string]any{"$ref": "#/components/schemas/" + schema})
		return d.mustDeref(t, oasObj(s["properties"])[name])
	}
	query := func(opID, name string) map[string]any {
		o, ok := d.byID(opID)
		if !ok {
			t.Fatalf("no operation %s", opID)
		}
		for _, p := range d.params(t, o) {
			if p["name"] == name && (p["in"] == "query" || p["in"] == "path") {
				return oasObj(p["schema"])
			}
		}
		t.Fatalf("%s has no parameter %s", opID, name)
		return nil
	}

	for op, sorts := range map[string][]string{"listUsers": user.Sorts, "listGroupMembers": user.Sorts,
		"listGroups": group.Sorts, "listUserGroups": group.Sorts, "listOrganizations": tenant.OrgSorts,
		"listApplications": access.AppSorts, "listBusinessRoles": access.RoleSorts} {
		s := query(op, "sort")
		if !slices.Equal(strs(s["enum"]), sorts) || s["default"] != sorts[0] {
			t.Errorf("%s sort: the document has %v (default %v), the code %v (default first)", op, s["enum"], s["default"], sorts)
		}
		l := query(op, "limit")
		if l["default"] != float64(page.DefaultLimit) || l["maximum"] != float64(page.MaxLimit) || l["minimum"] != 1.0 {
			t.Errorf("%s limit: the document has %v..%v default %v, the code 1..%d default %d", op, l["minimum"],
				l["maximum"], l["default"], page.MaxLimit, page.DefaultLimit)
		}
	}

	var roles []string
	for _, r := range apitoken.Roles {
		roles = append(roles, string(r))
	}
	for _, s := range []string{"Token", "CreatedToken", "TokenCreate"} {
		same(s+".role", strs(prop(s, "role")["enum"]), roles...)
	}
	statuses := []string{string(user.Staged), string(user.Active), string(user.Suspended), string(user.Deactivated)}
	same("User.status", strs(prop("User", "status")["enum"]), statuses...)
	same("listUsers status", strs(query("listUsers", "status")["enum"]), statuses...)
	same("UserCreate.status", strs(prop("UserCreate", "status")["enum"]), string(user.Staged), string(user.Active))
	sources := []string{user.SourceLocal, user.SourceFederation, user.SourceDirectory, user.SourceSCIM}
	same("User.source", strs(prop("User", "source")["enum"]), sources...)
	same("UserCreate.source", strs(prop("UserCreate", "source")["enum"]), sources...)
	for _, v := range strs(query("changeUserLifecycle", "operation")["enum"]) {
		if _, ok := user.ParseOp(v); !ok {
			t.Errorf("lifecycle operation %q is documented but user.ParseOp refuses it", v)
		}
	}
	orgStatuses := []string{tenant.OrgActive, tenant.OrgSuspended}
	for _, s := range []string{"Organization", "OrganizationCreate", "OrganizationPatch"} {
		same(s+".status", strs(prop(s, "status")["enum"]), orgStatuses...)
	}
	same("listOrganizations status", strs(query("listOrganizations", "status")["enum"]), orgStatuses...)
	same("Violation.code", strs(prop("Violation", "code")["enum"]), password.CodeTooShort, password.CodeTooLong,
		password.CodeMissingLowercase, password.CodeMissingUppercase, password.CodeMissingDigit, password.CodeMissingSymbol,
		password.CodeBreached, password.CodeContainsUserInfo, password.CodeReused)
	same("AttributeDef.type", strs(prop("AttributeDef", "type")["enum"]), user.TypeString, user.TypeInteger,
		user.TypeNumber, user.TypeBoolean, user.TypeDate, user.TypeStrings)

	kinds := []string{access.KindSAML, access.KindOIDC, access.KindSCIM, access.KindBookmark, access.KindDelegated}
	for _, s := range []string{"Application", "ApplicationCreate"} {
		same(s+".kind", strs(prop(s, "kind")["enum"]), kinds...)
	}
	same("listApplications kind", strs(query("listApplications", "kind")["enum"]), kinds...)
	for _, s := range []string{"Application", "ApplicationCreate", "ApplicationPatch"} {
		same(s+".status", strs(prop(s, "status")["enum"]), access.AppActive, access.AppInactive)
	}
	same("listApplications status", strs(query("listApplications", "status")["enum"]), access.AppActive, access.AppInactive)
	for _, s := range []string{"Assignment", "AssignmentCreate"} {
		same(s+".principal_type", strs(prop(s, "principal_type")["enum"]), access.PrincipalUser, access.PrincipalGroup,
			access.PrincipalBusinessRole)
	}
	same("Holder.holder_type", strs(prop("Holder", "holder_type")["enum"]), access.PrincipalUser, access.PrincipalGroup)
	for _, op := range []string{"addBusinessRoleHolder", "removeBusinessRoleHolder"} {
		same(op+" holder_type", strs(query(op, "holder_type")["enum"]), access.PrincipalUser, access.PrincipalGroup)
	}
	for _, s := range []string{"Grant", "AccessChange"} {
		same(s+".via", strs(prop(s, "via")["enum"]), access.ViaDirect, access.ViaGroup, access.ViaBusinessRole)
	}

	same("SignInPolicy.mfa", strs(prop("SignInPolicy", "mfa")["enum"]), session.MFAOptional, session.MFARequired)
	for _, s := range []string{"OrganizationSignInPolicy", "ApplicationSignInPolicy"} {
		same(s+".mfa", strs(prop(s, "mfa")["enum"]), "", session.MFAOptional, session.MFARequired)
	}
	same("Factor.kind", strs(prop("Factor", "kind")["enum"]), session.KindTOTP, session.KindWebAuthn)
	for _, s := range []string{"SigningKey", "SigningKeyRotate"} {
		same(s+".purpose", strs(prop(s, "purpose")["enum"]), keys.Purposes...)
		same(s+".algorithm", strs(prop(s, "algorithm")["enum"]), keys.Algorithms...)
	}
	same("SigningKey.state", strs(prop("SigningKey", "state")["enum"]), keys.States...)
	same("listSigningKeys purpose", strs(query("listSigningKeys", "purpose")["enum"]), keys.Purposes...)
	same("listSigningKeys algorithm", strs(query("listSigningKeys", "algorithm")["enum"]), keys.Algorithms...)
	var signInDefaults map[string]any
	b, _ := json.Marshal(session.DefaultPolicy())
	_ = json.Unmarshal(b, &signInDefaults)
	for k, v := range signInDefaults {
		if got := prop("SignInPolicy", k)["default"]; k != "branding" && !reflect.DeepEqual(got, v) {
			t.Errorf("SignInPolicy.%s: the document's default is %v, session.DefaultPolicy has %v", k, got, v)
		}
	}

	def := password.DefaultPolicy()
	var defaults map[string]any
	b, _ = json.Marshal(def)
	_ = json.Unmarshal(b, &defaults)
	for k, v := range defaults {
		if got := prop("PasswordPolicy", k)["default"]; !reflect.DeepEqual(got, v) {
			t.Errorf("PasswordPolicy.%s: the document's default is %v, password.DefaultPolicy has %v", k, got, v)
		}
	}
}

// ---------------------------------------------------------------- over HTTP

type oasRun struct {
	t    *testing.T
	d    *oasDoc
	e    *testkit.Env
	seen map[string][]int // operationId -> statuses answered
}

// do sends one request as operation op, insists on status want, and checks
// the answer (status, media type, body, headers) against the document; for a
// 2xx it also checks the request body against the documented request schema.
func (x *oasRun) do(want int, op, method, path, tok string, body any, header ...string) testkit.Response {
	t := x.t
	t.Helper()
	o, ok := x.d.byID(op)
	if !ok {
		t.Fatalf("no operation %s in the document", op)
	}
	if o.method != method || !oasTemplateMatches(o.path, strings.SplitN(path, "?", 2)[0]) {
		t.Fatalf("%s %s is not operation %s (%s %s)", method, path, op, o.method, o.path)
	}
	r := x.e.Do(t, method, path, tok, body, header...)
	if r.Status != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, r.Status, r.Body, want)
	}
	x.seen[op] = append(x.seen[op], r.Status)
	for _, e := range x.d.checkAnswer(t, o, r) {
		t.Errorf("%s %s → %d: %s", method, path, r.Status, e)
	}
	if want < 300 && body != nil {
		for _, e := range x.d.checkRequest(t, o, body, header) {
			t.Errorf("%s %s request: %s", method, path, e)
		}
	}
	return r
}

func (x *oasRun) id(r testkit.Response) string {
	x.t.Helper()
	id, _ := r.JSON(x.t)["id"].(string)
	if id == "" {
		x.t.Fatalf("answer has no id: %s", r.Body)
	}
	return id
}

// checkAnswer lists every way an answer departs from the operation's documentation.
func (d *oasDoc) checkAnswer(t *testing.T, o oasOp, r testkit.Response) []string {
	t.Helper()
	var errs []string
	resp, ok := d.responses(t, o)[strconv.Itoa(r.Status)]
	if !ok {
		return []string{fmt.Sprintf("status %d is not documented for %s", r.Status, o.id)}
	}
	errs = append(errs, d.checkBody(resp, r)...)
	declared := oasHeaderNames(resp)
	for _, h := range []string{"Etag", "Location", "Link", "Idempotent-Replayed", "Www-Authenticate"} {
		present, decl := r.Header.Get(h) != "", slices.Contains(declared, h)
		if present && !decl {
			errs = append(errs, fmt.Sprintf("sends header %s: %q, which the document does not declare", h, r.Header.Get(h)))
		}
		if decl && !present && h != "Link" && h != "Idempotent-Replayed" {
			errs = append(errs, fmt.Sprintf("the document declares header %s, the answer has none", h))
		}
	}
	// The document says the ETag is the version.
	var body struct {
		Version *int64 `json:"version"`
	}
	if tag := r.Header.Get("ETag"); tag != "" && json.Unmarshal(r.Body, &body) == nil && body.Version != nil &&
		tag != strconv.Quote(strconv.FormatInt(*body.Version, 10)) {
		errs = append(errs, fmt.Sprintf("ETag %s is not the version %d", tag, *body.Version))
	}
	return errs
}

// checkBody checks an answer's media type and JSON body against a response object.
func (d *oasDoc) checkBody(resp map[string]any, r testkit.Response) []string {
	content := oasObj(resp["content"])
	if content == nil {
		if len(bytes.TrimSpace(r.Body)) > 0 {
			return []string{fmt.Sprintf("the document says no content, the answer has %q", r.Body)}
		}
		return nil
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	media := oasObj(content[mt])
	if err != nil || media == nil {
		return []string{fmt.Sprintf("media type %q is not one of %v", r.Header.Get("Content-Type"), oasSortedKeys(content))}
	}
	if mt == "text/csv" {
		return d.checkCSV(media, r.Body)
	}
	if mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return nil // NDJSON, Atom: their own suites read them; the media type is documented
	}
	var v any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		return []string{fmt.Sprintf("body is not JSON: %v", err)}
	}
	var errs []string
	d.check("body", media["schema"], v, &errs)
	return errs
}

// checkCSV checks a text/csv answer: RFC 4180, every row as wide as the
// header, and no cell a spreadsheet would run as a formula (the API prefixes
// those with a quote). A media object may say more with two extensions:
// x-tessera-csv-header, the exact header row, and x-tessera-csv-row, a schema
// every row must fit read as an object keyed by the header, an empty cell as
// null and a quote-prefixed cell without its quote; the row schema must
// declare exactly the header's columns.
func (d *oasDoc) checkCSV(media map[string]any, body []byte) []string {
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll() // equal widths enforced
	if err != nil {
		return []string{fmt.Sprintf("body is not RFC 4180 CSV: %v", err)}
	}
	if len(rows) == 0 {
		return []string{"the CSV has no header row"}
	}
	var errs []string
	header := rows[0]
	if doc, ok := media["x-tessera-csv-header"].([]any); ok {
		want := make([]string, len(doc))
		for i, c := range doc {
			want[i], _ = c.(string)
		}
		if !slices.Equal(header, want) {
			errs = append(errs, fmt.Sprintf("CSV header %v, the document says %v", header, want))
		}
	}
	schema, typed := media["x-tessera-csv-row"]
	if typed {
		s, err := d.deref(schema)
		if err != nil {
			return append(errs, fmt.Sprintf("x-tessera-csv-row: %v", err))
		}
		if cols, props := slices.Sorted(slices.Values(header)), oasSortedKeys(oasObj(s["properties"])); !slices.Equal(cols, props) {
			errs = append(errs, fmt.Sprintf("CSV columns %v, x-tessera-csv-row declares %v", cols, props))
		}
	}
	for i, row := range rows[1:] {
		obj := map[string]any{}
		for j, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				errs = append(errs, fmt.Sprintf("row %d, %s: %q would run as a spreadsheet formula", i+1, header[j], cell))
			}
			if rest, ok := strings.CutPrefix(cell, "'"); ok && rest != "" && strings.ContainsRune("=+-@\t\r", rune(rest[0])) {
				cell = rest
			}
			if cell == "" {
				obj[header[j]] = nil
			} else {
				obj[header[j]] = cell
			}
		}
		if typed {
			d.check(fmt.Sprintf("row %d", i+1), schema, obj, &errs)
		}
	}
	return errs
}

// checkRequest checks a request body the test sends against the documented one.
func (d *oasDoc) checkRequest(t *testing.T, o oasOp, body any, header []string) []string {
	t.Helper()
	rb := oasObj(o.op["requestBody"])
	if rb == nil {
		return []string{"sends a body, the operation documents none"}
	}
	mt := "application/json"
	for i := 0; i+1 < len(header); i += 2 {
		if http.CanonicalHeaderKey(header[i]) == "Content-Type" {
			mt = header[i+1]
		}
	}
	media := oasObj(oasObj(d.mustDeref(t, rb)["content"])[mt])
	if media == nil {
		return []string{fmt.Sprintf("media type %s is not documented", mt)}
	}
	raw, ok := body.(string)
	if !ok {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		raw = string(b)
	}
	var v any = raw // an XML document is checked as the string it is
	if !strings.HasSuffix(mt, "xml") {
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			return []string{"not JSON: " + err.Error()}
		}
	}
	var errs []string
	d.check("body", media["schema"], v, &errs)
	return errs
}

// oasTXT is a DNS stand-in for domain verification.
type oasTXT struct {
	mu      sync.Mutex
	records map[string][]string
}

func (r *oasTXT) LookupTXT(_ context.Context, name string) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.records[name]; ok {
		return v, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (r *oasTXT) set(name, value string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records[name] = []string{value}
}

// TestOpenAPIResponseShapes drives every operation over real HTTP on SQLite
// and checks each answer against the document: the status is documented, the
// body has every required member and no undeclared one (recursively, with
// types, enums and date-times), the headers are the declared ones.
func TestOpenAPIResponseShapes(t *testing.T) {
	d := oasLoad(t)
	e := testkit.NewServer(t, testkit.OpenSQLite(t), func(c *config.Config) { c.MaxBodyBytes = 8 << 10 })
	dns := &oasTXT{records: map[string][]string{}}
	e.Server.Tenants.Resolver = dns
	x := &oasRun{t: t, d: d, e: e, seen: map[string][]int{}}
	admin := e.AdminToken
	const Merge = "application/merge-patch+json"
	const get, post, put, patch, del = http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete
	ct := func(mt string) []string { return []string{"Content-Type", mt} }

	// The document itself, without a token, is the file.
	if r := x.do(200, "serveOpenAPI", get, "/api/v1/openapi.json", "", nil); !bytes.Equal(r.Body, d.raw) {
		t.Errorf("GET /api/v1/openapi.json does not serve openapi.json")
	}

	// Tokens first: the other roles are needed below.
	ro := x.do(201, "createToken", post, "/api/v1/tokens", admin, map[string]any{"name": "reader", "role": "read-only"}).JSON(t)["secret"].(string)
	tokID := x.id(x.do(201, "createToken", post, "/api/v1/tokens", admin, map[string]any{
		"name": "short-lived", "role": "user-manager", "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}))
	x.do(200, "listTokens", get, "/api/v1/tokens", admin, nil)
	x.do(200, "revokeToken", del, "/api/v1/tokens/"+tokID, admin, nil)
	x.do(404, "revokeToken", del, "/api/v1/tokens/tok_missing", admin, nil)
	x.do(403, "listTokens", get, "/api/v1/tokens", ro, nil)
	x.do(401, "listTokens", get, "/api/v1/tokens", "", nil)
	x.do(401, "showTenant", get, "/api/v1/tenant", "tsk_not-a-token", nil)

	// Tenant, password policy, profile schema.
	tag := x.do(200, "showTenant", get, "/api/v1/tenant", ro, nil).Header.Get("ETag")
	x.do(200, "updateTenant", patch, "/api/v1/tenant", admin, map[string]any{"name": "Acme Corp"}, "If-Match", tag, "Content-Type", Merge)
	x.do(412, "updateTenant", patch, "/api/v1/tenant", admin, map[string]any{"name": "Acme"}, "If-Match", tag)
	x.do(400, "updateTenant", patch, "/api/v1/tenant", admin, map[string]any{"name": "Acme"}, "If-Match", "3")
	x.do(415, "updateTenant", patch, "/api/v1/tenant", admin, `name=Acme`, ct("application/x-www-form-urlencoded")...)
	x.do(413, "updateTenant", patch, "/api/v1/tenant", admin, `{"name":"`+strings.Repeat("a", 9<<10)+`"}`)
	x.do(200, "setTenantDomain", put, "/api/v1/tenant/domain", admin, map[string]any{"domain": "login.acme.example"})
	x.do(400, "setTenantDomain", put, "/api/v1/tenant/domain", admin, map[string]any{"domain": "127.0.0.1"})
	x.do(403, "setTenantDomain", put, "/api/v1/tenant/domain", ro, map[string]any{"domain": "x.example"})
	x.do(200, "setTenantDomain", put, "/api/v1/tenant/domain", admin, map[string]any{"domain": nil})
	x.do(200, "showPasswordPolicy", get, "/api/v1/tenant/password-policy", ro, nil)
	policy := map[string]any{"min_length": 10, "max_length": 128, "require_lowercase": false, "require_uppercase": false,
		"require_digit": true, "require_symbol": false, "history_count": 2, "max_age_days": 0, "check_breached": true,
		"disallow_user_info": true}
	x.do(200, "replacePasswordPolicy", put, "/api/v1/tenant/password-policy", admin, policy)
	x.do(400, "replacePasswordPolicy", put, "/api/v1/tenant/password-policy", admin, map[string]any{"min_length": 4, "max_length": 10})
	x.do(403, "replacePasswordPolicy", put, "/api/v1/tenant/password-policy", ro, policy)
	x.do(200, "showProfileSchema", get, "/api/v1/tenant/profile-schema", ro, nil)
	x.do(200, "replaceProfileSchema", put, "/api/v1/tenant/profile-schema", admin, map[string]any{"attributes": []any{
		map[string]any{"name": "employee_number", "type": "string", "required": false, "max_length": 20, "user_editable": true,
			"description": "HR number"},
		map[string]any{"name": "cost_center", "type": "integer"},
		map[string]any{"name": "skills", "type": "string_list", "enum": []string{"go", "sql"}},
		map[string]any{"name": "start_date", "type": "date"},
		map[string]any{"name": "remote", "type": "boolean"},
		map[string]any{"name": "fte", "type": "number"},
	}})
	x.do(200, "showProfileSchema", get, "/api/v1/tenant/profile-schema", ro, nil)
	x.do(400, "replaceProfileSchema", put, "/api/v1/tenant/profile-schema", admin, map[string]any{"attributes": []any{
		map[string]any{"name": "Bad Name", "type": "colour"}}})

	// Organizations, idempotent create, domains.
	acme := map[string]any{"name": "Acme", "external_id": "crm-1", "status": "active", "domains": []string{"acme.example"}}
	r := x.do(201, "createOrganization", post, "/api/v1/organizations", admin, acme, "Idempotency-Key", "org-1")
	org := x.id(r)
	if again := x.do(201, "createOrganization", post, "/api/v1/organizations", admin, acme, "Idempotency-Key", "org-1"); x.id(again) != org ||
		again.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay: %s %v", again.Body, again.Header)
	}
	x.do(422, "createOrganization", post, "/api/v1/organizations", admin, map[string]any{"name": "Other"}, "Idempotency-Key", "org-1")
	org2 := x.id(x.do(201, "createOrganization", post, "/api/v1/organizations", admin, map[string]any{"name": "Beta"}))
	x.do(409, "createOrganization", post, "/api/v1/organizations", admin, map[string]any{"name": "ACME"})
	x.do(403, "createOrganization", post, "/api/v1/organizations", ro, map[string]any{"name": "Gamma"})
	page := x.do(200, "listOrganizations", get, "/api/v1/organizations?limit=1&sort=name&order=asc", ro, nil)
	next, _ := page.JSON(t)["next_cursor"].(string)
	if next == "" || page.Header.Get("Link") == "" {
		t.Fatalf("first page of two organizations has no next cursor or Link: %s", page.Body)
	}
	x.do(200, "listOrganizations", get, "/api/v1/organizations?limit=1&sort=name&cursor="+next, ro, nil)
	x.do(200, "listOrganizations", get, "/api/v1/organizations?status=active&external_id=crm-1&name_prefix=ac", ro, nil)
	x.do(400, "listOrganizations", get, "/api/v1/organizations?stauts=active", ro, nil)
	tag = x.do(200, "showOrganization", get, "/api/v1/organizations/"+org, ro, nil).Header.Get("ETag")
	x.do(404, "showOrganization", get, "/api/v1/organizations/org_missing", ro, nil)
	x.do(200, "updateOrganization", patch, "/api/v1/organizations/"+org, admin,
		`{"name":"Acme Inc","external_id":null}`, "If-Match", tag, "Content-Type", Merge)
	x.do(412, "updateOrganization", patch, "/api/v1/organizations/"+org, admin, map[string]any{"name": "Acme"}, "If-Match", tag)
	x.do(201, "addOrganizationDomain", post, "/api/v1/organizations/"+org+"/domains", admin, map[string]any{"domain": "acme.test"})
	x.do(409, "addOrganizationDomain", post, "/api/v1/organizations/"+org+"/domains", admin, map[string]any{"domain": "acme.test"})
	x.do(400, "verifyOrganizationDomain", post, "/api/v1/organizations/"+org+"/domains/acme.example/verify", admin, nil)
	for _, dom := range x.do(200, "showOrganization", get, "/api/v1/organizations/"+org, ro, nil).JSON(t)["domains"].([]any) {
		rec := oasObj(oasObj(dom)["verification_record"])
		dns.set(rec["name"].(string), rec["value"].(string))
	}
	x.do(200, "verifyOrganizationDomain", post, "/api/v1/organizations/"+org+"/domains/acme.example/verify", admin, nil)
	x.do(200, "removeOrganizationDomain", del, "/api/v1/organizations/"+org+"/domains/acme.test", admin, nil)
	x.do(404, "removeOrganizationDomain", del, "/api/v1/organizations/"+org+"/domains/acme.test", admin, nil)

	// An organization-scoped admin.
	scoped := x.do(201, "createToken", post, "/api/v1/tokens", admin, map[string]any{"name": "acme admin", "role": "admin",
		"organization_id": org}).JSON(t)["secret"].(string)
	x.do(403, "updateTenant", patch, "/api/v1/tenant", scoped, map[string]any{"name": "Mine"})
	if items := x.do(200, "listOrganizations", get, "/api/v1/organizations", scoped, nil).JSON(t)["items"].([]any); len(items) != 1 {
		t.Errorf("an organization-scoped token lists %d organizations, want its own", len(items))
	}

	// Users.
	ada := map[string]any{
		"username": "ada",
		"emails": []any{map[string]any{"value": "ada@acme.example", "primary": true, "verified": true},
			map[string]any{"value": "ada.l@acme.example"}},
		"given_name": "Ada", "family_name": "Lovelace", "display_name": "Ada Lovelace", "phone": "+14155550100",
		"locale": "en-GB", "time_zone": "Europe/London",
		"attributes": map[string]any{"employee_number": "E1", "cost_center": 42, "skills": []string{"go"},
			"start_date": "2026-01-05", "remote": true, "fte": 0.8},
		"external_ids": map[string]any{"crm": "c-1"}, "organization_id": org, "source": "directory", "status": "staged",
		"password": "analytical engine 1843",
	}
	adaID := x.id(x.do(201, "createUser", post, "/api/v1/users", admin, ada, "Idempotency-Key", "user-ada"))
	hash, err := bcrypt.GenerateFromPassword([]byte("imported password 1"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	bobID := x.id(x.do(201, "createUser", post, "/api/v1/users", admin, map[string]any{
		"emails": []any{map[string]any{"value": "bob@example.com"}}, "password_hash": string(hash)}))
	bad := x.do(400, "createUser", post, "/api/v1/users", admin, map[string]any{"username": "x",
		"emails": []any{map[string]any{"value": "not-an-email"}}, "phone": "12345"})
	var problem struct {
		Errors []struct{ Field, Detail string } `json:"errors"`
	}
	bad.Decode(t, &problem)
	if len(problem.Errors) < 2 {
		t.Errorf("an invalid user gave errors %+v, want one per field", problem.Errors)
	}
	x.do(400, "createUser", post, "/api/v1/users", admin, map[string]any{"username": "zed", "nickname": "z"})
	x.do(409, "createUser", post, "/api/v1/users", admin, map[string]any{"username": "ADA"})
	x.do(415, "createUser", post, "/api/v1/users", admin, `{"username":"zed"}`, ct("text/plain")...)
	x.do(401, "createUser", post, "/api/v1/users", "", map[string]any{"username": "zed"})
	x.do(403, "createUser", post, "/api/v1/users", ro, map[string]any{"username": "zed"})
	page = x.do(200, "listUsers", get, "/api/v1/users?limit=1", ro, nil)
	if page.Header.Get("Link") == "" {
		t.Errorf("first page of two users has no Link: %s", page.Body)
	}
	x.do(200, "listUsers", get, "/api/v1/users?status=staged&organization_id="+org+"&email=ADA@acme.example&username_prefix=a"+
		"&updated_since=2000-01-01T00:00:00Z&sort=username&order=desc", ro, nil)
	x.do(400, "listUsers", get, "/api/v1/users?updated_since=yesterday", ro, nil)
	x.do(200, "userExists", get, "/api/v1/users/exists?username=Ada", ro, nil)
	x.do(200, "userExists", get, "/api/v1/users/exists?email=nobody@example.com", ro, nil)
	x.do(400, "userExists", get, "/api/v1/users/exists?username=ada&email=ada@acme.example", ro, nil)
	tag = x.do(200, "showUser", get, "/api/v1/users/"+adaID, ro, nil).Header.Get("ETag")
	x.do(404, "showUser", get, "/api/v1/users/usr_missing", ro, nil)
	tag = x.do(200, "updateUser", patch, "/api/v1/users/"+adaID, admin, map[string]any{"given_name": "Augusta", "phone": nil,
		"attributes": map[string]any{"fte": nil, "remote": false}, "external_ids": map[string]any{"crm": nil, "ldap": "uid=ada"}},
		"If-Match", tag, "Content-Type", Merge).Header.Get("ETag")
	x.do(400, "updateUser", patch, "/api/v1/users/"+adaID, admin, map[string]any{"username": nil})
	x.do(200, "changeUserLifecycle", post, "/api/v1/users/"+adaID+"/lifecycle/activate", admin, nil, "If-Match", tag)
	x.do(409, "changeUserLifecycle", post, "/api/v1/users/"+adaID+"/lifecycle/activate", admin, nil)
	x.do(412, "changeUserLifecycle", post, "/api/v1/users/"+adaID+"/lifecycle/suspend", admin, nil, "If-Match", tag)
	x.do(400, "changeUserLifecycle", post, "/api/v1/users/"+adaID+"/lifecycle/promote", admin, nil)
	x.do(200, "setUserPassword", put, "/api/v1/users/"+adaID+"/password", admin, map[string]any{"password": "difference engine 1822"})
	x.do(400, "setUserPassword", put, "/api/v1/users/"+adaID+"/password", admin, map[string]any{"password": "short"})
	x.do(200, "importUserPasswordHash", put, "/api/v1/users/"+bobID+"/password-hash", admin, map[string]any{"hash": string(hash)})
	x.do(400, "importUserPasswordHash", put, "/api/v1/users/"+bobID+"/password-hash", admin, map[string]any{"hash": "plain"})
	x.do(200, "validatePassword", post, "/api/v1/tenant/password-policy/validate", ro, map[string]any{"password": "ada", "user_id": adaID})
	x.do(200, "validatePassword", post, "/api/v1/tenant/password-policy/validate", ro, map[string]any{"password": "a long passphrase 7"})
	x.do(404, "validatePassword", post, "/api/v1/tenant/password-policy/validate", ro, map[string]any{"password": "x", "user_id": "usr_missing"})

	// Sessions and second factors (the login pages open and enrol them).
	ten, err := e.Server.Tenants.TenantBySlug(t.Context(), "default")
	if err != nil {
		t.Fatal(err)
	}
	signIn := func() string {
		out, err := e.Server.Sessions.SignIn(t.Context(), ten.ID, session.Attempt{Login: "ada", Password: "difference engine 1822",
			Client: session.Client{IP: "203.0.113.9", UserAgent: "oas"}})
		if err != nil || out.Session == nil {
			t.Fatalf("sign-in: %+v %v", out, err)
		}
		return string(out.Session.ID)
	}
	sid := signIn()
	signIn()
	x.do(200, "listUserSessions", get, "/api/v1/users/"+adaID+"/sessions", ro, nil)
	x.do(200, "listUserSessions", get, "/api/v1/users/"+bobID+"/sessions", ro, nil) // none
	x.do(400, "listUserSessions", get, "/api/v1/users/"+adaID+"/sessions?limit=1", ro, nil)
	x.do(404, "listUserSessions", get, "/api/v1/users/usr_missing/sessions", ro, nil)
	x.do(403, "revokeUserSession", del, "/api/v1/users/"+adaID+"/sessions/"+sid, ro, nil)
	x.do(204, "revokeUserSession", del, "/api/v1/users/"+adaID+"/sessions/"+sid, admin, nil)
	x.do(404, "revokeUserSession", del, "/api/v1/users/"+adaID+"/sessions/"+sid, admin, nil)
	x.do(403, "revokeUserSessions", del, "/api/v1/users/"+adaID+"/sessions", ro, nil)
	x.do(200, "revokeUserSessions", del, "/api/v1/users/"+adaID+"/sessions", admin, nil)
	x.do(404, "revokeUserSessions", del, "/api/v1/users/usr_missing/sessions", admin, nil)
	adaUser, err := e.Server.Users.User(t.Context(), tenant.Scope{Tenant: ten.ID}, user.ID(adaID))
	if err != nil {
		t.Fatal(err)
	}
	fid := sesEnrolTOTP(t, e, ten.ID, adaUser)
	sesEnrolTOTP(t, e, ten.ID, adaUser)
	x.do(200, "listUserFactors", get, "/api/v1/users/"+adaID+"/factors", ro, nil)
	x.do(400, "listUserFactors", get, "/api/v1/users/"+adaID+"/factors?kind=totp", ro, nil)
	x.do(404, "listUserFactors", get, "/api/v1/users/usr_missing/factors", ro, nil)
	x.do(403, "deleteUserFactor", del, "/api/v1/users/"+adaID+"/factors/"+fid, ro, nil)
	x.do(204, "deleteUserFactor", del, "/api/v1/users/"+adaID+"/factors/"+fid, admin, nil)
	x.do(404, "deleteUserFactor", del, "/api/v1/users/"+adaID+"/factors/"+fid, admin, nil)
	x.do(403, "resetUserFactors", del, "/api/v1/users/"+adaID+"/factors", ro, nil)
	x.do(200, "resetUserFactors", del, "/api/v1/users/"+adaID+"/factors", admin, nil)
	x.do(404, "resetUserFactors", del, "/api/v1/users/usr_missing/factors", admin, nil)
	x.do(200, "listUserFactors", get, "/api/v1/users/"+adaID+"/factors", scoped, nil) // none left

	// The sign-in policy: the tenant's, then an organization's.
	x.do(200, "showSignInPolicy", get, "/api/v1/sign-in-policy", scoped, nil)
	signInPolicy := map[string]any{"idle_timeout_seconds": 900, "absolute_timeout_seconds": 28800, "mfa": "optional",
		"lockout_threshold": 0, "editable_attributes": []string{"phone", "employee_number"},
		"branding": map[string]any{"name": "Acme", "logo_url": "https://acme.example/logo.svg", "primary_color": "#1a4d8f",
			"background_color": ""}}
	x.do(200, "replaceSignInPolicy", put, "/api/v1/sign-in-policy", admin, signInPolicy)
	x.do(200, "showSignInPolicy", get, "/api/v1/sign-in-policy", ro, nil)
	x.do(400, "replaceSignInPolicy", put, "/api/v1/sign-in-policy", admin, map[string]any{"mfa": "always"})
	x.do(403, "replaceSignInPolicy", put, "/api/v1/sign-in-policy", scoped, signInPolicy)
	x.do(403, "replaceSignInPolicy", put, "/api/v1/sign-in-policy", ro, signInPolicy)
	x.do(415, "replaceSignInPolicy", put, "/api/v1/sign-in-policy", admin, `mfa=optional`, ct("application/x-www-form-urlencoded")...)
	orgPolicy := "/api/v1/organizations/" + org + "/sign-in-policy"
	x.do(200, "showOrganizationSignInPolicy", get, orgPolicy, scoped, nil) // none set: every member inherits
	x.do(404, "showOrganizationSignInPolicy", get, "/api/v1/organizations/"+org2+"/sign-in-policy", scoped, nil)
	x.do(200, "replaceOrganizationSignInPolicy", put, orgPolicy, scoped, map[string]any{"mfa": "required",
		"branding": map[string]any{"name": "Acme Inc", "logo_url": "", "primary_color": "", "background_color": "#fafafa"}})
	x.do(200, "showOrganizationSignInPolicy", get, orgPolicy, ro, nil)
	x.do(400, "replaceOrganizationSignInPolicy", put, orgPolicy, admin, map[string]any{"mfa": ""})
	x.do(403, "replaceOrganizationSignInPolicy", put, orgPolicy, ro, map[string]any{"mfa": ""})
	x.do(404, "replaceOrganizationSignInPolicy", put, "/api/v1/organizations/"+org2+"/sign-in-policy", scoped, map[string]any{"mfa": "",
		"branding": map[string]any{"name": "", "logo_url": "", "primary_color": "", "background_color": ""}})

	// Groups and memberships.
	grp := x.id(x.do(201, "createGroup", post, "/api/v1/groups", admin, map[string]any{"name": "Engineering",
		"description": "Builders", "organization_id": org, "external_id": "g-1"}, "Idempotency-Key", "group-eng"))
	x.do(201, "createGroup", post, "/api/v1/groups", admin, map[string]any{"name": "Everyone"})
	x.do(409, "createGroup", post, "/api/v1/groups", admin, map[string]any{"name": "everyone"})
	x.do(204, "addGroupMember", put, "/api/v1/groups/"+grp+"/members/"+adaID, admin, nil)
	x.do(400, "addGroupMember", put, "/api/v1/groups/"+grp+"/members/"+bobID, admin, nil)
	x.do(404, "addGroupMember", put, "/api/v1/groups/"+grp+"/members/usr_missing", admin, nil)
	x.do(200, "listGroups", get, "/api/v1/groups?limit=1&sort=name&order=desc", ro, nil)
	x.do(200, "listGroups", get, "/api/v1/groups?organization_id="+org+"&name_prefix=eng&member="+adaID, ro, nil)
	x.do(400, "listGroups", get, "/api/v1/groups?sort=size", ro, nil)
	tag = x.do(200, "showGroup", get, "/api/v1/groups/"+grp, ro, nil).Header.Get("ETag")
	x.do(200, "updateGroup", patch, "/api/v1/groups/"+grp, admin, map[string]any{"description": nil, "external_id": "g-2"},
		"If-Match", tag, "Content-Type", Merge)
	x.do(412, "updateGroup", patch, "/api/v1/groups/"+grp, admin, map[string]any{"name": "Eng"}, "If-Match", tag)
	x.do(200, "listGroupMembers", get, "/api/v1/groups/"+grp+"/members?sort=username", ro, nil)
	x.do(404, "listGroupMembers", get, "/api/v1/groups/grp_missing/members", ro, nil)
	x.do(200, "listUserGroups", get, "/api/v1/users/"+adaID+"/groups?limit=10", ro, nil)
	x.do(200, "listUserGroups", get, "/api/v1/users/"+adaID+"/groups", scoped, nil)
	x.do(204, "removeGroupMember", del, "/api/v1/groups/"+grp+"/members/"+adaID, admin, nil)
	x.do(404, "removeGroupMember", del, "/api/v1/groups/"+grp+"/members/"+adaID, admin, nil)
	x.do(204, "deleteGroup", del, "/api/v1/groups/"+grp, admin, nil)
	x.do(404, "showGroup", get, "/api/v1/groups/"+grp, ro, nil)

	// The audit log (the changes above wrote it).
	x.do(200, "listAuditEvents", get, "/api/v1/audit/events?limit=2&order=desc&action=user.&outcome=success&since=2000-01-01T00:00:00Z", ro, nil)
	x.do(200, "listAuditEvents", get, "/api/v1/audit/events?format=csv&limit=1", ro, nil)
	x.do(400, "listAuditEvents", get, "/api/v1/audit/events?outcome=maybe", ro, nil)
	x.do(403, "listAuditEvents", get, "/api/v1/audit/events", scoped, nil)
	x.do(200, "exportAuditEvents", get, "/api/v1/audit/export?from_seq=1&to_seq=3", ro, nil)
	x.do(400, "exportAuditEvents", get, "/api/v1/audit/export?from_seq=0", ro, nil)
	x.do(200, "showAuditFeed", get, "/api/v1/audit/feed?limit=5&outcome=success", ro, nil)
	x.do(200, "verifyAuditLog", post, "/api/v1/audit/verify", admin, nil)
	x.do(403, "verifyAuditLog", post, "/api/v1/audit/verify", ro, nil)
	x.do(200, "showAuditSettings", get, "/api/v1/audit/settings", ro, nil)
	x.do(200, "replaceAuditSettings", put, "/api/v1/audit/settings", admin, map[string]any{"retention_days": 365})
	x.do(200, "showAuditSettings", get, "/api/v1/audit/settings", ro, nil)
	x.do(400, "replaceAuditSettings", put, "/api/v1/audit/settings", admin, map[string]any{"retention_days": 0})
	x.do(200, "listSignIns", get, "/api/v1/reports/sign-ins?application_id=app_none&limit=5&order=desc", ro, nil)
	x.do(400, "listSignIns", get, "/api/v1/reports/sign-ins", ro, nil)

	// Signing keys: created by the first read, rotated by tenant-wide admins only.
	sgkPath := "/api/v1/signing-keys?purpose=saml&algorithm=RS256"
	x.do(200, "listSigningKeys", get, sgkPath, ro, nil)
	x.do(200, "listSigningKeys", get, "/api/v1/signing-keys?purpose=oidc&algorithm=ES256", scoped, nil)
	x.do(400, "listSigningKeys", get, "/api/v1/signing-keys?purpose=ldap&algorithm=HS256", ro, nil)
	x.do(400, "listSigningKeys", get, "/api/v1/signing-keys?purpose=saml", ro, nil)
	x.do(400, "listSigningKeys", get, sgkPath+"&state=active", ro, nil)
	sgkSAML := map[string]any{"purpose": "saml", "algorithm": "RS256"}
	x.do(200, "rotateSigningKeys", post, "/api/v1/signing-keys/rotate", admin, sgkSAML)
	if items := x.do(200, "listSigningKeys", get, sgkPath, ro, nil).JSON(t)["items"].([]any); len(items) != 3 {
		t.Errorf("after a rotation %d keys are published, want active, next and retired", len(items))
	}
	x.do(400, "rotateSigningKeys", post, "/api/v1/signing-keys/rotate", admin, map[string]any{"purpose": "saml", "algorithm": "RS512"})
	x.do(400, "rotateSigningKeys", post, "/api/v1/signing-keys/rotate", admin, map[string]any{"purpose": "saml", "algorithm": "RS256", "force": true})
	x.do(403, "rotateSigningKeys", post, "/api/v1/signing-keys/rotate", ro, sgkSAML)
	x.do(403, "rotateSigningKeys", post, "/api/v1/signing-keys/rotate", scoped, sgkSAML)

	// Applications, seats, assignments, business roles and the access reports.
	crm := map[string]any{"name": "CRM", "kind": "oidc", "status": "active", "logo_url": "https://crm.example/logo.png",
		"roles": []any{map[string]any{"name": "approver", "description": "Approves refunds"}, map[string]any{"name": "viewer"},
			map[string]any{"name": "-rw"}}, "seats": 1}
	app := x.id(x.do(201, "createApplication", post, "/api/v1/applications", admin, crm, "Idempotency-Key", "app-crm"))
	if again := x.do(201, "createApplication", post, "/api/v1/applications", admin, crm, "Idempotency-Key", "app-crm"); x.id(again) != app ||
		again.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay: %s %v", again.Body, again.Header)
	}
	x.do(409, "createApplication", post, "/api/v1/applications", admin, map[string]any{"name": "crm", "kind": "saml"})
	x.do(400, "createApplication", post, "/api/v1/applications", admin, map[string]any{"name": "LDAP", "kind": "ldap",
		"logo_url": "http://ldap.example/logo.png", "roles": []any{map[string]any{"name": "read only"}}})
	x.do(403, "createApplication", post, "/api/v1/applications", scoped, map[string]any{"name": "Mine", "kind": "saml"})
	x.do(403, "createApplication", post, "/api/v1/applications", ro, map[string]any{"name": "Mine", "kind": "saml"})
	wiki := x.id(x.do(201, "createApplication", post, "/api/v1/applications", admin, map[string]any{"name": "Wiki", "kind": "bookmark"}))
	if l := x.do(200, "listApplications", get, "/api/v1/applications?limit=1&sort=name&order=desc", ro, nil); l.Header.Get("Link") == "" {
		t.Errorf("first page of two applications has no Link: %s", l.Body)
	}
	x.do(200, "listApplications", get, "/api/v1/applications?kind=oidc&status=active&name_prefix=cr", scoped, nil)
	x.do(400, "listApplications", get, "/api/v1/applications?sort=kind", ro, nil)
	appPolicy := "/api/v1/applications/" + app + "/sign-in-policy"
	x.do(200, "showApplicationSignInPolicy", get, appPolicy, scoped, nil)
	x.do(404, "showApplicationSignInPolicy", get, "/api/v1/applications/app_missing/sign-in-policy", ro, nil)
	x.do(200, "replaceApplicationSignInPolicy", put, appPolicy, admin, map[string]any{"mfa": "required"})
	x.do(200, "showApplicationSignInPolicy", get, appPolicy, ro, nil)
	x.do(400, "replaceApplicationSignInPolicy", put, appPolicy, admin, map[string]any{"mfa": "sometimes"})
	x.do(403, "replaceApplicationSignInPolicy", put, appPolicy, scoped, map[string]any{"mfa": ""})
	x.do(404, "replaceApplicationSignInPolicy", put, "/api/v1/applications/app_missing/sign-in-policy", admin, map[string]any{"mfa": ""})

	// The SAML side of SAML applications: set, replaced under If-Match, refused, removed.
	expenses := x.id(x.do(201, "createApplication", post, "/api/v1/applications", admin, map[string]any{"name": "Expenses", "kind": "saml"}))
	expensesEU := x.id(x.do(201, "createApplication", post, "/api/v1/applications", admin, map[string]any{"name": "Expenses EU", "kind": "saml"}))
	samlPath := "/api/v1/applications/" + expenses + "/saml"
	samlCfg := map[string]any{"entity_id": "https://expenses.example/saml",
		"acs": []any{map[string]any{"index": 0, "url": "https://expenses.example/saml/acs", "default": true},
			map[string]any{"index": 3, "url": "https://eu.expenses.example/saml/acs", "binding": access.BindingHTTPPost}},
		"slo":            map[string]any{"url": "https://expenses.example/saml/slo", "binding": access.BindingHTTPRedirect},
		"name_id_format": access.NameIDFormatEmail, "name_id_source": "email",
		"attributes": []any{map[string]any{"name": "urn:oid:0.9.2342.19200300.100.1.3", "friendly_name": "mail", "source": "email"},
			map[string]any{"name": "roles", "source": "app_roles"}},
		"sign_response": true, "sign_assertion": true, "signature_algorithm": "rsa-sha256", "clock_skew_seconds": 30,
		"assertion_lifetime_seconds": 600, "relay_state_default": "/home"}
	x.do(404, "showApplicationSAML", get, samlPath, ro, nil)
	x.do(401, "showApplicationSAML", get, samlPath, "", nil)
	samlTag := x.do(200, "replaceApplicationSAML", put, samlPath, admin, samlCfg).Header.Get("ETag")
	x.do(200, "showApplicationSAML", get, samlPath, scoped, nil)
	x.do(200, "showApplicationSAMLSetup", get, samlPath+"/setup", ro, nil)
	x.do(200, "showApplicationSAMLSetup", get, samlPath+"/setup", scoped, nil)
	x.do(401, "showApplicationSAMLSetup", get, samlPath+"/setup", "", nil)
	x.do(404, "showApplicationSAMLSetup", get, "/api/v1/applications/"+app+"/saml/setup", ro, nil) // an oidc application
	x.do(200, "replaceApplicationSAML", put, samlPath, admin, map[string]any{"entity_id": "https://expenses.example/saml",
		"acs": []any{map[string]any{"url": "https://expenses.example/saml/acs"}}, "slo": nil, "sign_response": false}, "If-Match", samlTag)
	x.do(412, "replaceApplicationSAML", put, samlPath, admin, samlCfg, "If-Match", samlTag)
	x.do(400, "replaceApplicationSAML", put, samlPath, admin, map[string]any{"entity_id": "https://expenses.example/saml",
		"acs": []any{map[string]any{"url": "javascript:alert(1)"}}})
	x.do(400, "replaceApplicationSAML", put, "/api/v1/applications/"+app+"/saml", admin, samlCfg) // an oidc application
	x.do(409, "replaceApplicationSAML", put, "/api/v1/applications/"+expensesEU+"/saml", admin, samlCfg)
	x.do(403, "replaceApplicationSAML", put, samlPath, scoped, samlCfg)
	x.do(403, "replaceApplicationSAML", put, samlPath, ro, samlCfg)
	x.do(404, "replaceApplicationSAML", put, "/api/v1/applications/app_missing/saml", admin, samlCfg)
	x.do(415, "replaceApplicationSAML", put, samlPath, admin, `entity_id=x`, ct("application/x-www-form-urlencoded")...)
	// ... or from the application's metadata, as XML or in JSON.
	md := spMetadata(t, "https://expenses.example/saml", "https://expenses.example/saml/acs", nil)
	mdTag := x.do(200, "importApplicationSAMLMetadata", post, samlPath+"/metadata", admin, md, ct("application/samlmetadata+xml")...).Header.Get("ETag")
	x.do(200, "importApplicationSAMLMetadata", post, samlPath+"/metadata", admin, map[string]any{"xml": md}, "If-Match", mdTag)
	x.do(412, "importApplicationSAMLMetadata", post, samlPath+"/metadata", admin, md, append(ct("application/xml"), "If-Match", samlTag)...)
	x.do(400, "importApplicationSAMLMetadata", post, samlPath+"/metadata", admin, `<!DOCTYPE x><x/>`, ct("application/xml")...)
	x.do(400, "importApplicationSAMLMetadata", post, samlPath+"/metadata", admin, map[string]any{"url": "https://127.0.0.1/md"})
	x.do(403, "importApplicationSAMLMetadata", post, samlPath+"/metadata", scoped, map[string]any{"xml": md})
	x.do(404, "importApplicationSAMLMetadata", post, "/api/v1/applications/app_missing/saml/metadata", admin, map[string]any{"xml": md})
	x.do(415, "importApplicationSAMLMetadata", post, samlPath+"/metadata", admin, md, ct("text/plain")...)
	x.do(403, "deleteApplicationSAML", del, samlPath, scoped, nil)
	x.do(204, "deleteApplicationSAML", del, samlPath, admin, nil)
	x.do(404, "deleteApplicationSAML", del, samlPath, admin, nil)
	x.do(404, "showApplicationSAML", get, samlPath, ro, nil)

	// The OIDC client of OIDC applications: created with its secret shown
	// once, replaced under If-Match, its secret rotated, removed.
	oidcPath := "/api/v1/applications/" + app + "/oidc"
	oidcCfg := map[string]any{"client_type": "confidential",
		"redirect_uris":              []any{"https://crm.example/oidc/callback", "http://127.0.0.1:8400/callback"},
		"post_logout_redirect_uris":  []any{"https://crm.example/"},
		"grant_types":                []any{"authorization_code", "refresh_token", "client_credentials"},
		"scopes":                     []any{"openid", "profile", "email", "offline_access", "crm:read"},
		"token_endpoint_auth_method": "client_secret_basic", "require_pkce": true, "access_token_format": "opaque",
		"access_token_lifetime_seconds": 600, "refresh_token_lifetime_seconds": 0, "id_token_lifetime_seconds": 300,
		"require_consent": true, "backchannel_logout_uri": "https://crm.example/oidc/logout",
		"backchannel_logout_session_required": true, "profile_claims": []any{"employee_number"}}
	x.do(404, "showApplicationOIDC", get, oidcPath, ro, nil)
	x.do(401, "showApplicationOIDC", get, oidcPath, "", nil)
	x.do(400, "createApplicationOIDC", post, oidcPath, admin, map[string]any{"redirect_uris": []any{"javascript:alert(1)"}})
	x.do(400, "createApplicationOIDC", post, "/api/v1/applications/"+expenses+"/oidc", admin, oidcCfg) // a saml application
	x.do(403, "createApplicationOIDC", post, oidcPath, scoped, oidcCfg)
	x.do(403, "createApplicationOIDC", post, oidcPath, ro, oidcCfg)
	x.do(404, "createApplicationOIDC", post, "/api/v1/applications/app_missing/oidc", admin, oidcCfg)
	x.do(415, "createApplicationOIDC", post, oidcPath, admin, `client_type=public`, ct("application/x-www-form-urlencoded")...)
	oidcTag := x.do(201, "createApplicationOIDC", post, oidcPath, admin, oidcCfg).Header.Get("ETag")
	x.do(409, "createApplicationOIDC", post, oidcPath, admin, oidcCfg)
	x.do(200, "showApplicationOIDC", get, oidcPath, scoped, nil)
	x.do(200, "replaceApplicationOIDC", put, oidcPath, admin, map[string]any{"redirect_uris": []any{"https://crm.example/oidc/callback"},
		"token_endpoint_auth_method": "private_key_jwt", "jwks": oidcTestKeys()["good"], "jwks_uri": ""}, "If-Match", oidcTag)
	x.do(412, "replaceApplicationOIDC", put, oidcPath, admin, oidcCfg, "If-Match", oidcTag)
	x.do(400, "replaceApplicationOIDC", put, oidcPath, admin, map[string]any{"client_type": "public", "redirect_uris": []any{"https://crm.example/cb"}})
	x.do(403, "replaceApplicationOIDC", put, oidcPath, scoped, oidcCfg)
	x.do(404, "replaceApplicationOIDC", put, "/api/v1/applications/app_missing/oidc", admin, oidcCfg)
	x.do(200, "replaceApplicationOIDC", put, oidcPath, admin, oidcCfg)
	x.do(200, "rotateApplicationOIDCSecret", post, oidcPath+"/secret", admin, map[string]any{"previous_secret_valid_seconds": 3600})
	x.do(200, "showApplicationOIDC", get, oidcPath, ro, nil) // the previous secret's end
	x.do(200, "showApplicationOIDCSetup", get, oidcPath+"/setup", ro, nil)
	if err := e.Server.Grants.GiveConsent(t.Context(), ten.ID, user.ID(adaID), access.AppID(app), []string{"openid", "email"}); err != nil {
		t.Fatal(err)
	}
	x.do(200, "listUserConsents", get, "/api/v1/users/"+adaID+"/consents", scoped, nil)
	x.do(200, "listUserConsents", get, "/api/v1/users/"+bobID+"/consents", ro, nil) // none
	x.do(400, "listUserConsents", get, "/api/v1/users/"+adaID+"/consents?limit=1", ro, nil)
	x.do(404, "listUserConsents", get, "/api/v1/users/usr_missing/consents", ro, nil)
	x.do(401, "listUserConsents", get, "/api/v1/users/"+adaID+"/consents", "", nil)
	x.do(403, "revokeUserConsent", del, "/api/v1/users/"+adaID+"/consents/"+app, ro, nil)
	x.do(401, "revokeUserConsent", del, "/api/v1/users/"+adaID+"/consents/"+app, "", nil)
	x.do(204, "revokeUserConsent", del, "/api/v1/users/"+adaID+"/consents/"+app, admin, nil)
	x.do(404, "revokeUserConsent", del, "/api/v1/users/"+adaID+"/consents/"+app, admin, nil)
	x.do(200, "showApplicationOIDCSetup", get, oidcPath+"/setup", scoped, nil)
	x.do(401, "showApplicationOIDCSetup", get, oidcPath+"/setup", "", nil)
	x.do(404, "showApplicationOIDCSetup", get, "/api/v1/applications/"+expenses+"/oidc/setup", ro, nil) // a saml application
	x.do(400, "rotateApplicationOIDCSecret", post, oidcPath+"/secret", admin, map[string]any{"previous_secret_valid_seconds": 604801})
	x.do(403, "rotateApplicationOIDCSecret", post, oidcPath+"/secret", scoped, map[string]any{})
	x.do(404, "rotateApplicationOIDCSecret", post, "/api/v1/applications/app_missing/oidc/secret", admin, map[string]any{})
	mobile := x.id(x.do(201, "createApplication", post, "/api/v1/applications", admin, map[string]any{"name": "CRM mobile", "kind": "oidc"}))
	x.do(201, "createApplicationOIDC", post, "/api/v1/applications/"+mobile+"/oidc", admin, map[string]any{"client_type": "public",
		"redirect_uris": []any{"com.example.crm:/callback"}}) // no secret
	x.do(400, "rotateApplicationOIDCSecret", post, "/api/v1/applications/"+mobile+"/oidc/secret", admin, map[string]any{})
	x.do(403, "deleteApplicationOIDC", del, "/api/v1/applications/"+mobile+"/oidc", scoped, nil)
	x.do(204, "deleteApplicationOIDC", del, "/api/v1/applications/"+mobile+"/oidc", admin, nil)
	x.do(404, "deleteApplicationOIDC", del, "/api/v1/applications/"+mobile+"/oidc", admin, nil)
	tag = x.do(200, "showApplication", get, "/api/v1/applications/"+app, scoped, nil).Header.Get("ETag")
	x.do(404, "showApplication", get, "/api/v1/applications/app_missing", ro, nil)
	x.do(200, "showApplicationSeats", get, "/api/v1/applications/"+app+"/seats", ro, nil)
	x.do(200, "showApplicationSeats", get, "/api/v1/applications/"+wiki+"/seats", ro, nil) // unlimited: remaining is null
	x.do(404, "showApplicationSeats", get, "/api/v1/applications/app_missing/seats", ro, nil)

	// Assignments, within the seats: the one seat goes to ada.
	apps := "/api/v1/applications/" + app + "/assignments"
	asg := x.id(x.do(201, "createAssignment", post, apps, admin, map[string]any{"principal_type": "user", "principal_id": adaID,
		"roles": []string{"approver"}}))
	x.do(409, "createAssignment", post, apps, admin, map[string]any{"principal_type": "user", "principal_id": adaID}) // assigned already
	x.do(409, "createAssignment", post, apps, admin, map[string]any{"principal_type": "user", "principal_id": bobID}) // no seat left
	x.do(400, "createAssignment", post, apps, admin, map[string]any{"principal_type": "user", "principal_id": bobID, "roles": []string{"owner"}})
	x.do(400, "createAssignment", post, apps, admin, map[string]any{"principal_type": "robot", "principal_id": "r2"})
	x.do(400, "createAssignment", post, apps, scoped, map[string]any{"principal_type": "user", "principal_id": bobID}) // out of its reach
	x.do(404, "createAssignment", post, "/api/v1/applications/app_missing/assignments", admin, map[string]any{"principal_type": "user",
		"principal_id": bobID})
	x.do(403, "createAssignment", post, apps, ro, map[string]any{"principal_type": "user", "principal_id": bobID})
	tag = x.do(200, "updateApplication", patch, "/api/v1/applications/"+app, admin, map[string]any{"seats": 2, "logo_url": nil},
		"If-Match", tag, "Content-Type", Merge).Header.Get("ETag")
	x.do(412, "updateApplication", patch, "/api/v1/applications/"+app, admin, map[string]any{"seats": 5}, "If-Match", `"1"`)
	x.do(400, "updateApplication", patch, "/api/v1/applications/"+app, admin, map[string]any{"name": nil})
	x.do(400, "updateApplication", patch, "/api/v1/applications/"+app, admin, map[string]any{"kind": "saml"}) // kind cannot change
	x.do(403, "updateApplication", patch, "/api/v1/applications/"+app, scoped, map[string]any{"seats": 10})
	x.do(404, "updateApplication", patch, "/api/v1/applications/app_missing", admin, map[string]any{"seats": 10})
	bobAsg := x.id(x.do(201, "createAssignment", post, apps, admin, map[string]any{"principal_type": "user", "principal_id": bobID,
		"roles": []string{}}))
	x.do(409, "updateApplication", patch, "/api/v1/applications/"+app, admin, map[string]any{"seats": 1}, "If-Match", tag) // two users have access
	// Both seats are taken: a group membership cannot bring a third user.
	sales := x.id(x.do(201, "createGroup", post, "/api/v1/groups", admin, map[string]any{"name": "Sales"}))
	x.do(201, "createAssignment", post, apps, admin, map[string]any{"principal_type": "group", "principal_id": sales})
	cyID := x.id(x.do(201, "createUser", post, "/api/v1/users", admin, map[string]any{"username": "cy"}))
	x.do(409, "addGroupMember", put, "/api/v1/groups/"+sales+"/members/"+cyID, admin, nil)
	x.do(204, "addGroupMember", put, "/api/v1/groups/"+sales+"/members/"+bobID, admin, nil) // bob has a seat already
	if l := x.do(200, "listAssignments", get, apps+"?limit=1&order=desc", ro, nil); l.Header.Get("Link") == "" {
		t.Errorf("first page of three assignments has no Link: %s", l.Body)
	}
	if items := x.do(200, "listAssignments", get, apps, scoped, nil).JSON(t)["items"].([]any); len(items) != 1 {
		t.Errorf("an organization-scoped token lists %d assignments, want ada's", len(items))
	}
	x.do(400, "listAssignments", get, apps+"?sort=created", ro, nil)
	x.do(404, "listAssignments", get, "/api/v1/applications/app_missing/assignments", ro, nil)
	x.do(200, "updateAssignment", patch, apps+"/"+asg, admin, map[string]any{"roles": []string{"approver", "-rw"}}, "Content-Type", Merge)
	x.do(200, "updateAssignment", patch, apps+"/"+asg, scoped, map[string]any{"roles": []string{"viewer"}})
	x.do(400, "updateAssignment", patch, apps+"/"+asg, admin, map[string]any{"roles": []string{"owner"}})
	x.do(404, "updateAssignment", patch, apps+"/"+bobAsg, scoped, map[string]any{"roles": []string{}}) // bob is out of its reach
	x.do(404, "updateAssignment", patch, apps+"/asg_missing", admin, map[string]any{"roles": []string{}})
	x.do(403, "updateAssignment", patch, apps+"/"+asg, ro, map[string]any{"roles": []string{}})

	// Business roles and their holders.
	rol := x.id(x.do(201, "createBusinessRole", post, "/api/v1/business-roles", admin, map[string]any{"name": "Returns clerk",
		"description": "Front desk"}, "Idempotency-Key", "role-clerk"))
	x.do(201, "createBusinessRole", post, "/api/v1/business-roles", admin, map[string]any{"name": "Auditor"})
	x.do(409, "createBusinessRole", post, "/api/v1/business-roles", admin, map[string]any{"name": "RETURNS clerk"})
	x.do(400, "createBusinessRole", post, "/api/v1/business-roles", admin, map[string]any{"name": " "})
	x.do(403, "createBusinessRole", post, "/api/v1/business-roles", scoped, map[string]any{"name": "Mine"})
	if l := x.do(200, "listBusinessRoles", get, "/api/v1/business-roles?limit=1&sort=name&order=asc", ro, nil); l.Header.Get("Link") == "" {
		t.Errorf("first page of two business roles has no Link: %s", l.Body)
	}
	x.do(200, "listBusinessRoles", get, "/api/v1/business-roles?name_prefix=ret", scoped, nil)
	x.do(400, "listBusinessRoles", get, "/api/v1/business-roles?sort=size", ro, nil)
	tag = x.do(200, "showBusinessRole", get, "/api/v1/business-roles/"+rol, scoped, nil).Header.Get("ETag")
	x.do(404, "showBusinessRole", get, "/api/v1/business-roles/rol_missing", ro, nil)
	x.do(200, "updateBusinessRole", patch, "/api/v1/business-roles/"+rol, admin, map[string]any{"description": nil},
		"If-Match", tag, "Content-Type", Merge)
	x.do(412, "updateBusinessRole", patch, "/api/v1/business-roles/"+rol, admin, map[string]any{"name": "Clerk"}, "If-Match", tag)
	x.do(400, "updateBusinessRole", patch, "/api/v1/business-roles/"+rol, admin, map[string]any{"name": nil})
	x.do(409, "updateBusinessRole", patch, "/api/v1/business-roles/"+rol, admin, map[string]any{"name": "auditor"})
	x.do(403, "updateBusinessRole", patch, "/api/v1/business-roles/"+rol, scoped, map[string]any{"description": "Mine"})
	x.do(201, "createAssignment", post, apps, admin, map[string]any{"principal_type": "business_role", "principal_id": rol,
		"roles": []string{"viewer"}})
	x.do(403, "createAssignment", post, "/api/v1/applications/"+wiki+"/assignments", scoped, map[string]any{
		"principal_type": "business_role", "principal_id": rol}) // business roles are the tenant's
	holders := "/api/v1/business-roles/" + rol + "/holders"
	x.do(204, "addBusinessRoleHolder", put, holders+"/user/"+adaID, admin, nil)  // ada has a seat already
	x.do(204, "addBusinessRoleHolder", put, holders+"/user/"+adaID, scoped, nil) // twice: no change
	x.do(204, "addBusinessRoleHolder", put, holders+"/group/"+sales, admin, nil)
	x.do(409, "addBusinessRoleHolder", put, holders+"/user/"+cyID, admin, nil) // no seat left
	x.do(400, "addBusinessRoleHolder", put, holders+"/robot/r2", admin, nil)
	x.do(400, "addBusinessRoleHolder", put, holders+"/user/usr_missing", admin, nil)
	x.do(400, "addBusinessRoleHolder", put, holders+"/user/"+bobID, scoped, nil) // out of its reach
	x.do(404, "addBusinessRoleHolder", put, "/api/v1/business-roles/rol_missing/holders/user/"+adaID, admin, nil)
	x.do(403, "addBusinessRoleHolder", put, holders+"/user/"+bobID, ro, nil)
	x.do(200, "listBusinessRoleHolders", get, holders, ro, nil)
	if items := x.do(200, "listBusinessRoleHolders", get, holders, scoped, nil).JSON(t)["items"].([]any); len(items) != 1 {
		t.Errorf("an organization-scoped token lists %d holders, want ada", len(items))
	}
	x.do(400, "listBusinessRoleHolders", get, holders+"?limit=1", ro, nil)
	x.do(404, "listBusinessRoleHolders", get, "/api/v1/business-roles/rol_missing/holders", ro, nil)
	x.do(204, "removeBusinessRoleHolder", del, holders+"/group/"+sales, admin, nil)
	x.do(404, "removeBusinessRoleHolder", del, holders+"/group/"+sales, admin, nil)
	x.do(404, "removeBusinessRoleHolder", del, holders+"/user/"+bobID, scoped, nil) // out of its reach: holds nothing it can see
	x.do(403, "removeBusinessRoleHolder", del, holders+"/user/"+adaID, ro, nil)

	// The access reports, in JSON and CSV.
	const early = "2000-01-01T00:00:00Z"
	accounts := "/api/v1/reports/app-accounts?application_id=" + app
	if l := x.do(200, "appAccounts", get, accounts+"&limit=1&order=desc", ro, nil); l.Header.Get("Link") == "" {
		t.Errorf("first page of two accounts has no Link: %s", l.Body)
	}
	x.do(200, "appAccounts", get, accounts+"&at="+early, ro, nil)
	if c := x.do(200, "appAccounts", get, accounts+"&format=csv&limit=1", ro, nil); c.Header.Get("Link") == "" {
		t.Errorf("first CSV page of two accounts has no Link: %s", c.Body)
	}
	x.do(200, "appAccounts", get, accounts, ro, nil, "Accept", "text/csv")
	x.do(400, "appAccounts", get, "/api/v1/reports/app-accounts", ro, nil)
	x.do(400, "appAccounts", get, accounts+"&at=yesterday", ro, nil)
	x.do(400, "appAccounts", get, accounts+"&format=xml", ro, nil)
	x.do(403, "appAccounts", get, accounts, scoped, nil)
	x.do(200, "appAccounts", get, "/api/v1/reports/app-accounts?application_id=app_missing", ro, nil) // history outlives deleted applications
	perms := "/api/v1/reports/user-permissions?user_id="
	x.do(200, "userPermissions", get, perms+adaID, ro, nil)
	x.do(200, "userPermissions", get, perms+adaID+"&format=csv", scoped, nil)
	x.do(200, "userPermissions", get, perms+adaID+"&at="+early, ro, nil)
	x.do(200, "userPermissions", get, perms+"usr_missing", ro, nil)
	x.do(400, "userPermissions", get, "/api/v1/reports/user-permissions", ro, nil)
	x.do(403, "userPermissions", get, perms+bobID, scoped, nil)
	changes := "/api/v1/reports/access-changes?application_id=" + app
	if l := x.do(200, "accessChanges", get, changes+"&since="+early+"&limit=2", ro, nil); l.Header.Get("Link") == "" {
		t.Errorf("first page of the access changes has no Link: %s", l.Body)
	}
	x.do(200, "accessChanges", get, changes+"&format=csv&order=desc", ro, nil)
	x.do(400, "accessChanges", get, changes+"&since="+early+"&until="+early, ro, nil)
	x.do(403, "accessChanges", get, changes, scoped, nil)
	x.do(200, "accessChanges", get, "/api/v1/reports/access-changes?application_id=app_missing", ro, nil) // an empty history

	// Removing access configuration.
	x.do(204, "deleteAssignment", del, apps+"/"+bobAsg, admin, nil)
	x.do(404, "deleteAssignment", del, apps+"/"+bobAsg, admin, nil)
	x.do(403, "deleteAssignment", del, apps+"/"+asg, ro, nil)
	x.do(403, "deleteBusinessRole", del, "/api/v1/business-roles/"+rol, scoped, nil)
	x.do(204, "deleteBusinessRole", del, "/api/v1/business-roles/"+rol, admin, nil)
	x.do(404, "deleteBusinessRole", del, "/api/v1/business-roles/"+rol, admin, nil)
	x.do(403, "deleteApplication", del, "/api/v1/applications/"+wiki, scoped, nil)
	x.do(204, "deleteApplication", del, "/api/v1/applications/"+wiki, admin, nil)
	x.do(404, "deleteApplication", del, "/api/v1/applications/"+wiki, admin, nil)

	// Deleting.
	x.do(409, "deleteUser", del, "/api/v1/users/"+adaID, admin, nil)
	x.do(409, "deleteOrganization", del, "/api/v1/organizations/"+org, admin, nil) // ada is homed there
	x.do(403, "deleteOrganization", del, "/api/v1/organizations/"+org, scoped, nil)
	x.do(200, "changeUserLifecycle", post, "/api/v1/users/"+adaID+"/lifecycle/deactivate", admin, nil)
	x.do(204, "deleteUser", del, "/api/v1/users/"+adaID, admin, nil)
	x.do(204, "deleteOrganization", del, "/api/v1/organizations/"+org2, admin, nil)
	x.do(204, "deleteOrganization", del, "/api/v1/organizations/"+org, admin, nil)
	x.do(401, "showOrganization", get, "/api/v1/organizations/"+org, scoped, nil) // its token went with it

	// The catch-all answers a problem too.
	if r := e.Do(t, get, "/api/v1/no-such-thing", admin, nil); r.Status != 404 {
		t.Errorf("unknown API route: %d %s", r.Status, r.Body)
	} else {
		for _, err := range d.checkBody(d.mustDeref(t, map[string]any{"$ref": "#/components/responses/NotFound"}), r) {
			t.Errorf("unknown API route: %s", err)
		}
	}

	// Every operation was seen succeeding, so every success schema was checked.
	for _, o := range d.operations() {
		if !slices.ContainsFunc(x.seen[o.id], func(s int) bool { return s < 300 }) {
			t.Errorf("no call here exercises %s (%s %s) with a success; add one", o.id, o.method, o.path)
		}
	}
}

// TestOpenAPIShapeCheckerCatchesDrift attacks the checker: undeclared and
// missing members, wrong types and nulls must all be reported.
func TestOpenAPIShapeCheckerCatchesDrift(t *testing.T) {
	d := oasLoad(t)
	user := map[string]any{"$ref": "#/components/schemas/User"}
	var good map[string]any
	if err := json.Unmarshal([]byte(`{"id":"usr_1","username":"ada","emails":[{"value":"a@b.example","primary":true,"verified":false}],
		"given_name":"","family_name":"","display_name":"","phone":"","locale":"","time_zone":"","attributes":{"n":1,"tags":["x"]},
		"external_ids":{},"organization_id":null,"source":"local","status":"active","locked":false,"password_changed_at":null,
		"status_changed_at":"2026-11-24T08:00:00.123Z","version":1,"created_at":"2026-11-24T08:00:00Z","updated_at":"2026-11-24T08:00:00Z"}`), &good); err != nil {
		t.Fatal(err)
	}
	var errs []string
	d.check("user", user, good, &errs)
	if len(errs) > 0 {
		t.Fatalf("a correct user does not pass: %v", errs)
	}
	for name, mutate := range map[string]func(u map[string]any){
		"undeclared member":        func(u map[string]any) { u["nickname"] = "x" },
		"undeclared nested member": func(u map[string]any) { u["emails"].([]any)[0].(map[string]any)["label"] = "work" },
		"missing required member":  func(u map[string]any) { delete(u, "locked") },
		"null where not nullable":  func(u map[string]any) { u["username"] = nil },
		"wrong type":               func(u map[string]any) { u["version"] = "1" },
		"not an enum value":        func(u map[string]any) { u["status"] = "banned" },
		"not a date-time":          func(u map[string]any) { u["created_at"] = "yesterday" },
		"bad attribute value":      func(u map[string]any) { u["attributes"].(map[string]any)["o"] = map[string]any{} },
	} {
		var u map[string]any
		b, _ := json.Marshal(good)
		_ = json.Unmarshal(b, &u)
		mutate(u)
		var errs []string
		d.check("user", user, u, &errs)
		if len(errs) == 0 {
			t.Errorf("%s: not reported", name)
		}
	}
	var e []string
	d.check("x", map[string]any{"type": "object", "properties": map[string]any{}}, map[string]any{"a": 1.0}, &e)
	if len(e) == 0 {
		t.Errorf("an object schema without additionalProperties must be closed")
	}
}
