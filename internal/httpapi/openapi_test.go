package httpapi

// These tests keep docs/openapi.yaml in step with the code. They read the
// spec with a small line-based reader instead of a YAML library, which is
// why the spec's header comment asks for a fixed indentation: paths at two
// spaces under `paths:`, methods at four; schemas at four under
// `  schemas:`, their properties at eight under `      properties:`.
//
// What they check:
//   - every route registered with m.HandleFunc / m.Handle in this package
//     (read from the source with go/parser) is documented with its method,
//     and every documented route is registered;
//   - every struct of package api (read from api/api.go) has a schema of the
//     same name with exactly its JSON field names, byte slices as
//     `format: byte` and times as `format: date-time`;
//   - x-candor-error-codes gives every error kind's code the status statusOf
//     gives it (plus method_not_allowed: 405), and nothing else;
//   - x-candor-limits matches the limits in package api.

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

// specDoc is what the tests need of docs/openapi.yaml.
type specDoc struct {
	routes  map[string]bool                // "GET /v1/records/{category}"
	schemas map[string]map[string][]string // schema → property → the lines of its block
	ext     map[string]map[string]string   // x-candor-… → key → value
}

var specMethods = map[string]bool{
	"get": true, "put": true, "post": true, "delete": true,
	"options": true, "head": true, "patch": true, "trace": true,
}

// specModuleRoot walks up from the test's directory to go.mod.
func specModuleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// specKey splits a YAML line into its indentation, key and value. ok is
// false for blank lines, comments, list items and lines without a key.
func specKey(line string) (indent int, key, value string, ok bool) {
	trimmed := strings.TrimLeft(line, " ")
	indent = len(line) - len(trimmed)
	if trimmed == "" || strings.HasPrefix(trimmed, "#") || strings.HasPrefix(trimmed, "- ") {
		return 0, "", "", false
	}
	var rest string
	if trimmed[0] == '"' || trimmed[0] == '\'' {
		end := strings.IndexByte(trimmed[1:], trimmed[0])
		if end < 0 {
			return 0, "", "", false
		}
		key, rest = trimmed[1:1+end], trimmed[2+end:]
		if !strings.HasPrefix(rest, ":") {
			return 0, "", "", false
		}
		rest = rest[1:]
	} else {
		i := strings.Index(trimmed, ":")
		if i < 0 || (i+1 < len(trimmed) && trimmed[i+1] != ' ') {
			return 0, "", "", false
		}
		key, rest = trimmed[:i], trimmed[i+1:]
	}
	return indent, key, strings.TrimSpace(rest), true
}

func readSpec(t *testing.T) specDoc {
	t.Helper()
	path := filepath.Join(specModuleRoot(t), "docs", "openapi.yaml")
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("the API must be described in docs/openapi.yaml: %v", err)
	}
	defer f.Close()
	doc := specDoc{
		routes:  map[string]bool{},
		schemas: map[string]map[string][]string{},
		ext:     map[string]map[string]string{},
	}
	var (
		top, path2, schema, prop string
		inSchemas, inProps       bool
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.Contains(line, "\t") {
			t.Fatalf("docs/openapi.yaml:%d: tabs are not allowed in YAML", n)
		}
		indent, key, value, ok := specKey(line)
		// The lines of a property's block, below its key.
		if inProps && prop != "" && strings.TrimSpace(line) != "" && len(line)-len(strings.TrimLeft(line, " ")) > 8 {
			doc.schemas[schema][prop] = append(doc.schemas[schema][prop], strings.TrimSpace(line))
			continue
		}
		if !ok {
			continue
		}
		if indent == 0 {
			top, path2, schema, prop = key, "", "", ""
			inSchemas, inProps = false, false
			if strings.HasPrefix(key, "x-candor-") {
				doc.ext[key] = map[string]string{}
			}
			continue
		}
		switch {
		case strings.HasPrefix(top, "x-candor-"):
			if indent == 2 {
				doc.ext[top][key] = value
			}
		case top == "paths":
			switch {
			case indent == 2 && strings.HasPrefix(key, "/"):
				path2 = key
			case indent == 2:
				t.Errorf("docs/openapi.yaml:%d: a path key must start with /: %q", n, key)
			case indent == 4 && path2 != "" && specMethods[key]:
				r := strings.ToUpper(key) + " " + path2
				if doc.routes[r] {
					t.Errorf("docs/openapi.yaml:%d: %s documented twice", n, r)
				}
				doc.routes[r] = true
			}
		case top == "components":
			switch {
			case indent == 2:
				inSchemas, schema, prop, inProps = key == "schemas", "", "", false
			case inSchemas && indent == 4:
				schema, prop, inProps = key, "", false
				doc.schemas[schema] = map[string][]string{}
			case inSchemas && schema != "" && indent == 6:
				inProps, prop = key == "properties", ""
			case inProps && indent == 8:
				prop = key
				doc.schemas[schema][prop] = []string{}
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return doc
}

// codeRoutes returns the route patterns this package registers: the string
// literals passed to HandleFunc and Handle in its non-test Go files.
func codeRoutes(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	routes := map[string]bool{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 2 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "HandleFunc" && sel.Sel.Name != "Handle") {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Errorf("%s: a route pattern must be a string literal, so that this test can check it is documented", fset.Position(call.Pos()))
				return true
			}
			pattern, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			method, p, ok := strings.Cut(pattern, " ")
			if !ok || method == "" || !strings.HasPrefix(p, "/") {
				t.Errorf("%s: route %q has no method: register routes as \"METHOD /path\"", fset.Position(call.Pos()), pattern)
				return true
			}
			p = strings.TrimSuffix(p, "{$}")
			p = strings.ReplaceAll(p, "...}", "}")
			routes[method+" "+p] = true
			return true
		})
	}
	return routes
}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	code := codeRoutes(t)
	if len(code) < 10 {
		t.Fatalf("found only %d routes in the source of package httpapi: has the way routes are registered changed?", len(code))
	}
	doc := readSpec(t).routes
	for _, r := range slices.Sorted(maps.Keys(code)) {
		if !doc[r] {
			t.Errorf("route %s is registered in httpapi.New but not documented in docs/openapi.yaml", r)
		}
	}
	for r := range doc {
		if !code[r] {
			t.Errorf("docs/openapi.yaml documents %s, which httpapi does not register", r)
		}
	}
}

