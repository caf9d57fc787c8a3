package carddav

import (
	"context"
	"fmt"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/emersion/go-vcard"
	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/carddav"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/records"
)

// book is the address book as one request read it: every live card of
// the contacts feed, and the cursor it was read up to.
type book struct {
	epoch  int64
	cursor int64
	cards  map[string]records.Record // by record id
	order  []string
}

// read reads the whole book, page by page of the feed, once per request
// (a multiget of many hrefs reads it once). Each page is one logged pull.
func (h *Handler) read(ctx context.Context) (*book, error) {
	rq := from(ctx)
	rq.once.Do(func() { rq.book, rq.err = h.readAll(ctx, rq.p) })
	return rq.book, rq.err
}

func (h *Handler) readAll(ctx context.Context, p candor.Principal) (*book, error) {
	b := &book{cards: map[string]records.Record{}}
	full := records.WithFullPass(ctx)
	for since := int64(0); ; {
		feed, err := h.records.Pull(full, p, candor.Contacts, since, syncPage)
		if err != nil {
			return nil, err
		}
		b.epoch = feed.Epoch
		for _, r := range feed.Records {
			if _, seen := b.cards[r.ID]; !seen && !r.Deleted {
				b.order = append(b.order, r.ID)
			}
			if r.Deleted {
				delete(b.cards, r.ID)
			} else {
				b.cards[r.ID] = r
			}
		}
		since = feed.Next
		if !feed.More {
			b.cursor = feed.Next
			break
		}
	}
	live := b.order[:0]
	for _, id := range b.order {
		if _, ok := b.cards[id]; ok {
			live = append(live, id)
		}
	}
	b.order = live
	return b, nil
}

// etag is a card's entity tag: the consent epoch and the record version,
// so that a card made again after contacts was turned off and on does not
// match a tag from before.
func etag(epoch, version int64) string { return fmt.Sprintf("%d-%d", epoch, version) }

// parseETag reads an If-Match value made by etag.
func parseETag(s string) (epoch, version int64, ok bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "W/")
	s = strings.Trim(s, `"`)
	e, v, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	epoch, err1 := strconv.ParseInt(e, 10, 64)
	version, err2 := strconv.ParseInt(v, 10, 64)
	return epoch, version, err1 == nil && err2 == nil && version > 0
}

// syncToken is the book's sync token and getctag: the feed cursor under
// the consent epoch.
func syncToken(epoch, cursor int64) string {
	return "urn:candor:contacts:" + strconv.FormatInt(epoch, 10) + ":" + strconv.FormatInt(cursor, 10)
}

func parseSyncToken(s string) (epoch, cursor int64, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(s), "urn:candor:contacts:")
	if !found {
		return 0, 0, false
	}
	e, c, found := strings.Cut(rest, ":")
	if !found {
		return 0, 0, false
	}
	epoch, err1 := strconv.ParseInt(e, 10, 64)
	cursor, err2 := strconv.ParseInt(c, 10, 64)
	return epoch, cursor, err1 == nil && err2 == nil && cursor >= 0
}

func object(epoch int64, r records.Record) (carddav.AddressObject, error) {
	card, err := decodeCard(r.Data)
	if err != nil {
		// A phone may hold a card older than CardDAV's vCard 3.0 that
		// does not parse, or one beyond decodeCard's bounds: it is still
		// served by GET as it is.
		card = vcard.Card{}
		card.SetValue(vcard.FieldVersion, "3.0")
	}
	return carddav.AddressObject{Path: bookPath + cardName(r.ID), ModTime: r.Modified, ContentLength: int64(len(r.Data)),
		ETag: etag(epoch, r.Version), Card: card}, nil
}

// backend is the library's view of the book.
type backend struct{ h *Handler }

var _ carddav.Backend = (*backend)(nil)

var errNoBook = webdav.NewHTTPError(http.StatusNotFound, fmt.Errorf("no such address book"))

func (b *backend) CurrentUserPrincipal(ctx context.Context) (string, error) {
	return principalPath, nil
}
func (b *backend) AddressBookHomeSetPath(ctx context.Context) (string, error) {
	return homePath, nil
}

func addressBook() carddav.AddressBook {
	return carddav.AddressBook{Path: bookPath, Name: "Contacts", Description: "Candor contacts, synced with your phones",
		MaxResourceSize: MaxCard, SupportedAddressData: []carddav.AddressDataType{{ContentType: vcard.MIMEType, Version: "3.0"},
			{ContentType: vcard.MIMEType, Version: "4.0"}}}
}

func (b *backend) ListAddressBooks(ctx context.Context) ([]carddav.AddressBook, error) {
	return []carddav.AddressBook{addressBook()}, nil
}

func (b *backend) GetAddressBook(ctx context.Context, p string) (*carddav.AddressBook, error) {
	if strings.TrimSuffix(p, "/")+"/" != bookPath {
		return nil, errNoBook
	}
	ab := addressBook()
	return &ab, nil
}

var errFixed = webdav.NewHTTPError(http.StatusForbidden, fmt.Errorf("the account has one address book"))

func (b *backend) CreateAddressBook(ctx context.Context, ab *carddav.AddressBook) error {
	return errFixed
}
func (b *backend) DeleteAddressBook(ctx context.Context, p string) error { return errFixed }

func (b *backend) GetAddressObject(ctx context.Context, p string, req *carddav.AddressDataRequest) (*carddav.AddressObject, error) {
	bk, err := b.h.read(ctx)
	if err != nil {
		return nil, davErr(err)
	}
	dir, name := path.Split(p)
	id, ok := recordID(name)
	r, found := bk.cards[id]
	if dir != bookPath || !ok || !found {
		return nil, webdav.NewHTTPError(http.StatusNotFound, fmt.Errorf("no such card"))
	}
	ao, err := object(bk.epoch, r)
	return &ao, err
}

func (b *backend) ListAddressObjects(ctx context.Context, p string, req *carddav.AddressDataRequest) ([]carddav.AddressObject, error) {
	bk, err := b.h.read(ctx)
	if err != nil {
		return nil, davErr(err)
	}
	out := make([]carddav.AddressObject, 0, len(bk.order))
	for _, id := range bk.order {
		ao, err := object(bk.epoch, bk.cards[id])
		if err != nil {
			return nil, err
		}
		out = append(out, ao)
	}
	return out, nil
}

func (b *backend) QueryAddressObjects(ctx context.Context, p string, q *carddav.AddressBookQuery) ([]carddav.AddressObject, error) {
	all, err := b.ListAddressObjects(ctx, p, &q.DataRequest)
	if err != nil {
		return nil, err
	}
	if len(q.PropFilters) == 0 {
		// An empty filter matches every card (RFC 6352 §10.5); the
		// library's Filter matches none.
		if q.Limit > 0 && q.Limit < len(all) {
			all = all[:q.Limit]
		}
		return all, nil
	}
	return carddav.Filter(q, all)
}

// PutAddressObject and DeleteAddressObject are not reached: the handler
// answers PUT and DELETE itself, to keep the bytes and the preconditions.
func (b *backend) PutAddressObject(ctx context.Context, p string, card vcard.Card, opts *carddav.PutAddressObjectOptions) (*carddav.AddressObject, error) {
	return nil, webdav.NewHTTPError(http.StatusMethodNotAllowed, fmt.Errorf("not here"))
}

func (b *backend) DeleteAddressObject(ctx context.Context, p string) error {
	return webdav.NewHTTPError(http.StatusMethodNotAllowed, fmt.Errorf("not here"))
}
