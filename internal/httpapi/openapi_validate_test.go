package httpapi

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestOpenAPIValidates loads docs/openapi.yaml with an OpenAPI library, as
// any tool would, and holds it to the OpenAPI 3 specification (references
// resolve, schemas and examples are valid, parameters are well formed).
// Beyond the specification: every operation says who may call it, with
// `security: []` for the public ones, so that a route is never public by
// omission. Whether the server answers as the document says is checked on
// every request of the server tests (servertest.CheckAPI).
func TestOpenAPIValidates(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromFile(filepath.Join(specModuleRoot(t), "docs", "openapi.yaml"))
	if err != nil {
		t.Fatalf("docs/openapi.yaml does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("docs/openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	if len(doc.Security) != 0 {
		t.Errorf("docs/openapi.yaml has a top-level security requirement: name it on each operation instead")
	}
	n := 0
	for _, path := range doc.Paths.InMatchingOrder() {
		for method, op := range doc.Paths.Value(path).Operations() {
			n++
			if op.Security == nil {
				t.Errorf("%s %s does not say who may call it: add security (security: [] if anyone may)", method, path)
			}
		}
	}
	if n < 20 {
		t.Fatalf("docs/openapi.yaml holds only %d operations", n)
	}
}
