package client

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/candorcloud/candor"
)

func newLocalPhone(t testing.TB) *Client {
	t.Helper()
	c, err := Init(filepath.Join(t.TempDir(), "phone"), testConfig("http://127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const (
	// vCard 3.0 with CRLF, a folded FN, a non-ASCII name and several TEL
	// and EMAIL lines.
	card30 = "BEGIN:VCARD\r\n" +
		"VERSION:3.0\r\n" +
		"FN:अनन्या शर्मा\r\n" +
		"N:शर्मा;अनन्या;;;\r\n" +
		"TEL;TYPE=CELL:+919876543210\r\n" +
		"TEL;TYPE=HOME:+911123456789\r\n" +
		"EMAIL;TYPE=INTERNET:ananya@example.invalid\r\n" +
		"EMAIL;TYPE=WORK:a.sharma@work.example.invalid\r\n" +
		"NOTE:a long note that is folded over two lines because it is longer th\r\n" +
		" an seventy-five octets\r\n" +
		"END:VCARD\r\n"
	// vCard 4.0 with LF only, a tel: URI and a name folded mid-character
	// sequence (folding happens at octets, so in a multi-byte name).
	card40 = "BEGIN:VCARD\n" +
		"VERSION:4.0\n" +
		"UID:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1\n" +
		"FN:王\n" +
		" 芳\n" +
		"N:王;芳;;;\n" +
		"TEL;VALUE=uri;TYPE=\"voice,cell\":tel:+8613912345678\n" +
		"TEL;VALUE=uri;TYPE=work:tel:+861012345678\n" +
		"EMAIL:wang.fang@example.invalid\n" +
		"END:VCARD\n"
	// vCard 3.0 without FN: the name comes from N.
	cardNoFN = "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Okafor;Chidi;;Dr.;\r\nTEL:+2348012345678\r\nEND:VCARD\r\n"
)

func TestImportVCard(t *testing.T) {
	c := newLocalPhone(t)
	file := card30 + "\r\n" + card40 + cardNoFN
	n, err := c.Contacts().ImportVCard(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("imported %d, want 3", n)
	}
	list, err := c.Contacts().List()
	if err != nil {
		t.Fatal(err)
	}
	want := []Contact{
		{Name: "अनन्या शर्मा", Phones: []string{"+919876543210", "+911123456789"}, Emails: []string{"ananya@example.invalid", "a.sharma@work.example.invalid"}, VCard: []byte(card30)},
		{Name: "王芳", Phones: []string{"+8613912345678", "+861012345678"}, Emails: []string{"wang.fang@example.invalid"}, VCard: []byte(card40)},
		{Name: "Dr. Chidi Okafor", Phones: []string{"+2348012345678"}, Emails: []string{}, VCard: []byte(cardNoFN)},
	}
	for i := range want {
		want[i].ID = list[i].ID
		if !candor.ValidID(list[i].ID) || !strings.HasPrefix(list[i].ID, "rec_") {
			t.Errorf("contact %d has id %q", i, list[i].ID)
		}
	}
	if !reflect.DeepEqual(list, want) {
		t.Errorf("contacts =\n%+v\nwant\n%+v", list, want)
	}
	// Original bytes are kept exactly, and survive reopening.
	c2, err := Open(c.Dir())
	if err != nil {
		t.Fatal(err)
	}
	list2, _ := c2.Contacts().List()
	for i := range list2 {
		if !bytes.Equal(list2[i].VCard, []byte([]string{card30, card40, cardNoFN}[i])) {
			t.Errorf("card %d bytes changed after reopening", i)
		}
	}
}

func TestImportVCardRejects(t *testing.T) {
	for name, file := range map[string]string{
		"no end":         "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:X\r\n",
		"end only":       "END:VCARD\r\n",
		"junk outside":   card30 + "hello\r\n",
		"no version":     "BEGIN:VCARD\r\nFN:X\r\nEND:VCARD\r\n",
		"version 5":      "BEGIN:VCARD\r\nVERSION:5.0\r\nFN:X\r\nEND:VCARD\r\n",
		"not utf-8":      "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:\xff\xfe\r\nEND:VCARD\r\n",
		"too large card": "BEGIN:VCARD\r\nVERSION:3.0\r\nNOTE:" + strings.Repeat("x", 1<<20) + "\r\nEND:VCARD\r\n",
	} {
		c := newLocalPhone(t)
		n, err := c.Contacts().ImportVCard(strings.NewReader(card40 + file))
		if err == nil {
			t.Errorf("%s: imported %d cards", name, n)
			continue
		}
		if k := candor.KindOf(err); k != candor.Invalid && k != candor.TooLarge {
			t.Errorf("%s: error kind %v", name, k)
		}
		if strings.Contains(err.Error(), "王") || strings.Contains(err.Error(), "hello") {
			t.Errorf("%s: error shows content: %v", name, err)
		}
		if list, _ := c.Contacts().List(); len(list) != 0 {
			t.Errorf("%s: a failed import left %d contacts", name, len(list))
		}
	}
	c := newLocalPhone(t)
	if n, err := c.Contacts().ImportVCard(strings.NewReader("\r\n\r\n")); n != 0 || err != nil {
		t.Errorf("blank file: %d, %v", n, err)
	}
}

func TestAddContact(t *testing.T) {
	c := newLocalPhone(t)
	ct, err := c.Contacts().Add("Zephyr Okonkwo-Quillfeather", "+919800000001")
	if err != nil {
		t.Fatal(err)
	}
	if ct.Name != "Zephyr Okonkwo-Quillfeather" || !reflect.DeepEqual(ct.Phones, []string{"+919800000001"}) {
		t.Errorf("contact = %+v", ct)
	}
	card := string(ct.VCard)
	for _, line := range []string{"VERSION:4.0", "FN:Zephyr Okonkwo-Quillfeather", "N:Okonkwo-Quillfeather;Zephyr;;;", "TEL;TYPE=cell;VALUE=uri:tel:+919800000001", "UID:urn:uuid:"} {
		if !strings.Contains(card, line) {
			t.Errorf("vCard lacks %q:\n%s", line, card)
		}
	}
	if _, err := splitVCards(ct.VCard); err != nil {
		t.Errorf("the added vCard does not parse: %v", err)
	}
	one, err := c.Contacts().Add("王芳", "+8613912345678")
	if err != nil || !strings.Contains(string(one.VCard), "N:;王芳;;;") {
		t.Errorf("one-word name: %v\n%s", err, one.VCard)
	}
	// Numbers as people write them; national ones are numbers of the
	// phone's own country (India, from its number).
	for _, p := range []string{"098000 00002", "98000-00002", "+91 (980) 000-0002", "0091 98000 00002"} {
		ct, err := c.Contacts().Add("Mira", p)
		if err != nil || !reflect.DeepEqual(ct.Phones, []string{"+919800000002"}) || !strings.Contains(string(ct.VCard), "tel:+919800000002") {
			t.Errorf("Add(%q) = %+v, %v", p, ct.Phones, err)
		}
	}
	for _, bad := range [][2]string{{"", "+919800000001"}, {"X", "98000"}, {"X", "Saffron-kettle"}, {"X", "+999 1234 5678"}, {"a\nb", "+919800000001"}} {
		if _, err := c.Contacts().Add(bad[0], bad[1]); !candor.Is(err, candor.Invalid) {
			t.Errorf("Add(%q, %q): %v, want Invalid", bad[0], bad[1], err)
		} else if strings.Contains(err.Error(), bad[1]) {
			t.Errorf("Add(%q, %q): the error shows the number: %v", bad[0], bad[1], err)
		}
	}
	if err := c.Contacts().Update(ct.ID, []byte(card40)); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Contacts().Get(ct.ID); got.Name != "王芳" {
		t.Errorf("after update: %+v", got)
	}
	if err := c.Contacts().Update(ct.ID, []byte(card40+card30)); !candor.Is(err, candor.Invalid) {
		t.Errorf("update with two cards: %v", err)
	}
	if err := c.Contacts().Delete(ct.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Contacts().Get(ct.ID); !candor.Is(err, candor.NotFound) {
		t.Errorf("get after delete: %v", err)
	}
	if err := c.Contacts().Delete(ct.ID); !candor.Is(err, candor.NotFound) {
		t.Errorf("second delete: %v", err)
	}
}

func TestImportNotes(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"shopping.txt":    "milk\neggs\n",
		"b-ideas.md":      "# ideas\n",
		"archive.tar.txt": "only the last extension goes",
		"no extension":    "plain",
		".hidden":         "skipped",
		"अनुस्मारक.txt":   "कल सुबह",
	}
	for name, body := range files {
		os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600)
	}
	os.Mkdir(filepath.Join(dir, "sub"), 0o700)
	os.WriteFile(filepath.Join(dir, "sub", "deep.txt"), []byte("not imported"), 0o600)

	c := newLocalPhone(t)
	n, err := c.Notes().ImportDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Errorf("imported %d notes, want 5", n)
	}
	list, _ := c.Notes().List()
	var got []string
	for _, note := range list {
		got = append(got, note.Title+"="+note.Body)
	}
	want := []string{"archive.tar=only the last extension goes", "b-ideas=# ideas\n", "no extension=plain", "shopping=milk\neggs\n", "अनुस्मारक=कल सुबह"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("notes = %q\nwant %q", got, want)
	}
	// The record data is the JSON object {"title", "body"}.
	r, _ := c.liveRecord(candor.Notes, list[0].ID)
	if string(r.Data) != `{"title":"archive.tar","body":"only the last extension goes"}` {
		t.Errorf("record data = %s", r.Data)
	}

	os.WriteFile(filepath.Join(dir, "zz-binary.txt"), []byte{0xff, 0xfe, 0x00}, 0o600)
	c2 := newLocalPhone(t)
	if _, err := c2.Notes().ImportDir(dir); !candor.Is(err, candor.Invalid) {
		t.Errorf("binary file: %v, want Invalid", err)
	}
	if l, _ := c2.Notes().List(); len(l) != 0 {
		t.Errorf("failed import left %d notes", len(l))
	}
	if _, err := c2.Notes().ImportDir(filepath.Join(dir, "missing")); !candor.Is(err, candor.Invalid) {
		t.Errorf("missing folder: %v, want Invalid", err)
	}
}

