// Package exportfmt is the format of an account's export: its files and
// their names, the order of what each file holds, and its manifest. The
// phone's export (client.Client.Export, from its local state) and the
// server's (GET /v1/account/export, from the cloud copy) both write through
// it, so that the two cannot drift: given the same records and photos they
// write the same files with the same bytes.
//
// An export is written through a Writer onto a Sink (a folder, or a zip
// streamed to any io.Writer by Zip), one file at a time: what a file holds
// is hashed into the manifest as it is written. Records are taken per
// category and ordered by their content (ties by id), never by the order a
// store happens to hold them in, so every copy of an account exports alike.
package exportfmt

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client/internal/smsxml"
)

// The layout of an export.
const (
	Format  = "candor-export"
	Version = 1

	ContactsFile = "contacts.vcf"
	NotesDir     = "notes"
	SMSFile      = "sms.xml"
	PhotosDir    = "photos"
	ManifestFile = "manifest.json"

	maxName = 120 // bytes of a file name, before its extension
)

// Manifest describes an export; it is written as manifest.json, last.
type Manifest struct {
	Format     string           `json:"format"`  // Format
	Version    int              `json:"version"` // Version
	ExportedAt time.Time        `json:"exported_at"`
	Account    candor.AccountID `json:"account"` // the account's pseudonymous id
	Region     candor.RegionID  `json:"region"`  // the account's home region
	Categories []Category       `json:"categories"`
	// Files lists every file of the export but the manifest itself.
	Files []File `json:"files"`
}

// NewManifest starts the manifest of an export made at (truncated to the
// second, in UTC) of account, listing every synced category, each on as
// on says.
func NewManifest(at time.Time, account candor.AccountID, region candor.RegionID, on func(candor.Category) bool) *Manifest {
	m := &Manifest{Format: Format, Version: Version, ExportedAt: at.UTC().Truncate(time.Second),
		Account: account, Region: region, Files: []File{}}
	for _, c := range candor.Categories() {
		if c.Synced() {
			m.Categories = append(m.Categories, Category{Category: c, On: on(c)})
		}
	}
	return m
}

// Items counts the items written, over every category.
func (m *Manifest) Items() int {
	n := 0
	for _, c := range m.Categories {
		n += c.Count
	}
	return n
}

// Category is what an export holds of one category.
type Category struct {
	Category candor.Category `json:"category"`
	// On says whether the category was on. A category that is off has
	// no copy in the cloud and nothing of it is exported.
	On    bool   `json:"on"`
	Count int    `json:"count"`          // items written
	Path  string `json:"path,omitempty"` // the file or folder holding them
	// Format names the format of Path.
	Format string `json:"format,omitempty"`
	// Missing counts photos listed in the cloud whose bytes it does not
	// hold (never uploaded, or deleted meanwhile): not exported.
	Missing int `json:"missing,omitempty"`
}

// File is one file of an export.
type File struct {
	Path   string `json:"path"` // slash-separated, relative to the export
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // hex
	// Modified is a photo's time (its file's modification time).
	Modified *time.Time `json:"modified,omitempty"`
}

// Record is one live record of a category: its id and data.
type Record struct {
	ID   string
	Data []byte
}

// Progress receives how many items of a category were written, of how many.
type Progress func(c candor.Category, done, total int)

// Sink is where an export's files go. Names are slash-separated and safe
// (fs.ValidPath). One file is open at a time.
type Sink interface {
	Mkdir(name string, mod time.Time) error
	// Create starts a file with modification time mod; compress says
	// whether a zip should compress it.
	Create(name string, mod time.Time, compress bool) (io.WriteCloser, error)
}

// Writer writes an export's files through a Sink, hashing each into the
// manifest. It is not safe for concurrent use.
type Writer struct {
	sink Sink
	m    *Manifest
	at   time.Time // the export's time, for files that have none of their own
}

// NewWriter returns a Writer of the export m describes onto s.
func NewWriter(s Sink, m *Manifest) *Writer { return &Writer{sink: s, m: m, at: m.ExportedAt} }

// Manifest returns the manifest being written.
func (w *Writer) Manifest() *Manifest { return w.m }

