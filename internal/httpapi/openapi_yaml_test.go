package httpapi

import (
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The spec is read by the other tests line by line; this one holds it to
// what every OpenAPI tool needs first: it parses as YAML (an unquoted ": "
// in a description once made it a document no tool would load), and its
// top level is an OpenAPI 3 document with paths and components.
func TestOpenAPIIsYAML(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(specModuleRoot(t), "docs", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI    string         `yaml:"openapi"`
		Paths      map[string]any `yaml:"paths"`
		Components map[string]any `yaml:"components"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("docs/openapi.yaml is not valid YAML: %v", err)
	}
	if len(doc.OpenAPI) < 2 || doc.OpenAPI[:2] != "3." || len(doc.Paths) < 20 || doc.Components["schemas"] == nil {
		t.Fatalf("docs/openapi.yaml parses, but not as an OpenAPI 3 document: openapi %q, %d paths", doc.OpenAPI, len(doc.Paths))
	}
}