func TestNoteEdits(t *testing.T) {
	c := newLocalPhone(t)
	n, err := c.Notes().Add("t", "b")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Notes().Update(n.ID, "t2", "b2"); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Notes().Get(n.ID); got.Title != "t2" || got.Body != "b2" {
		t.Errorf("after update: %+v", got)
	}
	if _, err := c.Notes().Add("", " "); !candor.Is(err, candor.Invalid) {
		t.Errorf("empty note: %v", err)
	}
	// A never-synced note is dropped at once on delete: nothing to push.
	if err := c.Notes().Delete(n.ID); err != nil {
		t.Fatal(err)
	}
	s, _ := c.category(candor.Notes)
	if len(s.Records) != 0 {
		t.Errorf("a never-synced deleted note left %d records", len(s.Records))
	}
	// A synced one becomes a pending tombstone.
	s.add(&record{ID: "rec_synced", Version: 3, Data: []byte(`{"title":"x","body":"y"}`)})
	if err := c.Notes().Delete("rec_synced"); err != nil {
		t.Fatal(err)
	}
	if r := s.get("rec_synced"); r == nil || !r.Deleted || !r.Dirty || r.Data != nil || r.Version != 3 {
		t.Errorf("tombstone = %+v", r)
	}
	if l, _ := c.Notes().List(); len(l) != 0 {
		t.Errorf("list shows %d deleted notes", len(l))
	}
}

