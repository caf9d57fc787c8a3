package privacycenter

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client"
	"github.com/candorcloud/candor/client/login"
	"github.com/candorcloud/candor/internal/egress"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// TestAcceptance walks the privacy center and the staff console as a new
// account owner and new staff would, in headless Chromium against a
// production server (sealed until its key ceremony, staff with passkeys):
// a phone signs up and syncs contacts, the owner signs in on the page,
// turns contacts on, asks to approve staff access, approves a request that
// two approvers then approve with passkeys in the console, sees the staff
// read in the verified access log, exports, turns contacts off, revokes
// the phone, mistypes in every form and deletes the account. Every
// request the page sent is searched for the owner's personal data.
func TestAcceptance(t *testing.T) {
	began := time.Now()
	ctx := t.Context()
	en := dict(t, "en")

	env, base, init := startWithConsole(t)

	// The staff: one engineer, two approvers.
	staff := func(name, role string) api.StaffAdded {
		var s api.StaffAdded
		if st, out := bearer(t, env, "POST", "/v1/staff", init.StaffToken, api.StaffAddRequest{Name: name, Roles: []string{role}}); st >= 300 || json.Unmarshal(out, &s) != nil {
			t.Fatalf("POST /v1/staff %s: %d %s", name, st, out)
		}
		return s
	}
	eng, ap1, ap2 := staff("eng", "engineer"), staff("ap1", "approver"), staff("ap2", "approver")
	engineer := eng.Token

	// 1. A phone signs up, with contacts whose names and numbers are
	// found nowhere else.
	email := "Ottoline." + word(8) + "@Example.Invalid"
	password := "Brindle-" + word(6) + "-" + digits(4) + "!"
	imei := luhn(digits(14))
	phoneNumber := "+9198" + digits(8)
	names := []string{word(7) + " " + word(9), word(8) + " " + word(7), word(6) + " " + word(10)}
	numbers := []string{"+9197" + digits(8), "+9196" + digits(8), "+9199" + digits(8)}
	minKDF := api.KDF(login.MinimumCost)
	phone, err := client.Init(t.TempDir(), client.Config{Server: env.URL, IMEI: imei, Phone: phoneNumber, Country: "IN"}, client.WithKDF(minKDF), client.WithKDFFloor(minKDF))
	if err != nil {
		t.Fatal(err)
	}
	for i := range names {
		if _, err := phone.Contacts().Add(names[i], numbers[i]); err != nil {
			t.Fatalf("adding a contact: %v", err)
		}
	}
	if _, err := phone.Signup(ctx, email, password); err != nil {
		t.Fatalf("signup: %v", err)
	}
	status, _ := phone.Status()
	account := string(status.Account)

	// A second account, made at the phone's own default cost, measures a
	// sign-in at the cost real accounts have.
	otherEmail := "Perpetua." + word(8) + "@Example.Invalid"
	otherPassword := "Lantern-" + word(6) + "-" + digits(4) + "!"
	other, err := client.Init(t.TempDir(), client.Config{Server: env.URL, IMEI: luhn(digits(14)), Phone: "+9198" + digits(8), Country: "IN"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Signup(ctx, otherEmail, otherPassword); err != nil {
		t.Fatalf("signup at the default cost: %v", err)
	}

	canaries := []egress.Canary{
		{Item: "email", Value: []byte(email), Kind: egress.Email},
		{Item: "password", Value: []byte(password), Kind: egress.Text},
		{Item: "email (default-cost account)", Value: []byte(otherEmail), Kind: egress.Email},
		{Item: "password (default-cost account)", Value: []byte(otherPassword), Kind: egress.Text},
		{Item: "IMEI", Value: []byte(imei), Kind: egress.Text},
		{Item: "phone number", Value: []byte(phoneNumber), Kind: egress.Phone},
	}
	for i := range names {
		given, family, _ := strings.Cut(names[i], " ")
		canaries = append(canaries,
			egress.Canary{Item: "contact name", Value: []byte(names[i]), Kind: egress.Text},
			egress.Canary{Item: "contact given name", Value: []byte(given), Kind: egress.Text},
			egress.Canary{Item: "contact family name", Value: []byte(family), Kind: egress.Text},
			egress.Canary{Item: "contact phone", Value: []byte(numbers[i]), Kind: egress.Phone})
	}

	// Chromium #1: the owner's browser, every request recorded.
	resolve := chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1, EXCLUDE localhost")
	b := newBrowser(t, base, resolve)
	rec := record(b)
	b.run(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: usableWatch})
		return err
	}))

	// 2. The sign-in page: what it costs to load, and to sign in.
	b.open("/")
	b.wait(`window.__usable > 0`)
	type load struct {
		Usable, Transfer, Decoded float64
		Resources                 int
	}
	l := eval[load](b, `(() => {
		const all = [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")];
		return { usable: window.__usable, transfer: all.reduce((n, e) => n + e.transferSize, 0), decoded: all.reduce((n, e) => n + e.decodedBodySize, 0), resources: all.length };
	})()`)
	t.Logf("MEASURE sign-in page usable (navigation start → form shown and candorLogin ready, Performance API): %.0f ms", l.Usable)
	t.Logf("MEASURE sign-in page bytes: %.0f transferred over %d requests (Performance API transferSize, headers included), %.0f decoded; %d bytes received (DevTools encodedDataLength)", l.Transfer, l.Resources, l.Decoded, rec.received())
	// Argon2id alone, each cost twice: the first call of a cost also grows
	// the WebAssembly memory to fit it.
	kt := eval[[]float64](b, `(async () => {
		const salt = new Uint8Array(16);
		const time = async (c) => { const t0 = performance.now(); await candorLogin.deriveKeys("not-a-secret", salt, c); return performance.now() - t0; };
		const min = `+js(minKDF)+`, def = `+js(api.KDF(login.DefaultCost))+`;
		return [await time(min), await time(min), await time(def), await time(def)];
	})()`)
	t.Logf("MEASURE Argon2id alone in the page (candorLogin.deriveKeys, WebAssembly, first and second call): %.0f and %.0f ms at login.MinimumCost %+v; %.0f and %.0f ms at login.DefaultCost %+v", kt[0], kt[1], login.MinimumCost, kt[2], kt[3], login.DefaultCost)

	// The default-cost account signs in and out.
	ms := signInTimed(b, otherEmail, otherPassword)
	t.Logf("MEASURE sign-in at login.DefaultCost (click → overview shown, Performance API): %.0f ms", ms)
	signOut(b, en)

	// 8 (sign-in). A malformed email and an empty password say so.
	for _, c := range []struct{ email, password string }{{"not an email", password}, {email, ""}, {"", ""}} {
		b.fill("#signin-email", c.email)
		b.fill("#signin-password", c.password)
		eval[bool](b, `(document.getElementById("signin-alert").textContent = "", true)`)
		b.run(chromedp.Click("#signin-submit"))
		b.wait(`document.getElementById("signin-alert").textContent.length > 0`)
		shownAlert(t, b, "#signin-alert", fmt.Sprintf("sign-in with email %q and a password of %d characters", c.email, len(c.password)))
		if c.email == "not an email" && b.text("signin-alert") != en["signin.bademail"] {
			t.Errorf("a malformed email says %q, want %q", b.text("signin-alert"), en["signin.bademail"])
		}
		if !eval[bool](b, `document.getElementById("app").hidden && !document.getElementById("signin").hidden`) {
			t.Errorf("a bad sign-in left the sign-in view")
		}
	}

	ms = signInTimed(b, email, password)
	t.Logf("MEASURE sign-in at login.MinimumCost (click → overview shown, Performance API): %.0f ms", ms)
	b.wait(`document.querySelectorAll("#section tbody tr").length >= 5`)
	axeCheck(t, b, "the overview")

	// 3. Contacts on, in the page; the phone syncs; the page counts them.
	contactsRow := `[...document.querySelectorAll("#section tbody tr")].find((r) => r.querySelector("th").textContent === ` + js(en["cat.contacts"]) + `)`
	eval[bool](b, `(`+contactsRow+`.querySelector("button").click(), true)`)
	b.wait(`!!document.querySelector("dialog[open]")`)
	if body := eval[string](b, `document.querySelector("dialog[open]").textContent`); !strings.Contains(body, en["consent.on.body"]) {
		t.Errorf("the dialog turning contacts on says %q", body)
	}
	eval[bool](b, `(document.querySelector("dialog[open] .row button:not(.secondary)").click(), true)`)
	b.wait(contactsRow + ` && ` + contactsRow + `.querySelector(".badge.ok")`)
	if _, err := phone.Sync(ctx, nil); err != nil {
		t.Fatalf("the phone's sync after contacts were turned on in the page: %v", err)
	}
	b.run(chromedp.Click(`#nav button[data-section="overview"]`))
	b.wait(contactsRow + ` && ` + contactsRow + `.cells[2].textContent === "3"`)

	// 4. Staff access needs the owner's approval, then two approvers'.
	b.run(chromedp.Click(`#nav button[data-section="requests"]`))
	b.wait(`[...document.querySelectorAll("#section button")].some((e) => e.textContent === ` + js(en["staffaccess.on"]) + `)`)
	eval[bool](b, `([...document.querySelectorAll("#section button")].find((e) => e.textContent === `+js(en["staffaccess.on"])+`).click(), true)`)
	b.wait(`document.getElementById("status").textContent === ` + js(en["staffaccess.ondone"]))
	const reason = "ticket-5120: contacts do not sync after restore"
	var req api.AccessRequest
	if st, out := bearer(t, env, "POST", "/v1/access-requests", engineer, api.AccessRequestCreate{Account: account, Categories: []string{"contacts"}, Reason: reason, Duration: "1h"}); st != http.StatusCreated && st != http.StatusOK || json.Unmarshal(out, &req) != nil {
		t.Fatalf("the engineer's request: %d %s", st, out)
	}
	if !req.OwnerApproval {
		t.Error("the request does not wait for the owner, who asked to approve staff access")
	}
	b.run(chromedp.Click(`#nav button[data-section="requests"]`))
	approveBtn := `[...document.querySelectorAll("#section button")].find((e) => e.textContent === ` + js(en["requests.approve"]) + `)`
	b.wait(`!!` + approveBtn)
	if txt := eval[string](b, `document.getElementById("section").textContent`); !strings.Contains(txt, reason) || !strings.Contains(txt, eng.ID) {
		t.Errorf("the waiting request does not show who asks and why: %q", txt)
	}
	eval[bool](b, `(`+approveBtn+`.click(), true)`)
	b.wait(`document.getElementById("status").textContent === ` + js(en["requests.approved"]))
	if msg := b.text("alert"); msg != "" {
		t.Fatalf("the owner's approval: %s", msg)
	}

	// Chromium #2: the staff console, a virtual authenticator per member.
	s := newBrowser(t, base, resolve)
	authenticator := addAuthenticator(s)
	s.open("/staff")
	// 8 (console). A garbage staff token is refused with a message.
	s.fill("#register-token", "cst_garbage-"+word(10))
	s.run(chromedp.Click("#register-submit"))
	s.wait(`document.getElementById("alert").textContent.length > 0`)
	shownAlert(t, s, "#alert", "registering a passkey with a garbage token")
	signInConsole := func(name, token string) {
		t.Helper()
		s.fill("#register-token", token)
		eval[bool](s, `(document.getElementById("alert").textContent = "", document.getElementById("status").textContent = "", true)`)
		s.run(chromedp.Click("#register-submit"))
		s.wait(`document.getElementById("status").textContent.length > 0 || document.getElementById("alert").textContent.length > 0`)
		if msg := s.text("alert"); msg != "" {
			t.Fatalf("%s registering a passkey: %s%s", name, msg, s.report())
		}
		s.run(chromedp.Click("#passkey-signin"))
		s.wait(`!document.getElementById("app").hidden || document.getElementById("alert").textContent.length > 0`)
		if msg := s.text("alert"); msg != "" {
			t.Fatalf("%s signing in with a passkey: %s%s", name, msg, s.report())
		}
		if who := s.text("whoami"); !strings.Contains(who, name) {
			t.Errorf("signed in to the console as %q, want %s", who, name)
		}
	}
	// Each member has a security key of their own.
	newKey := func() {
		s.run(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, webauthn.RemoveVirtualAuthenticator, webauthn.RemoveVirtualAuthenticatorParams{AuthenticatorID: authenticator})
			return err
		}))
		authenticator = addAuthenticator(s)
	}
	signOutConsole := func() {
		s.run(chromedp.Click("#staff-signout"))
		s.wait(`!document.getElementById("signin").hidden`)
	}
	approveInConsole := func(name, token string) {
		t.Helper()
		signInConsole(name, token)
		item := `[...document.querySelectorAll("#section li")].find((li) => li.textContent.includes(` + js(reason) + `))`
		s.wait(`!!` + item)
		eval[bool](s, `([...`+item+`.querySelectorAll("button")].find((e) => e.textContent === `+js(en["requests.approve"])+`).click(), true)`)
		s.wait(`document.getElementById("status").textContent === ` + js(en["staff.approved"]) + ` || document.getElementById("alert").textContent.length > 0`)
		if msg := s.text("alert"); msg != "" {
			t.Fatalf("%s approving with a passkey: %s%s", name, msg, s.report())
		}
	}
	approveInConsole("ap1", ap1.Token)
	signOutConsole()
	newKey()
	approveInConsole("ap2", ap2.Token)
	s.wait(`!document.querySelector("#section p.muted")`)
	item := `[...document.querySelectorAll("#section li")].find((li) => li.textContent.includes(` + js(reason) + `)).textContent`
	got := eval[string](s, item)
	for _, want := range []string{
		strings.NewReplacer("{have}", "2", "{need}", "2", "{passkey}", "2").Replace(en["staff.request.quorum"]),
		ap1.ID + " (" + en["staff.method.passkey"] + ")", ap2.ID + " (" + en["staff.method.passkey"] + ")",
		strings.Split(en["requests.state.granted"], "{")[0],
		en["staff.owner.approved"],
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the console's request does not say %q: %q", want, got)
		}
	}
	axeCheck(t, s, "the console's requests")

	// 8 (console). The engineer signs in to the console: the
	// create-request form with a bad account or duration.
	signOutConsole()
	newKey()
	signInConsole("eng", eng.Token)
	s.run(chromedp.Click(`#nav button[data-section="create"]`))
	s.wait(`!!document.getElementById("req-account")`)
	createWith := func(acct, duration, what string) {
		t.Helper()
		s.fill("#req-account", acct)
		s.fill("#req-reason", "ticket-5121")
		eval[bool](s, `(() => {
			document.getElementById("req-cat-contacts").checked = true;
			const d = document.getElementById("req-duration");
			if (![...d.options].some((o) => o.value === `+js(duration)+`)) d.append(new Option(`+js(duration)+`, `+js(duration)+`));
			d.value = `+js(duration)+`;
			document.getElementById("alert").textContent = "";
			return true;
		})()`)
		eval[bool](s, `(document.querySelector("#section form button[type=submit]").click(), true)`)
		s.wait(`document.getElementById("alert").textContent.length > 0`)
		shownAlert(t, s, "#alert", what)
		if eval[bool](s, `!document.getElementById("req-account")`) {
			t.Errorf("%s: the form is gone", what)
		}
	}
	createWith("not-an-account", "1h", "a request for a malformed account id")
	createWith(account, "forever", "a request for a duration of forever")
	createWith(account, "9999h", "a request for a duration of 9999 h")
	createWith("", "1h", "a request with no account")

	// A request made in the console, refused by the owner in the page.
	const reason2 = "ticket-5122: notes missing after restore"
	s.fill("#req-account", account)
	s.fill("#req-reason", reason2)
	eval[bool](s, `(document.getElementById("req-duration").value = "15m", document.getElementById("alert").textContent = "", true)`)
	eval[bool](s, `(document.querySelector("#section form button[type=submit]").click(), true)`)
	s.wait(`document.getElementById("status").textContent === ` + js(en["staff.created"]) + ` || document.getElementById("alert").textContent.length > 0`)
	if msg := s.text("alert"); msg != "" {
		t.Fatalf("a request made in the console: %s", msg)
	}
	b.run(chromedp.Click(`#nav button[data-section="requests"]`))
	refuseBtn := `[...document.querySelectorAll("#section button")].find((e) => e.textContent === ` + js(en["requests.refuse"]) + `)`
	b.wait(`!!` + refuseBtn)
	if txt := eval[string](b, `document.getElementById("section").textContent`); !strings.Contains(txt, reason2) {
		t.Errorf("the request made in the console does not wait for the owner: %q", txt)
	}
	eval[bool](b, `(`+refuseBtn+`.click(), true)`)
	b.wait(`!!document.querySelector("dialog[open]")`)
	eval[bool](b, `(document.querySelector("dialog[open] button.danger").click(), true)`)
	b.wait(`document.getElementById("status").textContent === ` + js(en["requests.refused"]) + ` || document.getElementById("alert").textContent.length > 0`)
	if msg := b.text("alert"); msg != "" {
		t.Fatalf("the owner's refusal: %s", msg)
	}
	s.run(chromedp.Click(`#nav button[data-section="requests"]`))
	refused := `[...document.querySelectorAll("#section li")].find((li) => li.textContent.includes(` + js(reason2) + `))`
	s.wait(`!!` + refused)
	if txt := eval[string](s, refused+`.textContent`); !strings.Contains(txt, en["requests.state.refused"]) {
		t.Errorf("the console does not show the owner's refusal: %q", txt)
	}
	s.clean()

	// The engineer reads the contacts, as automation would.
	var read api.StaffRead
	if st, out := bearer(t, env, "POST", "/v1/access-requests/"+req.ID+"/read", engineer, api.StaffReadRequest{Category: "contacts"}); st != http.StatusOK || json.Unmarshal(out, &read) != nil {
		t.Fatalf("the engineer's read: %d %s", st, out)
	}
	var cards []byte
	for _, r := range read.Records {
		cards = append(cards, r.Data...)
	}
	for _, n := range names {
		if !bytes.Contains(cards, []byte(n)) {
			t.Errorf("the staff read lacks the contact %q (%d records)", n, len(read.Records))
		}
	}

	// The owner's access log shows it, apart, verified, with reason and
	// approvers.
	b.run(chromedp.Click(`#nav button[data-section="log"]`))
	b.wait(`!!document.querySelector("#section li.staffread") || document.getElementById("alert").textContent.length > 0`)
	if msg := b.text("alert"); msg != "" {
		t.Fatalf("the access log: %s", msg)
	}
	staffEntry := eval[string](b, `[...document.querySelectorAll("#section li.staffread")].map((li) => li.textContent).join("\n")`)
	for _, want := range []string{reason, ap1.ID, ap2.ID, eng.ID, en["log.verified"], en["cat.contacts"]} {
		if !strings.Contains(staffEntry, want) {
			t.Errorf("the staff read in the access log does not show %q: %q", want, staffEntry)
		}
	}
	if eval[bool](b, `!!document.querySelector("#section .alarm")`) {
		t.Errorf("the access log raised an alarm: %s", eval[string](b, `document.querySelector("#section .alarm").textContent`))
	}
	if !eval[bool](b, `(() => { const h = [...document.querySelectorAll("#section h3")].find((e) => e.textContent === `+js(en["log.staff"])+`); return !!h && h.nextElementSibling.querySelector("li.staffread") !== null; })()`) {
		t.Error("the staff read is not under its own heading")
	}
	axeCheck(t, b, "the access log")

	// 5. The export link downloads a zip with the contacts.
	dl := t.TempDir()
	done := make(chan string, 1)
	chromedp.ListenBrowser(b.ctx, func(ev any) {
		if e, ok := ev.(*cdpbrowser.EventDownloadProgress); ok && e.State == cdpbrowser.DownloadProgressStateCompleted {
			select {
			case done <- e.GUID:
			default:
			}
		}
	})
	b.run(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.CallBrowser(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dl, EventsEnabled: ptr(true)})
		return err
	}))
	b.run(chromedp.Click(`#nav button[data-section="account"]`))
	b.wait(`!!document.querySelector('#section a[href="/v1/account/export"]')`)
	b.run(chromedp.Click(`#section a[href="/v1/account/export"]`))
	var guid string
	select {
	case guid = <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("the export did not download%s", b.report())
	}
	zipped, err := os.ReadFile(filepath.Join(dl, guid))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		t.Fatalf("the export is not a zip (%d bytes): %v", len(zipped), err)
	}
	var vcf []byte
	var files []string
	for _, f := range zr.File {
		files = append(files, f.Name)
		if strings.HasSuffix(f.Name, ".vcf") {
			r, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			v, _ := io.ReadAll(r)
			r.Close()
			vcf = append(vcf, v...)
		}
	}
	for _, n := range names {
		if !bytes.Contains(vcf, []byte(n)) {
			t.Errorf("the export's contacts (.vcf) lack %q; the zip holds %v", n, files)
		}
	}
	t.Logf("the export: %d bytes, files %v", len(zipped), files)

	// 6. Contacts off, in the page: the dialog says what goes; it goes.
	b.run(chromedp.Click(`#nav button[data-section="overview"]`))
	b.wait(contactsRow + ` && ` + contactsRow + `.querySelector(".badge.ok")`)
	eval[bool](b, `(`+contactsRow+`.querySelector("button").click(), true)`)
	b.wait(`!!document.querySelector("dialog[open]")`)
	body := eval[string](b, `document.querySelector("dialog[open]").textContent`)
	if want := strings.Split(en["consent.off.body"], "{")[0]; !strings.Contains(body, want) || !strings.Contains(body, en["cat.contacts"]) || !strings.Contains(body, "3") {
		t.Errorf("the dialog turning contacts off does not say the 3 contacts will be deleted: %q", body)
	}
	eval[bool](b, `(document.querySelector("dialog[open] button.danger").click(), true)`)
	b.wait(contactsRow + ` && ` + contactsRow + `.querySelector(".badge.off") && ` + contactsRow + `.cells[2].textContent === "0"`)
	if _, err := phone.Sync(ctx, nil, candor.Contacts); !candor.Is(err, candor.ConsentRequired) {
		t.Errorf("the phone's pull of contacts after they were turned off in the page: %v, want consent required", err)
	}
	if st, out := bearer(t, env, "POST", "/v1/access-requests/"+req.ID+"/read", engineer, api.StaffReadRequest{Category: "contacts"}); bytes.Contains(out, []byte(names[0])) {
		t.Errorf("after contacts were turned off, a staff read still finds them: %d", st)
	}

	// 7. The phone, revoked in the page, is refused.
	b.run(chromedp.Click(`#nav button[data-section="devices"]`))
	phoneItem := `[...document.querySelectorAll("#section li")].find((li) => li.querySelector("strong").textContent.startsWith(` + js(en["devices.phone"]) + `) && !li.querySelector(".badge"))`
	b.wait(`!!` + phoneItem)
	axeCheck(t, b, "the devices")
	eval[bool](b, `(`+phoneItem+`.querySelector("button.danger").click(), true)`)
	b.wait(`!!document.querySelector("dialog[open]")`)
	eval[bool](b, `(document.querySelector("dialog[open] button.danger").click(), true)`)
	b.wait(`document.getElementById("status").textContent === ` + js(en["devices.revoked"]))
	// The phone stays listed (a device keeps its id; revoking ends its
	// sessions), so what shows the revocation is the phone's next sync.
	if _, err := phone.Sync(ctx, nil); !candor.Is(err, candor.Unauthenticated) {
		t.Errorf("the revoked phone's sync: %v, want unauthenticated (401)", err)
	}

	// 8 and 9. Deleting the account: a wrong password is refused, the
	// right one deletes it and signs the page out.
	b.run(chromedp.Click(`#nav button[data-section="account"]`))
	b.wait(`!!document.getElementById("del-password")`)
	deleteWith := func(pw string) {
		b.fill("#del-email", email)
		b.fill("#del-password", pw)
		eval[bool](b, `(document.querySelector("#section form [role=alert]").textContent = "", document.querySelector("#section form button[type=submit]").click(), true)`)
		b.wait(`!!document.querySelector("dialog[open]")`)
		eval[bool](b, `(document.querySelector("dialog[open] button.danger").click(), true)`)
	}
	deleteWith(wrongPass)
	b.wait(`document.querySelector("#section form [role=alert]") && document.querySelector("#section form [role=alert]").textContent.length > 0`)
	shownAlert(t, b, "#section form [role=alert]", "deleting the account with a wrong password")
	b.fill("#del-password", "")
	eval[bool](b, `(document.querySelector("#section form button[type=submit]").click(), true)`)
	b.wait(`document.querySelector("#section form [role=alert]").textContent.length > 0`)
	shownAlert(t, b, "#section form [role=alert]", "deleting the account with no password")
	deleteWith(password)
	b.wait(`!document.getElementById("signin").hidden`)
	b.open("/")
	if eval[bool](b, `document.getElementById("signin").hidden`) {
		t.Error("after deleting the account, a reload is still signed in")
	}
	again, err := client.Init(t.TempDir(), client.Config{Server: env.URL, IMEI: imei, Phone: phoneNumber, Country: "IN"}, client.WithKDFFloor(minKDF))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := again.Login(ctx, email, password); err == nil {
		t.Error("after deleting the account in the page, the phone's credentials still sign in")
	}
	b.clean()

	// 10. Nothing the page sent carries the owner's data.
	reqs := rec.requests(t)
	det := egress.NewDetector(canaries)
	for _, r := range reqs {
		for _, f := range det.Scan(r) {
			t.Errorf("the page sent the %s (%s) in the %s of %s %s", f.Item, f.Form, f.Where, f.Method, f.Path)
		}
	}
	for _, f := range det.Pieces(reqs) {
		t.Errorf("the page sent the %s in pieces (%s) over its requests, the first %s %s", f.Item, f.Form, f.Method, f.Path)
	}
	// The search has teeth: the recording holds the sign-in's body and the
	// session cookie, and a canary slipped into either would be found.
	var signIn *egress.Request
	for i, r := range reqs {
		if r.Method == "POST" && r.Path == "/v1/sessions" && bytes.Contains(r.Body, []byte(`"auth_key"`)) {
			signIn = &reqs[i]
		}
	}
	if signIn == nil {
		t.Fatal("the recording lacks the sign-in's body: the search saw nothing")
	}
	cookie := false
	for _, r := range reqs {
		cookie = cookie || strings.Contains(r.Header.Get("Cookie"), "candor_session=cbt_")
	}
	if !cookie {
		t.Error("the recording lacks the session cookie: the raw headers were not searched")
	}
	planted := *signIn
	planted.Body = bytes.Replace(planted.Body, []byte(`"browser"`), []byte(`"`+strings.ToLower(email)+`","browser"`), 1)
	planted.Header = http.Header{"X-Test": {strings.TrimPrefix(numbers[1], "+91")}}
	if fs := det.Scan(planted); len(fs) < 2 {
		t.Errorf("the search does not find an email in a body and a contact's number in a header: %v", fs)
	}
	t.Logf("searched %d requests of the page (headers and bodies) for %d canaries; %s in all", len(reqs), len(canaries), time.Since(began).Round(time.Second))
}

