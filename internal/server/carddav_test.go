package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/candorcloud/candor"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-vcard"
	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/carddav"

	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// davAccount signs an account up, turns contacts on when asked, and makes
// an app password.
func davAccount(t *testing.T, env *servertest.Env, contacts bool) (*raw, api.AppPassword) {
	t.Helper()
	phone, _ := signup(t, env, "IN")
	if contacts {
		phone.consent("contacts", true)
	}
	var ap api.AppPassword
	phone.must("POST", "/v1/app-passwords", api.AppPasswordRequest{Name: "Thunderbird"}, &ap)
	return phone, ap
}

// davRequest sends one CardDAV request with the app password.
func davRequest(t *testing.T, env *servertest.Env, ap api.AppPassword, method, path string, body string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, env.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(ap.Username, ap.Password)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func card(uid, name string) string {
	return "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:" + uid + "\r\nFN:" + name + "\r\nN:" + name + ";;;;\r\nEND:VCARD\r\n"
}

const (
	uidA = "0f8fad5b-d9cb-469f-a165-70867728950e"
	uidB = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
)

// A CardDAV client finds the address book, writes and reads cards, lists
// and queries them, and syncs incrementally; lost races answer 412.
func TestCardDAV(t *testing.T) {
	env := servertest.Start(t)
	_, ap := davAccount(t, env, true)
	ctx := context.Background()
	hc := webdav.HTTPClientWithBasicAuth(nil, ap.Username, ap.Password)
	cl, err := carddav.NewClient(hc, env.URL+ap.CardDAVPath)
	if err != nil {
		t.Fatal(err)
	}

	// Discovery: the well-known URL, the principal, the home, the book.
	resp := davRequest(t, env, ap, "GET", "/.well-known/carddav", "")
	if resp.Request.URL.Path != ap.CardDAVPath {
		t.Errorf("/.well-known/carddav led to %s, want %s", resp.Request.URL.Path, ap.CardDAVPath)
	}
	principal, err := cl.FindCurrentUserPrincipal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	home, err := cl.FindAddressBookHomeSet(ctx, principal)
	if err != nil {
		t.Fatal(err)
	}
	books, err := cl.FindAddressBooks(ctx, home)
	if err != nil || len(books) != 1 {
		t.Fatalf("FindAddressBooks = %v, %v; want one book", books, err)
	}
	book := books[0].Path

	// PUT keeps the bytes; If-None-Match: * on an existing card is 412.
	putA := davRequest(t, env, ap, "PUT", book+uidA+".vcf", card(uidA, "Ada"), "Content-Type", "text/vcard", "If-None-Match", "*")
	if putA.StatusCode != http.StatusCreated {
		t.Fatalf("PUT a new card: %d", putA.StatusCode)
	}
	tagA := putA.Header.Get("ETag")
	if r := davRequest(t, env, ap, "PUT", book+uidA+".vcf", card(uidA, "Other"), "Content-Type", "text/vcard", "If-None-Match", "*"); r.StatusCode != http.StatusPreconditionFailed {
		t.Errorf("If-None-Match: * on an existing card: %d, want 412", r.StatusCode)
	}
	get := davRequest(t, env, ap, "GET", book+uidA+".vcf", "")
	got, _ := io.ReadAll(get.Body)
	if string(got) != card(uidA, "Ada") || get.Header.Get("ETag") != tagA {
		t.Errorf("GET = %q (etag %s), want the bytes PUT (etag %s)", got, get.Header.Get("ETag"), tagA)
	}
	// Edit with the right tag, then a stale one: 412, nothing stored.
	edit := davRequest(t, env, ap, "PUT", book+uidA+".vcf", card(uidA, "Ada L"), "Content-Type", "text/vcard", "If-Match", tagA)
	if edit.StatusCode/100 != 2 {
		t.Fatalf("PUT with the current If-Match: %d", edit.StatusCode)
	}
	if r := davRequest(t, env, ap, "PUT", book+uidA+".vcf", card(uidA, "Lost"), "Content-Type", "text/vcard", "If-Match", tagA); r.StatusCode != http.StatusPreconditionFailed {
		t.Errorf("PUT with a stale If-Match: %d, want 412", r.StatusCode)
	}
	if r := davRequest(t, env, ap, "DELETE", book+uidA+".vcf", "", "If-Match", tagA); r.StatusCode != http.StatusPreconditionFailed {
		t.Errorf("DELETE with a stale If-Match: %d, want 412", r.StatusCode)
	}

	// A token, then one more card: the sync since the token has it alone.
	first, err := cl.SyncCollection(ctx, book, &carddav.SyncQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Updated) != 1 || first.SyncToken == "" {
		t.Fatalf("first sync: %d cards, token %q", len(first.Updated), first.SyncToken)
	}
	if r := davRequest(t, env, ap, "PUT", book+uidB+".vcf", card(uidB, "Bob"), "Content-Type", "text/vcard"); r.StatusCode != http.StatusCreated {
		t.Fatalf("PUT B: %d", r.StatusCode)
	}
	next, err := cl.SyncCollection(ctx, book, &carddav.SyncQuery{SyncToken: first.SyncToken})
	if err != nil {
		t.Fatal(err)
	}
	if len(next.Updated) != 1 || next.Updated[0].Path != book+uidB+".vcf" || len(next.Deleted) != 0 {
		t.Fatalf("incremental sync = %+v, want only %s", next, uidB)
	}
	same, err := cl.SyncCollection(ctx, book, &carddav.SyncQuery{SyncToken: next.SyncToken})
	if err != nil || len(same.Updated)+len(same.Deleted) != 0 {
		t.Fatalf("sync with nothing changed = %+v, %v", same, err)
	}

	// Listing, multiget and query.
	all, err := cl.QueryAddressBook(ctx, book, &carddav.AddressBookQuery{DataRequest: carddav.AddressDataRequest{AllProp: true}})
	if err != nil || len(all) != 2 {
		t.Fatalf("query = %d cards, %v; want 2", len(all), err)
	}
	bob, err := cl.QueryAddressBook(ctx, book, &carddav.AddressBookQuery{DataRequest: carddav.AddressDataRequest{AllProp: true},
		PropFilters: []carddav.PropFilter{{Name: vcard.FieldFormattedName, TextMatches: []carddav.TextMatch{{Text: "Bob"}}}}})
	if err != nil || len(bob) != 1 || bob[0].Card.Value(vcard.FieldFormattedName) != "Bob" {
		t.Fatalf("query FN=Bob = %v, %v", bob, err)
	}
	multi, err := cl.MultiGetAddressBook(ctx, book, &carddav.AddressBookMultiGet{Paths: []string{book + uidA + ".vcf", book + uidB + ".vcf"},
		DataRequest: carddav.AddressDataRequest{AllProp: true}})
	if err != nil || len(multi) != 2 {
		t.Fatalf("multiget = %d cards, %v", len(multi), err)
	}

	// A deletion reaches the next sync under the href the client chose.
	if r := davRequest(t, env, ap, "DELETE", book+uidB+".vcf", ""); r.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d", r.StatusCode)
	}
	gone, err := cl.SyncCollection(ctx, book, &carddav.SyncQuery{SyncToken: same.SyncToken})
	if err != nil || len(gone.Deleted) != 1 || gone.Deleted[0] != book+uidB+".vcf" {
		t.Fatalf("sync after a deletion = %+v, %v", gone, err)
	}

	// getctag and the sync token of the book, and sync-collection offered.
	pf := davRequest(t, env, ap, "PROPFIND", book, `<?xml version="1.0"?><propfind xmlns="DAV:" xmlns:cs="http://calendarserver.org/ns/"><prop><cs:getctag/><sync-token/><supported-report-set/></prop></propfind>`, "Depth", "0")
	props, _ := io.ReadAll(pf.Body)
	if pf.StatusCode != http.StatusMultiStatus || !bytes.Contains(props, []byte(gone.SyncToken)) || !bytes.Contains(props, []byte("sync-collection")) {
		t.Errorf("PROPFIND getctag: %d %s", pf.StatusCode, props)
	}
}

