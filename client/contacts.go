package client

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-vcard"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client/internal/vcard21"
)

// Contacts is the phone's address book. Each contact is stored as the
// bytes of one vCard, exactly as imported, and synced as such.
type Contacts struct{ c *Client }

// Contacts returns the phone's address book.
func (c *Client) Contacts() *Contacts { return &Contacts{c} }

// Contact is one address book entry, as read from its vCard.
type Contact struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Phones []string `json:"phones"`
	Emails []string `json:"emails"`
	// VCard is the contact's original vCard bytes.
	VCard []byte `json:"-"`
}

// Add stores a new contact with a name and a phone number as a vCard 4.0
// (FN, N, TEL, UID). The number may be written as people write it — in
// E.164 form, in international form with spaces, dashes or parentheses, or
// in national form, read as a number of the phone's own country (that of
// its number, else the one it was set up with) — and is stored in E.164
// form; one that cannot be a phone number is refused with Invalid. For N,
// the last word of the name is taken as the family name and the rest as
// given names; a one-word name is a given name.
func (a *Contacts) Add(name, phone string) (Contact, error) {
	card, err := newVCard(name, phone, a.c.numberRegion())
	if err != nil {
		return Contact{}, err
	}
	ids, err := a.c.addRecords(candor.Contacts, [][]byte{card})
	if err != nil {
		return Contact{}, err
	}
	return contactOf(ids[0], card)
}

// newVCard writes a new contact's card, reading phone as a number of
// region when it has no country code.
func newVCard(name, phone, region string) ([]byte, error) {
	name = strings.TrimSpace(name)
	if name == "" || !utf8.ValidString(name) || strings.ContainsAny(name, "\r\n") {
		return nil, candor.E(candor.Invalid, "a contact needs a name on one line")
	}
	phone, ok := normalizeNumber(phone, region)
	if !ok {
		return nil, candor.Errorf(candor.Invalid, "the contact's number is not a phone number; write it with its country code (like +919812345678) or as it is dialled in %s", region)
	}
	card := vcard.Card{}
	card.SetValue(vcard.FieldVersion, "4.0")
	card.SetValue(vcard.FieldUID, "urn:uuid:"+newUUID())
	card.SetValue(vcard.FieldFormattedName, name)
	n := &vcard.Name{GivenName: name}
	if i := strings.LastIndexAny(name, " \t"); i > 0 {
		n.GivenName, n.FamilyName = strings.TrimSpace(name[:i]), name[i+1:]
	}
	card.SetName(n)
	card.Add(vcard.FieldTelephone, &vcard.Field{
		Value:  "tel:" + phone,
		Params: vcard.Params{vcard.ParamValue: {"uri"}, vcard.ParamType: {"cell"}},
	})
	var b bytes.Buffer
	if err := vcard.NewEncoder(&b).Encode(card); err != nil {
		return nil, candor.Wrap(candor.Internal, "cannot write the vCard", err)
	}
	return b.Bytes(), nil
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// Update replaces a contact's vCard. The card must be one valid vCard.
func (a *Contacts) Update(id string, card []byte) error {
	cards, err := splitVCards(card)
	if err != nil {
		return err
	}
	if len(cards) != 1 {
		return candor.E(candor.Invalid, "a contact is exactly one vCard")
	}
	return a.c.updateRecord(candor.Contacts, id, cards[0])
}

// Delete deletes a contact, here and, at the next sync, everywhere.
func (a *Contacts) Delete(id string) error { return a.c.deleteRecord(candor.Contacts, id) }

// Get returns one contact; NotFound if there is none with that id.
func (a *Contacts) Get(id string) (Contact, error) {
	r, err := a.c.liveRecord(candor.Contacts, id)
	if err != nil {
		return Contact{}, err
	}
	return contactOf(r.ID, r.Data)
}

// List returns the phone's contacts in the order they were added.
func (a *Contacts) List() ([]Contact, error) {
	rs, err := a.c.liveRecords(candor.Contacts)
	if err != nil {
		return nil, err
	}
	out := make([]Contact, 0, len(rs))
	for _, r := range rs {
		ct, err := contactOf(r.ID, r.Data)
		if err != nil {
			// A card synced from elsewhere that this phone cannot read
			// is still listed, so that it is not invisible.
			ct = Contact{ID: r.ID, Phones: []string{}, Emails: []string{}, VCard: r.Data}
		}
		out = append(out, ct)
	}
	return out, nil
}

// ImportVCard adds every card of a vCard file (versions 2.1, 3.0 and 4.0;
// folded lines; any number of TEL and EMAIL) as a new contact holding that
// card's original bytes. Either every card is imported or, on error, none:
// a malformed card is an Invalid error naming its position in the file.
// It returns the number of contacts added.
func (a *Contacts) ImportVCard(r io.Reader) (int, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return 0, candor.Wrap(candor.Invalid, "cannot read the vCard file", err)
	}
	cards, err := splitVCards(data)
	if err != nil {
		return 0, err
	}
	if len(cards) == 0 {
		return 0, nil
	}
	ids, err := a.c.addRecords(candor.Contacts, cards)
	return len(ids), err
}

