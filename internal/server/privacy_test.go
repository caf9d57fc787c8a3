package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client"
	"github.com/candorcloud/candor/internal/egress"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// Canaries: personal data that must never appear on the server's disk, in
// any of the forms the egress proof searches for (egress.Forms).
const (
	canaryIMEI     = "356938035643809"
	canaryPassword = "Orchid-Lantern-7731!"
	canaryEmail    = "oriel.quillfeather@example.invalid"
	canaryName     = "Quillfeather"
	canaryPhone    = "+919876543210"
	canaryNote     = "Marmalade-ledger secret about the harbour"
)

func canaryForms(s string) [][]byte {
	kind := egress.Text
	switch {
	case strings.HasPrefix(s, "+"):
		kind = egress.Phone
	case strings.Contains(s, "@"):
		kind = egress.Email
	}
	var out [][]byte
	for _, f := range egress.Forms(egress.Canary{Item: "canary", Value: []byte(s), Kind: kind}) {
		out = append(out, f.Bytes)
	}
	return out
}

// findCanaries returns a line for each canary form found in data.
func findCanaries(data []byte, canaries ...string) []string {
	var hits []string
	for _, c := range canaries {
		for _, form := range canaryForms(c) {
			if bytes.Contains(data, form) {
				hits = append(hits, fmt.Sprintf("%q (as %q)", c, form))
			}
		}
	}
	return hits
}

// scanFolder fails the test if any canary, in the clear or as a common
// encoding or unkeyed hash, appears in any file under dir. It trusts a
// "none found" only after a positive control: the same search, on a
// planted copy of every form of every canary amid other bytes, must find
// each one; and it must have read at least one file.
func scanFolder(t *testing.T, dir string, canaries ...string) {
	t.Helper()
	for _, c := range canaries {
		for _, form := range canaryForms(c) {
			planted := append(append(randomBytes(100), form...), randomBytes(100)...)
			if len(findCanaries(planted, c)) == 0 {
				t.Fatalf("positive control: a planted %q (as %q) was not found; the scan proves nothing", c, form)
			}
		}
	}
	hits, files, err := scanHits(dir, canaries...)
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatal("scanned no files")
	}
	for _, hit := range hits {
		t.Error(hit)
	}
}

// scanHits searches every file under dir for the canaries and returns what
// it found, with the files, and how many files it read. A folder it cannot
// walk or a file it cannot read is an error, never a silent skip.
func scanHits(dir string, canaries ...string) (hits []string, files int, err error) {
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for _, hit := range findCanaries(b, canaries...) {
			hits = append(hits, hit+" found in "+path)
		}
		return nil
	})
	return hits, files, err
}

// TestScanFolderFindsWhatIsPlanted is the scan's own positive control on a
// folder: a canary planted in a file, in each form, in a nested folder, is
// reported; a folder holding none passes.
func TestScanFolderFindsWhatIsPlanted(t *testing.T) {
	for _, c := range []string{canaryIMEI, canaryEmail, canaryPhone, canaryNote} {
		for i, form := range canaryForms(c) {
			dir := t.TempDir()
			sub := filepath.Join(dir, "regions", "in")
			if err := os.MkdirAll(sub, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(sub, "candor.db-wal"), append(randomBytes(4096), form...), 0o600); err != nil {
				t.Fatal(err)
			}
			hits, files, err := scanHits(dir, c)
			if err != nil || files != 1 || len(hits) == 0 {
				t.Errorf("form %d of %q planted in a WAL file: %d hits in %d files (%v)", i, c, len(hits), files, err)
			}
		}
	}
	clean := t.TempDir()
	if err := os.WriteFile(filepath.Join(clean, "x"), randomBytes(4096), 0o600); err != nil {
		t.Fatal(err)
	}
	if hits, files, err := scanHits(clean, canaryIMEI, canaryEmail, canaryPhone, canaryNote); err != nil || files != 1 || len(hits) != 0 {
		t.Errorf("a folder of random bytes: %v in %d files (%v)", hits, files, err)
	}
	if _, _, err := scanHits(filepath.Join(clean, "missing")); err == nil {
		t.Error("a folder that cannot be walked was scanned without an error")
	}
}