func FuzzImportVCard(f *testing.F) {
	for _, file := range []string{"contacts-android-2.1.vcf", "contacts-outlook-2.1.vcf"} {
		b, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{card30, card40, cardNoFN, card30 + card40,
		"BEGIN:VCARD\r\nVERSION:2.1\r\nFN;QUOTED-PRINTABLE:=\r\nEND:VCARD\r\nEND:VCARD\r\n",
		"BEGIN:VCARD\r\nVERSION:2.1\r\nFN;QUOTED-PRINTABLE:=\r\nBEGIN:VCARD\r\nEND:VCARD\r\n",
		"BEGIN:VCARD\r\nBEGIN:VCARD\r\nEND:VCARD\r\nEND:VCARD\r\n",
		"BEGIN:VCARD\r\nVERSION:3.0\r\nFN;X=\"a\\\r\nEND:VCARD\r\n",
		"BEGIN:VC\r\n ARD\r\nVERSION:4.0\r\nEND:VCARD", "", "\r\n \r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cards, err := splitVCards(data)
		if err != nil {
			return
		}
		for _, card := range cards {
			if !bytes.Contains(data, card) {
				t.Fatal("a card is not a slice of the input")
			}
			if _, err := contactOf("rec_x", card); err != nil {
				t.Fatalf("an accepted card does not read: %v", err)
			}
		}
	})
}
