package egress

import (
	"encoding/base64"
	"strings"
	"testing"
)

// A category's data is allowed only in its own sync requests while it is
// on; after withdrawal, in another form, or elsewhere, it is a violation.
func TestPolicyAllowsOnlyWhatThePhaseNeeds(t *testing.T) {
	s := newSeed()
	det := NewDetector(s.canaries())
	push := Request{Method: "POST", Path: "/v1/records/contacts",
		Body: []byte(`{"changes":[{"data":"` + base64.StdEncoding.EncodeToString([]byte(s.vcard())) + `"}]}`)}
	byPhase := map[string]phase{}
	for _, ph := range s.phases() {
		byPhase[ph.name] = ph
	}
	for name, want := range map[string]string{
		"signup, all consents off":   "failed",
		"contacts on":                "passed",
		"messaging on":               "failed", // no service syncs there
		"sync after withdrawal":      "failed",
		"first boot, everything off": "failed",
	} {
		var pr PhaseReport
		pr.check(det, []Request{push}, byPhase[name].allow)
		if pr.Status != want {
			t.Errorf("phase %q: contacts pushed: %s, want %s (%+v)", name, pr.Status, want, pr.Findings)
		}
	}
	// The phone's own number: only to verification, in messaging, and only
	// from that phone (A sending B's number there is a leak).
	verify := Request{Phone: "A", Method: "POST", Path: "/v1/messaging/verification", Body: []byte(`{"phone":"` + s.phoneA + `"}`)}
	for name, want := range map[string]string{"messaging on": "passed", "contacts on": "failed", "sync after withdrawal": "failed"} {
		var pr PhaseReport
		pr.check(det, []Request{verify}, byPhase[name].allow)
		if pr.Status != want {
			t.Errorf("phase %q: number to verification: %s, want %s", name, pr.Status, want)
		}
	}
	other := Request{Phone: "A", Method: "POST", Path: "/v1/messaging/verification", Body: []byte(`{"phone":"` + s.phoneB + `"}`)}
	var pr PhaseReport
	pr.check(det, []Request{other}, byPhase["messaging on"].allow)
	if pr.Status != "failed" {
		t.Errorf("phone A sending B's number to verification passed: %+v", pr.Findings)
	}
	// The IMEI is never allowed, anywhere.
	for _, ph := range s.phases() {
		var pr PhaseReport
		pr.check(det, []Request{{Method: "POST", Path: "/v1/records/contacts", Body: []byte(s.imeiA)}}, ph.allow)
		if pr.Status != "failed" {
			t.Errorf("phase %q allows the IMEI", ph.name)
		}
	}
	rep := &Report{Phases: []PhaseReport{{Name: "x", Findings: []Finding{{Match: Match{Item: "IMEI", Form: "sha256 hex"}, Where: "header X-Foo", Method: "GET", Path: "/v1/a"}}}}}
	rep.finish()
	if rep.Passed || !strings.Contains(rep.Violations[0].Message, `phase "x": IMEI (sha256 hex) in header X-Foo of GET /v1/a`) {
		t.Errorf("violation message: %+v", rep.Violations)
	}
}

// A text item with only its random word sent (a preview cut before the
// rest), or a name with its parts swapped, is still caught by its long
// random words.
func TestPartsOfTextItemsAreCaught(t *testing.T) {
	s := newSeed()
	det := NewDetector(s.canaries())
	first, last, _ := strings.Cut(s.contactName, " ")
	for what, body := range map[string]string{
		"contact name (part)": "N:" + last + ";" + first + ";;;",
		"note text (part)":    "preview: …" + strings.Fields(s.noteText)[3],
	} {
		found := false
		for _, f := range det.Scan(Request{Method: "POST", Path: "/v1/x", Body: []byte(body)}) {
			found = found || f.Item == what
		}
		if !found {
			t.Errorf("%s not found in %q", what, body)
		}
	}
}