// usableWatch notes in window.__usable the moment (ms since navigation
// start) the sign-in form is shown and the WebAssembly sign-in is ready.
const usableWatch = `(() => {
	const tick = () => {
		const f = document.getElementById("signin");
		if (globalThis.candorLogin && f && !f.hidden) { window.__usable = performance.now(); return; }
		setTimeout(tick, 2);
	};
	tick();
})();`

// signInTimed signs in through the form and answers the milliseconds from
// the click until the overview shows.
func signInTimed(b *browser, email, password string) float64 {
	b.t.Helper()
	b.fill("#signin-email", email)
	b.fill("#signin-password", password)
	ms := eval[float64](b, `(async () => {
		document.getElementById("signin-alert").textContent = "";
		const t0 = performance.now();
		document.getElementById("signin-submit").click();
		while (!document.querySelector("#section tbody tr") && !document.getElementById("signin-alert").textContent) await new Promise((r) => setTimeout(r, 2));
		return performance.now() - t0;
	})()`)
	if msg := b.text("signin-alert"); msg != "" {
		b.t.Fatalf("signing in: %s%s", msg, b.report())
	}
	return ms
}

func signOut(b *browser, en map[string]string) {
	b.t.Helper()
	b.run(chromedp.Click(`#nav button[data-section="account"]`))
	out := `[...document.querySelectorAll("#section button")].find((e) => e.textContent === ` + js(en["account.signout"]) + `)`
	b.wait(`!!` + out)
	eval[bool](b, `(`+out+`.click(), true)`)
	b.wait(`!document.getElementById("signin").hidden`)
}

