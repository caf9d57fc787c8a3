package exportfmt

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

var at = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func testRecords(t *testing.T) map[candor.Category][]Record {
	t.Helper()
	note := func(title, body string) []byte { b, _ := json.Marshal(Note{title, body}); return b }
	sms := func(date, body string) []byte {
		return []byte(`{"kind":"sms","attrs":[["address","+919800000001"],["date","` + date + `"],["type","1"],["body","` + body + `"]]}`)
	}
	photo := func(name, blob string) []byte {
		b, _ := json.Marshal(api.PhotoMeta{Blob: blob, Name: name, TakenAt: at.Add(-time.Hour)})
		return b
	}
	recs := map[candor.Category][]Record{
		candor.Contacts: {
			{"r1", []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:B\r\nEND:VCARD")},
			{"r2", []byte("BEGIN:VCARD\nVERSION:4.0\nFN:A\nEND:VCARD\n")},
			{"r3", []byte("BEGIN:VCARD\nVERSION:2.1\nFN:C\nEND:VCARD")},
		},
		candor.Notes: {
			{"n1", note("Same", "one")}, {"n2", note("same", "two")}, {"n3", note("Same", "three")},
			{"n4", note("", "untitled")}, {"n5", []byte("not json")},
		},
		candor.SMS: {
			{"s1", sms("1700000000002", "later")}, {"s2", sms("1700000000001", "earlier")},
			{"s3", sms("1700000000001", "same time")}, {"s4", []byte("unreadable")},
		},
		candor.Photos: {
			{"p1", photo("a.jpg", "b1")}, {"p2", photo("A.JPG", "b2")}, {"p3", photo("a.jpg", "b3")},
			{"p4", photo("gone.jpg", "missing")}, {"p5", []byte(`{"name":"no blob"}`)},
		},
	}
	return recs
}

// export writes recs (in the given order) as a zip and returns its bytes.
func export(t *testing.T, recs map[candor.Category][]Record) []byte {
	t.Helper()
	var out bytes.Buffer
	z := NewZip(&out)
	m := NewManifest(at, "acc_x", "in", func(candor.Category) bool { return true })
	w := NewWriter(z, m)
	src := func(_ context.Context, p Photo) (func(io.Writer) error, error) {
		if p.Meta.Blob == "missing" {
			return nil, candor.E(candor.NotFound, "no such photo")
		}
		return func(w io.Writer) error { _, err := io.WriteString(w, "bytes of "+p.Meta.Blob); return err }, nil
	}
	none := func(candor.Category, int, int) {}
	for i := range m.Categories {
		ec := &m.Categories[i]
		rs := append([]Record(nil), recs[ec.Category]...)
		var err error
		switch ec.Category {
		case candor.Contacts:
			err = w.Contacts(ec, rs, none)
		case candor.Notes:
			err = w.Notes(ec, rs, none)
		case candor.SMS:
			err = w.SMS(ec, rs, none)
		case candor.Photos:
			err = w.Photos(context.Background(), ec, rs, src, none)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteManifest(); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// Two copies of an account that hold the same records in other orders (a
// phone's local order, a store's change order) export the same bytes.
func TestExportIgnoresStoreOrder(t *testing.T) {
	recs := testRecords(t)
	want := export(t, recs)
	for range 20 {
		for _, rs := range recs {
			rand.Shuffle(len(rs), func(i, j int) { rs[i], rs[j] = rs[j], rs[i] })
		}
		if got := export(t, recs); !bytes.Equal(got, want) {
			t.Fatal("the same records in another order export other bytes")
		}
	}
	zr, err := zip.NewReader(bytes.NewReader(want), int64(len(want)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	files := map[string]string{}
	for _, f := range zr.File {
		names = append(names, f.Name)
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		files[f.Name] = string(b)
	}
	wantNames := []string{"contacts.vcf", "notes/", "notes/note n5.txt", "notes/note n4.txt", "notes/Same.txt", "notes/Same (2).txt", "notes/same (3).txt",
		"sms.xml", "photos/", "photos/A.JPG", "photos/a (2).jpg", "photos/a (3).jpg", "manifest.json"}
	if !slices.Equal(names, wantNames) {
		t.Errorf("entries %q, want %q", names, wantNames)
	}
	if files["notes/Same.txt"] != "one" || files["notes/Same (2).txt"] != "three" || files["notes/same (3).txt"] != "two" {
		t.Errorf("clashing titles: %v", names)
	}
	if files["contacts.vcf"] != "BEGIN:VCARD\nVERSION:2.1\nFN:C\nEND:VCARD\nBEGIN:VCARD\nVERSION:4.0\nFN:A\nEND:VCARD\nBEGIN:VCARD\r\nVERSION:3.0\r\nFN:B\r\nEND:VCARD" {
		t.Errorf("contacts.vcf = %q", files["contacts.vcf"])
	}
	if files["photos/A.JPG"] != "bytes of b2" || files["photos/a (2).jpg"] != "bytes of b1" || files["photos/a (3).jpg"] != "bytes of b3" {
		t.Errorf("photos: %v", names)
	}
	var m Manifest
	if err := json.Unmarshal([]byte(files["manifest.json"]), &m); err != nil {
		t.Fatal(err)
	}
	for _, c := range m.Categories {
		if c.Category == candor.Photos && (c.Count != 3 || c.Missing != 2) {
			t.Errorf("photos in the manifest: %+v", c)
		}
		if c.Category == candor.SMS && c.Count != 3 {
			t.Errorf("sms in the manifest: %+v", c)
		}
	}
}

// A zip that is not closed has no central directory: a reader refuses it,
// so an export cut before its end never looks whole.
func TestZipUnclosedIsNotAZip(t *testing.T) {
	var out bytes.Buffer
	z := NewZip(&out)
	f, err := z.Create("a.txt", at, false)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(f, "some bytes")
	f.Close()
	if _, err := zip.NewReader(bytes.NewReader(out.Bytes()), int64(out.Len())); err == nil {
		t.Error("an unclosed zip reads as whole")
	}
}
