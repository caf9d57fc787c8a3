package davclients

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestVdirsyncer proves each target with the real clients: vdirsyncer
// syncs a book of contacts up from a folder and down to an empty one,
// edits and deletions on each side converge, a sync with nothing changed transfers no card, khard lists and
// edits the contacts through vdirsyncer's folder, and a revoked password
// stops the next sync with an authentication error. Candor's book holds
// 1,500 contacts; Radicale's 1,000, or 100 in CI (CANDOR_TEST_DAVCLIENTS=1),
// where it only proves the harness; with -short both hold 100.
func TestVdirsyncer(t *testing.T) {
	tl := needTools(t)
	targets := []struct {
		name  string
		start func(testing.TB) target
		n     int
	}{
		// Radicale only proves the harness: in CI a small book does.
		{"radicale", func(t testing.TB) target { return radicaleTarget(t, tl) }, 1000},
		// More than the 1,000 of the acceptance: a first download then
		// asks for more cards in one multiget than Candor's multiget limit.
		{"candor", candorTarget, 1500},
	}
	if os.Getenv("CANDOR_TEST_DAVCLIENTS") == "1" {
		targets[0].n = 100
	}
	for _, tc := range targets {
		t.Run(tc.name, func(t *testing.T) {
			n := tc.n
			if testing.Short() {
				n = 100
			}
			checkClients(t, tl, tc.start(t), n)
		})
	}
}

