package vcard21

import (
	"bytes"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// cards cuts a file of cards at their END:VCARD lines.
func cards(t testing.TB, file string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for len(data) > 0 {
		i := bytes.Index(data, []byte("END:VCARD\r\n"))
		if i < 0 {
			t.Fatalf("%s: a card has no END:VCARD", file)
		}
		out = append(out, data[:i+len("END:VCARD\r\n")])
		data = data[i+len("END:VCARD\r\n"):]
	}
	return out
}

func TestDecodeAndroid(t *testing.T) {
	want := []Card{
		{Name: "अनन्या शर्मा", Phones: []string{"098765 43210", "011-2345-6789", "+91 (22) 2345 6789"}, Emails: []string{"ananya@example.invalid", "a.sharma@work.example.invalid"}},
		{Name: "Jörg Weiß", Phones: []string{"+49 1234 56789", "+49 (30) 901820"}, Emails: []string{"joerg.weiss@example.invalid"}},
		{Name: "Ñuño Peña", Phones: []string{"+1-919-676-9515", "+1 (919) 555-0134", "12345"}, Emails: []string{"nuno@example.invalid"}},
		{Name: "Vikram Rao", Phones: []string{"98765 01234", "+919876501234", "080 2345 6789"}, Emails: []string{"vikram.rao@example.invalid"}},
	}
	checkFile(t, "contacts-android-2.1.vcf", want)
}

func TestDecodeOutlook(t *testing.T) {
	want := []Card{
		{Name: "Jürgen Müller", Phones: []string{"+49 30 1234567", "+49 (89) 7654321", "+49 171 1234567"}, Emails: []string{"juergen.mueller@example.invalid", "info@baeckerei.example.invalid"}},
		{Name: "François-René Lefèvre, Société Générale de Dépannage et d'Électricité", Phones: []string{"+33 1 42 68 53 00", "+33 6 12 34 56 78"}, Emails: []string{"fr.lefevre@example.invalid", "francois-rene@example.invalid", "contact@depannage.example.invalid"}},
		{Name: "प्रियंका गुप्ता (Priyanka Gupta)", Phones: []string{"+91 80 2345 6789", "+91-98450-12345", "(080) 2987 6543"}, Emails: []string{"priyanka.gupta@example.invalid", "p.gupta@work.example.invalid"}},
	}
	checkFile(t, "contacts-outlook-2.1.vcf", want)
}

func checkFile(t *testing.T, file string, want []Card) {
	t.Helper()
	cs := cards(t, file)
	if len(cs) != len(want) {
		t.Fatalf("%s has %d cards, want %d", file, len(cs), len(want))
	}
	for i, card := range cs {
		if v := Version(card); v != "2.1" {
			t.Errorf("card %d: version %q", i+1, v)
		}
		got, err := Decode(card)
		if err != nil {
			t.Errorf("card %d: %v", i+1, err)
			continue
		}
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("card %d =\n%+v\nwant\n%+v", i+1, got, want[i])
		}
	}
}

