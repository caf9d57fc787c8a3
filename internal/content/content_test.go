package content

import (
	"strings"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

func TestCanonicalLocale(t *testing.T) {
	for in, want := range map[string]string{"hi-in": "hi-IN", "zh_CN": "zh-CN", "EN-us": "en-US", "fr": "fr"} {
		if got, err := CanonicalLocale(in); err != nil || got != want {
			t.Errorf("CanonicalLocale(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "hindi", "hi-IND", "../x", "hi-IN;"} {
		if _, err := CanonicalLocale(bad); !candor.Is(err, candor.Invalid) {
			t.Errorf("CanonicalLocale(%q): %v, want Invalid", bad, err)
		}
	}
}

func TestCatalogMerge(t *testing.T) {
	c, err := BuiltinCatalog()
	if err != nil {
		t.Fatal(err)
	}
	g := api.Greeting{ID: "a", Occasion: "onam", Kind: "wish", Text: "Happy Onam"}
	merged, err := c.Merge(api.GreetingsCatalog{Locales: map[string][]api.Greeting{"ml-in": {g}, "zh-CN": nil}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(merged.Locales(), ","); got != "en-IN,en-US,hi-IN,ml-IN" {
		t.Errorf("locales after merge: %s", got)
	}
	if got := strings.Join(c.Locales(), ","); got != "en-IN,en-US,hi-IN,zh-CN" {
		t.Errorf("Merge changed its receiver: %s", got)
	}
	replaced, err := c.Merge(api.GreetingsCatalog{Locales: map[string][]api.Greeting{"ml-IN": {g}}, Replace: true})
	if err != nil || strings.Join(replaced.Locales(), ",") != "ml-IN" {
		t.Errorf("replace: %v %v", replaced.Locales(), err)
	}
	for name, bad := range map[string]api.Greeting{
		"kind": {ID: "a", Occasion: "onam", Kind: "rant", Text: "x"}, "empty": {ID: "a", Occasion: "onam", Kind: "wish", Text: " "},
		"id": {ID: "A B", Occasion: "onam", Kind: "wish", Text: "x"}, "occasion": {ID: "a", Occasion: "On Am", Kind: "wish", Text: "x"},
		"long": {ID: "a", Occasion: "onam", Kind: "wish", Text: strings.Repeat("x", MaxGreetingText+1)},
	} {
		if _, err := c.Merge(api.GreetingsCatalog{Locales: map[string][]api.Greeting{"ml-IN": {bad}}}); err == nil {
			t.Errorf("%s: a bad greeting was accepted", name)
		}
	}
	if _, err := c.Merge(api.GreetingsCatalog{Locales: map[string][]api.Greeting{"ml-IN": {g, g}}}); err == nil {
		t.Error("a duplicate id was accepted")
	}
}

// Renew re-signs the timestamp once half its life is gone, and the
// snapshot (with a new timestamp) once two thirds of its life are gone.
func TestOTARenew(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	o := NewOTA(&Memory{}, DefaultExpiry, func() time.Time { return now })
	if _, err := o.Publish(api.OTARelease{}); !candor.Is(err, candor.Invalid) {
		t.Fatalf("publish of nothing: %v", err)
	}
	if err := o.Unlock(make([]byte, 32)); err != nil {
		t.Fatal(err)
	}
	version := func() (ts, snap int64) {
		b, err := o.Metadata("timestamp.json")
		if err != nil {
			t.Fatal(err)
		}
		m, err := metadata.Timestamp().FromBytes(b)
		if err != nil {
			t.Fatal(err)
		}
		return m.Signed.Version, m.Signed.Meta["snapshot.json"].Version
	}
	if r, _ := o.Renew(); len(r) != 0 {
		t.Errorf("fresh metadata renewed: %v", r)
	}
	now = now.Add(13 * time.Hour)
	if r, err := o.Renew(); err != nil || strings.Join(r, ",") != "timestamp" {
		t.Fatalf("after 13h: %v %v", r, err)
	}
	if ts, snap := version(); ts != 2 || snap != 1 {
		t.Errorf("after 13h: timestamp %d snapshot %d", ts, snap)
	}
	now = now.Add(5 * 24 * time.Hour)
	if r, err := o.Renew(); err != nil || strings.Join(r, ",") != "snapshot,timestamp" {
		t.Fatalf("after 5 days: %v %v", r, err)
	}
	if ts, snap := version(); ts != 3 || snap != 2 {
		t.Errorf("after 5 days: timestamp %d snapshot %d", ts, snap)
	}
	// Another secret does not match the stored root.
	o.Lock()
	other := make([]byte, 32)
	other[0] = 1
	if err := o.Unlock(other); err == nil {
		t.Error("a different secret unlocked the repository")
	}
	for _, bad := range []string{"../x", "root.json", "0.root.json", "timestamp.json/x", "1.foo.json"} {
		if _, err := o.Metadata(bad); !candor.Is(err, candor.NotFound) {
			t.Errorf("Metadata(%q): %v", bad, err)
		}
	}
}
