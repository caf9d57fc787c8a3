package audit_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/candorcloud/candor/internal/audit"
)

// The canonical encodings of events: the bytes a log stores and hashes.
// They are pinned, since changing one changes every hash after it. The
// time is in UTC, to the microsecond, whatever zone and precision the
// event was made with; empty fields are left out.
var encodings = []struct {
	name  string
	event audit.Event
	json  string
}{
	{
		"the fewest fields",
		audit.Event{Time: t0, Actor: "system", Action: audit.ActionUnseal, Outcome: audit.OK},
		`{"time":"2025-03-01T09:00:00Z","actor":"system","action":"keys.unseal","outcome":"ok"}`,
	},
	{
		"nanoseconds cut to microseconds",
		audit.Event{Time: t0.Add(123456789 * time.Nanosecond), Actor: "system", Action: audit.ActionSeal, Outcome: audit.OK},
		`{"time":"2025-03-01T09:00:00.123456Z","actor":"system","action":"keys.seal","outcome":"ok"}`,
	},
	{
		"a time just short of the next microsecond cut, not rounded",
		audit.Event{Time: t0.Add(999 * time.Nanosecond), Actor: "system", Action: audit.ActionSeal, Outcome: audit.OK},
		`{"time":"2025-03-01T09:00:00Z","actor":"system","action":"keys.seal","outcome":"ok"}`,
	},
	{
		"a time in another zone",
		audit.Event{Time: time.Date(2025, 3, 1, 14, 30, 0, 7000, time.FixedZone("IST", 5*3600+1800)), Actor: "custodian", Action: audit.ActionRekey, Outcome: audit.OK},
		`{"time":"2025-03-01T09:00:00.000007Z","actor":"custodian","action":"keys.rekey","outcome":"ok"}`,
	},
	{
		"a time read from the clock, with its monotonic reading",
		audit.Event{Time: monotonic(t0), Actor: "system", Action: audit.ActionRotate, Outcome: audit.OK},
		`{"time":"2025-03-01T09:00:00Z","actor":"system","action":"keys.rotate","outcome":"ok"}`,
	},
	{
		"every field",
		audit.Event{
			Time: t0, Actor: "staff:s-1", Action: audit.ActionStaffRead, Outcome: audit.Denied,
			Region: "in", Account: "00112233445566778899aabbccddeeff", Category: "contacts",
			Grant: "g-1", Subject: "s-2", Count: 3, Reason: "ticket-4711 sync bug",
			Approvers: []string{"s-3", "s-4"}, Code: "forbidden",
		},
		`{"time":"2025-03-01T09:00:00Z","actor":"staff:s-1","action":"staff.read","outcome":"denied",` +
			`"region":"in","account":"00112233445566778899aabbccddeeff","category":"contacts",` +
			`"grant":"g-1","subject":"s-2","count":3,"reason":"ticket-4711 sync bug",` +
			`"approvers":["s-3","s-4"],"code":"forbidden"}`,
	},
	{
		"no approvers",
		audit.Event{Time: t0, Actor: "staff:s-1", Action: audit.ActionRequest, Outcome: audit.OK, Approvers: []string{}},
		`{"time":"2025-03-01T09:00:00Z","actor":"staff:s-1","action":"grant.request","outcome":"ok"}`,
	},
	{
		"a reason with quotes, markup and accents",
		audit.Event{Time: t0, Actor: "staff:s-1", Action: audit.ActionRequest, Outcome: audit.OK, Reason: `"<b>café</b>" & more`},
		`{"time":"2025-03-01T09:00:00Z","actor":"staff:s-1","action":"grant.request","outcome":"ok","reason":"\"\u003cb\u003ecafé\u003c/b\u003e\" \u0026 more"}`,
	},
	{
		"a time before 1970",
		audit.Event{Time: time.Date(1969, 7, 20, 20, 17, 40, 500, time.UTC), Actor: "system", Action: audit.ActionInit, Outcome: audit.Failed, Code: "internal"},
		`{"time":"1969-07-20T20:17:40Z","actor":"system","action":"keys.init","outcome":"failed","code":"internal"}`,
	},
}

// monotonic returns t with a monotonic clock reading, as time.Now gives.
func monotonic(t time.Time) time.Time {
	now := time.Now()
	return now.Add(t.Sub(now))
}

// Encode is canonical: each event encodes to its pinned bytes, and an
// encoding decodes to the event (its time in UTC, to the microsecond),
// which encodes to the same bytes again.
func TestEncode(t *testing.T) {
	for _, tt := range encodings {
		got := string(tt.event.Encode())
		if got != tt.json {
			t.Errorf("%s: Encode =\n%s\nwant\n%s", tt.name, got, tt.json)
			continue
		}
		e, err := audit.Decode([]byte(tt.json))
		if err != nil {
			t.Errorf("%s: Decode: %v", tt.name, err)
			continue
		}
		if again := string(e.Encode()); again != tt.json {
			t.Errorf("%s: Encode(Decode(Encode)) =\n%s\nwant\n%s", tt.name, again, tt.json)
		}
		want := tt.event
		want.Time = tt.event.Time.UTC().Truncate(time.Microsecond)
		if len(want.Approvers) == 0 {
			want.Approvers = nil
		}
		if e.Time.Location() != time.UTC || !e.Time.Equal(want.Time) {
			t.Errorf("%s: decoded time %v, want %v in UTC", tt.name, e.Time, want.Time)
		}
		e.Time, want.Time = time.Time{}, time.Time{}
		if !reflect.DeepEqual(e, want) {
			t.Errorf("%s: Decode = %+v, want %+v", tt.name, e, want)
		}
	}
}

// Decode refuses what is not an encoded event.
func TestDecodeRefuses(t *testing.T) {
	for _, in := range []string{
		``,
		`nothing happened`,
		`{`,
		`[]`,
		`"keys.unseal"`,
		`{"time":"yesterday"}`,
		`{"time":"2025-03-01 09:00:00"}`,
		`{"count":"three"}`,
		`{"approvers":"s-3"}`,
	} {
		if e, err := audit.Decode([]byte(in)); err == nil {
			t.Errorf("Decode(%q) = %+v, want an error", in, e)
		}
	}
}
