package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client"
	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/server/servertest"
)

var (
	requiredLocales   = []string{"en-IN", "hi-IN", "zh-CN", "en-US"}
	requiredOccasions = []string{"diwali", "holi", "eid", "christmas", "lunar-new-year", "birthday"}
)

// Every required locale has several greetings for every required
// occasion, and jokes and poems; Hindi is written in Devanagari and
// Chinese in Han characters.
func TestGreetingsEveryLocaleAndOccasion(t *testing.T) {
	env := servertest.Start(t)
	anon := &raw{t: t, url: env.URL}
	for _, loc := range requiredLocales {
		var all api.Greetings
		anon.must("GET", "/v1/public/greetings?locale="+loc, nil, &all)
		kinds := map[string]int{}
		for _, g := range all.Items {
			kinds[g.Kind]++
		}
		if kinds["joke"] == 0 || kinds["poem"] == 0 {
			t.Errorf("%s: no jokes or no poems: %v", loc, kinds)
		}
		for _, occ := range requiredOccasions {
			var g api.Greetings
			anon.must("GET", "/v1/public/greetings?locale="+loc+"&occasion="+occ, nil, &g)
			if len(g.Items) < 2 {
				t.Errorf("%s %s: %d greetings, want several", loc, occ, len(g.Items))
			}
			for _, it := range g.Items {
				if it.Occasion != occ {
					t.Errorf("%s %s: got a greeting for %s", loc, occ, it.Occasion)
				}
				switch loc {
				case "hi-IN":
					if !hasScript(it.Text, unicode.Devanagari) {
						t.Errorf("hi-IN %s: not in Devanagari: %q", it.ID, it.Text)
					}
				case "zh-CN":
					if !hasScript(it.Text, unicode.Han) {
						t.Errorf("zh-CN %s: not in Han characters: %q", it.ID, it.Text)
					}
				}
			}
		}
	}
}

func hasScript(s string, table *unicode.RangeTable) bool {
	for _, r := range s {
		if unicode.Is(table, r) {
			return true
		}
	}
	return false
}

