package client

import (
	"context"
	"encoding/json"
	"net/url"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client/internal/transport"
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
	return transport.GetPublic(ctx, hc, base+path, maxPublicBytes)
}
