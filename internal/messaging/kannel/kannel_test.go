package kannel

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/candorcloud/candor"
)

const (
	number = "+919833334444"
	text   = "Your code is 123456"
)

// smsbox answers like Kannel 1.4.5's smsbox: a status and "N: words".
func smsbox(t *testing.T, status int, answer string, seen func(*http.Request)) *Gateway {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen != nil {
			seen(r)
		}
		w.WriteHeader(status)
		w.Write([]byte(answer))
	}))
	t.Cleanup(ts.Close)
	g, err := New(Config{URL: ts.URL + "/cgi-bin/sendsms", Username: "candor", Password: "s3cret", From: "Candor"})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// Each of smsbox's answers maps to the error vocabulary, and no error
// names the number or the text.
func TestAnswers(t *testing.T) {
	for _, c := range []struct {
		status int
		answer string
		kind   candor.Kind // 0: no error
	}{
		{202, "0: Accepted for delivery", 0},
		{202, "3: Queued for later delivery", 0},
		{400, "Missing receiver number, rejected", candor.Invalid},
		{400, "Empty receiver number not allowed, rejected", candor.Invalid},
		{403, "Number(s) has/have been denied by white- and/or black-lists.", candor.Invalid},
		{403, "Tried to set Coding field, denied.", candor.Unavailable},
		{400, "Sender missing and no global set, rejected", candor.Unavailable},
		{403, "Authorization failed for sendsms", candor.Unavailable},
		{503, "4: Temporal failure, try again later.", candor.Unavailable},
		{500, "", candor.Unavailable},
		{404, "Unknown service", candor.Unavailable},
	} {
		err := smsbox(t, c.status, c.answer, nil).SendSMS(context.Background(), number, text)
		if c.kind == 0 {
			if err != nil {
				t.Errorf("%d %q: %v", c.status, c.answer, err)
			}
			continue
		}
		if !candor.Is(err, c.kind) {
			t.Errorf("%d %q: %v, want %v", c.status, c.answer, err, c.kind)
		}
		checkQuiet(t, err)
		if c.kind == candor.Unavailable {
			if e, ok := err.(*candor.Error); !ok || e.RetryAfter <= 0 {
				t.Errorf("%d %q: no RetryAfter: %#v", c.status, c.answer, err)
			}
		}
	}
}

func checkQuiet(t *testing.T, err error) {
	t.Helper()
	if s := err.Error(); strings.Contains(s, "9833334444") || strings.Contains(s, "123456") || strings.Contains(s, "s3cret") {
		t.Errorf("the error tells too much: %s", s)
	}
}

// The request carries the account, the sender, the number and the text;
// non-ASCII text is sent as UCS-2 from UTF-8, plain text in the default
// alphabet.
func TestRequest(t *testing.T) {
	for _, c := range []struct{ text, coding string }{
		{text, ""},
		{"Ваш код 123456 — ok ✓ 你好", "2"},
		{"a {brace}", "2"},
	} {
		var got *http.Request
		g := smsbox(t, 202, "0: Accepted for delivery", func(r *http.Request) { got = r })
		if err := g.SendSMS(context.Background(), number, c.text); err != nil {
			t.Fatal(err)
		}
		q := got.URL.Query()
		if got.URL.Path != "/cgi-bin/sendsms" || q.Get("username") != "candor" || q.Get("password") != "s3cret" ||
			q.Get("from") != "Candor" || q.Get("to") != number || q.Get("text") != c.text ||
			q.Get("charset") != "UTF-8" || q.Get("coding") != c.coding {
			t.Errorf("request %s", got.URL)
		}
	}
}

// A gateway that is down (nothing listens, or it hangs) is a retryable
// error within the timeout, naming neither the number nor the text (the
// transport's own error would: it quotes the URL).
func TestDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	g, err := New(Config{URL: "http://" + addr + "/cgi-bin/sendsms", Username: "u", Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	err = g.SendSMS(context.Background(), number, text)
	if !candor.Is(err, candor.Unavailable) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("refused: %v", err)
	}
	checkQuiet(t, err)

	hang := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	defer ts.Close()
	defer close(hang)
	g, _ = New(Config{URL: ts.URL, Username: "u", Password: "s3cret", Timeout: 200 * time.Millisecond})
	start := time.Now()
	err = g.SendSMS(context.Background(), number, text)
	if !candor.Is(err, candor.Unavailable) || time.Since(start) > 5*time.Second {
		t.Fatalf("hanging gateway: %v after %v", err, time.Since(start))
	}
	checkQuiet(t, err)
}

// Over TLS, a gateway whose certificate is not trusted is refused.
func TestTLS(t *testing.T) {
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(202)
	}))
	defer ts.Close()
	g, _ := New(Config{URL: ts.URL, Username: "u", Password: "p"})
	if err := g.SendSMS(context.Background(), number, text); !candor.Is(err, candor.Unavailable) {
		t.Fatalf("untrusted certificate: %v", err)
	}
	g, _ = New(Config{URL: ts.URL, Username: "u", Password: "p", Client: ts.Client()})
	if err := g.SendSMS(context.Background(), number, text); err != nil {
		t.Fatalf("trusted: %v", err)
	}
}

func TestConfig(t *testing.T) {
	for _, c := range []Config{
		{URL: "", Username: "u", Password: "p"},
		{URL: "ftp://x/", Username: "u", Password: "p"},
		{URL: "http://u:p@x/cgi-bin/sendsms", Username: "u", Password: "p"},
		{URL: "http://x/cgi-bin/sendsms?username=u", Username: "u", Password: "p"},
		{URL: "http://x/cgi-bin/sendsms", Password: "p"},
		{URL: "http://x/cgi-bin/sendsms", Username: "u"},
		{URL: "http://x/cgi-bin/sendsms", Username: "u", Password: "p", From: strings.Repeat("x", 21)},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("accepted %+v", c)
		} else if strings.Contains(err.Error(), "p@") {
			t.Errorf("error names the password: %v", err)
		}
	}
}
