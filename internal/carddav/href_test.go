package carddav

import (
	"strings"
	"testing"

	"github.com/candorcloud/candor"
)

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		name   string
		listed bool // listed back under the same name
	}{
		{"0f8fad5b-d9cb-469f-a165-70867728950e.vcf", true},
		{"0F8FAD5B-D9CB-469F-A165-70867728950E.vcf", true},
		{"12345678-1234-1234-1234-123456789012.vcf", true},
		{"0F8fad5b-d9cb-469f-a165-70867728950e.vcf", false}, // mixed case: hashed
		{"alice@example.invalid.vcf", false},
		{"x.vcf", false},
	} {
		id, ok := recordID(tc.name)
		if !ok || !candor.ValidID(id) || !strings.HasPrefix(id, "rec_") {
			t.Fatalf("recordID(%q) = %q, %v: not a record id", tc.name, id, ok)
		}
		again, _ := recordID(tc.name)
		if again != id {
			t.Errorf("recordID(%q) is not deterministic", tc.name)
		}
		back := cardName(id)
		if (back == tc.name) != tc.listed {
			t.Errorf("cardName(recordID(%q)) = %q, listed under its own name: %v, want %v", tc.name, back, back == tc.name, tc.listed)
		}
		if id2, _ := recordID(back); id2 != id {
			t.Errorf("the listed name %q of %q maps to %q", back, id, id2)
		}
	}
	for _, bad := range []string{"", ".vcf", "a/b.vcf", "card.txt", "rec_x"} {
		if _, ok := recordID(bad); ok {
			t.Errorf("recordID(%q) accepted", bad)
		}
	}
	// Every record id, phones' random ones too, has one listed name that
	// maps back to it.
	for range 200 {
		id := candor.NewID("rec")
		if got, ok := recordID(cardName(id)); !ok || got != id {
			t.Fatalf("record %s listed as %q, which maps to %q", id, cardName(id), got)
		}
	}
}
