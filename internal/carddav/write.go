package carddav

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/emersion/go-vcard"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/records"
)

var (
	errPrecondition = candor.E(candor.Conflict, "the card changed since you read it: fetch it again")
	errNoCard       = candor.E(candor.NotFound, "no such card")
)

// preconditionFailed answers 412: an If-Match or If-None-Match that does
// not hold. The card is left as it was.
func preconditionFailed(w http.ResponseWriter) {
	http.Error(w, "the card changed since you read it (or exists already): fetch it again", http.StatusPreconditionFailed)
}

// epoch is the consent epoch writes are made under: that of contacts when
// on, 0 when off (the consent gate then refuses the write).
func (h *Handler) epoch(r *http.Request) (int64, error) {
	state, err := h.consents.State(r.Context(), from(r.Context()).p)
	if err != nil {
		return 0, err
	}
	if ev := state[candor.Contacts]; ev.On {
		return ev.Seq, nil
	}
	return 0, nil
}

// push applies one change and returns its result.
func (h *Handler) push(r *http.Request, epoch int64, ch records.Change) (records.Result, error) {
	res, err := h.records.Push(r.Context(), from(r.Context()).p, candor.Contacts, epoch, []records.Change{ch})
	if err != nil {
		return records.Result{}, err
	}
	if len(res.Results) != 1 {
		return records.Result{}, candor.E(candor.Internal, "a push of one change did not answer one result")
	}
	return res.Results[0], nil
}

// put stores the card exactly as the client sent it, as a contacts record
// every phone syncs. If-None-Match: * on a card that exists and If-Match
// with a tag that is not the card's answer 412 and store nothing; without
// either, the card is written over whatever is there.
func (h *Handler) put(w http.ResponseWriter, r *http.Request, name string) error {
	id, ok := recordID(name)
	if !ok {
		return candor.E(candor.Invalid, "a card's name ends in .vcf")
	}
	if t, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || (t != vcard.MIMEType && t != "text/x-vcard") {
		return candor.E(candor.Invalid, "a card is sent as text/vcard")
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	card, err := decodeCard(data)
	if candor.Is(err, candor.Invalid) {
		return err
	} else if err != nil {
		return candor.E(candor.Invalid, "the body is not a vCard")
	}
	if v := card.Value(vcard.FieldVersion); v != "3.0" && v != "4.0" {
		return candor.E(candor.Invalid, "CardDAV takes vCard 3.0 or 4.0")
	}
	epoch, err := h.epoch(r)
	if err != nil {
		return err
	}
	ifMatch, ifNone := r.Header.Get("If-Match"), r.Header.Get("If-None-Match")
	var base int64
	var mustExist bool
	switch {
	case epoch == 0:
		// Contacts are off: the push is refused by the consent gate, with
		// its sentence and in the owner's log, whatever the preconditions.
	case ifNone == "*":
		base = 0
	case ifNone != "":
		return candor.E(candor.Invalid, "If-None-Match on a card takes only *")
	case ifMatch == "*":
		mustExist, base = true, 1
	case ifMatch != "":
		e, v, ok := parseETag(ifMatch)
		if !ok || e != epoch {
			preconditionFailed(w)
			return nil
		}
		base = v
	}
	conditional := ifMatch != "" || ifNone != ""
	created := base == 0 // no card under this name, or a deleted one
	for range 3 {
		res, err := h.push(r, epoch, records.Change{ID: id, BaseVersion: base, Data: data})
		if err != nil {
			return err
		}
		if res.Applied {
			w.Header().Set("ETag", `"`+etag(epoch, res.Version)+`"`)
			if created || res.Version == 1 {
				w.WriteHeader(http.StatusCreated)
			} else {
				w.WriteHeader(http.StatusNoContent)
			}
			return nil
		}
		cur := res.Current
		gone := cur.Version == 0 || cur.Deleted
		switch {
		case ifNone == "*" && gone: // a deleted card may be made again
		case conditional && !(mustExist && !gone):
			preconditionFailed(w)
			return nil
		case mustExist && gone:
			preconditionFailed(w)
			return nil
		}
		base, created = cur.Version, gone
	}
	return candor.E(candor.Unavailable, "the card is being changed by another device: try again")
}

// delete removes the card as a phone's deletion does (a tombstone every
// phone syncs). If-Match with a tag that is not the card's answers 412.
func (h *Handler) delete(w http.ResponseWriter, r *http.Request, name string) error {
	id, ok := recordID(name)
	if !ok {
		return errNoCard
	}
	epoch, err := h.epoch(r)
	if err != nil {
		return err
	}
	ifMatch := r.Header.Get("If-Match")
	base := int64(1)
	if ifMatch != "" && ifMatch != "*" && epoch != 0 { // contacts off: the gate refuses the push
		e, v, ok := parseETag(ifMatch)
		if !ok || e != epoch {
			preconditionFailed(w)
			return nil
		}
		base = v
	}
	for range 3 {
		res, err := h.push(r, epoch, records.Change{ID: id, BaseVersion: base, Deleted: true})
		if err != nil {
			return err
		}
		if res.Applied {
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		cur := res.Current
		switch {
		case cur.Version == 0 || cur.Deleted:
			if ifMatch != "" {
				preconditionFailed(w)
				return nil
			}
			return errNoCard
		case ifMatch != "" && ifMatch != "*":
			preconditionFailed(w)
			return nil
		}
		base = cur.Version
	}
	return candor.E(candor.Unavailable, "the card is being changed by another device: try again")
}

// get answers a card's bytes exactly as they were stored.
func (h *Handler) get(w http.ResponseWriter, r *http.Request, name string) error {
	id, ok := recordID(name)
	if !ok {
		return errNoCard
	}
	bk, err := h.read(r.Context())
	if err != nil {
		return err
	}
	rec, found := bk.cards[id]
	if !found {
		return errNoCard
	}
	tag := `"` + etag(bk.epoch, rec.Version) + `"`
	w.Header().Set("ETag", tag)
	w.Header().Set("Content-Type", vcard.MIMEType+"; charset=utf-8")
	w.Header().Set("Content-Length", fmt.Sprint(len(rec.Data)))
	if strings.Contains(r.Header.Get("If-None-Match"), tag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	if r.Method == http.MethodHead {
		return nil
	}
	w.Write(rec.Data)
	return nil
}