func TestDecode(t *testing.T) {
	const b, e = "BEGIN:VCARD\r\nVERSION:2.1\r\n", "END:VCARD\r\n"
	for name, tc := range map[string]struct {
		card string
		want Card
	}{
		"name from N":            {b + "N:Okafor;Chidi;Emeka;Dr.;Jr.\r\n" + e, Card{Name: "Dr. Chidi Emeka Okafor Jr."}},
		"empty FN, name from N":  {b + "FN:\r\nN:Okafor;Chidi\r\n" + e, Card{Name: "Chidi Okafor"}},
		"escaped semicolon in N": {b + "N:Smith\\; Jones;Ann;;;\r\n" + e, Card{Name: "Ann Smith; Jones"}},
		"first FN wins":          {b + "FN:One\r\nFN:Two\r\n" + e, Card{Name: "One"}},
		"group and lower case": {b + "item1.tel;cell:+44 20 7946 0958\r\nitem2.Email;Internet;Pref:a@example.invalid\r\n" + e,
			Card{Phones: []string{"+44 20 7946 0958"}, Emails: []string{"a@example.invalid"}}},
		"TYPE= as in 3.0":           {b + "TEL;TYPE=CELL,VOICE:+1 555 0100\r\n" + e, Card{Phones: []string{"+1 555 0100"}}},
		"bare quoted-printable":     {b + "FN;QUOTED-PRINTABLE;CHARSET=UTF-8:=C3=91=20Ana\r\n" + e, Card{Name: "Ñ Ana"}},
		"soft break before a space": {b + "FN;ENCODING=QUOTED-PRINTABLE:Hans=\r\n M=C3=BCller\r\n" + e, Card{Name: "Hans Müller"}},
		"soft break with LF only":   {"BEGIN:VCARD\nVERSION:2.1\nFN;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:J=C3=\n=B6rg\nEND:VCARD\n", Card{Name: "Jörg"}},
		"windows-1252 raw":          {b + "FN;CHARSET=windows-1252:J\xfcrgen \x80\r\n" + e, Card{Name: "Jürgen €"}},
		"shift_jis":                 {b + "FN;CHARSET=SHIFT_JIS:\x93\xfa\x96\x7b\r\n" + e, Card{Name: "日本"}},
		"folded value":              {b + "EMAIL;INTERNET:long.address@exa\r\n mple.invalid\r\n" + e, Card{Emails: []string{"long.address@example.invalid"}}},
		"newline in FN":             {b + "FN;ENCODING=QUOTED-PRINTABLE:Ana=0D=0ALopez\r\n" + e, Card{Name: "Ana Lopez"}},
		"agent card is not the card's": {b + "FN:Boss\r\nAGENT:\r\nBEGIN:VCARD\r\nVERSION:2.1\r\nFN:Assistant\r\nTEL:+1 555 0199\r\nEND:VCARD\r\nTEL:+1 555 0100\r\n" + e,
			Card{Name: "Boss", Phones: []string{"+1 555 0100"}}},
		"binary photo skipped": {b + "PHOTO;ENCODING=BASE64;JPEG:/9j/\xff\xfe\r\n\r\nFN:P\r\n" + e, Card{Name: "P"}},
		"empty values skipped": {b + "TEL;CELL:  \r\nEMAIL:\r\n" + e, Card{}},
	} {
		got, err := Decode([]byte(tc.card))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if tc.want.Phones == nil {
			tc.want.Phones = []string{}
		}
		if tc.want.Emails == nil {
			tc.want.Emails = []string{}
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, want %+v", name, got, tc.want)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	const b, e = "BEGIN:VCARD\r\nVERSION:2.1\r\n", "END:VCARD\r\n"
	for name, card := range map[string]string{
		"no end":                b + "FN:Secretname\r\n",
		"no begin":              "VERSION:2.1\r\nFN:Secretname\r\n" + e,
		"after end":             b + e + "FN:Secretname\r\n",
		"no colon":              b + "Secretname\r\n" + e,
		"no name":               b + ";CELL:Secretname\r\n" + e,
		"raw bytes, no charset": b + "FN:Secretn\xe4me\r\n" + e,
		"qp to bad utf-8":       b + "FN;ENCODING=QUOTED-PRINTABLE:Secretn=E4me\r\n" + e,
		"bad utf-8 charset":     b + "FN;CHARSET=UTF-8:Secretn\xe4me\r\n" + e,
		"unknown charset":       b + "FN;CHARSET=X-SECRET:Secretname\r\n" + e,
		"unknown encoding":      b + "FN;ENCODING=X-ROT13:Secretname\r\n" + e,
		"bad quoted-printable":  b + "FN;ENCODING=QUOTED-PRINTABLE:Secretname=\xff\r\n" + e,
	} {
		_, err := Decode([]byte(card))
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), "Secret") {
			t.Errorf("%s: the error shows content: %v", name, err)
		}
	}
}

