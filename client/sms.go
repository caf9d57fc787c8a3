package client

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client/exportfmt"
	"github.com/candorcloud/candor/client/internal/smsxml"
)

// SMSBox is the phone's text messages, SMS and MMS, in the model of the
// Android app "SMS Backup & Restore": each message is an <sms> or <mms>
// element of that app's XML file, kept with every attribute it had, in
// order, so that exporting writes back what was imported.
//
// A message's record data is the JSON object
//
//	{"kind": "sms"|"mms", "attrs": [[name, value], ...],
//	 "parts": [[[name, value], ...], ...], "addrs": [[[name, value], ...], ...]}
//
// holding the element's attributes and, for an MMS, those of each <part>
// and <addr>, as text, exactly as in the file. The file itself is read and
// written by package smsxml.
type SMSBox struct{ c *Client }

// SMS returns the phone's text messages.
func (c *Client) SMS() *SMSBox { return &SMSBox{c} }

// The kinds of message.
const (
	KindSMS = smsxml.KindSMS
	KindMMS = smsxml.KindMMS
)

// Limits on imported messages. Besides these, a message's record holds at
// most api.MaxRecordBytes: an MMS whose media would make it larger keeps
// its text and addresses, and its media parts lose their data
// (ImportResult.MediaDropped counts them).
const (
	// MaxSMSText is the most bytes one attribute value of a message may
	// hold (a body, a text part); only MMS media data may be larger.
	MaxSMSText = smsxml.MaxText
	// MaxSMSPerFile is the most messages one file may hold.
	MaxSMSPerFile = smsxml.MaxMessages
)

// Attr is one XML attribute of a message's element. In JSON it is the
// array [name, value].
type Attr = smsxml.Attr

// Message is one text message as the phone shows it. Its fields are read
// from Attrs, the attributes of its element in the backup file, which are
// what Export writes back.
type Message struct {
	ID   string `json:"id"`
	Kind string `json:"kind"` // KindSMS or KindMMS; empty for a record this phone cannot read
	// Address is the other party's number; for a group MMS, the numbers
	// joined by "~".
	Address string `json:"address"`
	// Date is when the message was received or sent, in milliseconds
	// since 1970 (UTC).
	Date int64 `json:"date"`
	// Type is the SMS type or the MMS message box: 1 received, 2 sent,
	// 3 draft, 4 outbox, 5 failed, 6 queued.
	Type      int    `json:"type"`
	Direction string `json:"direction"` // Type in words: "received", "sent", ...
	Read      bool   `json:"read"`
	// Body is an SMS's text; for an MMS, its text parts joined by "\n".
	Body        string `json:"body"`
	Subject     string `json:"subject,omitempty"`
	ContactName string `json:"contact_name,omitempty"`
	DateSent    int64  `json:"date_sent,omitempty"`
	Parts       []Part `json:"parts,omitempty"` // MMS only
	Addrs       []Addr `json:"addrs,omitempty"` // MMS only
	// Attrs are the element's attributes, in file order, values as text.
	Attrs []Attr `json:"-"`
}

// Part is one part of an MMS.
type Part struct {
	ContentType string `json:"ct"`
	Text        string `json:"text,omitempty"` // a text part's text
	Attrs       []Attr `json:"-"`
}

// Addr is one address of an MMS.
type Addr struct {
	Address string `json:"address"`
	// Type is the PDU header: 137 from, 151 to, 130 cc, 129 bcc.
	Type  int    `json:"type"`
	Attrs []Attr `json:"-"`
}

// Attr returns the value of the message's attribute name.
func (m Message) Attr(name string) (string, bool) { return smsxml.Value(m.Attrs, name) }

// Time returns Date as a time.
func (m Message) Time() time.Time { return time.UnixMilli(m.Date) }

// ImportResult is what an import did.
type ImportResult struct {
	Added      int // new messages stored
	Duplicates int // messages the phone already held, or repeated in the file, skipped
	// MediaDropped counts MMS media parts whose data was left out because
	// their message would not fit in a record; the parts' text was kept.
	MediaDropped int
}

// smsData is a message's record data: its element, in JSON.
type smsData struct{ smsxml.Message }

