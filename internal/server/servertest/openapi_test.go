package servertest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// errorsOf records what CheckAPI reports instead of failing the test.
type errorsOf struct {
	testing.TB
	errs []string
}

func (e *errorsOf) Errorf(format string, args ...any) {
	e.errs = append(e.errs, fmt.Sprintf(format, args...))
}

// CheckAPI passes answers the document describes and reports the rest,
// against a handler that answers whatever a case says.
func TestCheckAPI(t *testing.T) {
	const errorBody = `{"error":{"code":"invalid","message":"no"}}`
	for _, c := range []struct {
		name         string
		method, path string
		token, body  string
		status       int
		answer       string
		want         string // in the report; "" for none
	}{
		{"documented", "GET", "/healthz", "", "", 200, `{"status":"ok","sealed":false}`, ""},
		{"undocumented status", "GET", "/healthz", "", "", 418, errorBody, "status is not supported"},
		{"body off its schema", "GET", "/healthz", "", "", 200, `{"status":7}`, "doesn't match schema"},
		{"unknown path refused", "GET", "/v1/nothing", "", "", 404, errorBody, ""},
		{"unknown path served", "GET", "/v1/nothing", "", "", 200, `{}`, "no operation"},
		{"unknown path, not an ErrorResponse", "GET", "/v1/nothing", "", "", 404, `not found`, "not an ErrorResponse"},
		{"invalid request refused", "POST", "/v1/messages/ack", "cdt_x", `{"receipts":null}`, 400, errorBody, ""},
		{"invalid request accepted", "POST", "/v1/messages/ack", "cdt_x", `{"receipts":null}`, 204, "", "accepted a request the description calls invalid"},
		{"no token accepted", "POST", "/v1/messages/ack", "", `{"receipts":[]}`, 204, "", "security requirement"},
		{"staff token on a device route", "POST", "/v1/messages/ack", "cst_x", `{"receipts":[]}`, 204, "", "security requirement"},
		{"valid request accepted", "POST", "/v1/messages/ack", "cdt_x", `{"receipts":[]}`, 204, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := &errorsOf{TB: t}
			h, stop := CheckAPI(rec, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.ReadAll(r.Body) // the whole body, as the server reads it
				if c.answer != "" {
					ct := "application/json"
					if !strings.HasPrefix(c.answer, "{") {
						ct = "text/plain"
					}
					w.Header().Set("Content-Type", ct)
				}
				w.WriteHeader(c.status)
				w.Write([]byte(c.answer))
			}))
			defer stop()
			r := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
			if c.token != "" {
				r.Header.Set("Authorization", "Bearer "+c.token)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			got := strings.Join(rec.errs, "\n")
			switch {
			case c.want == "" && got != "":
				t.Errorf("reported a mismatch where there is none: %s", got)
			case c.want != "" && !strings.Contains(got, c.want):
				t.Errorf("report %q, want one saying %q", got, c.want)
			}
		})
	}
}
