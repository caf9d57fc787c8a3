package server_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/messaging/kannel"
	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// urlRecorder is a reverse proxy that keeps the URL of every request it
// passes on: between the server and smsbox, what Kannel is asked; between
// smsbox and the server, what Kannel calls back.
type urlRecorder struct {
	mu     sync.Mutex
	target *url.URL
	seen   []*url.URL
}

func recordURLs(t *testing.T) (*urlRecorder, *httptest.Server) {
	t.Helper()
	rec := &urlRecorder{}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		rec.seen = append(rec.seen, r.In.URL)
		r.SetURL(rec.target)
	}}
	ts := httptest.NewServer(proxy)
	t.Cleanup(ts.Close)
	return rec, ts
}

func (r *urlRecorder) to(target string) {
	u, _ := url.Parse(target)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.target = u
}

// urls waits until the urlRecorder has passed on n requests and returns them.
func (r *urlRecorder) urls(t *testing.T, n int) []*url.URL {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		r.mu.Lock()
		seen := append([]*url.URL(nil), r.seen...)
		r.mu.Unlock()
		if len(seen) >= n {
			return seen
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d requests, not %d", len(seen), n)
		}
	}
}

// metric reads one series from the server's /metrics (-1 when absent).
func metric(t *testing.T, env *servertest.Env, series string) float64 {
	t.Helper()
	resp, err := httpClient.Get(env.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(b.String())
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// waitMetric waits until a series of the server's metrics reaches want.
func waitMetric(t *testing.T, env *servertest.Env, series string, want float64) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		got := metric(t, env, series)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want %v", series, got, want)
		}
	}
}

