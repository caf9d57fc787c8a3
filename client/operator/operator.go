package operator

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/client/internal/transport"
)

// Client speaks the staff side of the API for one server. Its methods are
// safe for concurrent use.
type Client struct{ api *transport.API }

// New returns a Client for the server at base, authenticating with a staff
// token where one is needed (empty for Init, Unseal and Status). It fails
// with Invalid if base is not an https:// URL, or an http:// URL of this
// machine: a staff token crosses the network only over TLS. hc nil means
// http.DefaultClient.
func New(base, token string, hc *http.Client) (*Client, error) {
	base = strings.TrimRight(strings.TrimSpace(base), "/")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, candor.E(candor.Invalid, "the server must be an http:// or https:// URL")
	}
	if u.Scheme == "http" && !transport.Loopback(u.Hostname()) {
		return nil, candor.E(candor.Invalid, "the server must use https:// (plain http:// is accepted only for this machine)")
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{api: transport.New(base, hc, token)}, nil
}

// call sends one request and decodes its answer into a T.
func call[T any](ctx context.Context, c *Client, method, path string, in any) (T, error) {
	var out T
	return out, c.api.Do(ctx, method, path, in, &out)
}

// escape makes an id one segment of a path.
func escape(id string) string { return url.PathEscape(id) }