// apiField is one JSON field of a struct in package api.
type apiField struct {
	name string
	typ  string // the Go type as written: []byte, time.Time, *Record, ...
}

// apiStructs reads api/api.go and returns each exported struct's JSON
// fields.
func apiStructs(t *testing.T) map[string][]apiField {
	t.Helper()
	path := filepath.Join(specModuleRoot(t), "api", "api.go")
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]apiField{}
	for _, decl := range file.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.TYPE {
			continue
		}
		for _, spec := range gen.Specs {
			ts := spec.(*ast.TypeSpec)
			st, ok := ts.Type.(*ast.StructType)
			if !ok || !ts.Name.IsExported() {
				continue
			}
			var fields []apiField
			for _, f := range st.Fields.List {
				typ := types.ExprString(f.Type)
				tag := ""
				if f.Tag != nil {
					raw, _ := strconv.Unquote(f.Tag.Value)
					tag = reflect.StructTag(raw).Get("json")
				}
				name, _, _ := strings.Cut(tag, ",")
				if name == "-" {
					continue
				}
				if len(f.Names) == 0 {
					t.Errorf("api.%s embeds %s: describe its fields explicitly", ts.Name.Name, typ)
					continue
				}
				for _, id := range f.Names {
					if !id.IsExported() {
						continue
					}
					n := name
					if n == "" {
						n = id.Name
					}
					fields = append(fields, apiField{name: n, typ: typ})
				}
			}
			out[ts.Name.Name] = fields
		}
	}
	return out
}

func TestOpenAPISchemasMatchPackageAPI(t *testing.T) {
	structs := apiStructs(t)
	if len(structs) < 10 {
		t.Fatalf("found only %d structs in api/api.go", len(structs))
	}
	schemas := readSpec(t).schemas
	for _, name := range slices.Sorted(maps.Keys(structs)) {
		fields := structs[name]
		props, ok := schemas[name]
		if !ok {
			t.Errorf("api.%s has no schema %q in docs/openapi.yaml", name, name)
			continue
		}
		seen := map[string]bool{}
		for _, f := range fields {
			seen[f.name] = true
			lines, ok := props[f.name]
			if !ok {
				t.Errorf("schema %s lacks property %q (a field of api.%s)", name, f.name, name)
				continue
			}
			switch strings.TrimPrefix(f.typ, "*") {
			case "[]byte":
				if !slices.Contains(lines, "format: byte") {
					t.Errorf("schema %s property %q is bytes in api.%s: want type: string, format: byte", name, f.name, name)
				}
			case "time.Time":
				if !slices.Contains(lines, "format: date-time") {
					t.Errorf("schema %s property %q is a time in api.%s: want type: string, format: date-time", name, f.name, name)
				}
			}
		}
		for p := range props {
			if !seen[p] {
				t.Errorf("schema %s has property %q, which api.%s does not have", name, p, name)
			}
		}
	}
}

func TestOpenAPIErrorCodes(t *testing.T) {
	doc := readSpec(t).ext["x-candor-error-codes"]
	if doc == nil {
		t.Fatal("docs/openapi.yaml has no x-candor-error-codes")
	}
	want := map[string]int{"method_not_allowed": http.StatusMethodNotAllowed}
	for k := candor.Kind(0); k < 255; k++ {
		code := k.Code()
		if k != candor.Internal && code == candor.Internal.Code() {
			break // past the last kind
		}
		want[code] = statusOf(k)
	}
	for code, status := range want {
		got, ok := doc[code]
		if !ok {
			t.Errorf("error code %s (HTTP %d) is not in x-candor-error-codes", code, status)
			continue
		}
		if got != strconv.Itoa(status) {
			t.Errorf("x-candor-error-codes says %s is HTTP %s; statusOf says %d", code, got, status)
		}
	}
	for code := range doc {
		if _, ok := want[code]; !ok {
			t.Errorf("x-candor-error-codes lists %s, which is not an error code of the server", code)
		}
	}
}

func TestOpenAPILimits(t *testing.T) {
	doc := readSpec(t).ext["x-candor-limits"]
	want := map[string]int{
		"max_body_bytes":       api.MaxBodyBytes,
		"max_record_bytes":     api.MaxRecordBytes,
		"max_changes_per_push": api.MaxChangesPerPush,
		"max_feed_page":        api.MaxFeedPage,
		"default_feed_page":    api.DefaultFeedPage,
	}
	for name, v := range want {
		if got := doc[name]; got != strconv.Itoa(v) {
			t.Errorf("x-candor-limits %s = %q, want %d (package api)", name, got, v)
		}
	}
	for name := range doc {
		if _, ok := want[name]; !ok {
			t.Errorf("x-candor-limits lists %s, which this test does not check against package api", name)
		}
	}
}
