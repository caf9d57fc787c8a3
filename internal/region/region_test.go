package region

import (
	"testing"

	"github.com/candorcloud/candor"
)

func TestHomeFor(t *testing.T) {
	c := Defaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for country, want := range map[string]candor.RegionID{"IN": "in", "SG": "sg", "MY": "sg", "US": "us", "CN": "cn", "FR": "us", "": "us"} {
		if got := c.HomeFor(country); got != want {
			t.Errorf("HomeFor(%q) = %s, want %s", country, got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	bad := []Config{
		{},
		{Regions: []Region{{ID: "IN"}}, Fallback: "IN"},
		{Regions: []Region{{ID: "in"}, {ID: "in"}}, Fallback: "in"},
		{Regions: []Region{{ID: "in", Countries: []string{"IN"}}, {ID: "sg", Countries: []string{"IN"}}}, Fallback: "in"},
		{Regions: []Region{{ID: "in"}}, Fallback: "us"},
	}
	for i, c := range bad {
		if c.Validate() == nil {
			t.Errorf("config %d: accepted", i)
		}
	}
}