// boxAttr names the attribute holding the message's type or box.
func (d *smsData) boxAttr() string {
	if d.Kind == KindMMS {
		return "msg_box"
	}
	return "type"
}

// key identifies a message for de-duplication, as the export orders and
// de-duplicates them (exportfmt.SMSKey): one rule for both.
func (d *smsData) key() string { return exportfmt.SMSKey(&d.Message) }

func (d *smsData) encode() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return nil, candor.Wrap(candor.Internal, "cannot encode a message", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func decodeSMS(data []byte) (smsData, bool) {
	var d smsData
	if err := json.Unmarshal(data, &d); err != nil || d.Check() != nil {
		return smsData{}, false
	}
	return d, true
}

func direction(t int) string {
	switch t {
	case 1:
		return "received"
	case 2:
		return "sent"
	case 3:
		return "draft"
	case 4:
		return "outbox"
	case 5:
		return "failed"
	case 6:
		return "queued"
	}
	return ""
}

// orNull reads a text attribute, where the app writes "null" for none.
func orNull(v string) string {
	if v == "null" {
		return ""
	}
	return v
}

func (d *smsData) message(id string) Message {
	num := func(name string) int64 {
		n, _ := strconv.ParseInt(strings.TrimSpace(d.Attr(name)), 10, 64)
		return n
	}
	m := Message{
		ID:          id,
		Kind:        d.Kind,
		Address:     d.Attr("address"),
		Date:        num("date"),
		Type:        int(num(d.boxAttr())),
		Read:        strings.TrimSpace(d.Attr("read")) == "1",
		ContactName: orNull(d.Attr("contact_name")),
		DateSent:    num("date_sent"),
		Attrs:       slices.Clone(d.Attrs),
	}
	m.Direction = direction(m.Type)
	if d.Kind == KindMMS {
		m.Subject = orNull(d.Attr("sub"))
		var texts []string
		for _, p := range d.Parts {
			part := Part{Attrs: slices.Clone(p)}
			part.ContentType, _ = smsxml.Value(p, "ct")
			if smsxml.IsTextPart(p) {
				part.Text, _ = smsxml.Value(p, "text")
				texts = append(texts, part.Text)
			}
			m.Parts = append(m.Parts, part)
		}
		m.Body = strings.Join(texts, "\n")
		for _, a := range d.Addrs {
			addr := Addr{Attrs: slices.Clone(a)}
			addr.Address, _ = smsxml.Value(a, "address")
			t, _ := smsxml.Value(a, "type")
			n, _ := strconv.Atoi(strings.TrimSpace(t))
			addr.Type = n
			m.Addrs = append(m.Addrs, addr)
		}
	} else {
		m.Subject = orNull(d.Attr("subject"))
		m.Body = d.Attr("body")
	}
	return m
}

// smsEntry is one stored message, decoded.
type smsEntry struct {
	id   string
	raw  []byte
	data smsData
	ok   bool // data is readable
	date int64
	key  string
}

// entries returns the phone's messages by date (ties by key, so that every
// phone orders the same messages alike).
func (b *SMSBox) entries() ([]smsEntry, error) {
	rs, err := b.c.liveRecords(candor.SMS)
	if err != nil {
		return nil, err
	}
	out := make([]smsEntry, 0, len(rs))
	for _, r := range rs {
		e := smsEntry{id: r.ID, raw: r.Data}
		if e.data, e.ok = decodeSMS(r.Data); e.ok {
			e.date, _ = strconv.ParseInt(strings.TrimSpace(e.data.Attr("date")), 10, 64)
			e.key = e.data.key()
		} else {
			e.key = "~" + r.ID
		}
		out = append(out, e)
	}
	slices.SortStableFunc(out, func(a, b smsEntry) int {
		if a.date != b.date {
			if a.date < b.date {
				return -1
			}
			return 1
		}
		return strings.Compare(a.key, b.key)
	})
	return out, nil
}

// List returns the phone's messages, oldest first. A record synced from
// elsewhere that this phone cannot read is listed with an empty Kind and
// its raw data as the body, so that it is not invisible.
func (b *SMSBox) List() ([]Message, error) {
	es, err := b.entries()
	if err != nil {
		return nil, err
	}
	out := make([]Message, 0, len(es))
	for _, e := range es {
		if !e.ok {
			out = append(out, Message{ID: e.id, Body: string(e.raw)})
			continue
		}
		out = append(out, e.data.message(e.id))
	}
	return out, nil
}

// Get returns one message; NotFound if there is none with that id.
func (b *SMSBox) Get(id string) (Message, error) {
	r, err := b.c.liveRecord(candor.SMS, id)
	if err != nil {
		return Message{}, err
	}
	d, ok := decodeSMS(r.Data)
	if !ok {
		return Message{ID: r.ID, Body: string(r.Data)}, nil
	}
	return d.message(r.ID), nil
}

// Delete deletes a message, here and, at the next sync, everywhere.
func (b *SMSBox) Delete(id string) error { return b.c.deleteRecord(candor.SMS, id) }

// Add stores a new SMS made of m's Address, Date (now when zero), Type (1
// received or 2 sent when zero), Read, Body, and Subject, ContactName and
// DateSent when set, with the other attributes the app writes (protocol,
// toa, status, ...) at their usual values. m's ID, Kind, Parts, Addrs and
// Attrs are not used. Adding a message the phone already holds (same
// address, date, type and body) fails with Conflict.
func (b *SMSBox) Add(m Message) (Message, error) {
	if m.Date == 0 {
		m.Date = b.c.opts.now().UnixMilli()
	}
	if m.Type == 0 {
		m.Type = 1
	}
	if err := checkNewSMS(m); err != nil {
		return Message{}, err
	}
	d := newSMS(m)
	es, err := b.entries()
	if err != nil {
		return Message{}, err
	}
	key := d.key()
	for _, e := range es {
		if e.key == key {
			return Message{}, candor.E(candor.Conflict, "the phone already holds this message")
		}
	}
	data, err := d.encode()
	if err != nil {
		return Message{}, err
	}
	ids, err := b.c.addRecords(candor.SMS, [][]byte{data})
	if err != nil {
		return Message{}, err
	}
	return d.message(ids[0]), nil
}

// checkNewSMS checks what Add uses of m (see Add).
func checkNewSMS(m Message) error {
	switch {
	case m.Kind != "" && m.Kind != KindSMS:
		return candor.E(candor.Invalid, "only an SMS can be added; import an MMS from a backup file")
	case strings.TrimSpace(m.Address) == "" || len(m.Address) > 256 || !utf8.ValidString(m.Address) || strings.ContainsFunc(m.Address, unicode.IsControl):
		return candor.E(candor.Invalid, "a message needs an address (a number or a sender name) on one line")
	case m.Date < 0:
		return candor.E(candor.Invalid, "a message's date cannot be before 1970")
	case direction(m.Type) == "":
		return candor.E(candor.Invalid, "a message's type is 1 (received), 2 (sent), 3 (draft), 4 (outbox), 5 (failed) or 6 (queued)")
	}
	for _, v := range []string{m.Body, m.Subject, m.ContactName} {
		if !utf8.ValidString(v) {
			return candor.E(candor.Invalid, "a message must be UTF-8 text")
		}
	}
	for _, v := range []string{m.Body, m.Subject, m.ContactName} {
		if len(v) > MaxSMSText {
			return candor.Errorf(candor.TooLarge, "a message's text may hold at most %d KiB", MaxSMSText>>10)
		}
	}
	return nil
}

// newSMS is the record of the SMS Add makes of m: its fields, and the other
// attributes the app writes at their usual values, in the app's order.
func newSMS(m Message) smsData {
	def := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	read := "0"
	if m.Read {
		read = "1"
	}
	return smsData{smsxml.Message{Kind: KindSMS, Attrs: []Attr{
		{Name: "protocol", Value: "0"},
		{Name: "address", Value: m.Address},
		{Name: "date", Value: strconv.FormatInt(m.Date, 10)},
		{Name: "type", Value: strconv.Itoa(m.Type)},
		{Name: "subject", Value: def(m.Subject, "null")},
		{Name: "body", Value: m.Body},
		{Name: "toa", Value: "null"},
		{Name: "sc_toa", Value: "null"},
		{Name: "service_center", Value: "null"},
		{Name: "read", Value: read},
		{Name: "status", Value: "-1"},
		{Name: "locked", Value: "0"},
		{Name: "date_sent", Value: strconv.FormatInt(m.DateSent, 10)},
		{Name: "readable_date", Value: time.UnixMilli(m.Date).Format("Jan 2, 2006 3:04:05 PM")},
		{Name: "contact_name", Value: def(m.ContactName, "(Unknown)")},
	}}}
}

// Import adds the messages of an "SMS Backup & Restore" XML file (see
// ImportWithResult) and returns how many were added.
func (b *SMSBox) Import(r io.Reader) (int, error) {
	res, err := b.ImportWithResult(r)
	return res.Added, err
}

// ImportWithResult adds the messages of an "SMS Backup & Restore" XML file:
// a <smses> element holding <sms> elements and <mms> elements with their
// <parts><part/></parts> and <addrs><addr/></addrs>. Every attribute is
// kept, in order, with its value as text, whatever its name.
//
// A message the phone already holds (same kind, address, date, type or
// box, and text) is skipped, so importing the same file twice adds nothing
// the second time; so is a message repeated within the file.
//
// Character references to UTF-16 surrogate pairs, which the app writes for
// emoji (&#55357;&#56832;), are read as the one character they encode.
// References to characters XML cannot hold (a lone surrogate, control
// characters other than tab, newline and carriage return) are read as
// U+FFFD. Everything else is kept byte for byte.
//
// Either every message is imported or, on error, none: a malformed file is
// an Invalid error naming the line, and a message too large (a text value
// over MaxSMSText, or a record over api.MaxRecordBytes even without its
// media) a TooLarge one.
func (b *SMSBox) ImportWithResult(r io.Reader) (ImportResult, error) {
	msgs, err := smsxml.Decode(r)
	if err != nil {
		return ImportResult{}, err
	}
	es, err := b.entries()
	if err != nil {
		return ImportResult{}, err
	}
	seen := make(map[string]bool, len(es)+len(msgs))
	for _, e := range es {
		seen[e.key] = true
	}
	var res ImportResult
	var datas [][]byte
	for _, m := range msgs {
		d := smsData{m.Message}
		k := d.key()
		if seen[k] {
			res.Duplicates++
			continue
		}
		seen[k] = true
		data, err := d.encode()
		if err != nil {
			return ImportResult{}, err
		}
		if len(data) > api.MaxRecordBytes && d.Kind == KindMMS {
			res.MediaDropped += dropMedia(&d)
			if data, err = d.encode(); err != nil {
				return ImportResult{}, err
			}
		}
		if len(data) > api.MaxRecordBytes {
			return ImportResult{}, candor.Errorf(candor.TooLarge, "line %d of the SMS file: the message is larger than %d bytes", m.Line, api.MaxRecordBytes)
		}
		datas = append(datas, data)
	}
	if len(datas) == 0 {
		return res, nil
	}
	ids, err := b.c.addRecords(candor.SMS, datas)
	if err != nil {
		return ImportResult{}, err
	}
	res.Added = len(ids)
	return res, nil
}

// dropMedia removes the data of an MMS's non-text parts and returns how
// many parts lost theirs.
func dropMedia(d *smsData) int {
	n := 0
	for i, p := range d.Parts {
		if smsxml.IsTextPart(p) {
			continue
		}
		kept := p[:0:0]
		for _, a := range p {
			if a.Name == "data" {
				continue
			}
			kept = append(kept, a)
		}
		if len(kept) != len(p) {
			d.Parts[i] = kept
			n++
		}
	}
	return n
}

// Export writes the phone's messages, oldest first, as an "SMS Backup &
// Restore" XML file that the app can restore: the XML declaration it
// writes, <smses count="N">, then each message's element with its
// attributes in their original order, an MMS with its <parts> and <addrs>.
// Values are escaped as the app does (&amp; &lt; &gt; &quot;, and &#10;
// &#13; &#9; for line breaks and tabs); other characters are written as
// UTF-8, so the file is well-formed XML 1.0. A record this phone cannot
// read is left out.
func (b *SMSBox) Export(w io.Writer) error {
	es, err := b.entries()
	if err != nil {
		return err
	}
	ms := make([]*smsxml.Message, 0, len(es))
	for i := range es {
		if es[i].ok {
			ms = append(ms, &es[i].data.Message)
		}
	}
	return smsxml.Encode(w, ms)
}
