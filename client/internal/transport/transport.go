package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

// maxResponseBytes bounds what is read from one answer of the API.
const maxResponseBytes = 256 << 20

// userAgent is sent alike by every phone and every staff tool.
const userAgent = "candor/1"

// API speaks the /v1 HTTP API of one server. Its methods are safe for
// concurrent use.
type API struct {
	base  string // scheme://host[:port][/prefix], no trailing slash
	hc    *http.Client
	token string
}

// New returns an API for the server at base (scheme://host[:port][/prefix],
// no trailing slash), sending requests through hc and, when token is not
// empty, authenticating them with it as a bearer token.
func New(base string, hc *http.Client, token string) *API {
	return &API{base: base, hc: hc, token: token}
}

// Retries of Do: how many attempts at most, how long they may take in
// all, and the longest wait before one (a longer Retry-After is not
// waited for: the error is returned at once).
const (
	MaxAttempts = 5
	RetryBudget = 30 * time.Second
	MaxWait     = 10 * time.Second
)

// Do sends one request with in (when not nil) as its JSON body and decodes
// a 2xx answer into out (when not nil). A non-2xx answer becomes a
// *candor.Error (see ErrorOf); a failure to reach the server is
// Unavailable, with the cause in Err.
//
// A 503 unavailable answer (a dependency of the server is down, its disk
// is full, the account is moving between regions) is sent again after the
// answer's Retry-After, or a wait that doubles from 200 ms. So is a
// request that met a network failure — a connection refused, reset or
// timed out, or an answer cut off mid-body — when sending it twice cannot
// do twice what once would (GET, HEAD, PUT, DELETE), or when the server
// was not reached at all. At most MaxAttempts attempts within RetryBudget,
// and never past ctx; the last error is returned.
func (a *API) Do(ctx context.Context, method, path string, in, out any) error {
	start := time.Now()
	wait := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := a.once(ctx, method, path, in, out)
		if err == nil || attempt == MaxAttempts || ctx.Err() != nil {
			return err
		}
		d, ok := retryable(err, method, wait)
		if !ok || d > MaxWait || time.Since(start)+d > RetryBudget {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(d):
		}
		wait *= 2
	}
}

// retryable reports whether err, the failure of a request with method,
// may be sent again, and after how long: the answer's Retry-After, or
// backoff.
func retryable(err error, method string, backoff time.Duration) (time.Duration, bool) {
	var ce *candor.Error
	if !errors.As(err, &ce) || ce.Kind != candor.Unavailable {
		return 0, false
	}
	if ce.Err == nil { // the server answered 503
		if ce.RetryAfter > 0 {
			return ce.RetryAfter, true
		}
		return backoff, true
	}
	var nerr *networkError
	if !errors.As(err, &nerr) {
		return 0, false
	}
	if idempotent(method) || !nerr.sent {
		return backoff, true
	}
	return 0, false
}

// idempotent reports whether sending a request of method twice does what
// sending it once does.
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

// networkError is a failure of the network under a request: sent tells
// whether any of the request may have reached the server.
type networkError struct {
	err  error
	sent bool
}

func (n *networkError) Error() string { return n.err.Error() }
func (n *networkError) Unwrap() error { return n.err }

