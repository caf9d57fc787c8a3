package client

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
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
// and <addr>, as text, exactly as in the file.
type SMSBox struct{ c *Client }

// SMS returns the phone's text messages.
func (c *Client) SMS() *SMSBox { return &SMSBox{c} }

// The kinds of message.
const (
	KindSMS = "sms"
	KindMMS = "mms"
)

// Limits on imported messages. Besides these, a message's record holds at
// most api.MaxRecordBytes: an MMS whose media would make it larger keeps
// its text and addresses, and its media parts lose their data
// (ImportResult.MediaDropped counts them).
const (
	// MaxSMSText is the most bytes one attribute value of a message may
	// hold (a body, a text part); only MMS media data may be larger.
	MaxSMSText = 256 << 10
	// MaxSMSPerFile is the most messages one file may hold.
	MaxSMSPerFile = 1_000_000
	// maxSMSAttrs is the most attributes one element may have (the app
	// writes about 40 on an MMS).
	maxSMSAttrs = 1000
)

// Attr is one XML attribute. In JSON it is the array [name, value].
type Attr struct {
	Name  string
	Value string
}

// MarshalJSON writes the attribute as [name, value].
func (a Attr) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode([2]string{a.Name, a.Value}); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// UnmarshalJSON reads the attribute from [name, value].
func (a *Attr) UnmarshalJSON(b []byte) error {
	var p []string
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	if len(p) != 2 {
		return errors.New("an attribute is [name, value]")
	}
	a.Name, a.Value = p[0], p[1]
	return nil
}

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
func (m Message) Attr(name string) (string, bool) { return attrValue(m.Attrs, name) }

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

// smsData is a message's record data.
type smsData struct {
	Kind  string   `json:"kind"`
	Attrs []Attr   `json:"attrs"`
	Parts [][]Attr `json:"parts,omitempty"`
	Addrs [][]Attr `json:"addrs,omitempty"`
}

func attrValue(attrs []Attr, name string) (string, bool) {
	for _, a := range attrs {
		if a.Name == name {
			return a.Value, true
		}
	}
	return "", false
}

func (d *smsData) attr(name string) string {
	v, _ := attrValue(d.Attrs, name)
	return v
}

// boxAttr names the attribute holding the message's type or box.
func (d *smsData) boxAttr() string {
	if d.Kind == KindMMS {
		return "msg_box"
	}
	return "type"
}

func isTextPart(attrs []Attr) bool {
	ct, _ := attrValue(attrs, "ct")
	ct, _, _ = strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(ct), "text/plain")
}

