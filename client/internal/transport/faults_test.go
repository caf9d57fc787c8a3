package transport

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

// unavailable answers 503 as the server does, with Retry-After seconds.
func unavailable(w http.ResponseWriter, seconds int) {
	w.Header().Set("Retry-After", strconv.Itoa(seconds))
	w.WriteHeader(http.StatusServiceUnavailable)
	json.NewEncoder(w).Encode(api.ErrorResponse{Error: api.Error{Code: "unavailable", Message: "the database cannot be reached: try again in a moment"}})
}

// A 503 is sent again after its Retry-After, not sooner.
func TestDoWaitsRetryAfter(t *testing.T) {
	var calls atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			unavailable(w, 1)
			return
		}
		io.WriteString(w, `{}`)
	})
	start := time.Now()
	if err := New(srv.URL, srv.Client(), "").Do(t.Context(), http.MethodGet, "/x", nil, &struct{}{}); err != nil || calls.Load() != 2 {
		t.Fatalf("Do = %v after %d calls, want success after 2", err, calls.Load())
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("asked again after %v, before the Retry-After of 1s", d)
	}
}

// A Retry-After longer than the SDK waits ends the retries at once, the
// wait kept in the error; a 503 that never ends is tried 5 times.
func TestDoRetriesAreBounded(t *testing.T) {
	var calls atomic.Int32
	wait := 3600
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		unavailable(w, wait)
	})
	a := New(srv.URL, srv.Client(), "")
	err := a.Do(t.Context(), http.MethodGet, "/x", nil, nil)
	var ce *candor.Error
	if !candor.Is(err, candor.Unavailable) || calls.Load() != 1 {
		t.Fatalf("Retry-After of an hour: %v after %d calls, want Unavailable after 1", err, calls.Load())
	}
	if ce, _ = err.(*candor.Error); ce == nil || ce.RetryAfter != time.Hour {
		t.Errorf("the error does not keep the Retry-After: %#v", err)
	}
	calls.Store(0)
	wait = 0
	if err := a.Do(t.Context(), http.MethodGet, "/x", nil, nil); !candor.Is(err, candor.Unavailable) || calls.Load() != MaxAttempts {
		t.Errorf("always unavailable: %v after %d calls, want %d", err, calls.Load(), MaxAttempts)
	}
}

// cutOffAnswer answers a body promised longer than what is sent, then drops the
// connection: an EOF mid-body.
func cutOffAnswer(t *testing.T, w http.ResponseWriter) {
	w.Header().Set("Content-Length", "100")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, `{"records": [`)
	w.(http.Flusher).Flush()
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Error(err)
		return
	}
	conn.Close()
}

// An answer cut off mid-body is a network failure: a GET is sent again
// and succeeds; a POST, which the server may have done, is not sent again
// but fails as Unavailable, never as a malformed answer.
func TestDoRetriesAnAnswerCutOff(t *testing.T) {
	var calls atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			cutOffAnswer(t, w)
			return
		}
		io.WriteString(w, `{"n": 1}`)
	})
	a := New(srv.URL, srv.Client(), "")
	var out struct{ N int }
	if err := a.Do(t.Context(), http.MethodGet, "/x", nil, &out); err != nil || out.N != 1 || calls.Load() != 2 {
		t.Fatalf("GET cut off once: %v, %+v after %d calls; want success after 2", err, out, calls.Load())
	}
	calls.Store(0)
	err := a.Do(t.Context(), http.MethodPost, "/x", map[string]int{"n": 1}, &out)
	if !candor.Is(err, candor.Unavailable) || calls.Load() != 1 {
		t.Errorf("POST cut off: %v after %d calls; want Unavailable after 1", err, calls.Load())
	}
}
