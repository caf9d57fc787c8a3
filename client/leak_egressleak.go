//go:build egressleak

package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// This file exists only in builds with the egressleak tag: phones that leak
// on purpose, one way each, chosen by CANDOR_EGRESS_LEAK, so that the tests
// of `candor verify-egress` can show it catches every one. No normal build
// contains it.
//
//	header         the IMEI in a request header
//	query          the phone's number in every query string
//	sha256-imei    a plain SHA-256 of the IMEI in a header
//	base64-body    the IMEI inside a base64 body sent to the server
//	early-contact  the address book's numbers sent before any consent
//	other-host     a beacon to another host (not the Candor server)
//	trailer        the IMEI in an HTTP trailer, after a chunked body
//	split-imei     the IMEI cut in two, one half in each of two requests
//	websocket      the phone's number in a WebSocket message

func init() { egressLeak = installLeak }

func installLeak(c *Client) {
	mode := os.Getenv("CANDOR_EGRESS_LEAK")
	if mode == "" {
		return
	}
	t := &leakyTransport{mode: mode, imei: c.dev.IMEI, phone: c.dev.Phone, base: c.opts.hc.Transport}
	if t.base == nil {
		t.base = http.DefaultTransport
	}
	if mode == "early-contact" {
		cts, _ := c.Contacts().List()
		for _, ct := range cts {
			t.numbers = append(t.numbers, ct.Phones...)
		}
	}
	hc := *c.opts.hc
	hc.Transport = t
	c.opts.hc = &hc
}

type leakyTransport struct {
	mode, imei, phone string
	numbers           []string
	base              http.RoundTripper
	once              sync.Once
	mu                sync.Mutex
	sent              int // requests sent, for split-imei
}

func (t *leakyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	switch t.mode {
	case "header":
		req.Header.Set("X-Device-Serial", t.imei)
	case "query":
		q := req.URL.Query()
		q.Set("dev", t.phone)
		req.URL.RawQuery = q.Encode()
	case "sha256-imei":
		sum := sha256.Sum256([]byte(t.imei))
		req.Header.Set("X-Install-Id", hex.EncodeToString(sum[:]))
	case "base64-body":
		t.once.Do(func() {
			t.send(req, "/v1/telemetry", []byte(base64.StdEncoding.EncodeToString([]byte(`{"device":"`+t.imei+`","v":1}`))))
		})
	case "other-host":
		t.once.Do(func() {
			out, err := http.NewRequestWithContext(req.Context(), http.MethodGet, "http://telemetry.example.invalid/collect?v=1", nil)
			if err != nil {
				return
			}
			if resp, err := t.base.RoundTrip(out); err == nil {
				resp.Body.Close()
			}
		})
	case "trailer":
		if req.Body != nil && req.Body != http.NoBody {
			req.ContentLength = -1 // chunked, so that a trailer can follow
			req.TransferEncoding = []string{"chunked"}
			req.Trailer = http.Header{"X-Body-Checksum": {t.imei}}
		}
	case "split-imei":
		t.mu.Lock()
		n := t.sent
		t.sent++
		t.mu.Unlock()
		switch n {
		case 0:
			req.Header.Set("X-Build", t.imei[:7])
		case 1:
			req.Header.Set("X-Flavor", t.imei[7:])
		}
	case "websocket":
		if tok := req.Header.Get("Authorization"); tok != "" {
			t.once.Do(func() { t.socket(req, tok) })
		}
	case "early-contact":
		t.once.Do(func() {
			if len(t.numbers) > 0 {
				b, _ := json.Marshal(map[string][]string{"numbers": t.numbers})
				t.send(req, "/v1/contacts/hints", b)
			}
		})
	}
	return t.base.RoundTrip(req)
}

// socket opens a message socket on the server of req with its session and
// sends the phone's number on it.
func (t *leakyTransport) socket(req *http.Request, auth string) {
	u := *req.URL
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	u.Path, u.RawPath, u.RawQuery = "/v1/messages/ws", "", ""
	ctx, cancel := context.WithTimeout(req.Context(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{HTTPClient: &http.Client{Transport: t.base},
		HTTPHeader: http.Header{"Authorization": {auth}}})
	if err != nil {
		return
	}
	c.Write(ctx, websocket.MessageText, []byte(`{"hello":"`+t.phone+`"}`))
	c.Close(websocket.StatusNormalClosure, "")
}

// send posts body to path on the server of req, ignoring the answer.
func (t *leakyTransport) send(req *http.Request, path string, body []byte) {
	u := *req.URL
	u.Path, u.RawPath, u.RawQuery = path, "", ""
	out, err := http.NewRequestWithContext(req.Context(), http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return
	}
	if resp, err := t.base.RoundTrip(out); err == nil {
		resp.Body.Close()
	}
}
