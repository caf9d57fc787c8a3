package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/candorcloud/candor"
)

func quietHandler(logs *bytes.Buffer) *Handler {
	h, _ := countedHandler(logs)
	return h
}

// countedHandler is quietHandler with the registry of its metrics.
func countedHandler(logs *bytes.Buffer) (*Handler, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	return &Handler{log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		metrics: newMetrics(reg)}, reg
}

// sample is the value of the sample of metric name whose labels include
// label=value in what reg gathers; -1 if there is none.
func sample(t *testing.T, reg prometheus.Gatherer, name, label, value string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue() + m.GetGauge().GetValue()
				}
			}
		}
	}
	return -1
}

// A client that went away is answered with nothing, recorded as 499 and
// logged at debug level, not as a server error.
func TestClientAbortIsNotAServerError(t *testing.T) {
	var logs bytes.Buffer
	h := quietHandler(&logs)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequest("GET", "/v1/records/notes", nil).WithContext(ctx)
	w := httptest.NewRecorder()
	rec := &recorder{ResponseWriter: w, status: 200}
	h.writeError(rec, r, fmt.Errorf("sqlstore: changes: %w", context.Canceled))
	if rec.status != StatusClientClosed || w.Body.Len() != 0 {
		t.Errorf("recorded %d, body %q; want %d and nothing sent", rec.status, w.Body, StatusClientClosed)
	}
	if strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "level=DEBUG msg=\"client went away\"") {
		t.Errorf("logs:\n%s", logs.String())
	}
}

// Every Unavailable answer carries Retry-After; a dependency's fault that
// no package classified is Unavailable, not internal.
func TestFaultsAnswer503WithRetryAfter(t *testing.T) {
	for name, err := range map[string]error{
		"unavailable without a wait": candor.E(candor.Unavailable, "the notice bus cannot be reached"),
		"deadline":                   fmt.Errorf("something: %w", context.DeadlineExceeded),
		"disk full":                  fmt.Errorf("write: %w", syscall.ENOSPC),
		"refused":                    fmt.Errorf("dial: %w", syscall.ECONNREFUSED),
	} {
		var logs bytes.Buffer
		w := httptest.NewRecorder()
		quietHandler(&logs).writeError(w, httptest.NewRequest("GET", "/x", nil), err)
		if w.Code != 503 || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), `"unavailable"`) {
			t.Errorf("%s: %d, Retry-After %q, %s", name, w.Code, w.Header().Get("Retry-After"), w.Body)
		}
		if strings.Contains(w.Body.String(), "ECONNREFUSED") || strings.Contains(w.Body.String(), "connection refused") {
			t.Errorf("%s: internals in the answer: %s", name, w.Body)
		}
	}
	w := httptest.NewRecorder()
	quietHandler(&bytes.Buffer{}).writeError(w, httptest.NewRequest("GET", "/x", nil), errors.New("a bug"))
	if w.Code != 500 {
		t.Errorf("a bug: %d", w.Code)
	}
}

// Every answer of a failure of the server is counted by its kind, the
// unclassified fault by the kind it is answered as; a refusal, a sealed
// server and a client that went away are not.
func TestFailuresAreCounted(t *testing.T) {
	h, reg := countedHandler(&bytes.Buffer{})
	for _, err := range []error{
		errors.New("a bug"),
		fmt.Errorf("sqlstore: read: %w", syscall.ECONNREFUSED),
		candor.E(candor.Integrity, "a record failed its check"),
		candor.E(candor.NotFound, "no such thing"),
		candor.ErrSealed,
	} {
		h.writeError(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h.writeError(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil).WithContext(ctx), errors.New("gone"))
	for kind, want := range map[string]float64{"internal": 1, "unavailable": 1, "integrity": 1} {
		if got := sample(t, reg, "candor_request_failures_total", "kind", kind); got != want {
			t.Errorf("candor_request_failures_total{kind=%q} = %v, want %v", kind, got, want)
		}
	}
}
