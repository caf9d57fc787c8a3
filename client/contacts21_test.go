package client

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// The address books in testdata are written as Android's contacts app and
// Outlook export vCard 2.1: CRLF, bare TYPE parameters, quoted-printable
// UTF-8 names (Hindi, German, Spanish) with soft line breaks, raw
// windows-1252 and quoted-printable ISO-8859-1 text, a base64 photo, several
// numbers and emails per card.
var (
	android21 = []Contact{
		{Name: "अनन्या शर्मा", Phones: []string{"098765 43210", "011-2345-6789", "+91 (22) 2345 6789"}, Emails: []string{"ananya@example.invalid", "a.sharma@work.example.invalid"}},
		{Name: "Jörg Weiß", Phones: []string{"+49 1234 56789", "+49 (30) 901820"}, Emails: []string{"joerg.weiss@example.invalid"}},
		{Name: "Ñuño Peña", Phones: []string{"+1-919-676-9515", "+1 (919) 555-0134", "12345"}, Emails: []string{"nuno@example.invalid"}},
		{Name: "Vikram Rao", Phones: []string{"98765 01234", "+919876501234", "080 2345 6789"}, Emails: []string{"vikram.rao@example.invalid"}},
	}
	outlook21 = []Contact{
		{Name: "Jürgen Müller", Phones: []string{"+49 30 1234567", "+49 (89) 7654321", "+49 171 1234567"}, Emails: []string{"juergen.mueller@example.invalid", "info@baeckerei.example.invalid"}},
		{Name: "François-René Lefèvre, Société Générale de Dépannage et d'Électricité", Phones: []string{"+33 1 42 68 53 00", "+33 6 12 34 56 78"}, Emails: []string{"fr.lefevre@example.invalid", "francois-rene@example.invalid", "contact@depannage.example.invalid"}},
		{Name: "प्रियंका गुप्ता (Priyanka Gupta)", Phones: []string{"+91 80 2345 6789", "+91-98450-12345", "(080) 2987 6543"}, Emails: []string{"priyanka.gupta@example.invalid", "p.gupta@work.example.invalid"}},
	}
)

// addressBook21 is both test files, one after the other.
func addressBook21(t *testing.T) []byte {
	t.Helper()
	var b []byte
	for _, f := range []string{"contacts-android-2.1.vcf", "contacts-outlook-2.1.vcf"} {
		data, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, data...)
	}
	return b
}

// checkContacts compares what a phone shows with want, and each
// contact's card with the file's bytes.
func checkContacts(t *testing.T, got, want []Contact, file []byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d contacts, want %d", len(got), len(want))
	}
	var cards []byte
	for i := range got {
		w := want[i]
		w.ID, w.VCard = got[i].ID, got[i].VCard
		if !reflect.DeepEqual(got[i], w) {
			t.Errorf("contact %d =\n%+v\nwant\n%+v", i+1, got[i], w)
		}
		cards = append(cards, got[i].VCard...)
	}
	if !bytes.Equal(cards, file) {
		t.Error("the contacts' cards are not the file's bytes")
	}
}

func TestImportVCard21(t *testing.T) {
	c := newLocalPhone(t)
	file := addressBook21(t)
	if n, err := c.Contacts().ImportVCard(bytes.NewReader(file)); err != nil || n != 7 {
		t.Fatalf("import: %d, %v", n, err)
	}
	list := must[[]Contact](t)(c.Contacts().List())
	checkContacts(t, list, append(append([]Contact{}, android21...), outlook21...), file)
	var out bytes.Buffer
	if err := c.Contacts().Export(&out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), file) {
		t.Error("the export differs from the imported file")
	}
	// A 2.1 card may be stored in its legacy character set; a 3.0 one
	// may not.
	if !bytes.Contains(file, []byte("J\xfcrgen")) {
		t.Fatal("the Outlook file lost its windows-1252 bytes")
	}
}

func TestImportVCard21Rejects(t *testing.T) {
	const b, e = "BEGIN:VCARD\r\nVERSION:2.1\r\n", "END:VCARD\r\n"
	for name, card := range map[string]string{
		"raw latin-1, no charset": b + "FN:Saffron-k\xe4ttle\r\n" + e,
		"unknown charset":         b + "FN;CHARSET=X-KETTLE:Saffron-kettle\r\n" + e,
		"no colon":                b + "Saffron-kettle\r\n" + e,
		"3.0 in latin-1":          "BEGIN:VCARD\r\nVERSION:3.0\r\nFN;CHARSET=ISO-8859-1:Saffron-k\xe4ttle\r\nEND:VCARD\r\n",
	} {
		c := newLocalPhone(t)
		_, err := c.Contacts().ImportVCard(strings.NewReader(card))
		if !candor.Is(err, candor.Invalid) {
			t.Errorf("%s: %v, want Invalid", name, err)
			continue
		}
		if strings.Contains(err.Error(), "Saffron") || strings.Contains(err.Error(), "KETTLE") {
			t.Errorf("%s: the error shows content: %v", name, err)
		}
		if name != "3.0 in latin-1" && !strings.Contains(err.Error(), "card 1 of the vCard file is malformed: its line 3 ") {
			t.Errorf("%s: the error does not say where: %v", name, err)
		}
	}
}

