package content

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

//go:embed greetings/*.json
var builtin embed.FS

// Limits of a published catalog.
const (
	MaxGreetings    = 5000 // greetings in the whole catalog
	MaxGreetingText = 2000 // characters in one greeting
)

// greetingsFile is where a published catalog is kept.
const greetingsFile = "greetings.json"

// Kinds of greeting.
var greetingKinds = map[string]bool{"wish": true, "joke": true, "poem": true}

var (
	localePattern   = regexp.MustCompile(`^[a-z]{2,3}(-[A-Z]{2})?$`)
	occasionPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	idPattern       = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
)

// CanonicalLocale writes a locale as the catalog does: language in lower
// case, region in upper case ("hi-in" → "hi-IN"). It fails with Invalid
// for anything that is not a language[-REGION] tag.
func CanonicalLocale(s string) (string, error) {
	lang, reg, ok := strings.Cut(strings.ReplaceAll(strings.TrimSpace(s), "_", "-"), "-")
	out := strings.ToLower(lang)
	if ok {
		out += "-" + strings.ToUpper(reg)
	}
	if !localePattern.MatchString(out) {
		return "", candor.Errorf(candor.Invalid, "locale %q is not a language tag like hi-IN", s)
	}
	return out, nil
}

// Catalog is an immutable set of greetings by locale.
type Catalog struct {
	locales map[string][]api.Greeting
}

// BuiltinCatalog returns the catalog shipped inside the binary.
func BuiltinCatalog() (*Catalog, error) {
	c := &Catalog{locales: map[string][]api.Greeting{}}
	err := fs.WalkDir(builtin, "greetings", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := builtin.ReadFile(path)
		if err != nil {
			return err
		}
		var f struct {
			Locale    string         `json:"locale"`
			Greetings []api.Greeting `json:"greetings"`
		}
		if err := json.Unmarshal(b, &f); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		c.locales[f.Locale] = f.Greetings
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("built-in greetings: %w", err)
	}
	return c, nil
}

// Locales lists the catalog's locales, sorted.
func (c *Catalog) Locales() []string { return slices.Sorted(maps.Keys(c.locales)) }

// Count is the number of greetings in every locale.
func (c *Catalog) Count() int {
	n := 0
	for _, g := range c.locales {
		n += len(g)
	}
	return n
}

// Lookup returns the greetings of locale, only those of occasion when it
// is not empty. A known locale with no greeting for the occasion gives an
// empty list; an unknown locale fails with NotFound, naming the locales
// there are (phones fall back to en-US themselves if they wish).
func (c *Catalog) Lookup(locale, occasion string) (api.Greetings, error) {
	loc, err := CanonicalLocale(locale)
	if err != nil {
		return api.Greetings{}, err
	}
	occasion = strings.ToLower(strings.TrimSpace(occasion))
	if occasion != "" && !occasionPattern.MatchString(occasion) {
		return api.Greetings{}, candor.Errorf(candor.Invalid, "occasion %q is not a lowercase word like diwali or lunar-new-year", occasion)
	}
	all, ok := c.locales[loc]
	if !ok {
		return api.Greetings{}, candor.Errorf(candor.NotFound, "no greetings for locale %s; available: %s", loc, strings.Join(c.Locales(), ", "))
	}
	out := api.Greetings{Locale: loc, Occasion: occasion, Items: []api.Greeting{}}
	for _, g := range all {
		if occasion == "" || g.Occasion == occasion {
			out.Items = append(out.Items, g)
		}
	}
	return out, nil
}

// Merge returns a new catalog: c with each locale of in replacing its
// list, or exactly in when in.Replace is set. It fails with Invalid,
// naming the first problem, if the result is not a valid catalog.
func (c *Catalog) Merge(in api.GreetingsCatalog) (*Catalog, error) {
	out := &Catalog{locales: map[string][]api.Greeting{}}
	if !in.Replace {
		maps.Copy(out.locales, c.locales)
	}
	seen := map[string]string{}
	for loc, list := range in.Locales {
		canon, err := CanonicalLocale(loc)
		if err != nil {
			return nil, err
		}
		if other, ok := seen[canon]; ok {
			return nil, candor.Errorf(candor.Invalid, "locales %q and %q are the same locale: name it once", other, loc)
		}
		seen[canon] = loc
		if len(list) == 0 {
			delete(out.locales, canon) // an empty list withdraws a locale
			continue
		}
		out.locales[canon] = slices.Clone(list)
	}
	if err := out.validate(); err != nil {
		return nil, err
	}
	return out, nil
}

