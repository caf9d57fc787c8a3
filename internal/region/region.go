// Package region describes the regions a Candor deployment serves and
// chooses each account's home region from its country (promise P12). Every
// region has its own metadata store, and in later layers its own blob store
// and key; an account's data lives only in its home region.
package region

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/retention"
)

// Region is one region of a deployment.
type Region struct {
	ID           candor.RegionID `json:"id"`
	Name         string          `json:"name"`
	Jurisdiction string          `json:"jurisdiction"`
	// Countries are the ISO 3166-1 alpha-2 codes whose accounts live here.
	Countries []string `json:"countries"`
	// Retention says how long this region keeps each kind of data.
	Retention retention.Rules `json:"retention,omitempty"`
	// URL is where the processes of this region are reached (its load
	// balancer), such as "https://in.candor.example.org": a process that
	// does not serve the region forwards the region's requests there.
	// Needed only by processes that serve some regions, not all.
	URL string `json:"url,omitempty"`
}

// Rules returns the retention rules of a region (the defaults for an
// unknown one).
func (c Config) Rules(id candor.RegionID) retention.Rules {
	for _, r := range c.Regions {
		if r.ID == id {
			return r.Retention.WithDefaults()
		}
	}
	return retention.Rules{}.WithDefaults()
}

// Config is the list of regions and the fallback for countries no region
// lists.
type Config struct {
	Regions  []Region        `json:"regions"`
	Fallback candor.RegionID `json:"fallback"`
}

// Defaults are the regions `serve --dev` starts: India, Singapore (serving
// South-East Asia), the United States (serving the Americas and the
// fallback) and mainland China.
func Defaults() Config {
	return Config{
		Regions: []Region{
			{ID: "in", Name: "India", Jurisdiction: "IN", Countries: []string{"IN"}},
			{ID: "sg", Name: "Singapore", Jurisdiction: "SG", Countries: []string{"SG", "MY", "ID", "TH", "VN", "PH"}},
			{ID: "us", Name: "United States", Jurisdiction: "US", Countries: []string{"US", "CA", "MX", "BR"}},
			{ID: "cn", Name: "China", Jurisdiction: "CN", Countries: []string{"CN"}},
		},
		Fallback: "us",
	}
}

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{1,15}$`)

// Validate checks that ids are well-formed and unique, that no country is
// served by two regions, and that the fallback exists.
func (c Config) Validate() error {
	if len(c.Regions) == 0 {
		return fmt.Errorf("no regions configured")
	}
	ids := map[candor.RegionID]bool{}
	countries := map[string]candor.RegionID{}
	for _, r := range c.Regions {
		if !idPattern.MatchString(string(r.ID)) {
			return fmt.Errorf("region id %q: use 2-16 lowercase letters, digits or dashes", r.ID)
		}
		if ids[r.ID] {
			return fmt.Errorf("region %q is configured twice", r.ID)
		}
		ids[r.ID] = true
		if r.URL != "" {
			u, err := url.Parse(r.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
				return fmt.Errorf("region %s: url: use the http or https base URL of the region's processes, like https://in.candor.example.org", r.ID)
			}
		}
		for _, cc := range r.Countries {
			if other, ok := countries[cc]; ok {
				return fmt.Errorf("country %s is served by both %s and %s", cc, other, r.ID)
			}
			countries[cc] = r.ID
		}
	}
	if !ids[c.Fallback] {
		return fmt.Errorf("fallback region %q is not configured", c.Fallback)
	}
	return nil
}

// HomeFor returns the region that serves a country: the one listing it, or
// the fallback.
func (c Config) HomeFor(country string) candor.RegionID {
	for _, r := range c.Regions {
		if slices.Contains(r.Countries, country) {
			return r.ID
		}
	}
	return c.Fallback
}

// IDs lists the configured region ids in order.
func (c Config) IDs() []candor.RegionID {
	ids := make([]candor.RegionID, len(c.Regions))
	for i, r := range c.Regions {
		ids[i] = r.ID
	}
	return ids
}
