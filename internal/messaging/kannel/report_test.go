package kannel

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/candorcloud/candor"
)

// reporting is a gateway over a fake smsbox that asks for delivery
// reports at base, and the sendsms requests it made.
func reporting(t *testing.T, base string, cfg Config) (*Gateway, func() []*http.Request) {
	t.Helper()
	var mu sync.Mutex
	var seen []*http.Request
	g := smsbox(t, 202, "0: Accepted for delivery", func(r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r)
	})
	cfg.URL, cfg.Username, cfg.Password, cfg.ReportURL = g.cfg.URL, "candor", "s3cret", base
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g, func() []*http.Request {
		mu.Lock()
		defer mu.Unlock()
		return append([]*http.Request(nil), seen...)
	}
}

// The id a report URL carries: the one path segment after ReportPath.
func idOf(t *testing.T, dlrURL string) string {
	t.Helper()
	u, err := url.Parse(dlrURL)
	if err != nil {
		t.Fatal(err)
	}
	id, ok := strings.CutPrefix(u.Path, ReportPath)
	if !ok || id == "" || strings.Contains(id, "/") {
		t.Fatalf("dlr-url %q", dlrURL)
	}
	return id
}

// With a report URL, each send asks for every report at a URL that holds
// the server's endpoint, an id of its own and Kannel's %d: never the
// number, the text or the password, nor another of Kannel's escapes.
func TestReportRequest(t *testing.T) {
	g, seen := reporting(t, "https://candor.example.org:8443/", Config{})
	for range 2 {
		if err := g.SendSMS(context.Background(), number, text); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	for _, r := range seen() {
		q := r.URL.Query()
		dlr := q.Get("dlr-url")
		if q.Get("dlr-mask") != "31" || !strings.HasPrefix(dlr, "https://candor.example.org:8443"+ReportPath) ||
			!strings.HasSuffix(dlr, "?status=%d") || strings.Count(dlr, "%") != 1 {
			t.Fatalf("dlr-mask %q dlr-url %q", q.Get("dlr-mask"), dlr)
		}
		for _, secret := range []string{"9833334444", "123456", "s3cret", "Your"} {
			if strings.Contains(dlr, secret) || strings.Contains(dlr, url.QueryEscape(secret)) {
				t.Errorf("the dlr-url %q holds %q", dlr, secret)
			}
		}
		id := idOf(t, dlr)
		if len(id) != 48 {
			t.Errorf("id %q: %d characters", id, len(id))
		}
		ids = append(ids, id)
	}
	if len(ids) != 2 || ids[0] == ids[1] {
		t.Fatalf("ids %q: one per send, each its own", ids)
	}

	// Without a report URL, no report is asked for.
	g, seen = reporting(t, "", Config{})
	g.SendSMS(context.Background(), number, text)
	if q := seen()[0].URL.Query(); q.Has("dlr-mask") || q.Has("dlr-url") {
		t.Errorf("reports asked for without a report URL: %s", seen()[0].URL)
	}
}

// An id verifies on any gateway with the same password (another instance
// behind the load balancer) for ReportLifetime, and on no other; a changed
// character, a truncated id or garbage is unknown.
func TestReportID(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	key, _ := reportKey("s3cret")
	other, _ := reportKey("s3cret2")
	id := newReportID(key, now)
	if strings.ContainsAny(id, "%/?&=+") || id == newReportID(key, now) {
		t.Fatalf("id %q", id)
	}
	flip := []byte(id)
	flip[20] ^= 1
	for _, c := range []struct {
		name string
		key  []byte
		id   string
		at   time.Time
		ok   bool
	}{
		{"fresh", key, id, now, true},
		{"at the end of its life", key, id, now.Add(ReportLifetime), true},
		{"a little early (clock skew)", key, id, now.Add(-30 * time.Second), true},
		{"expired", key, id, now.Add(ReportLifetime + time.Second), false},
		{"from the future", key, id, now.Add(-2 * time.Minute), false},
		{"another password", other, id, now, false},
		{"a character changed", key, string(flip), now, false},
		{"truncated", key, id[:47], now, false},
		{"longer", key, id + "A", now, false},
		{"empty", key, "", now, false},
		{"not base64url", key, strings.Repeat("%", 48), now, false},
		{"padded", key, id[:46] + "==", now, false},
	} {
		if got := checkReportID(c.key, c.id, c.at); got != c.ok {
			t.Errorf("%s: %v, want %v", c.name, got, c.ok)
		}
	}
}

// A report is counted by its status; a failed or rejected one is logged
// with its id and status only; an unknown id is NotFound and a status
// Kannel does not send Invalid, both counted as refused.
func TestReport(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	now := time.Now()
	clock := func() time.Time { return now }
	g, seen := reporting(t, "http://127.0.0.1:8080", Config{Logger: log, Now: clock})
	// Another instance: same password, its own metrics.
	peer, _ := reporting(t, "http://127.0.0.1:8081", Config{Logger: log, Now: clock})
	stranger, _ := New(Config{URL: "http://127.0.0.1:1/cgi-bin/sendsms", Username: "candor", Password: "other", ReportURL: "http://x", Now: clock})
	peerMetrics := scrape(t, peer)
	ctx := context.Background()
	if err := g.SendSMS(ctx, number, text); err != nil {
		t.Fatal(err)
	}
	id := idOf(t, seen()[0].URL.Query().Get("dlr-url"))

	for _, status := range []int{8, 4, 1} {
		if err := g.Report(ctx, id, status); err != nil {
			t.Fatalf("status %d: %v", status, err)
		}
	}
	if err := peer.Report(ctx, id, 2); err != nil {
		t.Fatalf("on another instance: %v", err)
	}
	if err := g.Report(ctx, id, 16); err != nil {
		t.Fatal(err)
	}
	metrics := scrape(t, g)
	for status, want := range map[string]float64{"submitted": 1, "buffered": 1, "delivered": 1, "failed": 0, "rejected": 1} {
		if got := metrics(`candor_sms_delivery_reports_total{status="` + status + `"}`); got != want {
			t.Errorf("%s: %v, want %v", status, got, want)
		}
	}
	if got := peerMetrics(`candor_sms_delivery_reports_total{status="failed"}`); got != 1 {
		t.Errorf("failed on the peer: %v", got)
	}

	if err := stranger.Report(ctx, id, 1); !candor.Is(err, candor.NotFound) {
		t.Errorf("another password's gateway: %v", err)
	}
	forged := newReportID([]byte("guessed key"), now)
	for _, c := range []struct {
		id     string
		status int
		kind   candor.Kind
	}{
		{forged, 1, candor.NotFound},
		{"", 1, candor.NotFound},
		{id[:40], 1, candor.NotFound},
		{forged, 3, candor.NotFound}, // a forger learns nothing of the status
		{id, 3, candor.Invalid},
		{id, 0, candor.Invalid},
		{id, -1, candor.Invalid},
		{id, 31, candor.Invalid},
	} {
		if err := g.Report(ctx, c.id, c.status); !candor.Is(err, c.kind) {
			t.Errorf("%q %d: %v, want %v", c.id, c.status, err, c.kind)
		}
	}
	if got := metrics("candor_sms_delivery_reports_refused_total"); got != 8 {
		t.Errorf("refused: %v, want 8", got)
	}
	now = now.Add(ReportLifetime + time.Minute)
	if err := g.Report(ctx, id, 1); !candor.Is(err, candor.NotFound) {
		t.Errorf("expired: %v", err)
	}

	out := logs.String()
	if strings.Count(out, `"msg":"sms not delivered"`) != 2 || !strings.Contains(out, `"report":"`+id+`"`) ||
		!strings.Contains(out, `"status":"failed"`) || !strings.Contains(out, `"status":"rejected"`) {
		t.Errorf("logs:\n%s", out)
	}
	for _, secret := range []string{"9833334444", "123456", "s3cret"} {
		if strings.Contains(out, secret) {
			t.Errorf("the logs hold %q", secret)
		}
	}
}

// Sends are counted by outcome and timed, whatever the outcome.
func TestSendMetrics(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		status  int
		answer  string
		outcome string
	}{
		{202, "0: Accepted for delivery", outcomeAccepted},
		{403, "Number(s) has/have been denied by white- and/or black-lists.", outcomeRefused},
		{503, "4: Temporal failure, try again later.", outcomeUnavailable},
	} {
		g := smsbox(t, c.status, c.answer, nil)
		metrics := scrape(t, g)
		g.SendSMS(ctx, number, text)
		g.SendSMS(ctx, number, text)
		for _, o := range []string{outcomeAccepted, outcomeRefused, outcomeUnavailable} {
			want := 0.0
			if o == c.outcome {
				want = 2
			}
			if got := metrics(`candor_sms_sends_total{outcome="` + o + `"}`); got != want {
				t.Errorf("%d: %s %v, want %v", c.status, o, got, want)
			}
		}
		if got := metrics("candor_sms_send_duration_seconds_count"); got != 2 {
			t.Errorf("latency count: %v", got)
		}
	}
}

