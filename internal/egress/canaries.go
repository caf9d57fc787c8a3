package egress

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"strings"
	"unicode/utf8"
)

// seed is the synthetic personal data of one scripted life: fresh random
// values for every run, so that a match is never a coincidence and no run
// can be passed by remembering an earlier one.
type seed struct {
	imeiA, imeiB, imeiC       string // phone A, phone B (a friend), phone C (A's new phone)
	phoneA, phoneB            string
	emailA, emailB            string
	password                  string
	contactName, contactPhone string
	contactEmail              string
	friendName                string // B, in A's contacts, with phoneB
	noteTitle, noteText       string
	smsText, smsFrom          string
	photoMarker               string
	photo                     []byte
	message                   string
	lateName, latePhone       string // added after consent is withdrawn
	lateNote                  string
}

func newSeed() seed {
	s := seed{
		imeiA:        "35" + digits(13),
		imeiB:        "35" + digits(13),
		imeiC:        "35" + digits(13),
		phoneA:       "+919" + digits(9),
		phoneB:       "+919" + digits(9),
		emailA:       "owner." + word(8) + "@example.invalid",
		emailB:       "friend." + word(8) + "@example.invalid",
		password:     "Orchid-" + word(10) + "-7731!",
		contactName:  "Quill" + title(6) + " Marrow" + word(6),
		contactPhone: "+918" + digits(9),
		contactEmail: "Wren." + title(7) + "@Example.invalid",
		friendName:   "Tamsin" + title(6) + " Ferrow" + word(6),
		noteTitle:    "Ledger " + title(8),
		noteText:     "Marmalade harbour secret " + word(12),
		smsText:      "Saffron kettle " + word(12) + " ना भूलें",
		smsFrom:      "+917" + digits(9),
		photoMarker:  "PHOTO-" + strings.ToUpper(word(16)),
		message:      "Lantern over the harbour " + word(12),
		lateName:     "Late" + title(6) + " Contact" + word(6),
		latePhone:    "+916" + digits(9),
		lateNote:     "Withdrawn note " + word(12),
	}
	s.photo = append(append([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), s.photoMarker+" "+word(24)...), 0xff, 0xd9)
	return s
}

// canaries names every seeded item, and, as "ITEM (part)", each long
// random word of a text item: a preview cut short, a name with its parts
// swapped (a vCard's N field) or a text re-flowed still gives the item away.
func (s seed) canaries() []Canary {
	var out []Canary
	for _, c := range s.items() {
		out = append(out, c)
		if c.Kind != Text {
			continue
		}
		for _, w := range strings.Fields(string(c.Value)) {
			if utf8.RuneCountInString(w) >= minPart && w != string(c.Value) {
				out = append(out, Canary{c.Item + " (part)", []byte(w), Text})
			}
		}
	}
	return out
}

// minPart is the shortest word searched for on its own: the random words
// are 11 letters or more, the fixed ones ("Marmalade") fewer.
const minPart = 10

func (s seed) items() []Canary {
	return []Canary{
		{"IMEI", []byte(s.imeiA), Text},
		{"phone number", []byte(s.phoneA), Phone},
		{"account email", []byte(s.emailA), Email},
		{"password", []byte(s.password), Text},
		{"second phone IMEI", []byte(s.imeiB), Text},
		{"second phone number", []byte(s.phoneB), Phone},
		{"second account email", []byte(s.emailB), Email},
		{"new phone IMEI", []byte(s.imeiC), Text},
		{"contact name", []byte(s.contactName), Text},
		{"contact phone", []byte(s.contactPhone), Phone},
		{"contact email", []byte(s.contactEmail), Email},
		{"contact name (second phone)", []byte(s.friendName), Text},
		{"note title", []byte(s.noteTitle), Text},
		{"note text", []byte(s.noteText), Text},
		{"SMS text", []byte(s.smsText), Text},
		{"SMS sender", []byte(s.smsFrom), Phone},
		{"photo", s.photo, Binary},
		{"photo marker", []byte(s.photoMarker), Text},
		{"message text", []byte(s.message), Text},
		{"late contact name", []byte(s.lateName), Text},
		{"late contact phone", []byte(s.latePhone), Phone},
		{"late note text", []byte(s.lateNote), Text},
	}
}

func (s seed) vcard() string {
	card := func(name, phone, email string) string {
		c := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:" + name + "\r\nTEL;TYPE=CELL:" + phone + "\r\n"
		if email != "" {
			c += "EMAIL:" + email + "\r\n"
		}
		return c + "END:VCARD\r\n"
	}
	return card(s.contactName, s.contactPhone, s.contactEmail) + card(s.friendName, s.phoneB, "")
}

func (s seed) smsXML() string {
	return fmt.Sprintf(`<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>
<smses count="1">
  <sms protocol="0" address="%s" date="1700000000000" type="1" subject="null" body="%s" toa="null" sc_toa="null" service_center="null" read="1" status="-1" locked="0" date_sent="0" readable_date="" contact_name="(Unknown)" />
</smses>
`, s.smsFrom, s.smsText)
}

const letters = "abcdefghijklmnopqrstuvwxyz"

func pick(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			panic(err)
		}
		b[i] = alphabet[k.Int64()]
	}
	return string(b)
}

func digits(n int) string { return pick("0123456789", n) }
func word(n int) string   { return pick(letters, n) }
func title(n int) string  { return strings.ToUpper(pick(letters, 1)) + pick(letters, n-1) }