// Wrong and unknown passwords are the same 401, a session token is not an
// app password nor the reverse, and a revoked app password stops working.
func TestCardDAVAuth(t *testing.T) {
	env := servertest.Start(t)
	phone, ap := davAccount(t, env, true)
	if r := davRequest(t, env, ap, "PROPFIND", ap.CardDAVPath, "", "Depth", "0"); r.StatusCode != http.StatusMultiStatus {
		t.Fatalf("PROPFIND with the app password: %d", r.StatusCode)
	}
	for name, bad := range map[string]api.AppPassword{
		"wrong password": {Username: ap.Username, Password: ap.Password[:len(ap.Password)-1] + "x"},
		"other username": {Username: "dev_aaaaaaaaaaaaaaaaaaaaaaaaaa", Password: ap.Password},
		"session token":  {Username: ap.Username, Password: phone.token},
	} {
		r := davRequest(t, env, bad, "PROPFIND", ap.CardDAVPath, "", "Depth", "0")
		if r.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("%s: %d (WWW-Authenticate %q), want 401 with Basic", name, r.StatusCode, r.Header.Get("WWW-Authenticate"))
		}
	}
	// The JSON API does not take an app password.
	other := &raw{t: t, url: env.URL, token: ap.Password}
	if a := other.call("GET", "/v1/devices", nil, nil); a.status != http.StatusUnauthorized {
		t.Errorf("an app password as a session token: %d, want 401", a.status)
	}
	// Listed with the devices; revoked by the phone.
	var devs struct{ Devices []api.Device }
	phone.must("GET", "/v1/devices", nil, &devs)
	listed := false
	for _, d := range devs.Devices {
		listed = listed || (d.ID == ap.ID && d.Kind == api.DeviceApp && d.Name == "Thunderbird")
	}
	if !listed {
		t.Errorf("the app password is not listed with the devices: %+v", devs.Devices)
	}
	phone.must("DELETE", "/v1/devices/"+ap.ID, nil, nil)
	if r := davRequest(t, env, ap, "PROPFIND", ap.CardDAVPath, "", "Depth", "0"); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("a revoked app password: %d, want 401", r.StatusCode)
	}
}