// shownAlert checks that the page answered bad input with a message in a
// role=alert region, in words, while the page is still there.
func shownAlert(t *testing.T, b *browser, sel, what string) {
	t.Helper()
	type shown struct {
		Role, Text string
		Visible    bool
		Body       int
	}
	s := eval[shown](b, `(() => { const e = document.querySelector(`+js(sel)+`); return { role: e.getAttribute("role"), text: e.textContent, visible: e.offsetParent !== null, body: document.querySelector("main").innerText.length }; })()`)
	t.Logf("%s: %q", what, s.Text)
	switch {
	case s.Role != "alert":
		t.Errorf("%s: the message is in an element of role %q", what, s.Role)
	case !s.Visible:
		t.Errorf("%s: the message %q is not visible", what, s.Text)
	case len(strings.TrimSpace(s.Text)) < 8:
		t.Errorf("%s: the message %q says nothing", what, s.Text)
	case strings.Contains(s.Text, ".js:") || strings.Contains(s.Text, "    at ") || strings.Contains(s.Text, "goroutine") || strings.Contains(s.Text, "undefined") || strings.Contains(s.Text, "[object"):
		t.Errorf("%s: the message is a trace, not words: %q", what, s.Text)
	case s.Body < 100:
		t.Errorf("%s: the page is all but blank", what)
	}
}