// Contacts writes contacts.vcf: every card's original bytes, one after
// another, in the order of their bytes (ties by id); a card that does not
// end its last line is followed by a line break in its own style.
func (w *Writer) Contacts(ec *Category, recs []Record, progress Progress) error {
	ec.Path, ec.Format = ContactsFile, "vCard (each card's original bytes)"
	slices.SortFunc(recs, func(a, b Record) int {
		if c := bytes.Compare(a.Data, b.Data); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	f, err := w.create(ContactsFile, w.at, false)
	if err != nil {
		return err
	}
	for i, r := range recs {
		f.Write(r.Data)
		if i < len(recs)-1 && !bytes.HasSuffix(r.Data, []byte("\n")) {
			if bytes.Contains(r.Data, []byte("\r\n")) {
				f.Write([]byte("\r\n"))
			} else {
				f.Write([]byte("\n"))
			}
		}
		progress(candor.Contacts, i+1, len(recs))
	}
	ec.Count = len(recs)
	return f.Close()
}

// Note is a note's title and body as a record holds them.
type Note struct {
	Title string `json:"title"`
	Body  string `json:"body"`
}

// NoteOf reads a note record; a record that is not a note's JSON is a note
// without a title, its raw text the body.
func NoteOf(data []byte) Note {
	var n Note
	if err := json.Unmarshal(data, &n); err != nil {
		return Note{Body: string(data)}
	}
	return n
}

// Notes writes notes/: one UTF-8 text file per note, its body, named for
// its title (its id when it has none) and ".txt". Notes are named in the
// order of their titles, then bodies, then ids, so that clashing titles
// get the same " (2)" on every export.
func (w *Writer) Notes(ec *Category, recs []Record, progress Progress) error {
	ec.Path, ec.Format = NotesDir+"/", "UTF-8 text, one file per note (title = file name without .txt)"
	type note struct {
		id string
		Note
	}
	notes := make([]note, len(recs))
	for i, r := range recs {
		notes[i] = note{r.ID, NoteOf(r.Data)}
	}
	slices.SortFunc(notes, func(a, b note) int {
		if c := strings.Compare(a.Title, b.Title); c != 0 {
			return c
		}
		if c := strings.Compare(a.Body, b.Body); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	if err := w.sink.Mkdir(NotesDir, w.at); err != nil {
		return err
	}
	names := UniqueNames{}
	for i, n := range notes {
		name := names.Take(SafeName(n.Title, "note "+n.id) + ".txt")
		f, err := w.create(NotesDir+"/"+name, w.at, false)
		if err != nil {
			return err
		}
		io.WriteString(f, strings.ToValidUTF8(n.Body, "\uFFFD"))
		if err := f.Close(); err != nil {
			return err
		}
		progress(candor.Notes, i+1, len(notes))
	}
	ec.Count = len(notes)
	return nil
}

// SMS writes sms.xml: the messages as an "SMS Backup & Restore" file, by
// date, ties by SMSKey, then id. A record that is not a readable message is
// not exported.
func (w *Writer) SMS(ec *Category, recs []Record, progress Progress) error {
	ec.Path, ec.Format = SMSFile, "SMS Backup & Restore XML"
	type entry struct {
		id   string
		m    *smsxml.Message
		date int64
		key  string
	}
	es := make([]entry, 0, len(recs))
	for _, r := range recs {
		m, ok := MessageOf(r.Data)
		if !ok {
			continue
		}
		date, _ := strconv.ParseInt(strings.TrimSpace(m.Attr("date")), 10, 64)
		es = append(es, entry{r.ID, m, date, SMSKey(m)})
	}
	slices.SortFunc(es, func(a, b entry) int {
		if a.date != b.date {
			if a.date < b.date {
				return -1
			}
			return 1
		}
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	ms := make([]*smsxml.Message, len(es))
	for i := range es {
		ms[i] = es[i].m
	}
	f, err := w.create(SMSFile, w.at, true)
	if err != nil {
		return err
	}
	if err := smsxml.Encode(f, ms); err != nil {
		f.Close()
		return candor.Wrap(candor.Internal, "cannot write the messages", IOCause(err))
	}
	ec.Count = len(ms)
	progress(candor.SMS, len(ms), len(ms))
	return f.Close()
}

// MessageOf reads an SMS record: its JSON, a message that passes Check.
func MessageOf(data []byte) (*smsxml.Message, bool) {
	var m smsxml.Message
	if err := json.Unmarshal(data, &m); err != nil || m.Check() != nil {
		return nil, false
	}
	return &m, true
}

// SMSKey identifies a message for de-duplication and ordering: its kind,
// address, date, type or box, and text (the body, or the content type and
// text of every part). Other attributes (read state, contact name, ...)
// and MMS media data do not count.
func SMSKey(m *smsxml.Message) string {
	h := sha256.New()
	put := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	box := "type"
	if m.Kind == smsxml.KindMMS {
		box = "msg_box"
	}
	put(m.Kind)
	put(m.Attr("address"))
	put(m.Attr("date"))
	put(m.Attr(box))
	if m.Kind == smsxml.KindMMS {
		for _, p := range m.Parts {
			ct, _ := smsxml.Value(p, "ct")
			text, _ := smsxml.Value(p, "text")
			put(ct)
			put(text)
		}
	} else {
		put(m.Attr("body"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Photo is a photo record: its id and its metadata.
type Photo struct {
	ID   string
	Meta api.PhotoMeta
}

// PhotoSource gives the bytes of one photo: a function writing them, or
// NotFound when the cloud does not hold them (the photo is then counted
// missing). The write function is called at most once; an error it
// returns ends the export.
type PhotoSource func(ctx context.Context, p Photo) (write func(io.Writer) error, err error)

// Photos writes photos/: each photo's original bytes, from src, under its
// name made safe (its id when it has none), its time as the file's
// modification time. Photos are taken by name, then id, so the same photos
// get the same names on every export. A record without a blob, or whose
// bytes src does not find, is counted missing.
func (w *Writer) Photos(ctx context.Context, ec *Category, recs []Record, src PhotoSource, progress Progress) error {
	ec.Path, ec.Format = PhotosDir+"/", "original bytes; modification time = the photo's time"
	var ps []Photo
	for _, r := range recs {
		var m api.PhotoMeta
		if json.Unmarshal(r.Data, &m) != nil || m.Blob == "" {
			ec.Missing++
			continue
		}
		ps = append(ps, Photo{r.ID, m})
	}
	slices.SortFunc(ps, func(a, b Photo) int {
		if c := strings.Compare(a.Meta.Name, b.Meta.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if err := w.sink.Mkdir(PhotosDir, w.at); err != nil {
		return err
	}
	names := UniqueNames{}
	for i, p := range ps {
		if err := ctx.Err(); err != nil {
			return candor.Wrap(candor.Unavailable, "the export was cancelled", err)
		}
		write, err := src(ctx, p)
		if candor.Is(err, candor.NotFound) {
			ec.Missing++
			continue
		} else if err != nil {
			return err
		}
		name := names.Take(SafeName(path.Base(p.Meta.Name), "photo "+p.ID))
		f, err := w.create(PhotosDir+"/"+name, p.Meta.TakenAt, false)
		if err != nil {
			return err
		}
		if err := write(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		e := &w.m.Files[len(w.m.Files)-1]
		t := p.Meta.TakenAt.UTC()
		e.Modified = &t
		ec.Count++
		progress(candor.Photos, i+1, len(ps))
	}
	return nil
}

// WriteManifest writes manifest.json, the last file of an export.
func (w *Writer) WriteManifest() error {
	b, err := json.MarshalIndent(w.m, "", "  ")
	if err != nil {
		return candor.Wrap(candor.Internal, "cannot encode the manifest", err)
	}
	dst, err := w.sink.Create(ManifestFile, w.at, true)
	if err != nil {
		return err
	}
	if _, err := dst.Write(append(b, '\n')); err != nil {
		dst.Close()
		return candor.Wrap(candor.Internal, "cannot write the manifest", IOCause(err))
	}
	return dst.Close()
}

// create starts a file; its entry joins the manifest when it is closed.
func (w *Writer) create(name string, mod time.Time, compress bool) (*file, error) {
	if !fs.ValidPath(name) || name == ManifestFile {
		return nil, candor.E(candor.Internal, "an export file name is not safe")
	}
	dst, err := w.sink.Create(name, mod, compress)
	if err != nil {
		return nil, err
	}
	return &file{w: w, dst: dst, h: sha256.New(), name: name}, nil
}

// file is one file being written: what is written is hashed and counted,
// and a write error is kept and returned by Close.
type file struct {
	w    *Writer
	dst  io.WriteCloser
	h    hash.Hash
	name string
	n    int64
	err  error
}

func (f *file) Write(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	n, err := f.dst.Write(p)
	f.h.Write(p[:n])
	f.n += int64(n)
	if err != nil {
		f.err = candor.Wrap(candor.Internal, "cannot write the export", IOCause(err))
	}
	return n, f.err
}

func (f *file) Close() error {
	err := f.dst.Close()
	if f.err != nil {
		return f.err
	}
	if err != nil {
		return candor.Wrap(candor.Internal, "cannot write the export", IOCause(err))
	}
	f.w.m.Files = append(f.w.m.Files, File{Path: f.name, Size: f.n, SHA256: hex.EncodeToString(f.h.Sum(nil))})
	return nil
}

// Zip is a Sink writing a zip archive to an io.Writer as it goes: entries
// carry their sizes after their data, so nothing is held back. Folders are
// 0700, files 0600; contacts, notes and photos are stored, the SMS file
// and the manifest compressed.
type Zip struct{ zw *zip.Writer }

// NewZip returns a Zip writing to w.
func NewZip(w io.Writer) *Zip { return &Zip{zw: zip.NewWriter(w)} }

// Mkdir adds a folder entry.
func (z *Zip) Mkdir(name string, mod time.Time) error {
	h := &zip.FileHeader{Name: name + "/", Modified: mod}
	h.SetMode(fs.ModeDir | 0o700)
	if _, err := z.zw.CreateHeader(h); err != nil {
		return candor.Wrap(candor.Internal, "cannot write the export file", IOCause(err))
	}
	return nil
}

// Create starts a file entry.
func (z *Zip) Create(name string, mod time.Time, compress bool) (io.WriteCloser, error) {
	h := &zip.FileHeader{Name: name, Modified: mod, Method: zip.Store}
	if compress {
		h.Method = zip.Deflate
	}
	h.SetMode(0o600)
	w, err := z.zw.CreateHeader(h)
	if err != nil {
		return nil, candor.Wrap(candor.Internal, "cannot write the export file", IOCause(err))
	}
	return nopCloser{w}, nil
}

// Close writes the zip's central directory: without it the archive is
// visibly incomplete.
func (z *Zip) Close() error {
	if err := z.zw.Close(); err != nil {
		return candor.Wrap(candor.Internal, "cannot write the export file", IOCause(err))
	}
	return nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// IOCause is an I/O error without the path it names (a path may hold a
// note's title or a photo's name).
func IOCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// SafeName makes name a safe file name, the same every time (safe names
// are kept as they are): invalid UTF-8, control characters, path
// separators and characters some systems reserve (<>:"/\|?*) become "_";
// leading dots and spaces and trailing dots and spaces go; a name some
// systems reserve (CON, NUL, COM1 …) gets a leading "_"; a name longer
// than about 120 bytes is cut, keeping its extension. An empty result is
// fallback, made safe.
func SafeName(name, fallback string) string {
	name = strings.ToValidUTF8(name, "_")
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || strings.ContainsRune(`<>:"/\|?*`, r) || r == utf8.RuneError ||
			unicode.Is(unicode.Cf, r) && r != '\u200c' && r != '\u200d' { // format characters (bidi overrides …), but the joiners of scripts and emoji
			return '_'
		}
		return r
	}, name)
	name = strings.TrimLeft(name, ". ")
	name = strings.TrimRight(name, ". ")
	ext := path.Ext(name)
	if len(ext) > 16 || ext == name {
		ext = ""
	}
	base := strings.TrimSuffix(name, ext)
	if len(base) > maxName {
		cut := maxName
		for cut > 0 && !utf8.RuneStart(base[cut]) {
			cut--
		}
		base = strings.TrimRight(base[:cut], ". ")
	}
	if base == "" {
		if fallback == "" {
			return "file"
		}
		return SafeName(fallback, "")
	}
	stem, _, _ := strings.Cut(base, ".")
	if isReservedName(stem) {
		base = "_" + base
	}
	return base + ext
}

func isReservedName(s string) bool {
	s = strings.ToUpper(strings.TrimSpace(s))
	switch s {
	case "CON", "PRN", "AUX", "NUL":
		return true
	}
	return len(s) == 4 && (strings.HasPrefix(s, "COM") || strings.HasPrefix(s, "LPT")) && s[3] >= '0' && s[3] <= '9'
}

// UniqueNames hands out names unique within one folder, ignoring case:
// the second "a.txt" is "a (2).txt".
type UniqueNames map[string]bool

// Take returns name, or name with " (2)", " (3)" … before its extension,
// whichever is not taken yet, and takes it.
func (u UniqueNames) Take(name string) string {
	ext := path.Ext(name)
	base := strings.TrimSuffix(name, ext)
	for i := 2; u[strings.ToLower(name)]; i++ {
		name = fmt.Sprintf("%s (%d)%s", base, i, ext)
	}
	u[strings.ToLower(name)] = true
	return name
}