// With contacts off, CardDAV answers 403 with how to turn it on, and
// stores nothing.
func TestCardDAVConsentOff(t *testing.T) {
	env := servertest.Start(t)
	phone, ap := davAccount(t, env, false)
	r := davRequest(t, env, ap, "PUT", "/dav/me/books/contacts/"+uidA+".vcf", card(uidA, "Ada"), "Content-Type", "text/vcard")
	msg, _ := io.ReadAll(r.Body)
	if r.StatusCode != http.StatusForbidden || !strings.Contains(string(msg), "consent contacts on") {
		t.Fatalf("PUT with contacts off: %d %q", r.StatusCode, msg)
	}
	// A precondition does not get a request past the consent gate first.
	for _, m := range []string{"PUT", "DELETE"} {
		r := davRequest(t, env, ap, m, "/dav/me/books/contacts/"+uidA+".vcf", card(uidA, "Ada"),
			"Content-Type", "text/vcard", "If-Match", `"5-3"`)
		if r.StatusCode != http.StatusForbidden {
			t.Errorf("%s with If-Match and contacts off: %d, want 403", m, r.StatusCode)
		}
	}
	phone.consent("contacts", true)
	var feed api.Feed
	phone.must("GET", "/v1/records/contacts?since=0", nil, &feed)
	if len(feed.Records) != 0 {
		t.Fatalf("with contacts off, %d records were stored", len(feed.Records))
	}
}

// A card written over CardDAV reaches the phones' feed, a phone's edit
// reaches CardDAV, and every access is in the owner's log under the app
// password's device.
func TestCardDAVPhoneRoundTrip(t *testing.T) {
	env := servertest.Start(t)
	phone, ap := davAccount(t, env, true)
	book := "/dav/me/books/contacts/"
	if r := davRequest(t, env, ap, "PUT", book+uidA+".vcf", card(uidA, "Ada"), "Content-Type", "text/vcard"); r.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %d", r.StatusCode)
	}
	var feed api.Feed
	phone.must("GET", "/v1/records/contacts?since=0", nil, &feed)
	if len(feed.Records) != 1 || string(feed.Records[0].Data) != card(uidA, "Ada") {
		t.Fatalf("the phone's feed = %+v, want the card as PUT", feed.Records)
	}
	rec := feed.Records[0]
	var pushed api.PushResponse
	phone.must("POST", "/v1/records/contacts", api.PushRequest{Epoch: feed.Epoch, Changes: []api.Change{{ID: rec.ID, BaseVersion: rec.Version,
		Data: []byte(card(uidA, "Ada from the phone"))}}}, &pushed)
	get := davRequest(t, env, ap, "GET", book+uidA+".vcf", "")
	got, _ := io.ReadAll(get.Body)
	if string(got) != card(uidA, "Ada from the phone") {
		t.Fatalf("CardDAV GET after the phone's edit = %q", got)
	}

	var log api.AccessLog
	phone.must("GET", "/v1/account/access-log", nil, &log)
	var app string
	actions := map[string]int{} // of the app password's device
	events := make([]map[string]any, len(log.Entries))
	for i, e := range log.Entries {
		if err := json.Unmarshal([]byte(e.Event), &events[i]); err != nil {
			t.Fatal(err)
		}
		if events[i]["action"] == "device.app-password" {
			app, _ = events[i]["subject"].(string)
		}
	}
	for _, ev := range events {
		if app != "" && ev["actor"] == app {
			actions[ev["action"].(string)]++
		}
	}
	if app == "" || actions["records.push"] == 0 || actions["records.pull"] == 0 {
		t.Fatalf("the owner's log does not show the app password's pushes and pulls under its device: %v", actions)
	}
}

