package content

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
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
	ts0, snap0 := version()
	now = now.Add(13 * time.Hour)
	if r, err := o.Renew(); err != nil || strings.Join(r, ",") != "timestamp" {
		t.Fatalf("after 13h: %v %v", r, err)
	}
	ts1, snap1 := version()
	if ts1 <= ts0 || snap1 != snap0 {
		t.Errorf("after 13h: timestamp %d (was %d), snapshot %d (was %d)", ts1, ts0, snap1, snap0)
	}
	now = now.Add(5 * 24 * time.Hour)
	if r, err := o.Renew(); err != nil || strings.Join(r, ",") != "snapshot,timestamp" {
		t.Fatalf("after 5 days: %v %v", r, err)
	}
	if ts, snap := version(); ts <= ts1 || snap <= snap1 {
		t.Errorf("after 5 days: timestamp %d (was %d), snapshot %d (was %d)", ts, ts1, snap, snap1)
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

// Someone who can write the data folder but holds no key edits the stored
// metadata (a forged notice in targets, made to look due; a key of their own
// in the root): the server refuses to sign on top of it, so phones never see
// the forgery with a valid signature.
func TestOTARefusesToResignTamperedFiles(t *testing.T) {
	legit := api.OTARelease{Model: "orchid", Channel: "stable", Version: "1.0", URL: "https://good.example/1.zip",
		SHA256: strings.Repeat("a", 64), Size: 10}
	setup := func(t *testing.T) (*OTA, string) {
		dir := t.TempDir()
		o := NewOTA(Dir(dir), DefaultExpiry, nil)
		if err := o.Unlock(make([]byte, 32)); err != nil {
			t.Fatal(err)
		}
		if _, err := o.Publish(legit); err != nil {
			t.Fatal(err)
		}
		return o, dir
	}
	t.Run("targets", func(t *testing.T) {
		o, dir := setup(t)
		_, _, targets, err := o.current()
		if err != nil {
			t.Fatal(err)
		}
		evil := legit
		evil.URL = "https://evil.example/backdoor.zip"
		notice, _ := json.Marshal(evil)
		tf, _ := metadata.TargetFile().FromBytes("ota/orchid/stable.json", notice, "sha256")
		targets.Signed.Targets["ota/orchid/stable.json"] = tf
		targets.Signed.Expires = time.Now().Add(time.Hour) // due for renewal
		b, _ := targets.ToBytes(true)                      // the old signature, now wrong
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("metadata/%d.targets.json", targets.Signed.Version)), b, 0o600)
		if _, err := o.Renew(); !candor.Is(err, candor.Integrity) {
			t.Fatalf("Renew over tampered targets: %v, want an integrity error", err)
		}
		if _, err := o.Publish(legit); !candor.Is(err, candor.Integrity) {
			t.Fatalf("Publish over tampered targets: %v, want an integrity error", err)
		}
	})
	t.Run("root", func(t *testing.T) {
		o, dir := setup(t)
		root, err := o.loadRoot()
		if err != nil {
			t.Fatal(err)
		}
		_, priv, _ := ed25519.GenerateKey(nil)
		k, _ := metadata.KeyFromPublicKey(priv.Public())
		if err := root.Signed.AddKey(k, metadata.TARGETS); err != nil {
			t.Fatal(err)
		}
		root.Signed.Expires = time.Now().Add(time.Hour)
		b, _ := root.ToBytes(true)
		os.WriteFile(filepath.Join(dir, "metadata/root.json"), b, 0o600)
		if _, err := o.Renew(); !candor.Is(err, candor.Integrity) {
			t.Fatalf("Renew over a root with a foreign key: %v, want an integrity error", err)
		}
		o2 := NewOTA(Dir(dir), DefaultExpiry, nil)
		if err := o2.Unlock(make([]byte, 32)); !candor.Is(err, candor.Integrity) {
			t.Fatalf("Unlock over a root with a foreign key: %v, want an integrity error", err)
		}
	})
}

// Two spellings of one locale in one catalog are refused, not resolved by
// map order.
func TestCatalogMergeRefusesOneLocaleTwice(t *testing.T) {
	c, err := BuiltinCatalog()
	if err != nil {
		t.Fatal(err)
	}
	g := api.Greeting{ID: "a", Occasion: "onam", Kind: "wish", Text: "Happy Onam"}
	for range 20 { // map order varies between runs
		_, err := c.Merge(api.GreetingsCatalog{Locales: map[string][]api.Greeting{"ml-IN": {g}, "ml-in": nil}})
		if !candor.Is(err, candor.Invalid) {
			t.Fatalf("one locale named twice: %v, want Invalid", err)
		}
	}
}

// Texts phones print carry no terminal escapes or other control characters.
func TestControlCharactersRefused(t *testing.T) {
	c, err := BuiltinCatalog()
	if err != nil {
		t.Fatal(err)
	}
	bad := api.Greeting{ID: "a", Occasion: "onam", Kind: "wish", Text: "Happy \x1b[2JOnam"}
	if _, err := c.Merge(api.GreetingsCatalog{Locales: map[string][]api.Greeting{"ml-IN": {bad}}}); !candor.Is(err, candor.Invalid) {
		t.Fatalf("a greeting with an escape sequence: %v, want Invalid", err)
	}
	good := bad
	good.Text = "Happy Onam,\n\tto all"
	if _, err := c.Merge(api.GreetingsCatalog{Locales: map[string][]api.Greeting{"ml-IN": {good}}}); err != nil {
		t.Fatalf("line breaks and tabs: %v", err)
	}
	r := api.OTARelease{Model: "orchid", Channel: "stable", Version: "1.0", URL: "https://good.example/1.zip",
		SHA256: strings.Repeat("a", 64), Size: 10, Notes: "fixes\x07"}
	if err := ValidateRelease(r); !candor.Is(err, candor.Invalid) {
		t.Fatalf("notes with a control character: %v, want Invalid", err)
	}
	r.Notes = "fixes\n- the camera"
	if err := ValidateRelease(r); err != nil {
		t.Fatalf("plain notes: %v", err)
	}
}

// Versions keep rising even when the stored metadata is lost: a fresh
// repository made later from the same secret signs versions above the old
// ones, so phones that saw the old ones accept the new.
func TestOTAVersionsRiseAfterLoss(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	tsVersion := func(o *OTA) int64 {
		b, err := o.Metadata("timestamp.json")
		if err != nil {
			t.Fatal(err)
		}
		m, err := metadata.Timestamp().FromBytes(b)
		if err != nil {
			t.Fatal(err)
		}
		return m.Signed.Version
	}
	first := NewOTA(&Memory{}, DefaultExpiry, clock)
	if err := first.Unlock(make([]byte, 32)); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := first.Publish(api.OTARelease{Model: "orchid", Channel: "stable", Version: "1.0",
			URL: "https://good.example/1.zip", SHA256: strings.Repeat("a", 64), Size: 10}); err != nil {
			t.Fatal(err)
		}
	}
	seen := tsVersion(first)
	now = now.Add(time.Minute) // a restart with nothing kept
	second := NewOTA(&Memory{}, DefaultExpiry, clock)
	if err := second.Unlock(make([]byte, 32)); err != nil {
		t.Fatal(err)
	}
	if v := tsVersion(second); v <= seen {
		t.Fatalf("after losing its metadata the server signs timestamp version %d, not above the %d phones saw", v, seen)
	}
}