// checkClients runs the whole scenario against tg, with n contacts.
func checkClients(t *testing.T, tl tools, tg target, n int) {
	if tg.Book == nil {
		t.Fatalf("target %s has no address book to check the other side with", tg.Name)
	}
	proxy := newCountingProxy(t, tg.URL)
	s := newSyncer(t, tl, proxy.URL, tg.Username, tg.Password)
	s.discover(t)
	proxy.Take()

	// 1. The folder's n cards go up.
	cards := genCards(n)
	writeCards(t, s.book, cards)
	d := s.sync(t)
	st := proxy.Take()
	t.Logf("first sync, %d cards: %.2fs; %s", n, d.Seconds(), st)
	if got := st.Count("PUT"); got != n {
		t.Fatalf("first sync sent %d PUT requests, want %d", got, n)
	}
	want := make(map[string]string, n)
	for _, c := range cards {
		want[c.UID] = c.FN
	}
	if diff := diffCards(tg.Book.Cards(t), want); diff != "" {
		t.Fatalf("after the first sync, the server side has %s", diff)
	}

	// ... and come down to a second computer's empty folder (vdirsyncer
	// asks for the whole book in one multiget).
	fresh := newSyncer(t, tl, proxy.URL, tg.Username, tg.Password)
	fresh.discover(t)
	proxy.Take()
	d = fresh.sync(t)
	st = proxy.Take()
	t.Logf("first sync of an empty folder, %d cards: %.2fs; %s", n, d.Seconds(), st)
	if diff := diffCards(fresh.localCards(t), want); diff != "" {
		t.Fatalf("after its first sync, an empty folder has %s", diff)
	}
	if got := st.Count("PUT") + st.Count("DELETE"); got != 0 {
		t.Fatalf("the first sync of an empty folder sent %d PUT and DELETE requests, want none", got)
	}

	// 2. Edits and deletions on each side, and one card edited on both
	// (the folder wins, as the config says), converge in one sync.
	for _, c := range cards[0:5] { // edited in the folder
		editLocal(t, s, c.UID, c.FN+" (folder)")
		want[c.UID] = c.FN + " (folder)"
	}
	for _, c := range cards[5:10] { // deleted in the folder
		if err := os.Remove(s.localFile(t, c.UID)); err != nil {
			t.Fatal(err)
		}
		delete(want, c.UID)
	}
	for _, c := range cards[10:15] { // edited on the server side
		tg.Book.Put(t, c.UID, withFN(c.Data, c.FN+" (server)"))
		want[c.UID] = c.FN + " (server)"
	}
	for _, c := range cards[15:20] { // deleted on the server side
		tg.Book.Delete(t, c.UID)
		delete(want, c.UID)
	}
	for _, seed := range []string{"server-new-1", "server-new-2"} { // added on the server side
		c := genCard(seed)
		tg.Book.Put(t, c.UID, c.Data)
		want[c.UID] = c.FN
	}
	both := cards[20] // edited on both sides
	editLocal(t, s, both.UID, both.FN+" (folder wins)")
	tg.Book.Put(t, both.UID, withFN(both.Data, both.FN+" (server loses)"))
	want[both.UID] = both.FN + " (folder wins)"

	d = s.sync(t)
	st = proxy.Take()
	t.Logf("sync of edits on both sides: %.2fs; %s", d.Seconds(), st)
	if diff := diffCards(s.localCards(t), want); diff != "" {
		t.Errorf("after syncing the edits, the folder has %s", diff)
	}
	if diff := diffCards(tg.Book.Cards(t), want); diff != "" {
		t.Errorf("after syncing the edits, the server side has %s", diff)
	}
	if put, del := st.Count("PUT"), st.Count("DELETE"); put != 6 || del != 5 {
		t.Errorf("the sync of edits sent %d PUT and %d DELETE requests, want 6 and 5", put, del)
	}
	if t.Failed() {
		t.FailNow()
	}

	// 3. A sync with nothing changed transfers no card, either way.
	before := s.snapshot(t)
	d = s.sync(t)
	st = proxy.Take()
	t.Logf("sync with nothing changed: %.2fs; %s", d.Seconds(), st)
	for _, m := range []string{"PUT", "DELETE", "GET", "REPORT", "POST"} {
		if got := st.Count(m); got != 0 {
			t.Errorf("a sync with nothing changed sent %d %s requests (%s)", got, m, st)
		}
	}
	if after := s.snapshot(t); after != before {
		t.Errorf("a sync with nothing changed changed the folder:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// 4. khard lists the contacts from vdirsyncer's folder, edits one and
	// adds one; the next sync takes both up.
	out := s.khard(t, "", "list", "--parsable", "--display", "formatted_name")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(want) {
		t.Errorf("khard list shows %d contacts, want %d", len(lines), len(want))
	}
	nonASCII := ""
	for _, c := range cards[30:] {
		if !isASCII(c.FN) {
			nonASCII = c.FN
			break
		}
	}
	if !strings.Contains(out, nonASCII) {
		t.Errorf("khard list does not show %q", nonASCII)
	}

	edited := cards[31]
	template := s.khard(t, "", "show", "--format", "yaml", "uid:"+edited.UID)
	fnLine := regexp.MustCompile(`(?m)^Formatted name:.*$`)
	if !fnLine.MatchString(template) {
		t.Fatalf("khard show --format yaml has no formatted name:\n%s", template)
	}
	template = fnLine.ReplaceAllString(template, "Formatted name: Renée Lefèvre (khard)")
	tmpl := filepath.Join(s.dir, "edit.yaml")
	writeFile(t, tmpl, template)
	s.khard(t, "y\n", "edit", "--input-file", tmpl, "uid:"+edited.UID)
	want[edited.UID] = "Renée Lefèvre (khard)"

	added := filepath.Join(s.dir, "new.yaml")
	writeFile(t, added, "First name: Zoë\nLast name: Ångström\nFormatted name: Zoë Ångström (khard)\n"+
		"Phone:\n    cell: \"+46 70 123 45 67\"\nEmail:\n    home: zoe@example.se\n")
	s.khard(t, "", "new", "--addressbook", "book", "--input-file", added)
	newUID := ""
	for uid, fn := range s.localCards(t) {
		if fn == "Zoë Ångström (khard)" {
			newUID = uid
		}
	}
	if newUID == "" {
		t.Fatal("khard new: the new contact is not in vdirsyncer's folder")
	}
	want[newUID] = "Zoë Ångström (khard)"

	d = s.sync(t)
	st = proxy.Take()
	t.Logf("sync of khard's edits: %.2fs; %s", d.Seconds(), st)
	if got := st.Count("PUT"); got != 2 {
		t.Errorf("the sync of khard's edit and new contact sent %d PUT requests, want 2", got)
	}
	if diff := diffCards(tg.Book.Cards(t), want); diff != "" {
		t.Fatalf("after syncing khard's changes, the server side has %s", diff)
	}

	// 5. Once the password is revoked, the next sync fails with an
	// authentication error and changes nothing on the server side.
	if tg.Revoke == nil {
		t.Logf("target %s cannot revoke its password: not checked", tg.Name)
		return
	}
	tg.Revoke(t)
	last := cards[40]
	editLocal(t, s, last.UID, last.FN+" (after revocation)")
	out, err := s.tryVdirsyncer(t, "sync")
	st = proxy.Take()
	t.Logf("sync after revocation: %s", st)
	if err == nil {
		t.Fatalf("vdirsyncer sync succeeded after the password was revoked:\n%s", out)
	}
	if !authFailure(out) {
		t.Errorf("vdirsyncer sync after revocation failed without an authentication error:\n%s", out)
	}
	if got := tg.Book.Cards(t)[last.UID]; got != want[last.UID] {
		t.Errorf("after revocation the server side has FN %q for %s, want %q", got, last.UID, want[last.UID])
	}
}

// editLocal sets the FN of the folder's card with uid.
func editLocal(t testing.TB, s *syncer, uid, fn string) {
	t.Helper()
	p := s.localFile(t, uid)
	if p == "" {
		t.Fatalf("no card %s in the folder", uid)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, withFN(data, fn), 0o600); err != nil {
		t.Fatal(err)
	}
}

func isASCII(s string) bool { return utf8.RuneCountInString(s) == len(s) }