func TestReportConfig(t *testing.T) {
	for _, base := range []string{
		"127.0.0.1:8080",
		"ftp://candor.example.org",
		"http://",
		"http://candor.example.org/?x=1",
		"http://u:p@candor.example.org",
		"http://candor.example.org/%41",
		"http://candor.example.org/#f",
	} {
		if _, err := New(Config{URL: "http://x/cgi-bin/sendsms", Username: "u", Password: "p", ReportURL: base}); err == nil {
			t.Errorf("accepted dlr url %q", base)
		} else if !strings.Contains(err.Error(), "dlr_url") {
			t.Errorf("%q: %v", base, err)
		}
	}
	g, err := New(Config{URL: "http://x/cgi-bin/sendsms", Username: "u", Password: "p", ReportURL: "http://10.0.0.5:8080/candor/"})
	if err != nil || g.dlrURL("ID") != "http://10.0.0.5:8080/candor/v1/sms/delivery-reports/ID?status=%d" {
		t.Errorf("%v %q", err, g.dlrURL("ID"))
	}
}

// Whatever smsbox (or anyone) puts in the URL, checking an id neither
// panics nor takes a wrong one.
func FuzzReportID(f *testing.F) {
	key, _ := reportKey("s3cret")
	now := time.Now()
	f.Add(newReportID(key, now))
	f.Add("")
	f.Add(strings.Repeat("A", 48))
	f.Fuzz(func(t *testing.T, id string) {
		if checkReportID(key, id, now) {
			b := []byte(id)
			b[len(b)-1] ^= 1
			if checkReportID(key, string(b), now) {
				t.Fatalf("two ids verify: %q", id)
			}
		}
	})
}

// scrape registers g's collectors in a registry of their own (a pedantic
// one: it checks their descriptions) and returns a reader of one series's
// value as /metrics shows it, -1 when absent.
func scrape(t *testing.T, g *Gateway) func(series string) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(g.Collectors()...)
	return func(series string) float64 {
		t.Helper()
		rec := httptest.NewRecorder()
		promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.PanicOnError}).
			ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(rec.Body.String())
		if m == nil {
			return -1
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