// A multiget may ask for every card of a book larger than the multiget
// limit at once: vdirsyncer does so when it first downloads a book, in one
// REPORT, and would otherwise never get past it.
func TestCardDAVMultigetWholeBook(t *testing.T) {
	env := servertest.Start(t)
	_, ap := davAccount(t, env, true)
	book := "/dav/me/books/contacts/"
	const n = 1001
	var hrefs strings.Builder
	for i := range n {
		uid := fmt.Sprintf("0f8fad5b-d9cb-469f-a165-%012d", i)
		if r := davRequest(t, env, ap, "PUT", book+uid+".vcf", card(uid, fmt.Sprint("Card ", i)), "Content-Type", "text/vcard"); r.StatusCode != http.StatusCreated {
			t.Fatalf("PUT %d: %d", i, r.StatusCode)
		}
		fmt.Fprintf(&hrefs, "<href>%s%s.vcf</href>", book, uid)
	}
	body := `<?xml version="1.0"?><C:addressbook-multiget xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">` +
		`<prop><getetag/><C:address-data/></prop>` + hrefs.String() + `</C:addressbook-multiget>`
	r := davRequest(t, env, ap, "REPORT", book, body, "Depth", "1", "Content-Type", "application/xml")
	got, _ := io.ReadAll(r.Body)
	if r.StatusCode != http.StatusMultiStatus {
		t.Fatalf("multiget of the whole book of %d cards: %d %s", n, r.StatusCode, got)
	}
	if c := bytes.Count(got, []byte("BEGIN:VCARD")); c != n {
		t.Fatalf("multiget of the whole book answered %d cards, want %d", c, n)
	}
	// Beyond the book's size, the limit holds.
	body = `<?xml version="1.0"?><C:addressbook-multiget xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">` +
		`<prop><getetag/></prop>` + hrefs.String() + "<href>" + book + uidA + ".vcf</href>" + `</C:addressbook-multiget>`
	if r := davRequest(t, env, ap, "REPORT", book, body, "Depth", "1", "Content-Type", "application/xml"); r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("multiget of more hrefs than the book and the limit: %d, want 413", r.StatusCode)
	}
}

// A card made again under the name of a deleted one is created (201), as
// vdirsyncer does when a book emptied from its folder is filled again.
func TestCardDAVPutAfterDelete(t *testing.T) {
	env := servertest.Start(t)
	_, ap := davAccount(t, env, true)
	href := "/dav/me/books/contacts/" + uidA + ".vcf"
	if r := davRequest(t, env, ap, "PUT", href, card(uidA, "Ada"), "Content-Type", "text/vcard"); r.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %d", r.StatusCode)
	}
	if r := davRequest(t, env, ap, "DELETE", href, ""); r.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d", r.StatusCode)
	}
	for _, h := range [][]string{{"If-None-Match", "*"}, nil} {
		r := davRequest(t, env, ap, "PUT", href, card(uidA, "Ada again"), append([]string{"Content-Type", "text/vcard"}, h...)...)
		if r.StatusCode != http.StatusCreated {
			t.Errorf("PUT %v of a deleted card: %d, want 201", h, r.StatusCode)
		}
		davRequest(t, env, ap, "DELETE", href, "")
	}
}

// A multiget that names one card many times is refused before any card is
// read: each named card is decoded and held for the answer, so a 1 MiB
// card named a thousand times would hold a gigabyte. A card whose shape
// would make the vCard library quadratic is refused at PUT.
func TestCardDAVHostileRequests(t *testing.T) {
	env := servertest.Start(t)
	_, ap := davAccount(t, env, true)
	book := "/dav/me/books/contacts/"
	if r := davRequest(t, env, ap, "PUT", book+uidA+".vcf", card(uidA, "Asha"), "Content-Type", "text/vcard"); r.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %d", r.StatusCode)
	}
	body := `<?xml version="1.0"?><C:addressbook-multiget xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">` +
		`<prop><C:address-data/></prop>` + strings.Repeat("<href>"+book+uidA+".vcf</href>", 1000) + `</C:addressbook-multiget>`
	if r := davRequest(t, env, ap, "REPORT", book, body, "Depth", "1", "Content-Type", "application/xml"); r.StatusCode != http.StatusBadRequest {
		t.Errorf("a multiget naming one card 1,000 times: %d, want 400", r.StatusCode)
	}
	hostile := "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:" + uidB + "\r\nFN:x\r\nNOTE;X=" + strings.Repeat("a,", 200_000) + "a:v\r\nEND:VCARD\r\n"
	if r := davRequest(t, env, ap, "PUT", book+uidB+".vcf", hostile, "Content-Type", "text/vcard"); r.StatusCode != http.StatusBadRequest {
		t.Errorf("a card with a parameter of 200,001 values: %d, want 400", r.StatusCode)
	}
}

