package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

// egressLeak is nil in every normal build. Only a build with the
// egressleak tag (leak_egressleak.go, used by the tests of `candor
// verify-egress`) sets it, to make the phone leak personal data on purpose
// and show that the egress proof catches it. Open calls it when set.
var egressLeak func(c *Client)

// maxResponseBytes bounds what the phone reads from one answer.
const maxResponseBytes = 256 << 20

// remote speaks the /v1 HTTP API of one server.
type remote struct {
	base  string // scheme://host[:port][/prefix], no trailing slash
	hc    *http.Client
	token string
}

// do sends one request and decodes a 2xx answer into out (when not nil).
// A non-2xx answer becomes a *candor.Error with the server's stable code and
// message; a failure to reach the server is Unavailable.
//
// An answer that says the account is briefly unavailable (moving between
// regions) is retried a few times, waiting a little longer each time.
func (r *remote) do(ctx context.Context, method, path string, in, out any) error {
	wait := 200 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := r.once(ctx, method, path, in, out)
		var ce *candor.Error
		if attempt == 4 || !errors.As(err, &ce) || ce.Kind != candor.Unavailable || ce.Err != nil {
			return err // ce.Err set: the server was not reached at all
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// once sends one request (see do).
func (r *remote) once(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return candor.Wrap(candor.Internal, "cannot encode the request", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base+api.Version+path, body)
	if err != nil {
		return candor.Wrap(candor.Invalid, "the server address is not usable", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "candor/1")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return candor.Wrap(candor.Unavailable, "the request was cancelled", err)
		}
		return candor.Wrap(candor.Unavailable, "cannot reach the server", err)
	}
	defer resp.Body.Close()
	lr := io.LimitReader(resp.Body, maxResponseBytes)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeError(resp.StatusCode, lr)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		io.Copy(io.Discard, lr)
		return nil
	}
	if err := json.NewDecoder(lr).Decode(out); err != nil {
		return candor.Wrap(candor.Internal, "the server's answer is malformed", err)
	}
	return nil
}

// decodeError turns an error answer into a *candor.Error.
func decodeError(status int, body io.Reader) error {
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
	return candor.E(kindOfStatus(status), fmt.Sprintf("the server answered HTTP %d", status))
}

// kindOfStatus guesses a kind for an answer without a Candor error body
// (a proxy's page, say).
func kindOfStatus(status int) candor.Kind {
	switch status {
	case http.StatusBadRequest:
		return candor.Invalid
	case http.StatusUnauthorized:
		return candor.Unauthenticated
	case http.StatusForbidden:
		return candor.Forbidden
	case http.StatusNotFound:
		return candor.NotFound
	case http.StatusConflict:
		return candor.Conflict
	case http.StatusRequestEntityTooLarge:
		return candor.TooLarge
	case http.StatusTooManyRequests:
		return candor.RateLimited
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return candor.Unavailable
	}
	return candor.Internal
}

// raw sends a body of raw bytes (not JSON) and decodes a 2xx JSON answer.
func (r *remote) raw(ctx context.Context, method, path string, body io.Reader, size int64, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, r.base+api.Version+path, body)
	if err != nil {
		return candor.Wrap(candor.Invalid, "the server address is not usable", err)
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Authorization", "Bearer "+r.token)
	resp, err := r.hc.Do(req)
	if err != nil {
		return candor.Wrap(candor.Unavailable, "cannot reach the server", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeError(resp.StatusCode, io.LimitReader(resp.Body, maxResponseBytes))
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes)).Decode(out); err != nil {
		return candor.Wrap(candor.Internal, "the server's answer is malformed", err)
	}
	return nil
}

// download copies a raw answer's body to w.
func (r *remote) download(ctx context.Context, path string, w io.Writer) error {
	return r.downloadFrom(ctx, path, 0, func(bool) (io.Writer, error) { return w, nil })
}

// downloadFrom downloads path from byte offset on (a range request when
// offset > 0). Before copying it calls open with whether the server
// answered from offset (true) or sent the whole object (false), and writes
// into the writer open returns.
func (r *remote) downloadFrom(ctx context.Context, path string, offset int64, open func(fromOffset bool) (io.Writer, error)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+api.Version+path, nil)
	if err != nil {
		return candor.Wrap(candor.Invalid, "the server address is not usable", err)
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	if offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return candor.Wrap(candor.Unavailable, "cannot reach the server", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && !(offset > 0 && resp.StatusCode == http.StatusPartialContent) {
		return decodeError(resp.StatusCode, io.LimitReader(resp.Body, maxResponseBytes))
	}
	w, err := open(resp.StatusCode == http.StatusPartialContent)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return candor.Wrap(candor.Unavailable, "the download was cut off", err)
	}
	return nil
}
