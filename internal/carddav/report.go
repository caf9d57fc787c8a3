package carddav

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/records"
)

// The XML of what this package answers itself: the sync-collection report
// (RFC 6578) and the address book's own properties that the library does
// not serve (getctag, sync-token, supported-report-set).

const (
	nsDAV     = "DAV:"
	nsCardDAV = "urn:ietf:params:xml:ns:carddav"
	nsCS      = "http://calendarserver.org/ns/"
)

type anyProp struct {
	XMLName xml.Name
}

type propList struct {
	Props []anyProp `xml:",any"`
}

type syncCollection struct {
	XMLName   xml.Name `xml:"DAV: sync-collection"`
	SyncToken string   `xml:"DAV: sync-token"`
	Limit     *struct {
		NResults int `xml:"DAV: nresults"`
	} `xml:"DAV: limit"`
	Prop *propList `xml:"DAV: prop"`
}

type propfindReq struct {
	XMLName xml.Name  `xml:"DAV: propfind"`
	Prop    *propList `xml:"DAV: prop"`
}

type rootName struct {
	XMLName xml.Name
	Hrefs   []string `xml:"DAV: href"`
}

// multistatus is the answer; each response's props are raw elements.
type multistatus struct {
	XMLName   xml.Name   `xml:"DAV: multistatus"`
	Responses []response `xml:"DAV: response"`
	SyncToken string     `xml:"DAV: sync-token,omitempty"`
}

type response struct {
	Href     string     `xml:"DAV: href"`
	Status   string     `xml:"DAV: status,omitempty"`
	Propstat []propstat `xml:"DAV: propstat,omitempty"`
}

type propstat struct {
	Prop   rawProps `xml:"DAV: prop"`
	Status string   `xml:"DAV: status"`
}

type rawProps struct {
	Inner []rawProp
}

type rawProp struct {
	XMLName  xml.Name
	Text     string `xml:",chardata"`
	InnerXML string `xml:",innerxml"`
}

func (r rawProps) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	for _, p := range r.Inner {
		if err := e.Encode(p); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}

func statusLine(code int) string {
	return "HTTP/1.1 " + strconv.Itoa(code) + " " + http.StatusText(code)
}

func serveMultistatus(w http.ResponseWriter, ms multistatus) error {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(&buf).Encode(ms); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(http.StatusMultiStatus)
	_, err := w.Write(buf.Bytes())
	return err
}

