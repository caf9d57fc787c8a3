package carddav

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/carddav"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/records"
	"github.com/candorcloud/candor/internal/store"
)

// Accounts checks app passwords (account.Service).
type Accounts interface {
	AuthenticateApp(ctx context.Context, username, password string) (candor.Principal, error)
}

// Records is the records service as the API holds it: behind the audit
// wrapper and the consent gate (audit.Records), so that every call is
// logged under the principal's device and refused when contacts is off.
type Records interface {
	Push(ctx context.Context, p candor.Principal, c candor.Category, epoch int64, changes []records.Change) (records.Pushed, error)
	Pull(ctx context.Context, p candor.Principal, c candor.Category, since int64, limit int) (records.Feed, error)
}

// Consents gives the consent state, whose epoch a write names (audit.Consent).
type Consents interface {
	State(ctx context.Context, p candor.Principal) (map[candor.Category]store.ConsentEvent, error)
}

// The paths, below api.CardDAVPath: one principal per request (the
// account of the app password), one home, one address book.
const (
	prefix        = "/dav"
	principalPath = prefix + "/me/"
	homePath      = principalPath + "books/"
	bookPath      = homePath + "contacts/"
	wellKnown     = "/.well-known/carddav"
)

// Limits of what one request may send: a card as large as a record, and
// a request body (PROPFIND, REPORT) of at most MaxBody.
const (
	MaxCard     = api.MaxRecordBytes
	MaxBody     = 1 << 20
	maxMultiget = 1000 // hrefs in one addressbook-multiget, or as many as the book holds cards
	syncPage    = api.MaxFeedPage
)

// Handler serves CardDAV for app passwords. It is safe for concurrent use.
type Handler struct {
	accounts Accounts
	records  Records
	consents Consents
	dav      *carddav.Handler
}

// New returns the CardDAV handler, to be mounted at api.CardDAVPath and at
// /.well-known/carddav.
func New(accounts Accounts, recs Records, consents Consents) *Handler {
	h := &Handler{accounts: accounts, records: recs, consents: consents}
	h.dav = &carddav.Handler{Backend: &backend{h: h}, Prefix: prefix}
	return h
}

type principalKey struct{}

// request is what one request learns once: who asks, and the book when
// it was read.
type request struct {
	p    candor.Principal
	once sync.Once
	book *book
	err  error
}

func from(ctx context.Context) *request { r, _ := ctx.Value(principalKey{}).(*request); return r }

const realm = `Basic realm="Candor CardDAV", charset="UTF-8"`

// ServeHTTP authenticates the app password, bounds the body, and answers.
// Unknown users and wrong passwords get the same 401.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == wellKnown {
		http.Redirect(w, r, api.CardDAVPath, http.StatusMovedPermanently)
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		fail(w, candor.E(candor.Unauthenticated, "this needs an app password (HTTP Basic): make one on a phone with candor device app-password create"))
		return
	}
	p, err := h.accounts.AuthenticateApp(r.Context(), user, pass)
	if err != nil {
		fail(w, err)
		return
	}
	limit := int64(MaxBody)
	if r.Method == http.MethodPut {
		limit = MaxCard
	}
	if r.ContentLength > limit {
		fail(w, candor.Errorf(candor.TooLarge, "a request body holds at most %d bytes", limit))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if r.Method != http.MethodPut {
		// Every other body is XML: the library reads parts of it
		// recursively, with no bound on the depth.
		body, err := io.ReadAll(r.Body)
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			err = candor.Errorf(candor.TooLarge, "a request body holds at most %d bytes", limit)
		}
		if err == nil {
			err = shallowXML(body)
		}
		if err != nil {
			fail(w, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	r = r.WithContext(context.WithValue(r.Context(), principalKey{}, &request{p: p}))

	dir, name := path.Split(r.URL.Path)
	card := dir == bookPath && name != ""
	switch {
	case card && r.Method == http.MethodPut:
		err = h.put(w, r, name)
	case card && r.Method == http.MethodDelete:
		err = h.delete(w, r, name)
	case card && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		err = h.get(w, r, name)
	case r.Method == "REPORT" || (r.Method == "PROPFIND" && strings.TrimSuffix(r.URL.Path, "/")+"/" == bookPath):
		err = h.report(w, r)
	default:
		h.dav.ServeHTTP(w, r)
	}
	if err != nil {
		fail(w, err)
	}
}

// fail answers err with the status of its kind (api.StatusOf, the one
// table) and its sentence; internal errors say nothing of their cause.
func fail(w http.ResponseWriter, err error) {
	err = public(err)
	k := candor.KindOf(err)
	var ce *candor.Error
	if errors.As(err, &ce) && ce.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(ce.RetryAfter.Seconds()))))
	}
	if k == candor.Unauthenticated {
		w.Header().Set("WWW-Authenticate", realm)
	}
	http.Error(w, candor.Message(err), api.StatusOf(k))
}

// public is err as a client may read it: its kind and sentence, with the
// consent refusal saying how to turn contacts on, an internal error
// saying nothing of its cause.
func public(err error) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return candor.Errorf(candor.TooLarge, "a request body holds at most %d bytes", mb.Limit)
	}
	var ce *candor.Error
	switch k := candor.KindOf(err); {
	case k == candor.ConsentRequired:
		return &candor.Error{Kind: k, Category: candor.Contacts,
			Message: "contacts is off for this account: nothing was read or stored; turn it on from a phone of the account ('candor device consent contacts on')"}
	case k == candor.Internal || !errors.As(err, &ce):
		return candor.E(candor.Internal, "the server failed to answer: try again later")
	default:
		return &candor.Error{Kind: k, Message: ce.Message, RetryAfter: ce.RetryAfter, Category: ce.Category}
	}
}

// davErr is err for the library, which answers it with its status.
func davErr(err error) error {
	if err == nil {
		return nil
	}
	err = public(err)
	return webdav.NewHTTPError(api.StatusOf(candor.KindOf(err)), errors.New(candor.Message(err)))
}

// maxXMLDepth bounds how deeply a request's XML nests (WebDAV requests
// need a handful of levels), and maxFilters how many prop-filters and
// text-matches an addressbook-query holds (each is tried on every card).
const (
	maxXMLDepth = 32
	maxFilters  = 64
)

// shallowXML refuses XML nested deeper than maxXMLDepth or holding more
// than maxFilters filters, in one pass that keeps no more than counters
// (go-webdav's parser recurses once per level of a property's value,
// without a bound, and its query matching costs filters × cards). An empty
// body is fine; other malformed XML is left for the parser to refuse.
func shallowXML(body []byte) error {
	d := xml.NewDecoder(bytes.NewReader(body))
	depth, filters := 0, 0
	for {
		tok, err := d.RawToken()
		if err != nil {
			return nil // the end, or malformed XML, which the parser refuses
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth++; depth > maxXMLDepth {
				return candor.Errorf(candor.Invalid, "the request's XML nests deeper than %d levels", maxXMLDepth)
			}
			if t.Name.Local == "prop-filter" || t.Name.Local == "text-match" {
				if filters++; filters > maxFilters {
					return candor.Errorf(candor.Invalid, "a query holds at most %d filters", maxFilters)
				}
			}
		case xml.EndElement:
			depth--
		}
	}
}