// A first sync-collection of a book larger than a page, after a deletion
// was purged, reads every page to the end: its tokens mark a full pass, so
// the purge behind its cursor does not send it back to the start (it used
// to answer valid-sync-token on the second page, for ever).
func TestCardDAVFirstSyncAfterPurge(t *testing.T) {
	ctx := context.Background()
	env, boot := staffServer(t, shortRetention())
	a := signedUp(t, env, canaryIMEI, candor.Contacts)
	var lastID string
	for i := range 1205 {
		c, err := a.Contacts().Add(fmt.Sprintf("Card %d", i), fmt.Sprintf("+9198%08d", i))
		if err != nil {
			t.Fatal(err)
		}
		lastID = c.ID
	}
	mustSync(t, a)
	a.Contacts().Delete(lastID)
	mustSync(t, a)
	time.Sleep(10 * time.Millisecond)
	boot.must("POST", "/v1/operator/retention", nil, nil)
	created, err := a.CreateAppPassword(ctx, "DAVx5")
	if err != nil {
		t.Fatal(err)
	}
	ap := api.AppPassword{Username: created.Username, Password: created.Password}

	cards, token := 0, ""
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatal("the first sync does not end")
		}
		tok := ""
		if token != "" {
			tok = "<sync-token>" + token + "</sync-token>"
		}
		body := `<?xml version="1.0"?><sync-collection xmlns="DAV:">` + tok + `<sync-level>1</sync-level><prop><getetag/></prop></sync-collection>`
		r := davRequest(t, env, ap, "REPORT", "/dav/me/books/contacts/", body, "Content-Type", "application/xml")
		got, _ := io.ReadAll(r.Body)
		if r.StatusCode != http.StatusMultiStatus {
			t.Fatalf("page %d of the first sync: %d %s", page+1, r.StatusCode, got)
		}
		cards += bytes.Count(got, []byte("<getetag "))
		m := regexp.MustCompile(`<sync-token[^>]*>([^<]+)</sync-token>`).FindSubmatch(got)
		if m == nil {
			t.Fatalf("page %d has no sync token: %q", page+1, got[:min(len(got), 600)])
		}
		token = string(m[1])
		if !bytes.Contains(got, []byte("HTTP/1.1 507")) {
			break
		}
	}
	if cards != 1204 {
		t.Fatalf("the first sync listed %d cards, want 1204", cards)
	}
}

// XML nested deeper than WebDAV needs (the library's parser recurses once
// per level, without a bound) and queries with more filters than any
// client sends (each is tried on every card) are refused before the
// library reads them.
func TestCardDAVHostileXML(t *testing.T) {
	env := servertest.Start(t)
	_, ap := davAccount(t, env, true)
	deep := `<?xml version="1.0"?><propfind xmlns="DAV:"><prop>` + strings.Repeat("<a>", 100_000) + `</prop></propfind>`
	r := davRequest(t, env, ap, "PROPFIND", "/dav/me/", deep, "Depth", "0", "Content-Type", "application/xml")
	if got, _ := io.ReadAll(r.Body); r.StatusCode != http.StatusBadRequest || !bytes.Contains(got, []byte("nests deeper")) {
		t.Errorf("a PROPFIND nested 100,000 deep: %d %.200s, want 400 before the library parses it", r.StatusCode, got)
	}
	query := `<?xml version="1.0"?><C:addressbook-query xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><prop><getetag/></prop><C:filter>` +
		strings.Repeat(`<C:prop-filter name="ZZ"/>`, 10_000) + `</C:filter></C:addressbook-query>`
	if r := davRequest(t, env, ap, "REPORT", "/dav/me/books/contacts/", query, "Depth", "1", "Content-Type", "application/xml"); r.StatusCode != http.StatusBadRequest {
		t.Errorf("a query of 10,000 filters: %d, want 400", r.StatusCode)
	}
	ok := `<?xml version="1.0"?><propfind xmlns="DAV:"><prop><current-user-principal/></prop></propfind>`
	if r := davRequest(t, env, ap, "PROPFIND", "/dav/me/", ok, "Depth", "0", "Content-Type", "application/xml"); r.StatusCode != http.StatusMultiStatus {
		t.Errorf("an ordinary PROPFIND: %d, want 207", r.StatusCode)
	}
}
