package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client/auditproof"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// cli runs one candor command line in-process.
func cli(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// ok runs a command that must succeed and returns its stdout.
func ok(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	code, out, errs := cli(t, stdin, args...)
	if code != 0 {
		t.Fatalf("candor %s: exit %d: %s", strings.Join(args, " "), code, errs)
	}
	return out
}

func TestDeviceUsageErrors(t *testing.T) {
	st := filepath.Join(t.TempDir(), "p")
	for _, args := range [][]string{
		{"device", "status"}, // no --state
		{"device", "--state", st, "consent", "contacts"},
		{"device", "--state", st, "consent", "contacts", "maybe"},
		{"device", "--state", st, "consent", "bogus", "on"},
		{"device", "--state", st, "sync", "bogus"},
		{"device", "--state", st, "init", "--server", "http://x"},
		{"device", "--state", st, "contacts", "add", "--name", "x"},
		{"device", "--state", st, "status", "extra"},
		{"device", "--state", st, "nosuch"},
	} {
		code, _, errs := cli(t, "", args...)
		if code != exitUsage {
			t.Errorf("candor %s: exit %d, want %d (%s)", strings.Join(args, " "), code, exitUsage, errs)
		}
		if strings.Count(strings.TrimSpace(errs), "\n") != 0 || errs == "" {
			t.Errorf("candor %s: stderr is not one line: %q", strings.Join(args, " "), errs)
		}
	}
}

func TestDeviceWalk(t *testing.T) {
	env := servertest.Start(t)
	dir := t.TempDir()
	vcf := filepath.Join(dir, "contacts.vcf")
	var b strings.Builder
	for i := range 20 {
		fmt.Fprintf(&b, "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Oriel Quillfeather %02d\r\nTEL;TYPE=CELL:+9198700000%02d\r\nEMAIL:o%02d@example.invalid\r\nEND:VCARD\r\n", i, i, i)
	}
	os.WriteFile(vcf, []byte(b.String()), 0o600)
	notes := filepath.Join(dir, "notes")
	os.Mkdir(notes, 0o700)
	for i := range 3 {
		os.WriteFile(filepath.Join(notes, fmt.Sprintf("note-%d.txt", i)), []byte(fmt.Sprintf("Marmalade-ledger %d\n", i)), 0o600)
	}
	a, bph := filepath.Join(dir, "A"), filepath.Join(dir, "B")
	const email, password = "oriel@example.invalid", "Orchid-Lantern-7731!"

	if code, _, errs := cli(t, "", "device", "--state", a, "init", "--server", env.URL, "--imei", "356938035643809", "--phone", "+919812345678", "--country", "IN", "--sms", "x.xml"); code != exitFailure || !strings.Contains(errs, "cannot open the SMS file") {
		t.Errorf("init --sms: exit %d %q", code, errs)
	}
	ok(t, "", "device", "--state", a, "init", "--server", env.URL, "--imei", "356938035643809", "--phone", "+919812345678", "--country", "IN", "--contacts", vcf, "--notes", notes)
	if code, _, _ := cli(t, "", "device", "--state", a, "init", "--server", env.URL, "--imei", "356938035643809", "--phone", "+919812345678", "--country", "IN"); code == 0 {
		t.Error("a second init succeeded")
	}
	if code, _, errs := cli(t, "", "device", "--state", a, "signup", "--email", email); code != exitUsage {
		t.Errorf("signup without a password: exit %d %s", code, errs)
	}
	ok(t, password+"\n", "device", "--state", a, "signup", "--email", email)

	code, _, errs := cli(t, "", "device", "--state", a, "sync", "contacts")
	if code != exitNoConsent || !strings.Contains(errs, "contacts") || !strings.Contains(errs, "consent contacts on") {
		t.Errorf("sync of contacts while off: exit %d %q", code, errs)
	}
	if out := ok(t, "", "device", "--state", a, "sync"); !strings.Contains(out, "every service is off") {
		t.Errorf("sync with everything off: %q", out)
	}
	ok(t, "", "device", "--state", a, "consent", "contacts", "on")
	ok(t, "", "device", "--state", a, "sync")

	var status struct {
		Account    string `json:"account"`
		Region     string `json:"region"`
		Categories map[string]struct {
			On    bool `json:"on"`
			Items int  `json:"items"`
		} `json:"categories"`
	}
	if err := json.Unmarshal([]byte(ok(t, "", "device", "--state", a, "status", "--json")), &status); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(status.Account, "acc_") || status.Region == "" || len(status.Categories) != 5 ||
		!status.Categories["contacts"].On || status.Categories["contacts"].Items != 20 ||
		status.Categories["notes"].On || status.Categories["notes"].Items != 3 {
		t.Errorf("status = %+v", status)
	}

	ok(t, "", "device", "--state", bph, "init", "--server", env.URL, "--imei", "356938035643817", "--phone", "+919812345679", "--country", "IN")
	ok(t, password+"\n", "device", "--state", bph, "login", "--email", email)
	ok(t, "", "device", "--state", bph, "sync")
	var contacts []struct {
		ID     string   `json:"id"`
		Name   string   `json:"name"`
		Phones []string `json:"phones"`
		Emails []string `json:"emails"`
	}
	if err := json.Unmarshal([]byte(ok(t, "", "device", "--state", bph, "contacts", "list", "--json")), &contacts); err != nil {
		t.Fatal(err)
	}
	if len(contacts) != 20 || contacts[0].ID == "" || !strings.HasPrefix(contacts[0].Name, "Oriel Quillfeather") || len(contacts[0].Phones) != 1 || len(contacts[0].Emails) != 1 {
		t.Errorf("B's contacts: %d, first %+v", len(contacts), contacts[0])
	}
	var notesB []map[string]string
	json.Unmarshal([]byte(ok(t, "", "device", "--state", bph, "notes", "list", "--json")), &notesB)
	if len(notesB) != 0 {
		t.Errorf("B has %d notes; notes were never turned on", len(notesB))
	}
	ok(t, "", "device", "--state", bph, "contacts", "add", "--name", "Zephyr Okonkwo-Quillfeather", "--phone", "+919800000001")
	ok(t, "", "device", "--state", bph, "notes", "add", "--title", "t", "--body", "b")
	ok(t, "", "device", "--state", bph, "sync")
	ok(t, "", "device", "--state", a, "sync")
	if out := ok(t, "", "device", "--state", a, "contacts", "list"); strings.Count(out, "\n") != 21 || !strings.Contains(out, "Zephyr Okonkwo-Quillfeather") {
		t.Errorf("A's contacts after B added one:\n%s", out)
	}
	var notesA []map[string]string
	json.Unmarshal([]byte(ok(t, "", "device", "--state", a, "notes", "list", "--json")), &notesA)
	if len(notesA) != 3 || notesA[0]["title"] != "note-0" || notesA[0]["body"] != "Marmalade-ledger 0\n" || notesA[0]["id"] == "" {
		t.Errorf("A's notes = %v", notesA)
	}

	ok(t, "", "device", "--state", a, "consent", "contacts", "off")
	code, _, errs = cli(t, "", "device", "--state", bph, "sync", "contacts")
	if code != exitNoConsent || !strings.Contains(errs, "consent contacts on") {
		t.Errorf("B's sync after A turned contacts off: exit %d %q", code, errs)
	}
	if out := ok(t, "", "device", "--state", bph, "status"); !strings.Contains(out, "contacts   off 21 items") {
		t.Errorf("B's status:\n%s", out)
	}
	if out := ok(t, "", "device", "--state", bph, "consent"); !strings.Contains(out, "contacts off") {
		t.Errorf("B's consent list:\n%s", out)
	}
	ok(t, "", "device", "--state", bph, "logout")
	if code, _, _ := cli(t, "", "device", "--state", bph, "consent", "notes", "on"); code != exitFailure {
		t.Errorf("consent after logout: exit %d", code)
	}
}

// access-log prints, after the entries, the fingerprint of the audit key
// the phone pinned: the one the server serves now, shown the same way the
// privacy center shows it (auditproof.Fingerprint), so the owner can
// compare the two. --json stays a bare list.
func TestDeviceAccessLogFingerprint(t *testing.T) {
	env := servertest.Start(t)
	a := filepath.Join(t.TempDir(), "A")
	ok(t, "", "device", "--state", a, "init", "--server", env.URL, "--imei", "356938035643809", "--phone", "+919812345678", "--country", "IN")
	ok(t, "Orchid-Lantern-7731!\n", "device", "--state", a, "signup", "--email", "oriel@example.invalid")
	ok(t, "", "device", "--state", a, "consent", "contacts", "on")

	resp, err := http.Get(env.URL + "/v1/audit/key")
	if err != nil {
		t.Fatal(err)
	}
	var key api.AuditKey
	json.NewDecoder(resp.Body).Decode(&key)
	resp.Body.Close()
	want := "audit key fingerprint: " + auditproof.Fingerprint(key.Key) + "\n"
	if len(auditproof.Fingerprint(key.Key)) != 16 {
		t.Fatalf("fingerprint %q, want 16 hex digits", auditproof.Fingerprint(key.Key))
	}

	out := ok(t, "", "device", "--state", a, "access-log")
	lines := strings.SplitAfter(out, "\n")
	if len(lines) < 3 || lines[len(lines)-1] != "" || lines[len(lines)-2] != want ||
		!strings.HasSuffix(lines[len(lines)-3], " entries, each verified against the signed log\n") {
		t.Errorf("access-log output ends:\n%s\nwant the entry count, then %q", out, want)
	}
	if !strings.Contains(out, "consent.set") || !strings.Contains(out, "device.login") {
		t.Errorf("access-log lost its entries:\n%s", out)
	}
	var entries []map[string]any
	if err := json.Unmarshal([]byte(ok(t, "", "device", "--state", a, "access-log", "--json")), &entries); err != nil || len(entries) == 0 {
		t.Errorf("access-log --json: %v, %d entries", err, len(entries))
	}
}
