package client

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// Integration tests: phones against a real in-process dev server.

// Lowered Argon2id costs so that tests are fast; the test server's floor is
// lowered to match.
var (
	testKDF   = api.KDF{Time: 1, MemoryKiB: 64, Threads: 1}
	testFloor = api.KDF{Time: 1, MemoryKiB: 8, Threads: 1}
)

// Canaries: personal data that must never leave a phone in the clear.
const (
	canaryEmail    = "oriel.quillfeather@example.invalid"
	canaryPassword = "Orchid-Lantern-7731!"
	canaryIMEI     = "356938035643809"
	canaryPhone    = "+919812345678"
)

// phone is a test phone: a Client and the recorder of its requests.
type phone struct {
	*Client
	rec *recorder
}

func newPhone(t *testing.T, env *servertest.Env, imei string) *phone {
	t.Helper()
	rec := &recorder{}
	cfg := Config{Server: env.URL, IMEI: imei, Phone: canaryPhone, Country: "IN"}
	c, err := Init(filepath.Join(t.TempDir(), "phone"), cfg, WithHTTPClient(rec.client()), WithKDF(testKDF), WithKDFFloor(testFloor))
	if err != nil {
		t.Fatal(err)
	}
	return &phone{c, rec}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func (p *phone) sync(t *testing.T, cats ...candor.Category) []SyncResult {
	t.Helper()
	res, err := p.Sync(t.Context(), nil, cats...)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	return res
}

func (p *phone) consent(t *testing.T, cat candor.Category, on bool) {
	t.Helper()
	if _, err := p.SetConsent(t.Context(), cat, on); err != nil {
		t.Fatalf("consent %s %v: %v", cat, on, err)
	}
}

// snapshot is a phone's synced data in comparable form: for each
// category, the sorted "id data" of every record.
func (p *phone) snapshot(t *testing.T, cat candor.Category) []string {
	t.Helper()
	rs, err := p.liveRecords(cat)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rs {
		out = append(out, r.ID+" "+string(r.Data))
	}
	slices.Sort(out)
	return out
}

func (p *phone) noteBodies(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, n := range must[[]Note](t)(p.Notes().List()) {
		out = append(out, n.Body)
	}
	slices.Sort(out)
	return out
}

func contactsFile(n int, prefix string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:%s Quillfeather %05d\r\nN:Quillfeather %05d;%s;;;\r\nTEL;TYPE=CELL:+91987%07d\r\nEMAIL:%s.qf%05d@example.invalid\r\nEND:VCARD\r\n", prefix, i, i, prefix, i, strings.ToLower(prefix), i)
	}
	return b.String()
}

