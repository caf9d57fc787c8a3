package client

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client/exportfmt"
	"github.com/candorcloud/candor/client/internal/smsxml"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// exportTree reads an export folder: slash path → bytes, and each file's
// mode and modification time.
func exportTree(t *testing.T, dir string) (map[string][]byte, map[string]fs.FileInfo) {
	t.Helper()
	files, infos := map[string][]byte{}, map[string]fs.FileInfo{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		infos[filepath.ToSlash(rel)] = info
		if !d.IsDir() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			files[filepath.ToSlash(rel)] = b
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, infos
}

// checkManifest checks that the manifest lists exactly the other files,
// with their sizes and SHA-256, and returns it.
func checkManifest(t *testing.T, files map[string][]byte) ExportManifest {
	t.Helper()
	var m ExportManifest
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	if m.Format != ExportFormat || m.Version != ExportVersion || m.Account == "" || m.Region == "" || m.ExportedAt.IsZero() {
		t.Errorf("manifest header = %+v", m)
	}
	listed := map[string]bool{}
	for _, f := range m.Files {
		b, ok := files[f.Path]
		sum := sha256.Sum256(b)
		if !ok || int64(len(b)) != f.Size || hex.EncodeToString(sum[:]) != f.SHA256 {
			t.Errorf("manifest entry %+v does not match the file (present %v, %d bytes)", f, ok, len(b))
		}
		listed[f.Path] = true
	}
	for p := range files {
		if p != "manifest.json" && !listed[p] {
			t.Errorf("%s is not in the manifest", p)
		}
	}
	return m
}

// splitCards cuts a vCard file after each END:VCARD line.
func splitCards(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := bytes.Index(b, []byte("END:VCARD"))
		if i < 0 {
			return append(out, b)
		}
		end := i + len("END:VCARD")
		for end < len(b) && (b[end] == '\r' || b[end] == '\n') {
			end++
		}
		out = append(out, bytes.TrimRight(b[:end], "\r\n"))
		b = b[end:]
	}
	return out
}

func categoryOf(m ExportManifest, cat candor.Category) ExportCategory {
	for _, c := range m.Categories {
		if c.Category == cat {
			return c
		}
	}
	return ExportCategory{}
}

