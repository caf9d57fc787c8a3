package transport

import (
	"bytes"
	"context"
	"io"
	"net/http"

	"github.com/candorcloud/candor"
)

// Public content (greetings, update notices, their signed metadata) is
// fetched anonymously: a bare GET with no Authorization header, no cookie
// and nothing else but a User-Agent that every phone sends alike.

// GetPublic fetches u anonymously (see FetchPublic) and returns the body
// of a 200 answer; any other answer becomes a *candor.Error (see ErrorOf).
func GetPublic(ctx context.Context, hc *http.Client, u string, limit int64) ([]byte, error) {
	status, b, err := FetchPublic(ctx, hc, u, limit)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, ErrorOf(status, bytes.NewReader(b))
	}
	return b, nil
}

// FetchPublic sends a GET that identifies nobody: no Authorization header,
// and no cookie sent or kept even if hc has a jar. It returns the answer's
// status and at most limit bytes of its body, whatever the status; a
// longer body is TooLarge, a server that cannot be reached Unavailable.
func FetchPublic(ctx context.Context, hc *http.Client, u string, limit int64) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, candor.Wrap(candor.Invalid, "the server address is not usable", err)
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept", "application/json")
	anon := *hc
	anon.Jar = nil // never send or keep a cookie
	resp, err := anon.Do(req)
	if err != nil {
		return 0, nil, candor.Wrap(candor.Unavailable, "cannot reach the server", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return 0, nil, candor.Wrap(candor.Unavailable, "the answer was cut off", err)
	}
	if int64(len(b)) > limit {
		return 0, nil, candor.Errorf(candor.TooLarge, "the answer is larger than %d bytes", limit)
	}
	return resp.StatusCode, b, nil
}