// Export writes the phone's contacts as one vCard file: each contact's
// card, exactly the bytes it was imported, added or synced with, in the
// order of List. A file of cards with nothing between them (no blank
// lines, no byte order mark) that was imported is written back byte for
// byte.
func (a *Contacts) Export(w io.Writer) error {
	rs, err := a.c.liveRecords(candor.Contacts)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	writeCards(bw, rs, func(int) {})
	if err := bw.Flush(); err != nil {
		return candor.Wrap(candor.Invalid, "cannot write the contacts", err)
	}
	return nil
}

// writeCards writes the cards of rs one after the other, each as stored. A
// card that does not end with a line break (the last card of a file that
// had none, with contacts added after it) gets one before the next card,
// so that the file reads back. done is called after each card with how
// many are written. Errors are w's to keep (a bufio.Writer or a file
// checked at Close).
func writeCards(w io.Writer, rs []record, done func(n int)) {
	for i, r := range rs {
		w.Write(r.Data)
		if i < len(rs)-1 && !bytes.HasSuffix(r.Data, []byte("\n")) {
			if bytes.Contains(r.Data, []byte("\r\n")) {
				w.Write([]byte("\r\n"))
			} else {
				w.Write([]byte("\n"))
			}
		}
		done(i + 1)
	}
}

// splitVCards cuts a vCard stream into cards, each with its original bytes
// (from its BEGIN line to the end of its END line), and checks that each
// parses. Blank lines between cards are allowed; anything else outside a
// card is an error. Errors name a card's position, never its content.
func splitVCards(data []byte) ([][]byte, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	var (
		cards [][]byte
		start = -1 // offset of the current card's BEGIN line
		depth int
		line  int
	)
	for off := 0; off < len(data); {
		// One logical line: a physical line and its folded continuations.
		end := off
		for {
			nl := bytes.IndexByte(data[end:], '\n')
			if nl < 0 {
				end = len(data)
				break
			}
			end += nl + 1
			if end >= len(data) || (data[end] != ' ' && data[end] != '\t') {
				break
			}
		}
		line++
		text := strings.TrimSpace(string(unfold(data[off:end])))
		switch {
		case strings.EqualFold(text, "BEGIN:VCARD"):
			if depth == 0 {
				start = off
			}
			depth++
		case strings.EqualFold(text, "END:VCARD"):
			if depth == 0 {
				return nil, candor.Errorf(candor.Invalid, "the vCard file has an END:VCARD without a BEGIN:VCARD (line %d)", line)
			}
			depth--
			if depth == 0 {
				card := data[start:end]
				if err := checkCard(card, len(cards)+1); err != nil {
					return nil, err
				}
				cards = append(cards, bytes.Clone(card))
			}
		case depth == 0 && text != "":
			return nil, candor.Errorf(candor.Invalid, "the vCard file has text outside any card (line %d)", line)
		}
		off = end
	}
	if depth != 0 {
		return nil, candor.Errorf(candor.Invalid, "card %d of the vCard file has no END:VCARD", len(cards)+1)
	}
	return cards, nil
}