func TestTwoPhonesConverge(t *testing.T) {
	env := servertest.Start(t)
	a := newPhone(t, env, canaryIMEI)
	must[int](t)(a.Contacts().ImportVCard(strings.NewReader(contactsFile(1200, "Oriel"))))
	for i := range 5 {
		must[Note](t)(a.Notes().Add(fmt.Sprintf("note %d", i), fmt.Sprintf("Marmalade-ledger line %d", i)))
	}
	must[Session](t)(a.Signup(t.Context(), canaryEmail, canaryPassword))
	a.consent(t, candor.Contacts, true)
	a.consent(t, candor.Notes, true)
	res := a.sync(t)
	if len(res) != 2 || res[0].Pushed != 1200 || res[1].Pushed != 5 {
		t.Fatalf("first sync = %+v", res)
	}

	b := newPhone(t, env, "356938035643817")
	must[Session](t)(b.Login(t.Context(), "  Oriel.Quillfeather@Example.Invalid", canaryPassword))
	res = b.sync(t)
	if len(res) != 2 || res[0].Pulled != 1200 || res[0].Pushed != 0 {
		t.Fatalf("B's first sync = %+v", res)
	}
	for _, cat := range []candor.Category{candor.Contacts, candor.Notes} {
		if !reflect.DeepEqual(a.snapshot(t, cat), b.snapshot(t, cat)) {
			t.Fatalf("%s differ after B's first sync", cat)
		}
	}

	// Adds, edits and deletions both ways.
	notesA := must[[]Note](t)(a.Notes().List())
	contactsB := must[[]Contact](t)(b.Contacts().List())
	must[Contact](t)(b.Contacts().Add("Zephyr Okonkwo-Quillfeather", "+919800000001"))
	if err := b.Contacts().Delete(contactsB[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := a.Notes().Update(notesA[0].ID, "note 0", "edited on A"); err != nil {
		t.Fatal(err)
	}
	if err := a.Notes().Delete(notesA[1].ID); err != nil {
		t.Fatal(err)
	}
	must[Note](t)(a.Notes().Add("from A", "new on A"))

	// Concurrent edits of one note on both phones: neither is lost.
	if err := a.Notes().Update(notesA[2].ID, "note 2", "A's version"); err != nil {
		t.Fatal(err)
	}
	if err := b.Notes().Update(notesA[2].ID, "note 2", "B's version"); err != nil {
		t.Fatal(err)
	}
	// A deletes what B edits: the edit wins.
	if err := a.Notes().Delete(notesA[3].ID); err != nil {
		t.Fatal(err)
	}
	if err := b.Notes().Update(notesA[3].ID, "note 3", "B kept editing"); err != nil {
		t.Fatal(err)
	}
	// B deletes what A edits: the edit wins.
	if err := a.Notes().Update(notesA[4].ID, "note 4", "A kept editing"); err != nil {
		t.Fatal(err)
	}
	if err := b.Notes().Delete(notesA[4].ID); err != nil {
		t.Fatal(err)
	}

	a.sync(t)
	res = b.sync(t)
	if res[1].Copies != 1 {
		t.Errorf("B made %d conflict copies, want 1", res[1].Copies)
	}
	a.sync(t)
	for _, cat := range []candor.Category{candor.Contacts, candor.Notes} {
		if sa, sb := a.snapshot(t, cat), b.snapshot(t, cat); !reflect.DeepEqual(sa, sb) {
			t.Errorf("%s differ after syncing edits:\nA %d items\nB %d items", cat, len(sa), len(sb))
		}
	}
	if n := len(must[[]Contact](t)(a.Contacts().List())); n != 1200 {
		t.Errorf("A has %d contacts, want 1200 (one added, one deleted)", n)
	}
	if _, err := a.Contacts().Get(contactsB[0].ID); !candor.Is(err, candor.NotFound) {
		t.Errorf("B's deletion did not reach A: %v", err)
	}
	want := []string{"A kept editing", "A's version", "B kept editing", "B's version", "edited on A", "new on A"}
	if got := a.noteBodies(t); !reflect.DeepEqual(got, want) {
		t.Errorf("A's notes = %q\nwant %q", got, want)
	}
	if got := b.noteBodies(t); !reflect.DeepEqual(got, want) {
		t.Errorf("B's notes = %q\nwant %q", got, want)
	}
	for _, p := range []*phone{a, b} {
		st := must[Status](t)(p.Status())
		for _, cs := range st.Categories {
			if cs.Pending != 0 {
				t.Errorf("%s still has %d pending changes", cs.Category, cs.Pending)
			}
		}
	}

	// A sync with nothing new changes nothing and sends no records.
	a.rec.reset()
	res = a.sync(t)
	for _, r := range res {
		if r.Pushed != 0 || r.Copies != 0 || r.Reset {
			t.Errorf("idle sync = %+v", r)
		}
	}
	for _, r := range a.rec.requests() {
		if r.Method == http.MethodPost {
			t.Errorf("idle sync sent %s %s", r.Method, r.Path)
		}
	}

	for _, p := range []*phone{a, b} {
		p.rec.assertNeverSent(t, canaryEmail, "Oriel.Quillfeather@Example.Invalid", canaryPassword, canaryIMEI, "356938035643817", canaryPhone)
	}
}

func TestConsentOffSendsNothing(t *testing.T) {
	env := servertest.Start(t)
	a := newPhone(t, env, canaryIMEI)
	must[int](t)(a.Contacts().ImportVCard(strings.NewReader(contactsFile(3, "Oriel"))))
	must[Note](t)(a.Notes().Add("secret", "Marmalade-ledger secret line"))
	if _, err := a.Sync(t.Context(), nil, candor.Notes); !candor.Is(err, candor.ConsentRequired) {
		t.Errorf("sync before signup: %v, want ConsentRequired", err)
	}
	if len(a.rec.requests()) != 0 {
		t.Errorf("a phone that is not signed in sent %d requests", len(a.rec.requests()))
	}
	must[Session](t)(a.Signup(t.Context(), canaryEmail, canaryPassword))

	// Everything is off for a new account.
	for _, cs := range must[[]Consent](t)(a.Consents(t.Context())) {
		if cs.On {
			t.Errorf("%s is on for a new account", cs.Category)
		}
	}
	res, err := a.Sync(t.Context(), nil)
	if err != nil || len(res) != 0 {
		t.Errorf("sync with everything off = %+v, %v; want nothing", res, err)
	}
	_, err = a.Sync(t.Context(), nil, candor.Contacts)
	var ce *candor.Error
	if !errorsAs(err, &ce) || ce.Kind != candor.ConsentRequired || ce.Category != candor.Contacts || !strings.Contains(ce.Message, "consent contacts on") {
		t.Errorf("sync of contacts while off: %v", err)
	}

	a.consent(t, candor.Contacts, true)
	a.sync(t)
	if _, err := a.Sync(t.Context(), nil, candor.Contacts, candor.Notes); !candor.Is(err, candor.ConsentRequired) {
		t.Errorf("sync naming notes while off: %v", err)
	}
	for _, r := range a.rec.requests() {
		if strings.Contains(r.Path, "/records/notes") {
			t.Errorf("a request about notes while notes are off: %s %s", r.Method, r.Path)
		}
	}
	a.rec.assertNeverSent(t, "Marmalade-ledger", canaryEmail, canaryPassword, canaryIMEI, canaryPhone)

	// The cloud has nothing of notes: another phone that turns them on
	// receives nothing, and A's note arrives only after A syncs.
	b := newPhone(t, env, "356938035643817")
	must[Session](t)(b.Login(t.Context(), canaryEmail, canaryPassword))
	b.consent(t, candor.Notes, true)
	b.sync(t)
	if n := len(must[[]Note](t)(b.Notes().List())); n != 0 {
		t.Errorf("B received %d notes that were never consented", n)
	}
	if n := len(must[[]Contact](t)(b.Contacts().List())); n != 3 {
		t.Errorf("B has %d contacts, want 3", n)
	}
	a.sync(t)
	b.sync(t)
	if got := b.noteBodies(t); !reflect.DeepEqual(got, []string{"Marmalade-ledger secret line"}) {
		t.Errorf("after consent, B's notes = %q", got)
	}

	// Nothing personal is stored in the clear on the server either.
	scanFolder(t, env.Data, "Marmalade-ledger", "Quillfeather", canaryEmail, canaryPassword, canaryIMEI, canaryPhone)
}

func errorsAs(err error, target **candor.Error) bool {
	e, ok := err.(*candor.Error)
	if ok {
		*target = e
	}
	return ok
}

func TestConsentOffElsewhere(t *testing.T) {
	env := servertest.Start(t)
	a := newPhone(t, env, canaryIMEI)
	must[int](t)(a.Contacts().ImportVCard(strings.NewReader(contactsFile(10, "Oriel"))))
	must[Session](t)(a.Signup(t.Context(), canaryEmail, canaryPassword))
	a.consent(t, candor.Contacts, true)
	a.sync(t)
	b := newPhone(t, env, "356938035643817")
	must[Session](t)(b.Login(t.Context(), canaryEmail, canaryPassword))
	b.sync(t)
	must[Contact](t)(b.Contacts().Add("Made On B", "+919800000002"))

	// A turns contacts off for the account: B stops syncing them.
	a.consent(t, candor.Contacts, false)
	b.rec.reset()
	if _, err := b.Sync(t.Context(), nil, candor.Contacts); !candor.Is(err, candor.ConsentRequired) {
		t.Fatalf("B's sync after A turned contacts off: %v, want ConsentRequired", err)
	}
	for _, r := range b.rec.requests() {
		if strings.Contains(r.Path, "/records/") {
			t.Errorf("B sent %s %s for a category that is off", r.Method, r.Path)
		}
	}
	st := must[Status](t)(b.Status())
	if st.Categories[0].Category != candor.Contacts || st.Categories[0].On {
		t.Errorf("B's status shows contacts %+v", st.Categories[0])
	}
	if st.Categories[0].Items != 11 {
		t.Errorf("B holds %d contacts, want 11: the phone keeps its own data", st.Categories[0].Items)
	}
	if res, err := b.Sync(t.Context(), nil); err != nil || len(res) != 0 {
		t.Errorf("B's sync of all with everything off: %+v, %v", res, err)
	}

	// A new phone turning contacts back on gets nothing: the cloud copy
	// was destroyed.
	c := newPhone(t, env, "356938035643825")
	must[Session](t)(c.Login(t.Context(), canaryEmail, canaryPassword))
	c.consent(t, candor.Contacts, true)
	c.sync(t)
	if n := len(must[[]Contact](t)(c.Contacts().List())); n != 0 {
		t.Errorf("after opt-out the cloud still gave %d contacts to a new phone", n)
	}

	// B syncs in the new epoch: its records are offered afresh and reach C.
	res := b.sync(t, candor.Contacts)
	if !res[0].Reset || res[0].Pushed != 11 {
		t.Errorf("B's sync in the new epoch = %+v, want a reset pushing 11", res[0])
	}
	c.sync(t)
	if n := len(must[[]Contact](t)(c.Contacts().List())); n != 11 {
		t.Errorf("C has %d contacts after B offered its own, want 11", n)
	}
	// A, with the same 10 records as B, converges without duplicates.
	res = a.sync(t)
	if !res[0].Reset || res[0].Copies != 0 {
		t.Errorf("A's sync in the new epoch = %+v", res[0])
	}
	if n := len(must[[]Contact](t)(a.Contacts().List())); n != 11 {
		t.Errorf("A has %d contacts, want 11", n)
	}
}

// TestEpochChangeMidSync turns a category off and on from another phone
// between a phone's consent check and its push: the push is refused with
// code conflict and the phone resets and pushes again into the new epoch.
func TestEpochChangeMidSync(t *testing.T) {
	env := servertest.Start(t)
	a := newPhone(t, env, canaryIMEI)
	must[Session](t)(a.Signup(t.Context(), canaryEmail, canaryPassword))
	a.consent(t, candor.Notes, true)
	must[Note](t)(a.Notes().Add("one", "first"))
	a.sync(t)
	b := newPhone(t, env, "356938035643817")
	must[Session](t)(b.Login(t.Context(), canaryEmail, canaryPassword))

	must[Note](t)(a.Notes().Add("two", "second"))
	var once sync.Once
	a.rec.before = func(r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/records/notes") {
			once.Do(func() {
				ctx := context.WithoutCancel(r.Context())
				if _, err := b.SetConsent(ctx, candor.Notes, false); err != nil {
					t.Error(err)
				}
				if _, err := b.SetConsent(ctx, candor.Notes, true); err != nil {
					t.Error(err)
				}
			})
		}
	}
	res := a.sync(t, candor.Notes)
	if !res[0].Reset || res[0].Pushed != 2 {
		t.Errorf("sync across an epoch change = %+v, want a reset pushing 2", res[0])
	}
	b.sync(t)
	if got := b.noteBodies(t); !reflect.DeepEqual(got, []string{"first", "second"}) {
		t.Errorf("B's notes = %q", got)
	}
}

func TestLogin(t *testing.T) {
	env := servertest.Start(t)
	a := newPhone(t, env, canaryIMEI)
	s := must[Session](t)(a.Signup(t.Context(), canaryEmail, canaryPassword))
	if !candor.ValidID(string(s.Account)) || s.Region == "" {
		t.Errorf("session = %+v", s)
	}
	if _, err := a.Signup(t.Context(), canaryEmail, canaryPassword); !candor.Is(err, candor.Conflict) {
		t.Errorf("signup while signed in: %v", err)
	}
	other := newPhone(t, env, "356938035643817")
	if _, err := other.Signup(t.Context(), canaryEmail, "another password"); err == nil {
		t.Error("a second signup with the same email succeeded")
	}
	if _, err := other.Login(t.Context(), canaryEmail, "wrong password"); !candor.Is(err, candor.Unauthenticated) {
		t.Errorf("wrong password: %v, want Unauthenticated", err)
	}
	if _, err := other.Login(t.Context(), "nobody@example.invalid", canaryPassword); !candor.Is(err, candor.Unauthenticated) {
		t.Errorf("unknown email: %v, want Unauthenticated", err)
	}

	// A phone with the default floor refuses the weak test cost before
	// sending anything derived from the password.
	rec := &recorder{}
	strict, err := Init(filepath.Join(t.TempDir(), "strict"), Config{Server: env.URL, IMEI: "356938035643825", Phone: canaryPhone, Country: "IN"}, WithHTTPClient(rec.client()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := strict.Login(t.Context(), canaryEmail, canaryPassword); !candor.Is(err, candor.Invalid) || !strings.Contains(err.Error(), "below this phone's minimum") {
		t.Errorf("login with a weak server-chosen cost: %v", err)
	}
	for _, r := range rec.requests() {
		if strings.HasSuffix(r.Path, "/sessions") {
			t.Error("the auth key was sent despite the weak cost")
		}
	}

	b := must[Session](t)(other.Login(t.Context(), canaryEmail, canaryPassword))
	if b.Account != s.Account || b.Device == s.Device {
		t.Errorf("B's session %+v, A's %+v", b, s)
	}
	// A second login of the same phone is the same device.
	if err := other.Logout(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Consents(t.Context()); !candor.Is(err, candor.Unauthenticated) {
		t.Errorf("after logout: %v, want Unauthenticated", err)
	}
	b2 := must[Session](t)(other.Login(t.Context(), canaryEmail, canaryPassword))
	if b2.Device != b.Device {
		t.Errorf("the same phone got a new device id on a second login: %s, %s", b.Device, b2.Device)
	}

	// A session the server no longer accepts is forgotten, so the phone
	// can sign in again.
	other.sess.Token = "not-a-token"
	if _, err := other.Consents(t.Context()); !candor.Is(err, candor.Unauthenticated) || !strings.Contains(err.Error(), "login") {
		t.Errorf("with a dead token: %v", err)
	}
	if st := must[Status](t)(other.Status()); st.SignedIn {
		t.Error("a dead session is still shown as signed in")
	}
	if b3 := must[Session](t)(other.Login(t.Context(), canaryEmail, canaryPassword)); b3.Device != b.Device {
		t.Errorf("sign-in after a dead session: device %s, want %s", b3.Device, b.Device)
	}

	// The state folder holds the session but not the password.
	scanFolder(t, a.Dir(), canaryPassword, canaryEmail)
	a.rec.assertNeverSent(t, canaryEmail, canaryPassword, canaryIMEI, canaryPhone)
	other.rec.assertNeverSent(t, canaryEmail, canaryPassword, "356938035643817", canaryPhone)
}

// TestLargeRecords syncs records near the size limit: pushes are split so
// that no request passes api.MaxBodyBytes.
func TestLargeRecords(t *testing.T) {
	env := servertest.Start(t)
	a := newPhone(t, env, canaryIMEI)
	must[Session](t)(a.Signup(t.Context(), canaryEmail, canaryPassword))
	a.consent(t, candor.Notes, true)
	body := strings.Repeat("ल", (api.MaxRecordBytes-100)/3) // 3-byte runes, just under the limit
	for i := range 8 {
		must[Note](t)(a.Notes().Add(fmt.Sprint(i), body))
	}
	if _, err := a.Notes().Add("too big", body+body); !candor.Is(err, candor.TooLarge) {
		t.Errorf("a note over the limit: %v, want TooLarge", err)
	}
	a.rec.reset()
	if res := a.sync(t); res[0].Pushed != 8 {
		t.Errorf("pushed %d, want 8", res[0].Pushed)
	}
	posts := 0
	for _, r := range a.rec.requests() {
		if r.Method == http.MethodPost {
			posts++
			if len(r.Body) > api.MaxBodyBytes {
				t.Errorf("a push of %d bytes, over the %d limit", len(r.Body), api.MaxBodyBytes)
			}
		}
	}
	if posts < 2 {
		t.Errorf("%d pushes, want the batch split", posts)
	}
	b := newPhone(t, env, "356938035643817")
	must[Session](t)(b.Login(t.Context(), canaryEmail, canaryPassword))
	b.sync(t)
	if n := len(must[[]Note](t)(b.Notes().List())); n != 8 {
		t.Errorf("B has %d notes, want 8", n)
	}
}