// key identifies a message for de-duplication: its kind, address, date,
// type or box, and text (the body, or the content type and text of every
// part). Other attributes (read state, contact name, ...) and MMS media
// data do not count.
func (d *smsData) key() string {
	h := sha256.New()
	put := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	put(d.Kind)
	put(d.attr("address"))
	put(d.attr("date"))
	put(d.attr(d.boxAttr()))
	if d.Kind == KindMMS {
		for _, p := range d.Parts {
			ct, _ := attrValue(p, "ct")
			text, _ := attrValue(p, "text")
			put(ct)
			put(text)
		}
	} else {
		put(d.attr("body"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// validName reports whether s can be written as an attribute name.
func validName(s string) bool {
	if s == "" || len(s) > 256 || !utf8.ValidString(s) {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r == ':' || unicode.IsLetter(r):
		case i > 0 && (r == '-' || r == '.' || unicode.IsDigit(r)):
		default:
			return false
		}
	}
	return true
}

// checkAttrs checks that attrs can be written as one element's attributes.
func checkAttrs(attrs []Attr) error {
	if len(attrs) > maxSMSAttrs {
		return fmt.Errorf("an element has more than %d attributes", maxSMSAttrs)
	}
	seen := make(map[string]bool, len(attrs))
	for _, a := range attrs {
		if !validName(a.Name) {
			return errors.New("an attribute has a name that is not a plain XML name")
		}
		if seen[a.Name] {
			return fmt.Errorf("attribute %s appears twice", a.Name)
		}
		seen[a.Name] = true
	}
	return nil
}

func (d *smsData) check() error {
	if d.Kind != KindSMS && d.Kind != KindMMS {
		return errors.New("unknown kind")
	}
	if d.Kind == KindSMS && (len(d.Parts) > 0 || len(d.Addrs) > 0) {
		return errors.New("an SMS has no parts or addresses")
	}
	if err := checkAttrs(d.Attrs); err != nil {
		return err
	}
	for _, p := range d.Parts {
		if err := checkAttrs(p); err != nil {
			return err
		}
	}
	for _, a := range d.Addrs {
		if err := checkAttrs(a); err != nil {
			return err
		}
	}
	return nil
}

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
	if err := json.Unmarshal(data, &d); err != nil || d.check() != nil {
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
		n, _ := strconv.ParseInt(strings.TrimSpace(d.attr(name)), 10, 64)
		return n
	}
	m := Message{
		ID:          id,
		Kind:        d.Kind,
		Address:     d.attr("address"),
		Date:        num("date"),
		Type:        int(num(d.boxAttr())),
		Read:        strings.TrimSpace(d.attr("read")) == "1",
		ContactName: orNull(d.attr("contact_name")),
		DateSent:    num("date_sent"),
		Attrs:       slices.Clone(d.Attrs),
	}
	m.Direction = direction(m.Type)
	if d.Kind == KindMMS {
		m.Subject = orNull(d.attr("sub"))
		var texts []string
		for _, p := range d.Parts {
			part := Part{Attrs: slices.Clone(p)}
			part.ContentType, _ = attrValue(p, "ct")
			if isTextPart(p) {
				part.Text, _ = attrValue(p, "text")
				texts = append(texts, part.Text)
			}
			m.Parts = append(m.Parts, part)
		}
		m.Body = strings.Join(texts, "\n")
		for _, a := range d.Addrs {
			addr := Addr{Attrs: slices.Clone(a)}
			addr.Address, _ = attrValue(a, "address")
			t, _ := attrValue(a, "type")
			n, _ := strconv.Atoi(strings.TrimSpace(t))
			addr.Type = n
			m.Addrs = append(m.Addrs, addr)
		}
	} else {
		m.Subject = orNull(d.attr("subject"))
		m.Body = d.attr("body")
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
			e.date, _ = strconv.ParseInt(strings.TrimSpace(e.data.attr("date")), 10, 64)
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
	if m.Kind != "" && m.Kind != KindSMS {
		return Message{}, candor.E(candor.Invalid, "only an SMS can be added; import an MMS from a backup file")
	}
	if m.Date == 0 {
		m.Date = b.c.opts.now().UnixMilli()
	}
	if m.Type == 0 {
		m.Type = 1
	}
	switch {
	case strings.TrimSpace(m.Address) == "" || len(m.Address) > 256 || !utf8.ValidString(m.Address) || strings.ContainsFunc(m.Address, unicode.IsControl):
		return Message{}, candor.E(candor.Invalid, "a message needs an address (a number or a sender name) on one line")
	case m.Date < 0:
		return Message{}, candor.E(candor.Invalid, "a message's date cannot be before 1970")
	case direction(m.Type) == "":
		return Message{}, candor.E(candor.Invalid, "a message's type is 1 (received), 2 (sent), 3 (draft), 4 (outbox), 5 (failed) or 6 (queued)")
	case !utf8.ValidString(m.Body) || !utf8.ValidString(m.Subject) || !utf8.ValidString(m.ContactName):
		return Message{}, candor.E(candor.Invalid, "a message must be UTF-8 text")
	case len(m.Body) > MaxSMSText || len(m.Subject) > MaxSMSText || len(m.ContactName) > MaxSMSText:
		return Message{}, candor.Errorf(candor.TooLarge, "a message's text may hold at most %d KiB", MaxSMSText>>10)
	}
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
	d := smsData{Kind: KindSMS, Attrs: []Attr{
		{"protocol", "0"},
		{"address", m.Address},
		{"date", strconv.FormatInt(m.Date, 10)},
		{"type", strconv.Itoa(m.Type)},
		{"subject", def(m.Subject, "null")},
		{"body", m.Body},
		{"toa", "null"},
		{"sc_toa", "null"},
		{"service_center", "null"},
		{"read", read},
		{"status", "-1"},
		{"locked", "0"},
		{"date_sent", strconv.FormatInt(m.DateSent, 10)},
		{"readable_date", time.UnixMilli(m.Date).Format("Jan 2, 2006 3:04:05 PM")},
		{"contact_name", def(m.ContactName, "(Unknown)")},
	}}
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
	msgs, err := parseSMSFile(r)
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
		k := m.data.key()
		if seen[k] {
			res.Duplicates++
			continue
		}
		seen[k] = true
		data, err := m.data.encode()
		if err != nil {
			return ImportResult{}, err
		}
		if len(data) > api.MaxRecordBytes && m.data.Kind == KindMMS {
			res.MediaDropped += dropMedia(&m.data)
			if data, err = m.data.encode(); err != nil {
				return ImportResult{}, err
			}
		}
		if len(data) > api.MaxRecordBytes {
			return ImportResult{}, candor.Errorf(candor.TooLarge, "line %d of the SMS file: the message is larger than %d bytes", m.line, api.MaxRecordBytes)
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
		if isTextPart(p) {
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

// parsedSMS is one message read from a file, with the line it starts on.
type parsedSMS struct {
	data smsData
	line int
}

var errSMSEncoding = errors.New("not UTF-8")

// parseSMSFile reads a whole "SMS Backup & Restore" file.
func parseSMSFile(r io.Reader) ([]parsedSMS, error) {
	d := xml.NewDecoder(newCharRefFixer(r))
	d.Strict = true
	d.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		switch strings.ToLower(label) {
		case "utf8", "us-ascii", "ascii":
			return in, nil
		}
		return nil, errSMSEncoding
	}
	var (
		msgs  []parsedSMS
		stack []string // open elements
		done  bool     // </smses> seen
	)
	bad := func(line int, format string, args ...any) error {
		return candor.Errorf(candor.Invalid, "line %d of the SMS file: "+format, append([]any{line}, args...)...)
	}
	for {
		line, _ := d.InputPos()
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, smsSyntaxError(err, line)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := xmlName(t.Name)
			parent := ""
			if len(stack) > 0 {
				parent = stack[len(stack)-1]
			}
			attrs, err := attrsOf(t, parent == "parts")
			if err != nil {
				var ce *candor.Error
				if errors.As(err, &ce) {
					return nil, candor.Errorf(ce.Kind, "line %d of the SMS file: %s", line, ce.Message)
				}
				return nil, bad(line, "%v", err)
			}
			switch {
			case parent == "" && !done && name == "smses":
			case parent == "smses" && (name == KindSMS || name == KindMMS):
				if len(msgs) == MaxSMSPerFile {
					return nil, candor.Errorf(candor.TooLarge, "line %d of the SMS file: a file may hold at most %d messages", line, MaxSMSPerFile)
				}
				msgs = append(msgs, parsedSMS{data: smsData{Kind: name, Attrs: attrs}, line: line})
			case parent == KindMMS && (name == "parts" || name == "addrs"):
			case parent == "parts" && name == "part":
				m := &msgs[len(msgs)-1].data
				m.Parts = append(m.Parts, attrs)
			case parent == "addrs" && name == "addr":
				m := &msgs[len(msgs)-1].data
				m.Addrs = append(m.Addrs, attrs)
			case parent == "" && done:
				return nil, bad(line, "an element after </smses>")
			case parent == "":
				return nil, bad(line, "the file does not start with <smses>: this is not an SMS Backup & Restore file")
			default:
				return nil, bad(line, "unexpected element <%s> in <%s>", safeName(name), parent)
			}
			stack = append(stack, name)
		case xml.EndElement:
			name := xmlName(t.Name)
			if len(stack) == 0 || stack[len(stack)-1] != name {
				return nil, bad(line, "</%s> does not close the open element", safeName(name))
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				done = true
			}
		case xml.CharData:
			if text := bytes.TrimLeft(t, " \t\r\n"); len(text) != 0 {
				return nil, bad(line+bytes.Count(t[:len(t)-len(text)], []byte("\n")), "unexpected text outside any attribute")
			}
		}
	}
	line, _ := d.InputPos()
	if len(stack) > 0 {
		return nil, bad(line, "the file ends before </%s>", stack[len(stack)-1])
	}
	if !done {
		return nil, candor.E(candor.Invalid, "the SMS file has no <smses> element: this is not an SMS Backup & Restore file")
	}
	for _, m := range msgs {
		if _, err := strconv.ParseUint(m.data.attr("date"), 10, 63); err != nil {
			return nil, bad(m.line, "the message has no valid date (milliseconds since 1970)")
		}
	}
	return msgs, nil
}

// smsSyntaxError turns a decoder error into a message that names the line
// (where the token in error starts) and holds none of the file's text.
func smsSyntaxError(err error, line int) error {
	var se *xml.SyntaxError
	if !errors.As(err, &se) {
		if errors.Is(err, errSMSEncoding) {
			return candor.E(candor.Invalid, "the SMS file must be UTF-8")
		}
		return candor.Wrap(candor.Invalid, "cannot read the SMS file", err)
	}
	msg := se.Msg
	switch {
	case strings.HasPrefix(msg, "invalid character entity"):
		msg = "an & that starts no valid character reference (write & as &amp;)"
	case strings.HasPrefix(msg, "illegal character code"), strings.HasPrefix(msg, "invalid UTF-8"):
	case strings.Contains(msg, "EOF"):
		msg = "the file ends in the middle of an element"
	default:
		msg = "malformed XML (" + msg + ")"
	}
	if len(msg) > 120 {
		msg = msg[:120]
	}
	// line is where the token in error starts: the element, rather than
	// where the decoder noticed (the end of the file, for an unclosed
	// quote).
	return candor.Errorf(candor.Invalid, "line %d of the SMS file: %s", line, msg)
}

func xmlName(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}

// safeName is an element name fit for an error message.
func safeName(s string) string {
	if len(s) > 40 || !validName(s) {
		return "?"
	}
	return s
}

// attrsOf returns an element's attributes; media data (the data attribute
// of an MMS part) may exceed MaxSMSText.
func attrsOf(t xml.StartElement, part bool) ([]Attr, error) {
	attrs := make([]Attr, 0, len(t.Attr))
	for _, a := range t.Attr {
		name := xmlName(a.Name)
		if len(a.Value) > MaxSMSText && !(part && name == "data") {
			return nil, candor.Errorf(candor.TooLarge, "a value is larger than %d KiB", MaxSMSText>>10)
		}
		attrs = append(attrs, Attr{name, a.Value})
	}
	if err := checkAttrs(attrs); err != nil {
		return nil, err
	}
	return attrs, nil
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
	ds := make([]*smsData, 0, len(es))
	for i := range es {
		if es[i].ok {
			ds = append(ds, &es[i].data)
		}
	}
	return writeSMSFile(w, ds)
}

func writeSMSFile(w io.Writer, ds []*smsData) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString("<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n")
	fmt.Fprintf(bw, "<smses count=\"%d\">\n", len(ds))
	for _, d := range ds {
		if d.Kind == KindSMS {
			writeElement(bw, "  ", "sms", d.Attrs, true)
			continue
		}
		writeElement(bw, "  ", "mms", d.Attrs, false)
		bw.WriteString("    <parts>\n")
		for _, p := range d.Parts {
			writeElement(bw, "      ", "part", p, true)
		}
		bw.WriteString("    </parts>\n    <addrs>\n")
		for _, a := range d.Addrs {
			writeElement(bw, "      ", "addr", a, true)
		}
		bw.WriteString("    </addrs>\n  </mms>\n")
	}
	bw.WriteString("</smses>\n")
	if err := bw.Flush(); err != nil {
		return candor.Wrap(candor.Internal, "cannot write the SMS file", err)
	}
	return nil
}

func writeElement(w *bufio.Writer, indent, name string, attrs []Attr, empty bool) {
	w.WriteString(indent)
	w.WriteByte('<')
	w.WriteString(name)
	for _, a := range attrs {
		w.WriteByte(' ')
		w.WriteString(a.Name)
		w.WriteString(`="`)
		writeAttrValue(w, a.Value)
		w.WriteByte('"')
	}
	if empty {
		w.WriteString(" />\n")
	} else {
		w.WriteString(">\n")
	}
}

// writeAttrValue writes s escaped for a double-quoted attribute value.
func writeAttrValue(w *bufio.Writer, s string) {
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		switch {
		case r == '&':
			w.WriteString("&amp;")
		case r == '<':
			w.WriteString("&lt;")
		case r == '>':
			w.WriteString("&gt;")
		case r == '"':
			w.WriteString("&quot;")
		case r == '\n':
			w.WriteString("&#10;")
		case r == '\r':
			w.WriteString("&#13;")
		case r == '\t':
			w.WriteString("&#9;")
		case r == utf8.RuneError && size == 1, !xmlChar(r):
			w.WriteString("\uFFFD")
		default:
			w.WriteString(s[:size])
		}
		s = s[size:]
	}
}

// xmlChar reports whether XML 1.0 can hold r.
func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// charRefFixer passes an XML stream through, rewriting the numeric
// character references that XML 1.0 does not allow but the app writes: a
// high surrogate reference followed by a low one (&#55357;&#56832;) becomes
// a reference to the character the pair encodes (&#128512;); a lone
// surrogate or a control character other than tab, newline and carriage
// return becomes &#65533;. CDATA sections are left alone, and no line break
// is added or removed, so the decoder's line numbers stay those of the
// file. A leading UTF-8 byte order mark is dropped.
type charRefFixer struct {
	r     *bufio.Reader
	out   []byte
	cdata bool
	err   error
}

const fixerBuffer = 64 << 10

func newCharRefFixer(r io.Reader) *charRefFixer {
	br := bufio.NewReaderSize(r, fixerBuffer)
	if b, _ := br.Peek(3); bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
	}
	return &charRefFixer{r: br}
}

func (f *charRefFixer) Read(p []byte) (int, error) {
	for len(f.out) == 0 {
		if f.err != nil {
			return 0, f.err
		}
		f.fill()
	}
	n := copy(p, f.out)
	f.out = f.out[n:]
	return n, nil
}

var cdataOpen = []byte("<![CDATA[")

func (f *charRefFixer) fill() {
	buf, err := f.r.Peek(fixerBuffer)
	last := err != nil // nothing follows buf
	out := f.out[:0]
	i := 0
scan:
	for i < len(buf) {
		if f.cdata {
			j := bytes.Index(buf[i:], []byte("]]>"))
			if j < 0 {
				end := len(buf)
				if !last {
					end = max(i, len(buf)-2) // "]]>" may straddle the buffer's end
				}
				out = append(out, buf[i:end]...)
				i = end
				break
			}
			out = append(out, buf[i:i+j+3]...)
			i += j + 3
			f.cdata = false
			continue
		}
		j := bytes.IndexAny(buf[i:], "&<")
		if j < 0 {
			out = append(out, buf[i:]...)
			i = len(buf)
			break
		}
		out = append(out, buf[i:i+j]...)
		i += j
		rest := buf[i:]
		if rest[0] == '<' {
			if len(rest) < len(cdataOpen) && !last && bytes.HasPrefix(cdataOpen, rest) {
				break scan // need more bytes
			}
			if bytes.HasPrefix(rest, cdataOpen) {
				out = append(out, cdataOpen...)
				i += len(cdataOpen)
				f.cdata = true
				continue
			}
			out = append(out, '<')
			i++
			continue
		}
		repl, n, more := fixRef(rest, last)
		switch {
		case more:
			break scan
		case n == 0:
			out = append(out, '&')
			i++
		default:
			out = append(out, repl...)
			i += n
		}
	}
	f.r.Discard(i)
	f.out = out
	if last && i == len(buf) {
		if err == nil {
			err = io.EOF
		}
		f.err = err
	}
}

// parseRef reads a numeric character reference at the start of b. It
// returns the code point and the reference's length; n is 0 if b does not
// start with one (or one this fixer leaves to the decoder), and more is
// set if b ends before it can tell.
func parseRef(b []byte, last bool) (v int64, n int, more bool) {
	const maxDigits = 10
	if len(b) == 0 {
		return 0, 0, !last
	}
	if b[0] != '&' || len(b) >= 2 && b[1] != '#' {
		return 0, 0, false
	}
	if len(b) < 3 {
		return 0, 0, !last
	}
	i, base := 2, int64(10)
	if b[2] == 'x' {
		i, base = 3, 16
	}
	start := i
	for ; i < len(b); i++ {
		c := b[i]
		var d int64
		switch {
		case c >= '0' && c <= '9':
			d = int64(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = int64(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			d = int64(c-'A') + 10
		case c == ';' && i > start:
			return v, i + 1, false
		default:
			return 0, 0, false
		}
		if i-start >= maxDigits {
			return 0, 0, false
		}
		v = v*base + d
	}
	return 0, 0, !last
}

// fixRef rewrites the character reference at the start of b if it needs
// it: repl replaces b[:n]. n is 0 if nothing is to be rewritten.
func fixRef(b []byte, last bool) (repl []byte, n int, more bool) {
	v, n, more := parseRef(b, last)
	if more || n == 0 {
		return nil, 0, more
	}
	switch {
	case v >= 0xD800 && v <= 0xDBFF:
		v2, n2, more := parseRef(b[n:], last)
		if more {
			return nil, 0, true
		}
		if n2 > 0 && v2 >= 0xDC00 && v2 <= 0xDFFF {
			r := 0x10000 + (v-0xD800)<<10 + (v2 - 0xDC00)
			return fmt.Appendf(nil, "&#%d;", r), n + n2, false
		}
		return []byte("&#65533;"), n, false
	case v >= 0xDC00 && v <= 0xDFFF, v <= 0x10FFFF && !xmlChar(rune(v)):
		return []byte("&#65533;"), n, false
	}
	return nil, 0, false
}