// notSent reports whether err, a failure of http.Client.Do, happened
// before any byte of the request left: the connection was refused or
// could not be made.
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// parseRetryAfter reads a Retry-After header in seconds (0 if absent or
// in another form).
func parseRetryAfter(h string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(h))
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// once sends one request (see Do).
func (a *API) once(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return candor.Wrap(candor.Internal, "cannot encode the request", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := a.request(ctx, method, path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return a.exchange(req, out)
}

// Raw sends body, size bytes that are not JSON (a part of a photo), and
// decodes a 2xx JSON answer into out (when not nil), as Do does but
// without retrying.
func (a *API) Raw(ctx context.Context, method, path string, body io.Reader, size int64, out any) error {
	req, err := a.request(ctx, method, path, body)
	if err != nil {
		return err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	return a.exchange(req, out)
}

// DownloadFrom downloads path from byte offset on (a range request when
// offset > 0). Before copying it calls open with whether the server
// answered from offset (true) or sent the whole object (false), and writes
// into the writer open returns. An answer cut off while copying is
// Unavailable; what was written stays written.
func (a *API) DownloadFrom(ctx context.Context, path string, offset int64, open func(fromOffset bool) (io.Writer, error)) error {
	req, err := a.request(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	if offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	resp, err := a.send(req, func(status int) bool {
		return status == http.StatusOK || offset > 0 && status == http.StatusPartialContent
	})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	w, err := open(resp.StatusCode == http.StatusPartialContent)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return candor.Wrap(candor.Unavailable, "the download was cut off", err)
	}
	return nil
}

// request makes a request of the API with the headers every request
// carries.
func (a *API) request(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, a.base+api.Version+path, body)
	if err != nil {
		return nil, candor.Wrap(candor.Invalid, "the server address is not usable", err)
	}
	req.Header.Set("User-Agent", userAgent)
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	return req, nil
}

// send sends req and returns the answer if ok accepts its status (any 2xx
// when ok is nil); otherwise the answer's error, its body closed.
func (a *API) send(req *http.Request, ok func(status int) bool) (*http.Response, error) {
	resp, err := a.hc.Do(req)
	if err != nil {
		if req.Context().Err() != nil {
			return nil, candor.Wrap(candor.Unavailable, "the request was cancelled", err)
		}
		return nil, candor.Wrap(candor.Unavailable, "cannot reach the server", &networkError{err: err, sent: !notSent(err)})
	}
	if ok == nil {
		ok = func(status int) bool { return status >= 200 && status <= 299 }
	}
	if !ok(resp.StatusCode) {
		defer resp.Body.Close()
		err := ErrorOf(resp.StatusCode, io.LimitReader(resp.Body, maxResponseBytes))
		if ce, isCE := err.(*candor.Error); isCE && (ce.Kind == candor.Unavailable || ce.Kind == candor.RateLimited) {
			ce.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"))
		}
		return nil, err
	}
	return resp, nil
}

// exchange sends req and decodes a 2xx answer's JSON body into out, or
// drains it when there is nothing to decode.
func (a *API) exchange(req *http.Request, out any) error {
	resp, err := a.send(req, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	lr := io.LimitReader(resp.Body, maxResponseBytes)
	if out == nil || resp.StatusCode == http.StatusNoContent {
		io.Copy(io.Discard, lr)
		return nil
	}
	if err := json.NewDecoder(lr).Decode(out); err != nil {
		if cutOff(err) {
			return candor.Wrap(candor.Unavailable, "the server's answer was cut off", &networkError{err: err, sent: true})
		}
		return candor.Wrap(candor.Internal, "the server's answer is malformed", err)
	}
	return nil
}

// ErrorOf turns an error answer, its status and body, into a
// *candor.Error: the kind, message and category the body names, or, for a
// body that is not a Candor error (a proxy's page), the kind of the status
// (api.KindOfStatus) and a message naming the status. Nothing of a
// non-Candor body reaches the message.
func ErrorOf(status int, body io.Reader) error {
	var er api.ErrorResponse
	if err := json.NewDecoder(body).Decode(&er); err == nil && er.Error.Code != "" {
		msg := er.Error.Message
		if msg == "" {
			msg = strings.ReplaceAll(er.Error.Code, "_", " ")
		}
		return &candor.Error{
			Kind:     candor.KindOfCode(er.Error.Code),
			Message:  msg,
			Category: candor.Category(er.Error.Category),
		}
	}
	return candor.E(api.KindOfStatus(status), fmt.Sprintf("the server answered HTTP %d", status))
}

// Loopback reports whether host names this machine. Session tokens, staff
// tokens and personal data cross the network only over TLS; plain HTTP is
// for a server on the same machine (development and tests).
func Loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// cutOff reports whether err, from reading an answer's body, means the
// body ended early or the connection under it failed: a network failure,
// not a malformed answer.
func cutOff(err error) bool {
	var netErr net.Error
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.As(err, &netErr) ||
		errors.Is(err, syscall.ECONNRESET)
}
