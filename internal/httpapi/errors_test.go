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

	"github.com/candorcloud/candor"
)

func quietHandler(logs *bytes.Buffer) *Handler {
	return &Handler{log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
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