// report answers REPORT and the address book's PROPFIND: sync-collection
// and the book's own properties here, the rest by the library, given the
// body back.
func (h *Handler) report(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	var root rootName
	if len(bytes.TrimSpace(body)) > 0 {
		if err := xml.Unmarshal(body, &root); err != nil {
			return candor.E(candor.Invalid, "the request body is not XML")
		}
	}
	switch {
	case r.Method == "REPORT" && root.XMLName == xml.Name{Space: nsDAV, Local: "sync-collection"}:
		return h.syncCollection(w, r, body)
	case r.Method == "REPORT" && root.XMLName == xml.Name{Space: nsCardDAV, Local: "addressbook-multiget"}:
		if err := h.checkMultiget(r, root.Hrefs); err != nil {
			return err
		}
	case r.Method == "PROPFIND" && r.Header.Get("Depth") == "0" && root.XMLName == xml.Name{Space: nsDAV, Local: "propfind"}:
		var pf propfindReq
		if xml.Unmarshal(body, &pf) == nil && pf.Prop != nil && asksOwn(pf.Prop) {
			return h.bookProps(w, r, pf.Prop)
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	h.dav.ServeHTTP(w, r)
	return nil
}

var own = map[xml.Name]bool{
	{Space: nsCS, Local: "getctag"}:               true,
	{Space: nsDAV, Local: "sync-token"}:           true,
	{Space: nsDAV, Local: "supported-report-set"}: true,
}

func asksOwn(pl *propList) bool {
	for _, p := range pl.Props {
		if own[p.XMLName] {
			return true
		}
	}
	return false
}

// bookProps answers a Depth: 0 PROPFIND of the address book that asks for
// a property the library does not serve. getctag and sync-token read the
// feed's cursor (a read of the book, logged).
func (h *Handler) bookProps(w http.ResponseWriter, r *http.Request, pl *propList) error {
	var found, missing []rawProp
	var token string
	for _, p := range pl.Props {
		switch p.XMLName {
		case xml.Name{Space: nsCS, Local: "getctag"}, xml.Name{Space: nsDAV, Local: "sync-token"}:
			if token == "" {
				bk, err := h.read(r.Context())
				if err != nil {
					return err
				}
				token = syncToken(bk.epoch, bk.cursor)
			}
			found = append(found, rawProp{XMLName: p.XMLName, Text: token})
		case xml.Name{Space: nsDAV, Local: "supported-report-set"}:
			found = append(found, rawProp{XMLName: p.XMLName, InnerXML: `<supported-report xmlns="DAV:"><report><sync-collection/></report></supported-report>` +
				`<supported-report xmlns="DAV:"><report><addressbook-multiget xmlns="urn:ietf:params:xml:ns:carddav"/></report></supported-report>` +
				`<supported-report xmlns="DAV:"><report><addressbook-query xmlns="urn:ietf:params:xml:ns:carddav"/></report></supported-report>`})
		case xml.Name{Space: nsDAV, Local: "resourcetype"}:
			found = append(found, rawProp{XMLName: p.XMLName, InnerXML: `<collection xmlns="DAV:"/><addressbook xmlns="urn:ietf:params:xml:ns:carddav"/>`})
		case xml.Name{Space: nsDAV, Local: "displayname"}:
			found = append(found, rawProp{XMLName: p.XMLName, Text: "Contacts"})
		case xml.Name{Space: nsDAV, Local: "current-user-principal"}:
			found = append(found, rawProp{XMLName: p.XMLName, InnerXML: `<href xmlns="DAV:">` + principalPath + `</href>`})
		default:
			missing = append(missing, rawProp{XMLName: p.XMLName})
		}
	}
	resp := response{Href: bookPath}
	if len(found) > 0 {
		resp.Propstat = append(resp.Propstat, propstat{Prop: rawProps{found}, Status: statusLine(http.StatusOK)})
	}
	if len(missing) > 0 {
		resp.Propstat = append(resp.Propstat, propstat{Prop: rawProps{missing}, Status: statusLine(http.StatusNotFound)})
	}
	return serveMultistatus(w, multistatus{Responses: []response{resp}})
}

// syncCollection answers RFC 6578's report from the change feed: with no
// token, every live card; with one, only the cards changed or deleted
// since, at most one page of the feed (then a 507 for the book, per RFC
// 6578 §3.6, and the token to go on from). A token from before contacts
// was turned off and on, or older than what retention purged, is refused
// with DAV:valid-sync-token, and the client reads the book anew.
func (h *Handler) syncCollection(w http.ResponseWriter, r *http.Request, body []byte) error {
	if strings.TrimSuffix(r.URL.Path, "/")+"/" != bookPath {
		return candor.E(candor.NotFound, "sync-collection is answered on the address book")
	}
	var sc syncCollection
	if err := xml.Unmarshal(body, &sc); err != nil {
		return candor.E(candor.Invalid, "the sync-collection request is not valid XML")
	}
	limit := syncPage
	if sc.Limit != nil && sc.Limit.NResults > 0 && sc.Limit.NResults < limit {
		limit = sc.Limit.NResults
	}
	p := from(r.Context()).p
	// A first sync (no token) reads the whole book, page after page: it
	// is a full pass, which a purge of deletions behind its cursor does
	// not send back to the start (records.WithFullPass), and its tokens
	// say so until its last page.
	token, full := strings.CutSuffix(sc.SyncToken, fullPassSuffix)
	full = full || sc.SyncToken == ""
	var since, wantEpoch int64
	if token != "" {
		e, c, ok := parseSyncToken(token)
		if !ok {
			return invalidToken(w)
		}
		since, wantEpoch = c, e
	}
	ctx := r.Context()
	if full {
		ctx = records.WithFullPass(ctx)
	}
	feed, err := h.records.Pull(ctx, p, candor.Contacts, since, limit)
	if err != nil {
		return err
	}
	if feed.Reset || (token != "" && wantEpoch != feed.Epoch) {
		return invalidToken(w)
	}
	var props []anyProp
	if sc.Prop != nil {
		props = sc.Prop.Props
	}
	ms := multistatus{SyncToken: syncToken(feed.Epoch, feed.Next)}
	if full && feed.More {
		ms.SyncToken += fullPassSuffix
	}
	for _, rec := range feed.Records {
		href := bookPath + cardName(rec.ID)
		if rec.Deleted {
			if !full { // a first sync has nothing to delete
				ms.Responses = append(ms.Responses, response{Href: href, Status: statusLine(http.StatusNotFound)})
			}
			continue
		}
		var found, missing []rawProp
		for _, pr := range props {
			switch pr.XMLName {
			case xml.Name{Space: nsDAV, Local: "getetag"}:
				found = append(found, rawProp{XMLName: pr.XMLName, Text: `"` + etag(feed.Epoch, rec.Version) + `"`})
			case xml.Name{Space: nsDAV, Local: "getcontenttype"}:
				found = append(found, rawProp{XMLName: pr.XMLName, Text: "text/vcard; charset=utf-8"})
			case xml.Name{Space: nsCardDAV, Local: "address-data"}:
				found = append(found, rawProp{XMLName: pr.XMLName, Text: string(rec.Data)})
			default:
				missing = append(missing, rawProp{XMLName: pr.XMLName})
			}
		}
		resp := response{Href: href}
		if len(found) > 0 || len(missing) == 0 {
			resp.Propstat = append(resp.Propstat, propstat{Prop: rawProps{found}, Status: statusLine(http.StatusOK)})
		}
		if len(missing) > 0 {
			resp.Propstat = append(resp.Propstat, propstat{Prop: rawProps{missing}, Status: statusLine(http.StatusNotFound)})
		}
		ms.Responses = append(ms.Responses, resp)
	}
	if feed.More {
		ms.Responses = append(ms.Responses, response{Href: bookPath, Status: statusLine(http.StatusInsufficientStorage)})
	}
	return serveMultistatus(w, ms)
}

// fullPassSuffix marks the token of a first sync that has pages left.
const fullPassSuffix = ":full"

// invalidToken answers RFC 6578's DAV:valid-sync-token precondition.
func invalidToken(w http.ResponseWriter) error {
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	io.WriteString(w, xml.Header+`<error xmlns="DAV:"><valid-sync-token/></error>`)
	return nil
}

// maxMultigetBytes bounds the cards one multiget answers with, as stored
// (the answer holds them re-encoded, and escaped).
const maxMultigetBytes = 64 << 20

// checkMultiget refuses a multiget that names a card twice (each is
// decoded and held for the answer: one card named a thousand times would
// cost a thousand), that names more than maxMultiget cards unless the book
// holds that many (a client may ask for the whole book at once: vdirsyncer
// does, in one REPORT, when it first downloads it; the book is read once
// per request anyway), or whose cards come to more than maxMultigetBytes.
func (h *Handler) checkMultiget(r *http.Request, hrefs []string) error {
	seen := make(map[string]bool, len(hrefs))
	for _, href := range hrefs {
		if seen[href] {
			return candor.E(candor.Invalid, "a multiget names each card once")
		}
		seen[href] = true
	}
	bk, err := h.read(r.Context())
	if err != nil {
		return err
	}
	if len(hrefs) > maxMultiget && len(hrefs) > len(bk.cards) {
		return candor.Errorf(candor.TooLarge, "a multiget asks for at most %d cards, or as many as the address book holds; ask for the rest in another", maxMultiget)
	}
	total := 0
	for _, href := range hrefs {
		if id, ok := recordID(path.Base(href)); ok {
			total += len(bk.cards[id].Data)
		}
	}
	if total > maxMultigetBytes {
		return candor.Errorf(candor.TooLarge, "those cards come to more than %d MiB: ask for fewer at once", maxMultigetBytes>>20)
	}
	return nil
}