// unfold joins folded lines (a line break followed by a space or tab).
func unfold(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte("\r\n "), nil)
	b = bytes.ReplaceAll(b, []byte("\r\n\t"), nil)
	b = bytes.ReplaceAll(b, []byte("\n "), nil)
	return bytes.ReplaceAll(b, []byte("\n\t"), nil)
}

// checkCard checks that one card parses and has a version this phone reads.
// A 2.1 card is read by client/internal/vcard21 (bare parameters,
// quoted-printable values, CHARSET), and may hold text in the legacy
// character set it names; a 3.0 or 4.0 card is read by go-vcard and must be
// UTF-8.
func checkCard(card []byte, n int) error {
	if err := checkSize(card); err != nil {
		return candor.Errorf(candor.TooLarge, "card %d of the vCard file is larger than %d bytes", n, api.MaxRecordBytes)
	}
	switch v := vcard21.Version(card); v {
	case "2.1":
		if _, err := vcard21.Decode(card); err != nil {
			if e, ok := err.(*vcard21.Error); ok && e.Line > 0 {
				return candor.Errorf(candor.Invalid, "card %d of the vCard file is malformed: its line %d %s", n, e.Line, e.Problem)
			}
			return candor.Errorf(candor.Invalid, "card %d of the vCard file is malformed", n)
		}
		return nil
	case "3.0", "4.0":
	case "":
		return candor.Errorf(candor.Invalid, "card %d of the vCard file has no VERSION", n)
	default:
		return candor.Errorf(candor.Invalid, "card %d of the vCard file has unsupported version %q", n, v)
	}
	if !utf8.Valid(card) {
		return candor.Errorf(candor.Invalid, "card %d of the vCard file is not UTF-8 text", n)
	}
	if _, err := vcard.NewDecoder(bytes.NewReader(card)).Decode(); err != nil {
		return candor.Errorf(candor.Invalid, "card %d of the vCard file is malformed", n)
	}
	return nil
}

// contactOf reads the display fields of a stored card: its name (FN, or N
// when FN is empty), its numbers as written and its emails. A 2.1 card is
// read by client/internal/vcard21, any other by go-vcard.
func contactOf(id string, card []byte) (Contact, error) {
	if vcard21.Version(card) == "2.1" {
		c, err := vcard21.Decode(card)
		if err != nil {
			return Contact{}, candor.E(candor.Invalid, "the contact's vCard is malformed")
		}
		return Contact{ID: id, Name: c.Name, Phones: c.Phones, Emails: c.Emails, VCard: card}, nil
	}
	vc, err := vcard.NewDecoder(bytes.NewReader(card)).Decode()
	if err != nil {
		return Contact{}, candor.E(candor.Invalid, "the contact's vCard is malformed")
	}
	ct := Contact{ID: id, Phones: []string{}, Emails: []string{}, VCard: card}
	ct.Name = strings.TrimSpace(vc.PreferredValue(vcard.FieldFormattedName))
	if ct.Name == "" {
		if n := vc.Name(); n != nil {
			ct.Name = strings.Join(strings.Fields(strings.Join([]string{n.HonorificPrefix, n.GivenName, n.AdditionalName, n.FamilyName, n.HonorificSuffix}, " ")), " ")
		}
	}
	for _, t := range vc.Values(vcard.FieldTelephone) {
		t = strings.TrimSpace(t)
		if len(t) >= 4 && strings.EqualFold(t[:4], "tel:") {
			t = t[4:]
		}
		if t != "" {
			ct.Phones = append(ct.Phones, t)
		}
	}
	for _, e := range vc.Values(vcard.FieldEmail) {
		if e = strings.TrimSpace(e); e != "" {
			ct.Emails = append(ct.Emails, e)
		}
	}
	return ct, nil
}

// contactList lists contacts without taking the lock.
func (c *Client) contactList() ([]Contact, error) {
	s, err := c.category(candor.Contacts)
	if err != nil {
		return nil, err
	}
	var out []Contact
	for _, r := range s.live() {
		if ct, err := contactOf(r.ID, r.Data); err == nil {
			out = append(out, ct)
		}
	}
	return out, nil
}