// An account's export, imported into a new account through the ordinary
// imports, exports again to the same contacts, messages and photos, byte for
// byte; the manifest's hashes match; names are made safe; a folder that is
// not empty, and a zip that exists, are refused.
func TestExportRoundTrip(t *testing.T) {
	env := servertest.Start(t)
	a := newPhone(t, env, canaryIMEI)
	must[Session](t)(a.Signup(t.Context(), canaryEmail, canaryPassword))

	must[int](t)(a.Contacts().ImportVCard(bytes.NewReader(addressBook21(t))))
	must[Contact](t)(a.Contacts().Add("Asha Verma", "+919812345670"))
	for _, n := range [][2]string{
		{"Shopping", "milk, rice"},
		{"shopping", "the same title but for case"},
		{"../../escape", "a title that is a path"},
		{"a:b*c?\x01<d>|e", "odd characters"},
		{".hidden", "a title with a leading dot"},
		{"CON", "a reserved name"},
		{"", "a body without a title"},
	} {
		must[Note](t)(a.Notes().Add(n[0], n[1]))
	}
	if res := importSMS(t, a.Client, smsMixed); res.Added != 3 {
		t.Fatalf("sms import: %+v", res)
	}
	pics := t.TempDir()
	taken := time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC)
	for i, name := range []string{"IMG_0001.jpg", "IMG_0002.jpg", "evil.jpg"} {
		p := filepath.Join(pics, name)
		os.WriteFile(p, []byte(strings.Repeat("PHOTO-BYTES-"+name, 1000+i)), 0o600)
		os.Chtimes(p, taken.Add(time.Duration(i)*time.Hour), taken.Add(time.Duration(i)*time.Hour))
		ph := must[Photo](t)(a.Photos().Add(p))
		if name == "evil.jpg" {
			// A name as another phone might send it.
			r := must[record](t)(a.liveRecord(candor.Photos, ph.ID))
			var m api.PhotoMeta
			json.Unmarshal(r.Data, &m)
			m.Name = "../../evil.jpg"
			data, _ := json.Marshal(m)
			if err := a.updateRecord(candor.Photos, ph.ID, data); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, cat := range []candor.Category{candor.Contacts, candor.Notes, candor.SMS, candor.Photos} {
		a.consent(t, cat, true)
	}

	// Export to a folder: the first sync happens within.
	out := t.TempDir()
	dirA := filepath.Join(out, "a")
	m := must[*ExportManifest](t)(a.Export(t.Context(), dirA, nil))
	files, infos := exportTree(t, dirA)
	mf := checkManifest(t, files)
	if m.Account != mf.Account || len(m.Files) != len(mf.Files) {
		t.Errorf("returned manifest differs from the file")
	}
	for p, info := range infos {
		want := fs.FileMode(0o600)
		if info.IsDir() {
			want = fs.ModeDir | 0o700
		}
		if info.Mode() != want {
			t.Errorf("%s has mode %v, want %v", p, info.Mode(), want)
		}
	}
	var cards bytes.Buffer
	must[struct{}](t)(struct{}{}, a.Contacts().Export(&cards))
	// The same cards as Contacts.Export, in the order of their bytes (the
	// order the server's export writes too).
	got, want := splitCards(files["contacts.vcf"]), splitCards(cards.Bytes())
	slices.SortFunc(want, bytes.Compare)
	if !slices.EqualFunc(got, want, bytes.Equal) || !bytes.Contains(cards.Bytes(), []byte("VERSION:2.1")) {
		t.Errorf("contacts.vcf holds other cards than Contacts.Export, or not in the order of their bytes")
	}
	if !bytes.Equal(files["sms.xml"], exportSMS(t, a.Client)) {
		t.Errorf("sms.xml differs from SMSBox.Export")
	}
	wantNotes := map[string]string{
		"notes/Shopping.txt":     "milk, rice",
		"notes/shopping (2).txt": "the same title but for case",
		"notes/_.._escape.txt":   "a title that is a path",
		"notes/a_b_c___d__e.txt": "odd characters",
		"notes/hidden.txt":       "a title with a leading dot",
		"notes/_CON.txt":         "a reserved name",
	}
	for p, body := range wantNotes {
		if string(files[p]) != body {
			t.Errorf("%s = %q, want %q", p, files[p], body)
		}
	}
	var untitled int
	for p, b := range files {
		if strings.HasPrefix(p, "notes/note rec") && string(b) == "a body without a title" {
			untitled++
		}
	}
	if untitled != 1 {
		t.Errorf("the note without a title is not exported under its id")
	}
	if _, ok := files["photos/evil.jpg"]; !ok {
		t.Errorf("a photo named with ../ is not exported under its base name; photos: %v", slices.Sorted(func(yield func(string) bool) {
			for p := range files {
				if strings.HasPrefix(p, "photos/") && !yield(p) {
					return
				}
			}
		}))
	}
	for i, name := range []string{"IMG_0001.jpg", "IMG_0002.jpg"} {
		orig, _ := os.ReadFile(filepath.Join(pics, name))
		if !bytes.Equal(files["photos/"+name], orig) {
			t.Errorf("photos/%s differs from the original", name)
		}
		if got := infos["photos/"+name].ModTime(); !got.Equal(taken.Add(time.Duration(i) * time.Hour)) {
			t.Errorf("photos/%s has time %v, want %v", name, got, taken.Add(time.Duration(i)*time.Hour))
		}
	}
	for _, c := range []struct {
		cat candor.Category
		n   int
	}{{candor.Contacts, 8}, {candor.Notes, 7}, {candor.SMS, 3}, {candor.Photos, 3}} {
		if ec := categoryOf(mf, c.cat); !ec.On || ec.Count != c.n {
			t.Errorf("manifest %s = %+v, want on with %d", c.cat, ec, c.n)
		}
	}

	// The same as a zip: the same files, byte for byte.
	zipA := filepath.Join(out, "a.zip")
	must[*ExportManifest](t)(a.Export(t.Context(), zipA, nil))
	if info, err := os.Stat(zipA); err != nil || info.Mode() != 0o600 {
		t.Fatalf("zip: %v %v", info, err)
	}
	zr := must[*zip.ReadCloser](t)(zip.OpenReader(zipA))
	zipped := map[string][]byte{}
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		rc := must[io.ReadCloser](t)(f.Open())
		zipped[f.Name] = must[[]byte](t)(io.ReadAll(rc))
		rc.Close()
		if f.Name == "photos/IMG_0001.jpg" && !f.Modified.Equal(taken) {
			t.Errorf("zipped photo time %v, want %v", f.Modified, taken)
		}
	}
	zr.Close()
	checkManifest(t, zipped)
	for p, b := range files {
		if p != "manifest.json" && !bytes.Equal(zipped[p], b) {
			t.Errorf("zip's %s differs from the folder's", p)
		}
	}
	if leftovers, _ := filepath.Glob(filepath.Join(out, ".a.zip*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	// Refusals, before anything is written.
	if _, err := a.Export(t.Context(), dirA, nil); !candor.Is(err, candor.Conflict) {
		t.Errorf("export into a folder that is not empty: %v, want conflict", err)
	}
	if _, err := a.Export(t.Context(), zipA, nil); !candor.Is(err, candor.Conflict) {
		t.Errorf("export onto a zip that exists: %v, want conflict", err)
	}

	// A new account imports the files with the ordinary imports; notes
	// stay off for it.
	b := newPhone(t, env, "356938035643817")
	must[Session](t)(b.Signup(t.Context(), "second."+canaryEmail, canaryPassword))
	must[int](t)(b.Contacts().ImportVCard(bytes.NewReader(files["contacts.vcf"])))
	must[int](t)(b.Notes().ImportDir(filepath.Join(dirA, "notes")))
	must[int](t)(b.SMS().Import(bytes.NewReader(files["sms.xml"])))
	must[int](t)(b.Photos().Import(filepath.Join(dirA, "photos")))
	for _, cat := range []candor.Category{candor.Contacts, candor.SMS, candor.Photos} {
		b.consent(t, cat, true)
	}
	dirB := filepath.Join(out, "b")
	mb := must[*ExportManifest](t)(b.Export(t.Context(), dirB, nil))
	filesB, _ := exportTree(t, dirB)
	checkManifest(t, filesB)
	if mb.Account == m.Account {
		t.Errorf("the second account has the first's id")
	}
	for p, want := range files {
		if p == "contacts.vcf" || p == "sms.xml" || strings.HasPrefix(p, "photos/") {
			if !bytes.Equal(filesB[p], want) {
				t.Errorf("%s differs after a round trip through a new account", p)
			}
		}
	}
	for p := range filesB {
		if strings.HasPrefix(p, "notes") {
			t.Errorf("%s exported while notes is off", p)
		}
	}
	if ec := categoryOf(*mb, candor.Notes); ec.On || ec.Count != 0 {
		t.Errorf("manifest notes = %+v, want off", ec)
	}
	titles := map[string]bool{}
	for _, n := range must[[]Note](t)(b.Notes().List()) {
		titles[n.Title] = true
	}
	if !titles["Shopping"] || !titles["_.._escape"] || !titles["shopping (2)"] {
		t.Errorf("re-imported note titles: %v", titles)
	}
}

// A card without a final line break, followed by another, is exported with
// one, so that the file reads back.
func TestExportCardWithoutLineBreak(t *testing.T) {
	env := servertest.Start(t)
	a := newPhone(t, env, canaryIMEI)
	must[Session](t)(a.Signup(t.Context(), canaryEmail, canaryPassword))
	must[int](t)(a.Contacts().ImportVCard(strings.NewReader("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:One\r\nEND:VCARD")))
	must[int](t)(a.Contacts().ImportVCard(strings.NewReader("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Two\r\nEND:VCARD\r\n")))
	a.consent(t, candor.Contacts, true)
	dir := filepath.Join(t.TempDir(), "out")
	m := must[*ExportManifest](t)(a.Export(t.Context(), dir, nil))
	b, _ := os.ReadFile(filepath.Join(dir, "contacts.vcf"))
	want := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:One\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nFN:Two\r\nEND:VCARD\r\n"
	if string(b) != want {
		t.Errorf("contacts.vcf = %q, want %q", b, want)
	}
	var alone strings.Builder // contacts export on its own writes the same
	if err := a.Contacts().Export(&alone); err != nil || alone.String() != want {
		t.Errorf("contacts export = %q, %v; want %q", alone.String(), err, want)
	}
	for _, cat := range []candor.Category{candor.Notes, candor.SMS, candor.Photos} {
		if ec := categoryOf(*m, cat); ec.On {
			t.Errorf("%s listed as on", cat)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "sms.xml")); err == nil {
		t.Errorf("sms.xml written while sms is off")
	}
}

func TestSafeFileName(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"IMG_0001.jpg", "IMG_0001.jpg"},
		{"../../etc/passwd", "_.._etc_passwd"},
		{`..\..\boot.ini`, "_.._boot.ini"},
		{"..", "fallback"},
		{".", "fallback"},
		{"", "fallback"},
		{" . ", "fallback"},
		{".bashrc", "bashrc"},
		{"a\x00b\nc\u202ed.txt", "a_b_c_d.txt"},
		{"\xff\xfe.jpg", "_.jpg"},
		{"con.txt", "_con.txt"},
		{"LPT1", "_LPT1"},
		{"COMET.txt", "COMET.txt"},
		{"trailing. ", "trailing"},
		{"नमस्ते 🎉.txt", "नमस्ते 🎉.txt"},
		{"/abs/path.png", "_abs_path.png"},
		{strings.Repeat("é", 100) + ".jpeg", strings.Repeat("é", 60) + ".jpeg"},
	} {
		got := exportfmt.SafeName(c.in, "fallback")
		if got != c.want {
			t.Errorf("safeFileName(%q) = %q, want %q", c.in, got, c.want)
		}
		if again := exportfmt.SafeName(got, "fallback"); again != got {
			t.Errorf("safeFileName is not stable on %q: %q", got, again)
		}
		if !filepath.IsLocal(got) || strings.ContainsAny(got, `/\`) || strings.HasPrefix(got, ".") {
			t.Errorf("safeFileName(%q) = %q is not a plain local name", c.in, got)
		}
	}
	u := exportfmt.UniqueNames{}
	for _, c := range []struct{ in, want string }{{"a.jpg", "a.jpg"}, {"A.JPG", "A (2).JPG"}, {"a.jpg", "a (3).jpg"}, {"b", "b"}, {"b", "b (2)"}} {
		if got := u.Take(c.in); got != c.want {
			t.Errorf("take(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// A photo whose copy on the phone is gone or changed is exported from the
// cloud, its original bytes checked against its hash; one whose bytes the
// cloud lacks is counted as missing.
func TestExportPhotoFromCloud(t *testing.T) {
	env := servertest.Start(t)
	a := newPhone(t, env, canaryIMEI)
	must[Session](t)(a.Signup(t.Context(), canaryEmail, canaryPassword))
	pics := t.TempDir()
	for _, name := range []string{"changed.jpg", "gone.jpg"} {
		os.WriteFile(filepath.Join(pics, name), []byte("PHOTO-BYTES-"+name), 0o600)
		must[Photo](t)(a.Photos().Add(filepath.Join(pics, name)))
	}
	a.consent(t, candor.Photos, true)
	a.sync(t)
	gallery := filepath.Join(a.Dir(), photosDir)
	os.WriteFile(filepath.Join(gallery, "changed.jpg"), []byte("edited in place"), 0o600)
	os.Remove(filepath.Join(gallery, "gone.jpg"))
	// A record without bytes in the cloud (as a photo the server refused).
	meta, _ := json.Marshal(api.PhotoMeta{Name: "never.jpg", Size: 3, Type: "image/jpeg"})
	must[[]string](t)(a.addRecords(candor.Photos, [][]byte{meta}))

	dir := filepath.Join(t.TempDir(), "out")
	m := must[*ExportManifest](t)(a.Export(t.Context(), dir, nil))
	for _, name := range []string{"changed.jpg", "gone.jpg"} {
		b, _ := os.ReadFile(filepath.Join(dir, "photos", name))
		if string(b) != "PHOTO-BYTES-"+name {
			t.Errorf("photos/%s = %q, want the original", name, b)
		}
	}
	if ec := categoryOf(*m, candor.Photos); ec.Count != 2 || ec.Missing != 1 {
		t.Errorf("manifest photos = %+v, want 2 and 1 missing", ec)
	}
	if left, _ := filepath.Glob(filepath.Join(a.Dir(), ".export-*")); len(left) > 0 {
		t.Errorf("temporary folders left in the state folder: %v", left)
	}
}

// The export reads notes and orders messages with package exportfmt, the
// phone's lists with its own code: the two read every record alike.
func TestExportReadsRecordsAsThePhone(t *testing.T) {
	res, err := smsxml.Decode(strings.NewReader(smsMixed))
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range res {
		data := smsData{d.Message}
		b, err := data.encode()
		if err != nil {
			t.Fatal(err)
		}
		m, ok := exportfmt.MessageOf(b)
		got, ok2 := decodeSMS(b)
		if !ok || !ok2 || exportfmt.SMSKey(m) != got.key() || exportfmt.SMSKey(&data.Message) != data.key() {
			t.Errorf("message %d: exportfmt reads it otherwise than the phone", i)
		}
	}
	for _, data := range []string{`{"title":"t","body":"b"}`, `{"body":"only"}`, `not json`, `{"title":1}`} {
		n, e := noteOf("id", []byte(data)), exportfmt.NoteOf([]byte(data))
		if n.Title != e.Title || n.Body != e.Body {
			t.Errorf("%s: the phone reads %q/%q, the export %q/%q", data, n.Title, n.Body, e.Title, e.Body)
		}
	}
}