// Greetings are cacheable with a strong ETag, answer 304 to a matching
// If-None-Match, set no cookie; an unknown occasion is an empty list and an
// unknown locale a 404 naming the locales there are.
func TestGreetingsCaching(t *testing.T) {
	env := servertest.Start(t)
	get := func(path, inm string) *http.Response {
		req, _ := http.NewRequest("GET", env.URL+path, nil)
		if inm != "" {
			req.Header.Set("If-None-Match", inm)
		}
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := get("/v1/public/greetings?locale=hi-IN&occasion=diwali", "")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || !strings.HasPrefix(etag, `"`) || strings.HasPrefix(etag, "W/") {
		t.Fatalf("status %d, ETag %q: want 200 and a strong ETag", resp.StatusCode, etag)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.HasPrefix(cc, "public, max-age=") {
		t.Errorf("Cache-Control %q", cc)
	}
	if len(resp.Cookies()) > 0 || resp.Header.Get("Set-Cookie") != "" {
		t.Errorf("a public answer set a cookie: %v", resp.Header["Set-Cookie"])
	}
	again := get("/v1/public/greetings?locale=hi-IN&occasion=diwali", etag)
	b, _ := io.ReadAll(again.Body)
	again.Body.Close()
	if again.StatusCode != http.StatusNotModified || len(b) != 0 {
		t.Fatalf("If-None-Match %s: %d with %d bytes, want 304 and no body", etag, again.StatusCode, len(b))
	}
	other := get("/v1/public/greetings?locale=hi-IN&occasion=holi", etag)
	other.Body.Close()
	if other.StatusCode != 200 || other.Header.Get("ETag") == etag {
		t.Errorf("another occasion: %d with the same ETag", other.StatusCode)
	}
	if !bytes.Contains(body, []byte("दीपावली")) {
		t.Errorf("hi-IN diwali greetings: %s", body)
	}

	anon := &raw{t: t, url: env.URL}
	var none api.Greetings
	anon.must("GET", "/v1/public/greetings?locale=hi-IN&occasion=midsummer", nil, &none)
	if none.Items == nil || len(none.Items) != 0 {
		t.Errorf("unknown occasion: %+v, want an empty list", none)
	}
	a := anon.call("GET", "/v1/public/greetings?locale=fr-FR", nil, nil)
	if a.status != 404 || a.error().Code != "not_found" || !strings.Contains(a.error().Message, "hi-IN") {
		t.Errorf("unknown locale: %d %s", a.status, a.body)
	}
}

// recorder is a RoundTripper that keeps a copy of every request a phone
// sends and can rewrite answers (a man in the middle).
type recorder struct {
	mu      sync.Mutex
	reqs    []*http.Request
	rewrite func(req *http.Request, body []byte) []byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Clone(context.Background()))
	rewrite := r.rewrite
	r.mu.Unlock()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || rewrite == nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	body = rewrite(req, body)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return resp, nil
}

func (r *recorder) setRewrite(f func(req *http.Request, body []byte) []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rewrite = f
}

func phoneVia(t *testing.T, env *servertest.Env, dir string, rt http.RoundTripper) *client.Client {
	t.Helper()
	opts := []client.Option{client.WithHTTPClient(&http.Client{Transport: rt}), client.WithKDF(testKDF), client.WithKDFFloor(testKDF)}
	c, err := client.Open(dir, opts...)
	if candor.Is(err, candor.NotFound) {
		c, err = client.Init(dir, client.Config{Server: env.URL, IMEI: canaryIMEI, Phone: "+919812345678", Country: "IN"}, opts...)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Greetings and update checks go out with nothing that identifies the
// phone: no Authorization, no cookie, no IMEI, number, account or device
// id, only the locale; and the server's log of those requests holds no
// client address.
func TestPublicRequestsCarryNoIdentifier(t *testing.T) {
	ctx := context.Background()
	env := servertest.Start(t)
	rec := &recorder{}
	phone := phoneVia(t, env, t.TempDir(), rec)
	if _, err := phone.Greetings(ctx, "", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := phone.Greetings(ctx, "hi-IN", "holi"); err != nil {
		t.Fatal(err)
	}
	if _, err := phone.CheckOTA(ctx); err != nil {
		t.Fatal(err)
	}
	// Signed in too: public requests still carry no session.
	if _, err := phone.Signup(ctx, "anon@example.invalid", "Orchid-Lantern-7731!"); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	rec.reqs = nil
	rec.mu.Unlock()
	if _, err := phone.Greetings(ctx, "", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := phone.CheckOTA(ctx); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.reqs) < 3 {
		t.Fatalf("recorded %d requests", len(rec.reqs))
	}
	allowed := map[string]bool{"User-Agent": true, "Accept": true, "Accept-Encoding": true}
	for _, req := range rec.reqs {
		if !strings.HasPrefix(req.URL.Path, "/v1/public/") {
			t.Errorf("a public fetch went to %s", req.URL.Path)
		}
		for h := range req.Header {
			if !allowed[h] {
				t.Errorf("%s carries header %s: %q", req.URL.Path, h, req.Header.Get(h))
			}
		}
		if req.Header.Get("User-Agent") != "candor/1" {
			t.Errorf("User-Agent %q: every phone must send the same one", req.Header.Get("User-Agent"))
		}
		for k := range req.URL.Query() {
			if k != "locale" && k != "occasion" {
				t.Errorf("%s carries query parameter %s", req.URL.Path, k)
			}
		}
		for _, s := range []string{canaryIMEI, "9812345678", "anon@"} {
			if strings.Contains(req.URL.String(), s) {
				t.Errorf("%s carries %s", req.URL, s)
			}
		}
	}
	publicLines := 0
	for _, line := range strings.Split(env.Logs.String(), "\n") {
		if !strings.Contains(line, "/v1/public/") {
			continue
		}
		publicLines++
		if strings.Contains(line, "127.0.0.1") || strings.Contains(line, "candor/1") {
			t.Errorf("a public request's log line holds the client address or user agent: %s", line)
		}
	}
	if publicLines == 0 {
		t.Error("no log line for public requests: has the request log changed?")
	}
}

// A published catalog replaces the locales it names, is served at once,
// survives a restart and is served while the server is sealed; staff
// without the admin role cannot publish.
func TestGreetingsPublishSurvivesRestart(t *testing.T) {
	env, boot := staffServer(t, server.Config{})
	var eng api.StaffAdded
	boot.must("POST", "/v1/staff", api.StaffAddRequest{Name: "eng", Roles: []string{"engineer"}}, &eng)
	cat := api.GreetingsCatalog{Locales: map[string][]api.Greeting{
		"hi-IN": {{ID: "diwali-new", Occasion: "diwali", Kind: "wish", Text: "शुभ दीपावली, नए साल की नई रोशनी!"}},
		"ta-IN": {{ID: "pongal-1", Occasion: "pongal", Kind: "wish", Text: "இனிய பொங்கல் நல்வாழ்த்துக்கள்!"}},
	}}
	if a := (&raw{t: t, url: env.URL, token: eng.Token}).call("POST", "/v1/operator/greetings", cat, nil); a.status != 403 {
		t.Fatalf("an engineer published greetings: %d %s", a.status, a.body)
	}
	if a := (&raw{t: t, url: env.URL}).call("POST", "/v1/operator/greetings", cat, nil); a.status != 401 {
		t.Fatalf("an anonymous publish: %d %s", a.status, a.body)
	}
	bad := api.GreetingsCatalog{Locales: map[string][]api.Greeting{"hi-IN": {{ID: "x", Occasion: "diwali", Kind: "rant", Text: "?"}}}}
	if a := boot.call("POST", "/v1/operator/greetings", bad, nil); a.status != 400 {
		t.Fatalf("a greeting of an unknown kind: %d %s", a.status, a.body)
	}
	var pub api.GreetingsPublished
	boot.must("POST", "/v1/operator/greetings", cat, &pub)
	if len(pub.Locales) != 5 {
		t.Errorf("published locales %v, want the four built in and ta-IN", pub.Locales)
	}
	check := func(env *servertest.Env) {
		t.Helper()
		anon := &raw{t: t, url: env.URL}
		var hi, en, ta api.Greetings
		anon.must("GET", "/v1/public/greetings?locale=hi-IN", nil, &hi)
		anon.must("GET", "/v1/public/greetings?locale=en-IN", nil, &en)
		anon.must("GET", "/v1/public/greetings?locale=ta-IN", nil, &ta)
		if len(hi.Items) != 1 || hi.Items[0].ID != "diwali-new" {
			t.Errorf("hi-IN after publish: %+v", hi.Items)
		}
		if len(en.Items) < 10 {
			t.Errorf("en-IN was not kept: %d greetings", len(en.Items))
		}
		if len(ta.Items) != 1 {
			t.Errorf("ta-IN: %+v", ta.Items)
		}
	}
	check(env)
	data, addr := env.Data, env.Addr
	env.Stop()
	again := servertest.StartProduction(t, server.Config{Data: data, Addr: addr})
	if !(&raw{t: t, url: again.URL}).status().Sealed {
		t.Fatal("a production server restarted unsealed")
	}
	check(again) // served from the data folder, while sealed
}

// A release published by staff is found, verified, by a phone checking
// for its model and channel, and not by phones of another model; update
// metadata are served while the server is sealed.
func TestOTAPublishAndCheck(t *testing.T) {
	ctx := context.Background()
	env, boot := staffServer(t, server.Config{})
	phone := phoneVia(t, env, t.TempDir(), http.DefaultTransport)
	if _, err := phone.SetOTASettings("orchid-5g", "beta"); err != nil {
		t.Fatal(err)
	}
	res, err := phone.CheckOTA(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Update != nil || !res.PinnedNow || res.Message != "no update for orchid-5g on beta" {
		t.Fatalf("before any release: %+v", res)
	}
	rel := api.OTARelease{Model: "orchid-5g", Channel: "beta", Version: "2.1.0", URL: "https://updates.example.invalid/orchid-5g/2.1.0.zip",
		SHA256: strings.Repeat("ab", 32), Size: 1 << 30, Notes: "Faster camera start"}
	var pub api.OTAPublished
	boot.must("POST", "/v1/operator/ota", rel, &pub)
	if pub.TargetsVersion <= 1 || pub.SnapshotVersion <= 1 || pub.TimestampVersion <= res.TimestampVersion {
		t.Errorf("versions after the first publish: %+v (the phone saw timestamp %d)", pub, res.TimestampVersion)
	}
	res, err = phone.CheckOTA(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Update == nil || res.Update.Version != "2.1.0" || res.Update.SHA256 != rel.SHA256 || res.Update.Size != rel.Size || res.PinnedNow {
		t.Fatalf("after the release: %+v", res)
	}
	other := phoneVia(t, env, t.TempDir(), http.DefaultTransport)
	if _, err := other.SetOTASettings("orchid-5g", "stable"); err != nil {
		t.Fatal(err)
	}
	if res, err := other.CheckOTA(ctx); err != nil || res.Update != nil {
		t.Fatalf("stable channel: %+v %v", res, err)
	}
	if a := boot.call("POST", "/v1/operator/ota", api.OTARelease{Model: "x", Channel: "nightly", Version: "1", URL: rel.URL, SHA256: rel.SHA256, Size: 1}, nil); a.status != 400 {
		t.Errorf("an unknown channel: %d", a.status)
	}

	data, addr := env.Data, env.Addr
	env.Stop()
	sealed := servertest.StartProduction(t, server.Config{Data: data, Addr: addr})
	if !(&raw{t: t, url: sealed.URL}).status().Sealed {
		t.Fatal("restarted unsealed")
	}
	res, err = phone.CheckOTA(ctx)
	if err != nil || res.Update == nil || res.Update.Version != "2.1.0" {
		t.Fatalf("while sealed: %+v %v", res, err)
	}
}

// A phone refuses update metadata that was tampered with on the way (its
// signature no longer verifies) and says so.
func TestOTARefusesTampered(t *testing.T) {
	ctx := context.Background()
	env, boot := staffServer(t, server.Config{})
	rec := &recorder{}
	phone := phoneVia(t, env, t.TempDir(), rec)
	if _, err := phone.CheckOTA(ctx); err != nil {
		t.Fatal(err)
	}
	boot.must("POST", "/v1/operator/ota", api.OTARelease{Model: client.DefaultModel, Channel: "stable", Version: "9.9",
		URL: "https://updates.example.invalid/a.zip", SHA256: strings.Repeat("cd", 32), Size: 10}, nil)
	// Someone in between pushes the expiry a year further out.
	rec.setRewrite(func(req *http.Request, body []byte) []byte {
		if !strings.HasSuffix(req.URL.Path, "/timestamp.json") {
			return body
		}
		i := bytes.Index(body, []byte(`"expires": "`))
		if i < 0 {
			t.Fatalf("no expires in %s", body)
		}
		out := bytes.Clone(body)
		d := &out[i+len(`"expires": "`)+2] // the year's tens digit: 2026 → 2036, 2096 → 2006
		*d = '0' + (*d-'0'+1)%10
		return out
	})
	_, err := phone.CheckOTA(ctx)
	if !candor.Is(err, candor.Integrity) || !strings.Contains(candor.Message(err), "signature does not verify") {
		t.Fatalf("tampered timestamp: %v", err)
	}
	// The same with the release notice itself: its hash is signed.
	rec.setRewrite(func(req *http.Request, body []byte) []byte {
		if !strings.Contains(req.URL.Path, "/targets/") {
			return body
		}
		return bytes.Replace(body, []byte("9.9"), []byte("9.8"), 1)
	})
	_, err = phone.CheckOTA(ctx)
	if !candor.Is(err, candor.Integrity) || !strings.Contains(candor.Message(err), "does not match its signed hash") {
		t.Fatalf("tampered notice: %v", err)
	}
	rec.setRewrite(nil)
	if res, err := phone.CheckOTA(ctx); err != nil || res.Update == nil {
		t.Fatalf("untampered again: %+v %v", res, err)
	}
}

// A phone that has seen newer metadata refuses an older copy (a rollback
// to a release with known holes) and says so.
func TestOTARefusesRollback(t *testing.T) {
	ctx := context.Background()
	env, boot := staffServer(t, server.Config{})
	old := (&raw{t: t, url: env.URL}).send("GET", "/v1/public/ota/timestamp.json", "", nil)
	if old.status != 200 {
		t.Fatalf("timestamp: %d", old.status)
	}
	boot.must("POST", "/v1/operator/ota", api.OTARelease{Model: client.DefaultModel, Channel: "stable", Version: "3.0",
		URL: "https://updates.example.invalid/b.zip", SHA256: strings.Repeat("ef", 32), Size: 10}, nil)
	rec := &recorder{}
	phone := phoneVia(t, env, t.TempDir(), rec)
	if res, err := phone.CheckOTA(ctx); err != nil || res.Update == nil || res.Update.Version != "3.0" {
		t.Fatalf("first check: %+v %v", res, err)
	}
	rec.setRewrite(func(req *http.Request, body []byte) []byte {
		if strings.HasSuffix(req.URL.Path, "/timestamp.json") {
			return old.body
		}
		return body
	})
	_, err := phone.CheckOTA(ctx)
	if !candor.Is(err, candor.Integrity) || !strings.Contains(candor.Message(err), "rolled back") {
		t.Fatalf("rolled-back timestamp: %v", err)
	}
}

// A phone refuses metadata past its expiry (a server, or someone in
// between, freezing it on an old state) and says so.
func TestOTARefusesExpired(t *testing.T) {
	ctx := context.Background()
	// The server's clock is two days slow: the timestamp it signs (valid
	// for a day) has expired when it is made.
	env, _ := staffServer(t, server.Config{OTA: server.OTAConfig{Now: func() time.Time { return time.Now().Add(-48 * time.Hour) }}})
	phone := phoneVia(t, env, t.TempDir(), http.DefaultTransport)
	_, err := phone.CheckOTA(ctx)
	if !candor.Is(err, candor.Integrity) || !strings.Contains(candor.Message(err), "expired") {
		t.Fatalf("expired timestamp: %v", err)
	}
}