func newPhone(t *testing.T, env *servertest.Env, imei string) *client.Client {
	t.Helper()
	c, err := client.Init(t.TempDir(), client.Config{Server: env.URL, IMEI: imei, Phone: "+919812345678", Country: "IN"},
		client.WithKDF(testKDF), client.WithKDFFloor(testKDF))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The whole device life against a real server: at every step the data
// folder holds none of the personal data in the clear, encoded, or as an
// unkeyed hash; opting out leaves nothing; a new phone then gets nothing.
func TestNothingReadableOnDisk(t *testing.T) {
	ctx := context.Background()
	env := servertest.Start(t)
	canaries := []string{canaryIMEI, canaryPassword, canaryEmail, canaryName, canaryPhone, canaryNote}

	a := newPhone(t, env, canaryIMEI)
	for i := range 20 {
		if _, err := a.Contacts().Add(fmt.Sprintf("Oriel %s %02d", canaryName, i), canaryPhone); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Notes().Add("harbour", canaryNote); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Signup(ctx, canaryEmail, canaryPassword); err != nil {
		t.Fatal(err)
	}
	// Consent off: the sync is refused on the phone and nothing is stored.
	if _, err := a.Sync(ctx, nil, candor.Contacts); !candor.Is(err, candor.ConsentRequired) {
		t.Fatalf("sync with consent off: %v", err)
	}
	scanFolder(t, env.Data, canaries...)

	if _, err := a.SetConsent(ctx, candor.Contacts, true); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a)
	scanFolder(t, env.Data, canaries...)

	b := loggedIn(t, env, "356938035643817")
	mustSync(t, b)
	if got, _ := b.Contacts().List(); len(got) != 20 {
		t.Fatalf("phone B has %d contacts, want 20", len(got))
	}
	if got, _ := b.Notes().List(); len(got) != 0 {
		t.Fatalf("phone B has %d notes; notes were never on", len(got))
	}

	// Opting out deletes: no ciphertext and no data key remain.
	if _, err := a.SetConsent(ctx, candor.Contacts, false); err != nil {
		t.Fatal(err)
	}
	db := openRegionDB(t, env, "in")
	for _, q := range []string{"SELECT count(*) FROM records", "SELECT count(*) FROM data_keys"} {
		var n int
		if err := db.QueryRow(q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if n != 0 {
			t.Errorf("%s = %d after opt-out", q, n)
		}
	}
	c := loggedIn(t, env, "356938035643825")
	if _, err := c.SetConsent(ctx, candor.Contacts, true); err != nil {
		t.Fatal(err)
	}
	mustSync(t, c)
	if got, _ := c.Contacts().List(); len(got) != 0 {
		t.Fatalf("after opt-out the cloud gave %d contacts to a new phone", len(got))
	}
	scanFolder(t, env.Data, canaries...)

	// Nor in the logs, nor in the metrics.
	metrics := (&raw{t: t, url: env.URL}).send("GET", "/metrics", "", nil)
	if metrics.status != 200 {
		t.Fatalf("metrics: %d", metrics.status)
	}
	for _, name := range []string{"candor_http_requests_total", "candor_syncs_total", "candor_sync_records_total", "candor_audit_appends_total"} {
		if !bytes.Contains(metrics.body, []byte(name+"{")) {
			t.Fatalf("metrics: no %s to scan", name)
		}
	}
	for name, text := range map[string][]byte{"logs": []byte(env.Logs.String()), "metrics": metrics.body} {
		if len(text) == 0 {
			t.Fatalf("no %s to scan", name)
		}
		for _, hit := range findCanaries(text, canaries...) {
			t.Errorf("%s found in the %s", hit, name)
		}
		if st, _ := a.Status(); st.Account == "" || bytes.Contains(text, []byte(st.Account)) {
			t.Errorf("the account id is in the %s (or unknown)", name)
		}
	}
}

func openRegionDB(t *testing.T, env *servertest.Env, region string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(env.Data, "regions", region, "candor.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// A flipped byte in a stored ciphertext, or a ciphertext swapped between two
// records or two accounts, is an integrity error on read, never data.
func TestTamperedCiphertextIsRefused(t *testing.T) {
	env := servertest.Start(t)
	alice, _ := signup(t, env, "IN")
	bob, _ := signup(t, env, "IN")
	push := func(r *raw, data ...string) {
		epoch := r.consent("notes", true)
		var changes []api.Change
		for _, d := range data {
			changes = append(changes, api.Change{ID: candor.NewRecordID(), Data: []byte(d)})
		}
		r.must("POST", "/v1/records/notes", api.PushRequest{Epoch: epoch, Changes: changes}, nil)
	}
	push(alice, "alice one", "alice two")
	push(bob, "bob one")

	rw, err := sql.Open("sqlite", "file:"+filepath.Join(env.Data, "regions", "in", "candor.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	type row struct {
		account, id string
		ct          []byte
	}
	var rows []row
	q, err := rw.Query("SELECT account, id, ciphertext FROM records ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	for q.Next() {
		var r row
		q.Scan(&r.account, &r.id, &r.ct)
		rows = append(rows, r)
	}
	q.Close()
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	set := func(r row, ct []byte) {
		if _, err := rw.Exec("UPDATE records SET ciphertext = ? WHERE account = ? AND id = ?", ct, r.account, r.id); err != nil {
			t.Fatal(err)
		}
	}
	readAll := func(r *raw) answer { return r.call("GET", "/v1/records/notes", nil, nil) }
	expectIntegrity := func(what string, r *raw) {
		t.Helper()
		a := readAll(r)
		if a.error().Code != "integrity" {
			t.Fatalf("%s: %d %s", what, a.status, a.body)
		}
		for _, s := range []string{"alice", "bob"} {
			if bytes.Contains(a.body, []byte(s)) {
				t.Fatalf("%s: data returned: %s", what, a.body)
			}
		}
	}
	for _, i := range []int{0, 20, len(rows[0].ct) - 1} { // header, body, tag
		bad := bytes.Clone(rows[0].ct)
		bad[i] ^= 1
		set(rows[0], bad)
		expectIntegrity(fmt.Sprintf("flipped byte %d", i), alice)
	}
	set(rows[0], rows[1].ct) // swapped between two records of one account
	expectIntegrity("swapped records", alice)
	set(rows[0], rows[2].ct) // bob's ciphertext in alice's record
	expectIntegrity("swapped accounts", alice)
	set(rows[0], rows[0].ct)
	if a := readAll(alice); a.status != 200 {
		t.Fatalf("restored: %d %s", a.status, a.body)
	}
}