// TestVCard21SyncTwoPhones: phone A imports the Android and Outlook 2.1
// address books and syncs through a real server; phone B on the same
// account shows every name, number and email, and exports exactly the
// imported bytes.
func TestVCard21SyncTwoPhones(t *testing.T) {
	env := servertest.Start(t)
	a := newPhone(t, env, canaryIMEI)
	file := addressBook21(t)
	must[int](t)(a.Contacts().ImportVCard(bytes.NewReader(file)))
	must[Session](t)(a.Signup(t.Context(), canaryEmail, canaryPassword))
	a.consent(t, candor.Contacts, true)
	if res := a.sync(t, candor.Contacts); len(res) != 1 || res[0].Pushed != 7 {
		t.Fatalf("A's sync = %+v", res)
	}

	b := newPhone(t, env, "356938035643817")
	must[Session](t)(b.Login(t.Context(), canaryEmail, canaryPassword))
	if res := b.sync(t, candor.Contacts); len(res) != 1 || res[0].Pulled != 7 {
		t.Fatalf("B's sync = %+v", res)
	}
	list := must[[]Contact](t)(b.Contacts().List())
	checkContacts(t, list, append(append([]Contact{}, android21...), outlook21...), file)
	var out bytes.Buffer
	if err := b.Contacts().Export(&out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), file) {
		t.Error("B's export differs from the file A imported")
	}
	// The server holds them sealed: no name, number or email in the clear.
	scanFolder(t, env.Data, "Müller", "J\xfcrgen", "अनन्या", "=E0=A4=85", "98765 43210", "ananya@example.invalid", "fr.lefevre@example.invalid")
}

func TestNormalizeNumber(t *testing.T) {
	for _, tc := range []struct {
		number, region, want string
	}{
		// The three numbers of the issue.
		{"+1-919-676-9515", "IN", "+19196769515"},
		{"+49 1234 56789", "IN", "+49123456789"},
		{"098765 43210", "IN", "+919876543210"},
		// National forms, read in the phone's country.
		{"98765 43210", "IN", "+919876543210"},
		{"011-2345-6789", "IN", "+911123456789"},
		{"(080) 2987 6543", "IN", "+918029876543"},
		{"(030) 1234567", "DE", "+49301234567"},
		{"0171 1234567", "DE", "+491711234567"},
		{"919-676-9515", "US", "+19196769515"},
		{"(919) 676.9515", "US", "+19196769515"},
		{"020 7946 0958", "GB", "+442079460958"},
		// International prefixes, E.164, spaces, dashes, parentheses.
		{"+919812345678", "DE", "+919812345678"},
		{"+91 (22) 2345 6789", "US", "+912223456789"},
		{"0049 171 1234567", "DE", "+491711234567"},
		{"00 91 98765 43210", "DE", "+919876543210"},
		{"011 44 20 7946 0958", "US", "+442079460958"},
		{"+33 6 12 34 56 78", "IN", "+33612345678"},
		{"tel:+91-98765-43210", "IN", "+919876543210"},
		{"98765 43210 ext. 12", "IN", "+919876543210"},
		{"1-800-FLOWERS", "US", "+18003569377"},
		// Not phone numbers.
		{"12345", "IN", ""},
		{"+91 12", "IN", ""},
		{"", "IN", ""},
		{"Saffron-kettle", "IN", ""},
		{"+999 1234 5678", "IN", ""},
		{"+49 1234 5678 9012 3456 78", "DE", ""},
		{"*123#", "IN", ""},
	} {
		got, ok := normalizeNumber(tc.number, tc.region)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("normalizeNumber(%q, %s) = %q, %v; want %q", tc.number, tc.region, got, ok, tc.want)
		}
	}
}

func TestNumberRegion(t *testing.T) {
	for _, tc := range []struct{ phone, country, want string }{
		{"+919812345678", "IN", "IN"},
		{"+919812345678", "DE", "IN"}, // the number's country: national numbers are dialled from it
		{"+4915112345678", "IN", "DE"},
		{"+19196769515", "US", "US"},
		{"+14165550123", "US", "CA"},
		{"+88213123456", "DE", "DE"}, // a non-geographic number says nothing
	} {
		cfg := testConfig("http://127.0.0.1:1")
		cfg.Phone, cfg.Country = tc.phone, tc.country
		c, err := Init(filepath.Join(t.TempDir(), "phone"), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.numberRegion(); got != tc.want {
			t.Errorf("%s in %s: region %s, want %s", tc.phone, tc.country, got, tc.want)
		}
	}
}

// TestDiscoveryNumbers21 counts the numbers of the 2.1 address books that
// discovery can look up: every one that is a phone number, once.
func TestDiscoveryNumbers21(t *testing.T) {
	c := newLocalPhone(t)
	must[int](t)(c.Contacts().ImportVCard(bytes.NewReader(addressBook21(t))))
	cts := must[[]Contact](t)(c.Contacts().List())
	total, exact := 0, 0
	for _, ct := range cts {
		for _, p := range ct.Phones {
			total++
			if phonePattern.MatchString(p) {
				exact++
			}
		}
	}
	numbers, names := contactNumbers(cts, c.numberRegion())
	want := []string{
		"+919876543210", "+911123456789", "+912223456789", // Ananya
		"+49123456789", "+4930901820", // Jörg
		"+19196769515", "+19195550134", // Ñuño; 12345 is no phone number
		"+919876501234", "+918023456789", // Vikram: two ways of writing one number, and a number of Bangalore
		"+49301234567", "+49897654321", "+491711234567", // Jürgen
		"+33142685300", "+33612345678", // François-René
		"+919845012345", "+918029876543", // Priyanka; her +91 80 2345 6789 is Vikram's fax, written another way
	}
	if !reflect.DeepEqual(numbers, want) {
		t.Errorf("discovery numbers =\n%q\nwant\n%q", numbers, want)
	}
	if names["+918023456789"] != "Vikram Rao" || names["+919876543210"] != "अनन्या शर्मा" {
		t.Errorf("names = %q", names)
	}
	t.Logf("%d numbers in the address books; in E.164 as written: %d; discovery looks up %d distinct numbers", total, exact, len(numbers))
}