func report(t *testing.T, env *servertest.Env, path string) int {
	t.Helper()
	resp, err := httpClient.Get(env.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A verification code sent through a real smsbox asks for delivery
// reports at a URL that names no one; the carrier's taking it comes back
// through smsbox to the server's endpoint and is counted. A forged id is
// refused, and a failed report is logged by its id and status alone:
// neither the server's logs nor anything sent to or fetched by Kannel
// holds the number or the code.
func TestKannelDeliveryReports(t *testing.T) {
	k := startKannel(t)
	asked, toSMSBox := recordURLs(t) // the server → smsbox's sendsms
	asked.to(strings.TrimSuffix(k.sendsms, "/cgi-bin/sendsms"))
	called, toServer := recordURLs(t) // smsbox → the server's report endpoint
	cfg := k.config()
	cfg.Kannel.URL = toSMSBox.URL + "/cgi-bin/sendsms"
	cfg.Kannel.DLRURL = toServer.URL
	env := servertest.StartWith(t, server.Config{SMS: cfg})
	called.to(env.URL)
	ctx := context.Background()

	waitMetric(t, env, `candor_sms_delivery_reports_total{status="submitted"}`, 0)
	phone := signedUp(t, env, "490154203237518")
	if _, err := phone.ActivateMessaging(ctx, ""); !candor.Is(err, candor.Invalid) {
		t.Fatalf("activation without the code: %v", err)
	}
	got := k.received(1)
	code := codePattern.FindString(got.text)
	if got.to != "+919812345678" || code == "" {
		t.Fatalf("the carrier got %+v", got)
	}
	if v := metric(t, env, `candor_sms_sends_total{outcome="accepted"}`); v != 1 {
		t.Errorf("sends accepted: %v", v)
	}
	if v := metric(t, env, "candor_sms_send_duration_seconds_count"); v != 1 {
		t.Errorf("sends timed: %v", v)
	}

	// What smsbox was asked: the report URL is the server's endpoint, an
	// id and %d.
	sendsms := asked.urls(t, 1)[0].Query()
	dlr := sendsms.Get("dlr-url")
	shape := regexp.MustCompile(`^` + regexp.QuoteMeta(toServer.URL+kannel.ReportPath) + `([A-Za-z0-9_-]{48})\?status=%d$`)
	m := shape.FindStringSubmatch(dlr)
	if sendsms.Get("to") != "+919812345678" || sendsms.Get("dlr-mask") != "31" || m == nil {
		t.Fatalf("smsbox was asked dlr-mask %q dlr-url %q", sendsms.Get("dlr-mask"), dlr)
	}
	id := m[1]

	// Kannel's fake SMSC took it and says it was delivered: smsbox calls
	// the URL with status 8 and status 1, and the server counts both.
	waitMetric(t, env, `candor_sms_delivery_reports_total{status="submitted"}`, 1)
	waitMetric(t, env, `candor_sms_delivery_reports_total{status="delivered"}`, 1)
	calls := called.urls(t, 2)
	statuses := map[string]bool{}
	for _, u := range calls {
		if u.Path != kannel.ReportPath+id {
			t.Errorf("smsbox called %s", u)
		}
		statuses[u.RawQuery] = true
	}
	if len(calls) != 2 || !statuses["status=1"] || !statuses["status=8"] {
		t.Errorf("smsbox called %v", calls)
	}

	// Forged, garbled and unknown reports are refused, and counted.
	flip := []byte(id)
	flip[10] ^= 1
	for path, want := range map[string]int{
		kannel.ReportPath + string(flip) + "?status=1":                    404,
		kannel.ReportPath + strings.Repeat("A", 48) + "?status=1":         404,
		kannel.ReportPath + "x?status=1":                                  404,
		kannel.ReportPath + id + "?status=3":                              400,
		kannel.ReportPath + id + "?status=delivered":                      400,
		kannel.ReportPath + id:                                            400,
		kannel.ReportPath + url.PathEscape("+919812345678") + "?status=1": 404,
	} {
		if got := report(t, env, path); got != want {
			t.Errorf("GET %s: %d, want %d", path, got, want)
		}
	}
	if v := metric(t, env, "candor_sms_delivery_reports_refused_total"); v != 5 {
		t.Errorf("refused: %v, want 5 (the 400 on a missing status is the API's)", v)
	}
	if v := metric(t, env, `candor_sms_delivery_reports_total{status="delivered"}`); v != 1 {
		t.Errorf("delivered: %v", v)
	}

	// A failed report (a phone that never got it) is counted and logged,
	// by its id and status.
	if got := report(t, env, kannel.ReportPath+id+"?status=2"); got != 204 {
		t.Fatalf("failed report: %d", got)
	}
	if v := metric(t, env, `candor_sms_delivery_reports_total{status="failed"}`); v != 1 {
		t.Errorf("failed: %v", v)
	}
	logs := env.Logs.String()
	if !strings.Contains(logs, `"msg":"sms not delivered","report":"`+id+`","status":"failed"`) {
		t.Errorf("the failed report is not logged:\n%s", logs)
	}

	// The code still works.
	if c, err := phone.ActivateMessaging(ctx, code); err != nil || !c.On {
		t.Fatalf("activation with the code: %+v %v", c, err)
	}

	for name, text := range map[string]string{
		"server logs":    env.Logs.String(),
		"smsbox logs":    k.smsOut.String(),
		"dlr-url":        dlr,
		"smsbox's calls": calls[0].String() + calls[1].String(),
		"metrics":        metricsText(t, env),
	} {
		for _, secret := range []string{"9812345678", code, got.text, k.password} {
			if strings.Contains(text, secret) || strings.Contains(text, url.QueryEscape(secret)) {
				t.Errorf("the %s hold %q", name, secret)
			}
		}
	}
}

func metricsText(t *testing.T, env *servertest.Env) string {
	t.Helper()
	resp, err := httpClient.Get(env.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return b.String()
}

// Without Kannel (the emulated carrier of --dev) there is no report
// route: a report is 404 like any unknown path, and no SMS metric shows.
func TestDeliveryReportsWithoutKannel(t *testing.T) {
	env := servertest.Start(t)
	if got := report(t, env, kannel.ReportPath+strings.Repeat("A", 48)+"?status=1"); got != 404 {
		t.Errorf("report: %d", got)
	}
	if text := metricsText(t, env); strings.Contains(text, "candor_sms_") {
		t.Errorf("SMS metrics without an SMS gateway:\n%s", text)
	}
}
