package content

import (
	"testing"
	"time"

	"github.com/candorcloud/candor/api"
)

// Two instances over one store: a catalog published through one is served
// by the other within Fresh, and a publication through the other keeps it.
func TestGreetingsAcrossInstances(t *testing.T) {
	files := &Memory{}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	one, err := NewGreetings(files)
	if err != nil {
		t.Fatal(err)
	}
	two, err := NewGreetings(files)
	if err != nil {
		t.Fatal(err)
	}
	one.now, two.now = clock, clock
	one.read, two.read = now, now

	onam := api.Greeting{ID: "onam-1", Occasion: "onam", Kind: "wish", Text: "Onam ashamsakal"}
	if _, err := one.Publish(api.GreetingsCatalog{Locales: map[string][]api.Greeting{"ml-IN": {onam}}}); err != nil {
		t.Fatal(err)
	}
	if g, _ := two.Lookup("ml-IN", "onam"); len(g.Items) != 0 {
		t.Fatalf("served before Fresh passed: %+v (the test's premise)", g)
	}
	now = now.Add(Fresh)
	if g, err := two.Lookup("ml-IN", "onam"); err != nil || len(g.Items) != 1 {
		t.Fatalf("the other instance serves %+v, %v after Fresh, want the greeting published through the first", g, err)
	}

	vishu := api.Greeting{ID: "vishu-1", Occasion: "vishu", Kind: "wish", Text: "Vishu ashamsakal"}
	now = now.Add(time.Second) // two's copy is fresh: Publish reads again anyway
	if _, err := one.Publish(api.GreetingsCatalog{Locales: map[string][]api.Greeting{"ml-IN": {vishu}}}); err != nil {
		t.Fatal(err)
	}
	diwali := api.Greeting{ID: "diwali-9", Occasion: "diwali", Kind: "wish", Text: "Shubh Deepavali"}
	if _, err := two.Publish(api.GreetingsCatalog{Locales: map[string][]api.Greeting{"hi-IN": {diwali}}}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(Fresh)
	for _, g := range []*Greetings{one, two} {
		if got, _ := g.Lookup("ml-IN", "vishu"); len(got.Items) != 1 {
			t.Errorf("a publication through one instance was lost by the next through the other: %+v", got)
		}
	}
}
