package api

import "time"

// Greeting is one preset message a phone can show or send: a holiday wish,
// a joke or a short poem. Greetings are public content, the same for every
// phone; fetching them sends no identifier.
type Greeting struct {
	// ID is stable within its locale, e.g. "diwali-1".
	ID string `json:"id"`
	// Occasion is diwali, holi, eid, christmas, lunar-new-year, birthday,
	// everyday, or another lowercase word an operator publishes.
	Occasion string `json:"occasion"`
	// Kind is wish, joke or poem.
	Kind string `json:"kind"`
	// Text is the message, in the locale's script.
	Text string `json:"text"`
}

// Greetings answers GET /v1/public/greetings: the greetings of one locale,
// of one occasion when asked for.
type Greetings struct {
	Locale   string     `json:"locale"`
	Occasion string     `json:"occasion,omitempty"`
	Items    []Greeting `json:"items"`
}

// GreetingsCatalog is what staff publish (POST /v1/operator/greetings): the
// greetings of each locale named. Each locale given replaces that locale's
// list; other locales are kept, unless Replace is set, in which case the
// catalog becomes exactly this one.
type GreetingsCatalog struct {
	Locales map[string][]Greeting `json:"locales"`
	Replace bool                  `json:"replace,omitempty"`
}

// GreetingsPublished answers a publish: the catalog now served.
type GreetingsPublished struct {
	Locales   []string `json:"locales"`
	Greetings int      `json:"greetings"`
}

// OTARelease is an update notice for one device model and channel: the
// content of the signed target ota/MODEL/CHANNEL.json.
type OTARelease struct {
	Model     string    `json:"model"`
	Channel   string    `json:"channel"`
	Version   string    `json:"version"`
	URL       string    `json:"url"`
	SHA256    string    `json:"sha256"`
	Size      int64     `json:"size"`
	Notes     string    `json:"notes,omitempty"`
	Published time.Time `json:"published"`
}

// OTAPublished answers POST /v1/operator/ota: the release and the versions
// of the signed metadata that now carry it.
type OTAPublished struct {
	Release          OTARelease `json:"release"`
	TargetsVersion   int64      `json:"targets_version"`
	SnapshotVersion  int64      `json:"snapshot_version"`
	TimestampVersion int64      `json:"timestamp_version"`
}