// addAuthenticator gives the browser a virtual passkey authenticator.
func addAuthenticator(b *browser) webauthn.AuthenticatorID {
	b.t.Helper()
	var id webauthn.AuthenticatorID
	b.run(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return err
		}
		r, err := cdp.Call(ctx, tg, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
		}})
		id = r.AuthenticatorID
		return err
	}))
	return id
}

// recorder keeps every request a browser sends, with its raw headers and
// body, and counts the bytes it receives.
type recorder struct {
	b     *browser
	mu    sync.Mutex
	order []network.RequestID
	reqs  map[network.RequestID]*sentRequest
	bytes float64
}

type sentRequest struct {
	method, url string
	header      http.Header
	body        []byte
	needsBody   bool
}

func record(b *browser) *recorder {
	rec := &recorder{b: b, reqs: map[network.RequestID]*sentRequest{}}
	get := func(id network.RequestID) *sentRequest {
		r := rec.reqs[id]
		if r == nil {
			r = &sentRequest{header: http.Header{}}
			rec.reqs[id] = r
			rec.order = append(rec.order, id)
		}
		return r
	}
	headers := func(r *sentRequest, h network.Headers) {
		for k, v := range h {
			r.header.Add(k, fmt.Sprint(v))
		}
	}
	chromedp.Listen(b.ctx, func(ev any) {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			r := get(e.RequestID)
			r.method, r.url = e.Request.Method, e.Request.URL
			headers(r, e.Request.Headers)
			for _, p := range e.Request.PostDataEntries {
				r.body = append(r.body, p.Bytes...)
			}
			if e.Request.HasPostData && len(e.Request.PostDataEntries) == 0 {
				r.needsBody = true
				go rec.fetchBody(e.RequestID)
			}
		case *network.EventRequestWillBeSentExtraInfo:
			headers(get(e.RequestID), e.Headers)
		case *network.EventLoadingFinished:
			rec.bytes += e.EncodedDataLength
		}
	})
	return rec
}

