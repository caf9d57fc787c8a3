// Package retention keeps data no longer than needed (promise P11): rules
// per region say how long each kind of data may stay, a purge applies them
// (run by `candor operator retention run` and periodically by the server),
// and every person can read the rules that apply to them.
package retention

import (
	"context"
	"fmt"
	"time"

	"github.com/candorcloud/candor"
)

// Rules say how long each kind of data is kept. Zero fields take the
// defaults.
type Rules struct {
	// DeletedItems: how long a deleted contact, note, SMS or photo record
	// stays as a tombstone so other phones learn of the deletion (default
	// 90 days). A phone offline for longer than this is told to read the
	// category again from the start (api.Feed.Reset), so it still learns
	// of the deletion.
	DeletedItems Duration `json:"deleted_items"`
	// UndeliveredMessages: how long a message waits for a device that does
	// not fetch it (default 30 days).
	UndeliveredMessages Duration `json:"undelivered_messages"`
	// AbandonedUploads: how long an unfinished photo upload may wait
	// (default 24 hours).
	AbandonedUploads Duration `json:"abandoned_uploads"`
}

// Fixed rules, not configurable, stated so people can read them.
const (
	AuditEvents   = "kept for the life of the log: every entry is needed to prove the log was not altered; entries hold pseudonyms, never content"
	ConsentLedger = "kept while the account exists, deleted with it"
	AccountData   = "kept while the category is on; deleted at once when it is turned off or the account is deleted"
)

// Duration is a time.Duration written as "90d", "24h" or "30m".
type Duration time.Duration

// UnmarshalText reads "90d" (days) or any time.ParseDuration form.
func (d *Duration) UnmarshalText(b []byte) error {
	s := string(b)
	var n int
	if _, err := fmt.Sscanf(s, "%dd", &n); err == nil && n > 0 && fmt.Sprintf("%dd", n) == s {
		*d = Duration(time.Duration(n) * 24 * time.Hour)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		return fmt.Errorf("retention %q: use a positive duration such as 90d or 24h", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes whole days as "Nd".
func (d Duration) MarshalText() ([]byte, error) {
	v := time.Duration(d)
	switch {
	case v%(24*time.Hour) == 0:
		return fmt.Appendf(nil, "%dd", v/(24*time.Hour)), nil
	case v%time.Hour == 0:
		return fmt.Appendf(nil, "%dh", v/time.Hour), nil
	case v%time.Minute == 0:
		return fmt.Appendf(nil, "%dm", v/time.Minute), nil
	}
	return []byte(v.String()), nil
}

// WithDefaults fills zero fields.
func (r Rules) WithDefaults() Rules {
	if r.DeletedItems <= 0 {
		r.DeletedItems = Duration(90 * 24 * time.Hour)
	}
	if r.UndeliveredMessages <= 0 {
		r.UndeliveredMessages = Duration(30 * 24 * time.Hour)
	}
	if r.AbandonedUploads <= 0 {
		r.AbandonedUploads = Duration(24 * time.Hour)
	}
	return r
}

// Store is what purging needs of a region store.
type Store interface {
	PurgeTombstones(ctx context.Context, before time.Time, limit int) (int, error)
	ExpireEnvelopes(ctx context.Context, now time.Time) (int, error)
}

// Uploads expires a region's abandoned uploads (package photos).
type Uploads interface {
	Expire(ctx context.Context, region candor.RegionID) (int, error)
}

// Purged counts what one run removed in one region.
type Purged struct {
	Region              candor.RegionID `json:"region"`
	DeletedItems        int             `json:"deleted_items"`
	UndeliveredMessages int             `json:"undelivered_messages"`
	AbandonedUploads    int             `json:"abandoned_uploads"`
}

// Purge applies a region's rules at now and reports what went. Messages
// and uploads carry their expiry from when they were made (under the rules
// then in force); tombstones are purged by age.
func Purge(ctx context.Context, region candor.RegionID, rules Rules, st Store, up Uploads, now time.Time) (Purged, error) {
	rules = rules.WithDefaults()
	p := Purged{Region: region}
	for {
		n, err := st.PurgeTombstones(ctx, now.Add(-time.Duration(rules.DeletedItems)), 1000)
		if err != nil {
			return p, err
		}
		p.DeletedItems += n
		if n < 1000 {
			break
		}
	}
	var err error
	if p.UndeliveredMessages, err = st.ExpireEnvelopes(ctx, now); err != nil {
		return p, err
	}
	if p.AbandonedUploads, err = up.Expire(ctx, region); err != nil {
		return p, err
	}
	return p, nil
}
