package client

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

// Public content (greetings, update notices) is fetched anonymously: the
// requests carry no Authorization header, no cookie, no device or account
// id and nothing else from the state folder but the locale asked for. They
// work before any account exists, and without consent, because they say
// nothing about the phone.

// maxPublicBytes bounds one public answer.
const maxPublicBytes = 8 << 20

// localeOfCountry is the default greetings locale of a phone's country.
var localeOfCountry = map[string]string{"IN": "en-IN", "CN": "zh-CN", "US": "en-US"}

// DefaultLocale is the greetings locale of the phone's country (en-US for
// a country without one of its own).
func (c *Client) DefaultLocale() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := localeOfCountry[c.dev.Country]; ok {
		return l
	}
	return "en-US"
}

// Greetings fetches the public greetings of locale (the phone's default
// when empty), only those of occasion when it is not empty. An unknown
// locale fails with NotFound, naming the locales the server has.
func (c *Client) Greetings(ctx context.Context, locale, occasion string) (api.Greetings, error) {
	if locale == "" {
		locale = c.DefaultLocale()
	}
	q := url.Values{"locale": {locale}}
	if occasion != "" {
		q.Set("occasion", occasion)
	}
	var out api.Greetings
	b, err := c.publicGet(ctx, api.Version+"/public/greetings?"+q.Encode())
	if err != nil {
		return out, err
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return out, candor.Wrap(candor.Internal, "the server's answer is malformed", err)
	}
	if out.Items == nil {
		out.Items = []api.Greeting{}
	}
	return out, nil
}

// publicGet fetches path (with its query) from the phone's server with a
// bare GET: the only header set is a fixed User-Agent that every phone
// sends alike. A non-200 answer becomes a *candor.Error.
func (c *Client) publicGet(ctx context.Context, path string) ([]byte, error) {
	c.mu.Lock()
	base, hc := c.dev.Server, c.opts.hc
	c.mu.Unlock()
	return anonymousGet(ctx, hc, base+path)
}

// anonymousGet is a GET that identifies nobody (see publicGet). A
// non-200 answer becomes a *candor.Error.
func anonymousGet(ctx context.Context, hc *http.Client, u string) ([]byte, error) {
	status, b, err := anonymousFetch(ctx, hc, u, maxPublicBytes)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, decodeError(status, bytes.NewReader(b))
	}
	return b, nil
}

// anonymousFetch sends a bare GET and reads at most limit bytes of the
// answer, whatever its status; more is an error.
func anonymousFetch(ctx context.Context, hc *http.Client, u string, limit int64) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, candor.Wrap(candor.Invalid, "the server address is not usable", err)
	}
	req.Header.Set("User-Agent", "candor/1")
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

// PublishGreetings merges a greetings catalog into the one the server
// serves (administrators).
func (o *Operator) PublishGreetings(ctx context.Context, in api.GreetingsCatalog) (api.GreetingsPublished, error) {
	var out api.GreetingsPublished
	return out, o.r.do(ctx, http.MethodPost, "/operator/greetings", in, &out)
}

// PublishOTA signs and publishes an update notice for a model and channel
// (administrators).
func (o *Operator) PublishOTA(ctx context.Context, r api.OTARelease) (api.OTAPublished, error) {
	var out api.OTAPublished
	return out, o.r.do(ctx, http.MethodPost, "/operator/ota", r, &out)
}