// validate checks every greeting and the catalog's size.
func (c *Catalog) validate() error {
	if len(c.locales) == 0 {
		return candor.E(candor.Invalid, "the catalog has no locale")
	}
	if n := c.Count(); n > MaxGreetings {
		return candor.Errorf(candor.TooLarge, "the catalog has %d greetings; at most %d", n, MaxGreetings)
	}
	for loc, list := range c.locales {
		if !localePattern.MatchString(loc) {
			return candor.Errorf(candor.Invalid, "locale %q is not a language tag like hi-IN", loc)
		}
		seen := map[string]bool{}
		for i, g := range list {
			where := fmt.Sprintf("%s greeting %d", loc, i+1)
			switch {
			case !idPattern.MatchString(g.ID):
				return candor.Errorf(candor.Invalid, "%s: id %q must be lowercase letters, digits, dots, dashes or underscores", where, g.ID)
			case seen[g.ID]:
				return candor.Errorf(candor.Invalid, "%s: id %q is used twice", where, g.ID)
			case !occasionPattern.MatchString(g.Occasion):
				return candor.Errorf(candor.Invalid, "%s: occasion %q must be a lowercase word like diwali", where, g.Occasion)
			case !greetingKinds[g.Kind]:
				return candor.Errorf(candor.Invalid, "%s: kind %q must be wish, joke or poem", where, g.Kind)
			case strings.TrimSpace(g.Text) == "":
				return candor.Errorf(candor.Invalid, "%s: the text is empty", where)
			case !utf8.ValidString(g.Text):
				return candor.Errorf(candor.Invalid, "%s: the text is not UTF-8", where)
			case hasControl(g.Text):
				return candor.Errorf(candor.Invalid, "%s: the text holds control characters (only line breaks and tabs may be used)", where)
			case utf8.RuneCountInString(g.Text) > MaxGreetingText:
				return candor.Errorf(candor.TooLarge, "%s: the text is longer than %d characters", where, MaxGreetingText)
			}
			seen[g.ID] = true
		}
	}
	return nil
}

// hasControl reports whether s holds a control character other than a line
// break or a tab: phones print these texts on a terminal or screen, where
// escape sequences must not reach.
func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return true
		}
	}
	return false
}

// Greetings serves the current catalog and lets staff publish a new one.
// A published catalog is kept in Files and outlives restarts; before any
// publish, the built-in catalog is served. Files is shared by every
// instance (the directory): each reads it again when what it serves is
// older than Fresh, so a catalog published through one instance is served
// by all within that time. Safe for concurrent use.
type Greetings struct {
	files Files
	now   func() time.Time

	mu     sync.RWMutex
	cur    *Catalog
	stored []byte    // the published catalog cur was read from (nil: built in)
	read   time.Time // when files was last read

	refreshing atomic.Bool // a lookup is reading files again
}

// Fresh is how old the catalog an instance serves may be: another
// instance's publication is served within it.
const Fresh = 5 * time.Second

// NewGreetings loads the published catalog from files, or the built-in one
// if none was published.
func NewGreetings(files Files) (*Greetings, error) {
	g := &Greetings{files: files, now: time.Now}
	if err := g.refresh(); err != nil {
		return nil, fmt.Errorf("greetings: %w", err)
	}
	return g, nil
}

// refresh reads the published catalog and serves it if it changed.
func (g *Greetings) refresh() error {
	now := g.now()
	b, err := g.files.Read(greetingsFile)
	if candor.Is(err, candor.NotFound) {
		b, err = nil, nil
	}
	if err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.read = now
	if g.cur != nil && bytes.Equal(b, g.stored) {
		return nil
	}
	next, err := parseCatalog(b)
	if err != nil {
		return err
	}
	g.cur, g.stored = next, b
	return nil
}

// parseCatalog reads a published catalog; nil is the built-in one.
func parseCatalog(b []byte) (*Catalog, error) {
	if b == nil {
		return BuiltinCatalog()
	}
	var in api.GreetingsCatalog
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("the published catalog is unreadable: %w", err)
	}
	in.Replace = true
	c, err := (&Catalog{}).Merge(in)
	if err != nil {
		return nil, fmt.Errorf("the published catalog is invalid: %w", err)
	}
	return c, nil
}

// current returns the catalog to serve, read again first if it is older
// than Fresh. A catalog that cannot be read again is served as it was.
func (g *Greetings) current() *Catalog {
	g.mu.RLock()
	c, stale := g.cur, g.now().Sub(g.read) >= Fresh
	g.mu.RUnlock()
	// One lookup reads the store again; the others meanwhile serve the
	// catalog they have, rather than all reading it at once.
	if !stale || !g.refreshing.CompareAndSwap(false, true) {
		return c
	}
	defer g.refreshing.Store(false)
	if g.refresh() == nil {
		g.mu.RLock()
		c = g.cur
		g.mu.RUnlock()
	}
	return c
}

// Lookup is Catalog.Lookup on the current catalog.
func (g *Greetings) Lookup(locale, occasion string) (api.Greetings, error) {
	return g.current().Lookup(locale, occasion)
}

// Check reports what Publish would refuse in, changing nothing.
func (g *Greetings) Check(in api.GreetingsCatalog) error {
	_, err := g.current().Merge(in)
	return err
}

// Publish merges in into the current catalog (see Catalog.Merge), stores
// the result and serves it from now on. Nothing changes if it fails. It
// merges into the stored catalog as read just before, so that it keeps
// what another instance published.
func (g *Greetings) Publish(in api.GreetingsCatalog) (api.GreetingsPublished, error) {
	if err := g.refresh(); err != nil {
		return api.GreetingsPublished{}, candor.Wrap(candor.Unavailable, "cannot read the greetings catalog", err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	next, err := g.cur.Merge(in)
	if err != nil {
		return api.GreetingsPublished{}, err
	}
	b, err := json.MarshalIndent(api.GreetingsCatalog{Locales: next.locales}, "", "  ")
	if err != nil {
		return api.GreetingsPublished{}, err
	}
	if err := g.files.Write(greetingsFile, b); err != nil {
		return api.GreetingsPublished{}, candor.Wrap(candor.Unavailable, "cannot store the greetings catalog", err)
	}
	g.cur, g.stored, g.read = next, b, g.now()
	return api.GreetingsPublished{Locales: next.Locales(), Greetings: next.Count()}, nil
}
