package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/relay"
)

// Homes sends a request to the processes of its account's region when
// this process serves some regions only (server.Config.Serve): the
// relay, with what finds an account's region before it signs in.
type Homes interface {
	Serves(id candor.RegionID) bool
	Forward(w http.ResponseWriter, r *http.Request, id candor.RegionID, fail relay.Fail)
	// HomeFor is the region of a new account of a country.
	HomeFor(country string) candor.RegionID
	// RegionOf is the region of the account with a login handle;
	// NotFound if none.
	RegionOf(ctx context.Context, handle []byte) (candor.RegionID, error)
}

// elsewhere relays a signed-in request whose account another region's
// processes serve, and reports whether it did.
func (h *Handler) elsewhere(w http.ResponseWriter, r *http.Request, id candor.RegionID) bool {
	if h.svc.Homes == nil || h.svc.Homes.Serves(id) {
		return false
	}
	h.svc.Homes.Forward(w, r, id, h.writeError)
	return true
}

// maxRoutedBody bounds what is read of a sign-in request to find its
// region: more than any sign-in, salt or signup request holds.
const maxRoutedBody = 64 << 10

// signInRegion wraps the sign-in endpoints (salt, signup, login) of a
// process that serves some regions: it reads the request's handle (or,
// for a signup, its country), finds the account's region, and relays the
// request there unless this process serves it. An unknown handle stays
// here, where the salt is a stable fake one and a login fails as it
// would anywhere.
func (h *Handler) signInRegion(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h.svc.Homes == nil {
			next(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxRoutedBody+1))
		if err != nil {
			h.writeError(w, r, candor.E(candor.Invalid, "the request body could not be read"))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if len(body) > maxRoutedBody {
			h.writeError(w, r, candor.E(candor.TooLarge, "the request body is too large"))
			return
		}
		var in struct {
			Handle  []byte `json:"handle"`
			Country string `json:"country"`
		}
		if json.Unmarshal(body, &in) != nil { // the handler answers what is wrong with it
			next(w, r)
			return
		}
		var id candor.RegionID
		switch {
		case in.Country != "":
			id = h.svc.Homes.HomeFor(in.Country)
		case len(in.Handle) > 0:
			if id, err = h.svc.Homes.RegionOf(r.Context(), in.Handle); candor.Is(err, candor.NotFound) {
				next(w, r)
				return
			} else if err != nil {
				h.writeError(w, r, err)
				return
			}
		default:
			next(w, r)
			return
		}
		if !h.elsewhere(w, r, id) {
			next(w, r)
		}
	}
}

// davRegion relays a CardDAV request whose app password belongs to an
// account of a region this process does not serve; the CardDAV handler
// answers everything else, a wrong password included, itself.
func (h *Handler) davRegion(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h.svc.Homes != nil {
			if user, pass, ok := r.BasicAuth(); ok {
				if p, err := h.svc.Accounts.AuthenticateApp(r.Context(), user, pass); err == nil && h.elsewhere(w, r, p.Region) {
					return
				}
			}
		}
		next(w, r)
	}
}
