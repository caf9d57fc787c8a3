package privacycenter

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client"
	"github.com/candorcloud/candor/client/login"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// TestScreenshots saves the pictures of the main pages that the README
// shows, into the folder CANDOR_SCREENSHOTS names (docs/screenshots from
// the repository's root: `CANDOR_SCREENSHOTS=$PWD/docs/screenshots go test
// -run TestScreenshots ./test/privacycenter`). Without it, it skips: the
// pages themselves are tested by the other tests.
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("CANDOR_SCREENSHOTS")
	if dir == "" {
		t.Skip("set CANDOR_SCREENSHOTS to a folder to save the README's pictures of the pages")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	env, base, init := startWithConsole(t)
	boot := staffCaller{t: t, env: env, token: init.StaffToken}
	eng, ap1 := boot.add("Ines", "engineer"), boot.add("Tomas", "approver")

	// A phone with contacts and notes in the cloud.
	kdf := api.KDF(login.MinimumCost)
	phone, err := client.Init(t.TempDir(), client.Config{Server: env.URL, IMEI: "490154203237518", Phone: "+919812345678", Country: "IN"}, client.WithKDF(kdf), client.WithKDFFloor(kdf))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"Asha Verma", "Ravi Kumar", "Mei Lin"} {
		phone.Contacts().Add(n, "+9198765432"+string(rune('1'+len(n)%9))+"0")
	}
	phone.Notes().Add("Groceries", "rice, dal, coriander")
	ctx := t.Context()
	if _, err := phone.Signup(ctx, testEmail, testPassword); err != nil {
		t.Fatal(err)
	}
	phone.SetConsent(ctx, candor.Contacts, true)
	phone.SetConsent(ctx, candor.Notes, true)
	if _, err := phone.Sync(ctx, nil); err != nil {
		t.Fatal(err)
	}
	st, _ := phone.Status()
	var req api.AccessRequest
	eng.call("/v1/access-requests", api.AccessRequestCreate{Account: string(st.Account), Categories: []string{"contacts"}, Reason: "ticket 4711: contacts do not sync", Duration: "1h"}, &req)

	shot := func(b *browser, name string) {
		t.Helper()
		var png []byte
		b.run(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			if _, err := cdp.Call(ctx, tg, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 1100, Height: 760, DeviceScaleFactor: 1}); err != nil {
				return err
			}
			r, err := cdp.Call(ctx, tg, page.CaptureScreenshot, page.CaptureScreenshotParams{Format: page.CaptureScreenshotFormatPng})
			if err != nil {
				return err
			}
			png = r.Data
			return nil
		}))
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	b := newBrowser(t, base, localhost)
	b.open("/")
	shot(b, "signin")
	b.fill("#signin-email", testEmail)
	b.fill("#signin-password", testPassword)
	b.run(chromedp.Click("#signin-submit"))
	b.wait(`!document.getElementById("app").hidden`)
	b.wait(`document.querySelectorAll("#section tbody tr").length === 5`)
	shot(b, "overview")
	b.run(chromedp.Click(`#nav button[data-section="log"]`))
	b.wait(`document.querySelector("#section .badge.ok")`)
	shot(b, "access-log")

	c := newBrowser(t, base, localhost)
	addAuthenticator(c)
	c.open("/staff")
	c.fill("#register-token", ap1.token)
	c.run(chromedp.Click("#register-submit"))
	c.wait(`document.getElementById("status").textContent.length > 0 || document.getElementById("alert").textContent.length > 0`)
	c.run(chromedp.Click("#passkey-signin"))
	c.wait(`!document.getElementById("app").hidden`)
	c.wait(`document.querySelector("#section h2") && !document.querySelector("#section p.muted")`)
	shot(c, "staff-requests")
}

// staffCaller calls the staff API with a staff token, as automation does.
type staffCaller struct {
	t     *testing.T
	env   *servertest.Env
	token string
}

func (s staffCaller) call(path string, body, out any) {
	s.t.Helper()
	st, raw := bearer(s.t, s.env, "POST", path, s.token, body)
	if st >= 300 || (out != nil && json.Unmarshal(raw, out) != nil) {
		s.t.Fatalf("POST %s: %d %s", path, st, raw)
	}
}

func (s staffCaller) add(name, roles string) staffCaller {
	s.t.Helper()
	var added api.StaffAdded
	s.call("/v1/staff", api.StaffAddRequest{Name: name, Roles: strings.Split(roles, ",")}, &added)
	return staffCaller{t: s.t, env: s.env, token: added.Token}
}