func TestVersion(t *testing.T) {
	for card, want := range map[string]string{
		"BEGIN:VCARD\r\nVERSION:2.1\r\nEND:VCARD\r\n":                                               "2.1",
		"BEGIN:VCARD\nversion: 3.0 \nEND:VCARD\n":                                                   "3.0",
		"BEGIN:VCARD\r\nFN:A\r\nAGENT:\r\nBEGIN:VCARD\r\nVERSION:2.1\r\nEND:VCARD\r\nEND:VCARD\r\n": "",
		"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:A\r\n":                                                    "4.0",
		"BEGIN:VCARD\r\nFN\r\nVERSION:2.1\r\nEND:VCARD\r\n":                                         "",
	} {
		if got := Version([]byte(card)); got != want {
			t.Errorf("Version(%q) = %q, want %q", card, got, want)
		}
	}
}

// encode writes a card the way Android does: every field quoted-printable
// in UTF-8, with soft line breaks.
func encode(c Card) []byte {
	var b bytes.Buffer
	b.WriteString("BEGIN:VCARD\r\nVERSION:2.1\r\n")
	qp := func(s string) string {
		var q bytes.Buffer
		w := quotedprintable.NewWriter(&q)
		w.Binary = true
		w.Write([]byte(strings.NewReplacer(";", `\;`, ",", `\,`).Replace(s)))
		w.Close()
		return q.String()
	}
	b.WriteString("FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:" + qp(c.Name) + "\r\n")
	for _, p := range c.Phones {
		b.WriteString("TEL;CELL;ENCODING=QUOTED-PRINTABLE:" + qp(p) + "\r\n")
	}
	for _, e := range c.Emails {
		b.WriteString("EMAIL;PREF;INTERNET;QUOTED-PRINTABLE:" + qp(e) + "\r\n")
	}
	b.WriteString("END:VCARD\r\n")
	return b.Bytes()
}

func FuzzRoundTrip(f *testing.F) {
	f.Add("अनन्या शर्मा", "098765 43210", "ananya@example.invalid")
	f.Add("Jörg Weiß; \"Jo\", =C3=91", "+49 1234 56789", "j@example.invalid")
	f.Add("a\r\nb", "=", "END:VCARD")
	f.Fuzz(func(t *testing.T, name, phone, email string) {
		if !utf8.ValidString(name) || !utf8.ValidString(phone) || !utf8.ValidString(email) || strings.Contains(name+phone+email, `\`) {
			t.Skip()
		}
		c := Card{Name: name, Phones: []string{phone}, Emails: []string{email}}
		got, err := Decode(encode(c))
		if err != nil {
			t.Fatalf("an encoded card does not decode: %v", err)
		}
		want := Card{Name: oneLine(name), Phones: []string{}, Emails: []string{}}
		if p := strings.TrimSpace(phone); p != "" {
			want.Phones = append(want.Phones, p)
		}
		if e := strings.TrimSpace(email); e != "" {
			want.Emails = append(want.Emails, e)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%+v, want %+v", got, want)
		}
	})
}

func FuzzDecode(f *testing.F) {
	for _, file := range []string{"contacts-android-2.1.vcf", "contacts-outlook-2.1.vcf"} {
		for _, c := range cards(f, file) {
			f.Add(c)
		}
	}
	f.Add([]byte("BEGIN:VCARD\r\nVERSION:2.1\r\nFN;QUOTED-PRINTABLE:=\r\nEND:VCARD\r\n"))
	f.Add([]byte("BEGIN:VCARD\r\nAGENT:\r\nBEGIN:VCARD\r\nEND:VCARD\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		Version(data)
		c, err := Decode(data)
		if err != nil {
			return
		}
		if strings.ContainsAny(c.Name, "\r\n") || !utf8.ValidString(c.Name) {
			t.Fatalf("name %q is not one line of text", c.Name)
		}
		for _, s := range append(c.Phones, c.Emails...) {
			if s == "" || s != strings.TrimSpace(s) || !utf8.ValidString(s) {
				t.Fatalf("value %q", s)
			}
		}
		again, err := Decode(data)
		if err != nil || !reflect.DeepEqual(c, again) {
			t.Fatal("decoding is not deterministic")
		}
	})
}