// fetchBody asks Chromium for a body it did not put in the event.
func (rec *recorder) fetchBody(id network.RequestID) {
	ctx, cancel := context.WithTimeout(rec.b.ctx, 30*time.Second)
	defer cancel()
	chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		res, err := cdp.Call(ctx, tg, network.GetRequestPostData, network.GetRequestPostDataParams{RequestID: id})
		if err != nil {
			return err
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		rec.reqs[id].body = append(rec.reqs[id].body, res.PostData...)
		rec.reqs[id].needsBody = false
		return nil
	}))
}

func (rec *recorder) received() int64 {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return int64(rec.bytes)
}

// requests answers what was sent, as the egress detector reads requests.
func (rec *recorder) requests(t *testing.T) []egress.Request {
	t.Helper()
	time.Sleep(200 * time.Millisecond) // bodies still being fetched
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []egress.Request
	for _, id := range rec.order {
		r := rec.reqs[id]
		if r.url == "" {
			continue // extra information of a request not seen
		}
		if r.needsBody {
			t.Errorf("the body of %s %s could not be read to be searched", r.method, r.url)
		}
		u, err := url.Parse(r.url)
		if err != nil {
			t.Errorf("a request to %q: %v", r.url, err)
			continue
		}
		out = append(out, egress.Request{Method: r.method, Path: u.EscapedPath(), Query: u.RawQuery, Header: r.header, Body: r.body})
	}
	return out
}

// bearer sends a request with a staff token, as automation would.
func bearer(t *testing.T, env *servertest.Env, method, path, token string, body any) (int, []byte) {
	t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, env.URL+path, bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	out, _ := io.ReadAll(r.Body)
	return r.StatusCode, out
}

func pick(alphabet string, n int) string {
	out := make([]byte, n)
	for i := range out {
		k, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		out[i] = alphabet[k.Int64()]
	}
	return string(out)
}

// word is a random capitalised word, found nowhere by chance.
func word(n int) string {
	return strings.ToUpper(pick("bcdfghjklmnpqrstvwxz", 1)) + pick("aeiou", 1) + pick("bcdfghjklmnpqrstvwxzaeiouy", n-2)
}

func digits(n int) string { return pick("0123456789", n) }

// luhn appends the Luhn check digit, as an IMEI has.
func luhn(s string) string {
	sum := 0
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if (len(s)-1-i)%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return s + fmt.Sprint((10-sum%10)%10)
}

func ptr[T any](v T) *T { return &v }
