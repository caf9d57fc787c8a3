package client

import (
	"archive/zip"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
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
	ExportFormat  = "candor-export"
	ExportVersion = 1

	exportContactsFile = "contacts.vcf"
	exportNotesDir     = "notes"
	exportSMSFile      = "sms.xml"
	exportPhotosDir    = "photos"
	exportManifestFile = "manifest.json"

	maxExportName = 120 // bytes of a file name, before its extension
)

// ExportManifest describes an export; it is written as manifest.json, last.
type ExportManifest struct {
	Format     string           `json:"format"`  // ExportFormat
	Version    int              `json:"version"` // ExportVersion
	ExportedAt time.Time        `json:"exported_at"`
	Account    candor.AccountID `json:"account"` // the account's pseudonymous id
	Region     candor.RegionID  `json:"region"`  // the account's home region
	Categories []ExportCategory `json:"categories"`
	// Files lists every file of the export but the manifest itself.
	Files []ExportFile `json:"files"`
}

// ExportCategory is what an export holds of one category.
type ExportCategory struct {
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

// ExportFile is one file of an export.
type ExportFile struct {
	Path   string `json:"path"` // slash-separated, relative to the export
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // hex
	// Modified is a photo's time (its file's modification time).
	Modified *time.Time `json:"modified,omitempty"`
}

// Export writes everything the account holds in the cloud, in standard
// formats, to out: a folder, which must be new or empty, or, when out ends
// in ".zip", a zip file, which must not exist yet. A folder's files are
// 0600 and its folders 0700; a zip is written to a temporary file beside
// it, 0600, and renamed into place once complete.
//
// Export first syncs every category that is on (see Sync), so that the
// export is the cloud's state: what the phone held but had not sent is
// sent, and what other phones sent is received. Categories that are off
// have no cloud copy: they are listed in the manifest as off and nothing
// of them is written. Then it writes
//
//	contacts.vcf   every contact's original vCard bytes, one after another (as Contacts.Export)
//	notes/         one UTF-8 text file per note: the body, named for the title, ".txt"
//	sms.xml        the messages as an "SMS Backup & Restore" file (as SMSBox.Export)
//	photos/        each photo's original bytes under its name, its time as the file's modification time
//	manifest.json  an ExportManifest: format, time, account, region, counts, SHA-256 of every file
//
// File names come from titles and photo names made safe: no path
// separators, no names starting with a dot, no control or reserved
// characters, at most about 120 bytes, and unique (case-insensitively)
// within their folder, with " (2)", " (3)" … added; nothing is ever
// overwritten. A photo's bytes are checked against its keyed content hash
// before they are exported; the phone's copy is used when it matches,
// else the photo is downloaded again. Photos are streamed: memory does not
// grow with their size.
//
// On error nothing is left behind: a folder Export made is removed, the
// files it wrote into an empty folder are removed, a partial zip is
// removed. A phone that is not signed in fails with Unauthenticated; a
// folder that is not empty, or a zip that exists, with Conflict.
// Error messages name no file, title or photo.
//
// Export takes each category's records once, after the sync: a change
// made on this phone while it runs may or may not be in the export.
// progress, when not nil, receives the sync's reports and then, per
// category, Progress{Phase: "export"} as items are written.
func (c *Client) Export(ctx context.Context, out string, progress ProgressFunc) (*ExportManifest, error) {
	if progress == nil {
		progress = func(Progress) {}
	}
	asZip := strings.EqualFold(filepath.Ext(out), ".zip")
	if err := checkExportTarget(out, asZip); err != nil {
		return nil, err
	}
	_, err := c.Sync(ctx, progress)
	if err != nil && !candor.Is(err, candor.ConsentRequired) {
		return nil, err
	}
	c.mu.Lock()
	if c.sess == nil {
		c.mu.Unlock()
		return nil, errNotSignedIn
	}
	m := &ExportManifest{
		Format:     ExportFormat,
		Version:    ExportVersion,
		ExportedAt: c.opts.now().UTC().Truncate(time.Second),
		Account:    candor.AccountID(c.sess.Account),
		Region:     candor.RegionID(c.sess.Region),
		Files:      []ExportFile{},
	}
	for _, cat := range candor.Categories() {
		if cat.Synced() {
			m.Categories = append(m.Categories, ExportCategory{Category: cat, On: c.consents.on(cat)})
		}
	}
	c.mu.Unlock()

	var sk sink
	if asZip {
		sk, err = newZipSink(out)
	} else {
		sk, err = newDirSink(out)
	}
	if err != nil {
		return nil, err
	}
	w := &exportWriter{sink: sk, m: m, at: m.ExportedAt}
	if err := c.writeExport(ctx, w, progress); err != nil {
		sk.abort()
		return nil, err
	}
	if err := w.writeManifest(); err != nil {
		sk.abort()
		return nil, err
	}
	if err := sk.commit(); err != nil {
		sk.abort()
		return nil, err
	}
	return m, nil
}

// writeExport writes the categories that are on.
func (c *Client) writeExport(ctx context.Context, w *exportWriter, progress ProgressFunc) error {
	for i := range w.m.Categories {
		ec := &w.m.Categories[i]
		if !ec.On {
			continue
		}
		if err := ctx.Err(); err != nil {
			return candor.Wrap(candor.Unavailable, "the export was cancelled", err)
		}
		var err error
		switch ec.Category {
		case candor.Contacts:
			ec.Path, ec.Format = exportContactsFile, "vCard (each card's original bytes)"
			err = c.exportCards(w, ec, progress)
		case candor.Notes:
			ec.Path, ec.Format = exportNotesDir+"/", "UTF-8 text, one file per note (title = file name without .txt)"
			err = c.exportNoteFiles(w, ec, progress)
		case candor.SMS:
			ec.Path, ec.Format = exportSMSFile, "SMS Backup & Restore XML"
			err = c.exportMessages(w, ec, progress)
		case candor.Photos:
			ec.Path, ec.Format = exportPhotosDir+"/", "original bytes; modification time = the photo's time"
			err = c.exportPhotoFiles(ctx, w, ec, progress)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// exportCards writes every contact's card, as Contacts.Export does
// (writeCards).
func (c *Client) exportCards(w *exportWriter, ec *ExportCategory, progress ProgressFunc) error {
	rs, err := c.liveRecords(candor.Contacts)
	if err != nil {
		return err
	}
	f, err := w.create(exportContactsFile, w.at, false)
	if err != nil {
		return err
	}
	writeCards(f, rs, func(n int) {
		progress(Progress{Category: candor.Contacts, Phase: "export", Done: n, Total: len(rs)})
	})
	ec.Count = len(rs)
	return f.Close()
}

// exportNoteFiles writes one text file per note: its body, named for its
// title (its id when it has none).
func (c *Client) exportNoteFiles(w *exportWriter, ec *ExportCategory, progress ProgressFunc) error {
	notes, err := c.Notes().List()
	if err != nil {
		return err
	}
	if err := w.mkdir(exportNotesDir); err != nil {
		return err
	}
	names := uniqueNames{}
	for i, n := range notes {
		name := names.take(safeFileName(n.Title, "note "+n.ID) + ".txt")
		f, err := w.create(exportNotesDir+"/"+name, w.at, false)
		if err != nil {
			return err
		}
		io.WriteString(f, strings.ToValidUTF8(n.Body, "\uFFFD"))
		if err := f.Close(); err != nil {
			return err
		}
		progress(Progress{Category: candor.Notes, Phase: "export", Done: i + 1, Total: len(notes)})
	}
	ec.Count = len(notes)
	return nil
}

// exportMessages writes the messages as SMSBox.Export does.
func (c *Client) exportMessages(w *exportWriter, ec *ExportCategory, progress ProgressFunc) error {
	es, err := c.SMS().entries()
	if err != nil {
		return err
	}
	ms := make([]*smsxml.Message, 0, len(es))
	for i := range es {
		if es[i].ok {
			ms = append(ms, &es[i].data.Message)
		}
	}
	f, err := w.create(exportSMSFile, w.at, true)
	if err != nil {
		return err
	}
	if err := smsxml.Encode(f, ms); err != nil {
		f.Close()
		return candor.Wrap(candor.Internal, "cannot write the messages", ioCause(err))
	}
	ec.Count = len(ms)
	progress(Progress{Category: candor.SMS, Phase: "export", Done: len(ms), Total: len(ms)})
	return f.Close()
}

// exportPhotoFiles streams every photo whose bytes the cloud holds.
func (c *Client) exportPhotoFiles(ctx context.Context, w *exportWriter, ec *ExportCategory, progress ProgressFunc) error {
	rs, err := c.liveRecords(candor.Photos)
	if err != nil {
		return err
	}
	c.mu.Lock()
	files, err := c.photoFiles()
	c.mu.Unlock()
	if err != nil {
		return err
	}
	type photo struct {
		id   string
		meta api.PhotoMeta
	}
	var ps []photo
	for _, r := range rs {
		var m api.PhotoMeta
		if json.Unmarshal(r.Data, &m) != nil || m.Blob == "" {
			ec.Missing++
			continue
		}
		ps = append(ps, photo{r.ID, m})
	}
	// By name, then id: the same photos get the same names on every export.
	slices.SortFunc(ps, func(a, b photo) int {
		if c := strings.Compare(a.meta.Name, b.meta.Name); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	if err := w.mkdir(exportPhotosDir); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(c.dir, ".export-")
	if err != nil {
		return candor.Wrap(candor.Internal, "cannot make a temporary folder in the phone's storage", ioCause(err))
	}
	defer os.RemoveAll(tmp)
	names := uniqueNames{}
	for i, p := range ps {
		if err := ctx.Err(); err != nil {
			return candor.Wrap(candor.Unavailable, "the export was cancelled", err)
		}
		src, err := c.photoSource(ctx, p.meta, files[p.id], tmp)
		if candor.Is(err, candor.NotFound) {
			ec.Missing++
			continue
		} else if err != nil {
			return err
		}
		name := names.take(safeFileName(path.Base(filepath.ToSlash(p.meta.Name)), "photo "+p.id))
		err = w.copyFile(exportPhotosDir+"/"+name, src, p.meta.TakenAt)
		if src != "" && strings.HasPrefix(src, tmp) {
			os.Remove(src)
		}
		if err != nil {
			return err
		}
		ec.Count++
		progress(Progress{Category: candor.Photos, Phase: "export", Done: i + 1, Total: len(ps)})
	}
	return nil
}

// photoSource returns a file holding a photo's verified bytes: the
// gallery's copy when it matches the photo's keyed hash, else a fresh
// download into tmp. NotFound if the cloud no longer holds the bytes.
func (c *Client) photoSource(ctx context.Context, m api.PhotoMeta, file, tmp string) (string, error) {
	if file != "" {
		p := filepath.Join(c.dir, photosDir, file)
		if sum, _, err := fileSum(p); err == nil {
			c.mu.Lock()
			ok, err := c.matchesPhoto(sum, m)
			c.mu.Unlock()
			if err != nil {
				return "", err
			}
			if ok {
				return p, nil
			}
		}
	}
	p := filepath.Join(tmp, "photo")
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return "", errSessionEnded
	}
	if err := c.downloadPhoto(ctx, m, p); err != nil {
		return "", err
	}
	return p, nil
}

// matchesPhoto says whether a SHA-256 is that of the photo m. A record
// without a keyed hash (none is ever pushed without one) is taken on trust.
// c.mu is held.
func (c *Client) matchesPhoto(sum []byte, m api.PhotoMeta) (bool, error) {
	if len(m.Hash) == 0 {
		return true, nil
	}
	if c.sess == nil {
		return false, errSessionEnded
	}
	h, err := c.photoHash(sum)
	if err != nil {
		return false, err
	}
	return hmac.Equal(h, m.Hash), nil
}

// checkExportTarget refuses an output that exists (a zip) or is not an
// empty folder, before anything is sent or written.
func checkExportTarget(out string, asZip bool) error {
	if strings.TrimSpace(out) == "" {
		return candor.E(candor.Invalid, "name a folder or a .zip file to export to")
	}
	info, err := os.Stat(out)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return candor.Wrap(candor.Invalid, "cannot read the export destination", ioCause(err))
	case asZip:
		return candor.E(candor.Conflict, "the export file exists already: name a new one")
	case !info.IsDir():
		return candor.E(candor.Invalid, "the export destination is a file: name a folder, or a file ending in .zip")
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		return candor.Wrap(candor.Invalid, "cannot read the export folder", ioCause(err))
	}
	if len(entries) > 0 {
		return candor.E(candor.Conflict, "the export folder is not empty: name a new or empty one")
	}
	return nil
}

// ioCause is an I/O error without the path it names (a path may hold a
// note's title or a photo's name).
func ioCause(err error) error {
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

// safeFileName makes name a safe file name, the same every time (safe
// names are kept as they are): invalid UTF-8, control characters, path
// separators and characters some systems reserve (<>:"/\|?*) become "_";
// leading dots and spaces and trailing dots and spaces go; a name some
// systems reserve (CON, NUL, COM1 …) gets a leading "_"; a name longer
// than maxExportName bytes is cut, keeping its extension. An empty result
// is fallback, made safe.
func safeFileName(name, fallback string) string {
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
	if len(base) > maxExportName {
		cut := maxExportName
		for cut > 0 && !utf8.RuneStart(base[cut]) {
			cut--
		}
		base = strings.TrimRight(base[:cut], ". ")
	}
	if base == "" {
		if fallback == "" {
			return "file"
		}
		return safeFileName(fallback, "")
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

// uniqueNames hands out names unique within one folder, ignoring case.
type uniqueNames map[string]bool

func (u uniqueNames) take(name string) string {
	ext := path.Ext(name)
	base := strings.TrimSuffix(name, ext)
	for i := 2; u[strings.ToLower(name)]; i++ {
		name = fmt.Sprintf("%s (%d)%s", base, i, ext)
	}
	u[strings.ToLower(name)] = true
	return name
}

// exportWriter writes files through a sink, hashing each into the manifest.
type exportWriter struct {
	sink sink
	m    *ExportManifest
	at   time.Time // the export's time, for files that have none of their own
}

func (w *exportWriter) mkdir(name string) error { return w.sink.mkdir(name) }

// create starts a file; its entry joins the manifest when it is closed.
// compress says whether a zip should compress it.
func (w *exportWriter) create(name string, mod time.Time, compress bool) (*exportFile, error) {
	if !fs.ValidPath(name) || name == exportManifestFile {
		return nil, candor.E(candor.Internal, "an export file name is not safe")
	}
	dst, err := w.sink.create(name, mod, compress)
	if err != nil {
		return nil, err
	}
	return &exportFile{w: w, dst: dst, h: sha256.New(), name: name, mod: mod}, nil
}

// copyFile streams the file src into the export as name, with time mod.
func (w *exportWriter) copyFile(name, src string, mod time.Time) error {
	in, err := os.Open(src)
	if err != nil {
		return candor.Wrap(candor.Internal, "cannot read a photo of the gallery", ioCause(err))
	}
	defer in.Close()
	f, err := w.create(name, mod, false)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, in); err != nil {
		f.Close()
		return candor.Wrap(candor.Internal, "cannot copy a photo into the export", ioCause(err))
	}
	if err := f.Close(); err != nil {
		return err
	}
	e := &w.m.Files[len(w.m.Files)-1]
	t := mod.UTC()
	e.Modified = &t
	return nil
}

// writeManifest writes manifest.json.
func (w *exportWriter) writeManifest() error {
	b, err := json.MarshalIndent(w.m, "", "  ")
	if err != nil {
		return candor.Wrap(candor.Internal, "cannot encode the manifest", err)
	}
	dst, err := w.sink.create(exportManifestFile, w.at, true)
	if err != nil {
		return err
	}
	if _, err := dst.Write(append(b, '\n')); err != nil {
		dst.Close()
		return candor.Wrap(candor.Internal, "cannot write the manifest", ioCause(err))
	}
	return dst.Close()
}

// exportFile is one file being written: what is written is hashed and
// counted, and a write error is kept and returned by Close.
type exportFile struct {
	w    *exportWriter
	dst  io.WriteCloser
	h    hash.Hash
	name string
	mod  time.Time
	n    int64
	err  error
}

func (f *exportFile) Write(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	n, err := f.dst.Write(p)
	f.h.Write(p[:n])
	f.n += int64(n)
	if err != nil {
		f.err = candor.Wrap(candor.Internal, "cannot write the export", ioCause(err))
	}
	return n, f.err
}

func (f *exportFile) Close() error {
	err := f.dst.Close()
	if f.err != nil {
		return f.err
	}
	if err != nil {
		return candor.Wrap(candor.Internal, "cannot write the export", ioCause(err))
	}
	f.w.m.Files = append(f.w.m.Files, ExportFile{Path: f.name, Size: f.n, SHA256: hex.EncodeToString(f.h.Sum(nil))})
	return nil
}

// sink is where an export's files go: a folder or a zip. Names are
// slash-separated and already safe (fs.ValidPath). One file is open at a
// time.
type sink interface {
	mkdir(name string) error
	create(name string, mod time.Time, compress bool) (io.WriteCloser, error)
	commit() error // the export is complete
	abort()        // remove what was written
}

// dirSink writes into a folder that was new or empty.
type dirSink struct {
	root    string
	made    bool     // root was made by the export
	entries []string // top-level entries written, to remove on abort
}

func newDirSink(root string) (*dirSink, error) {
	s := &dirSink{root: root}
	if err := os.Mkdir(root, 0o700); err == nil {
		s.made = true
	} else if !errors.Is(err, fs.ErrExist) {
		if err := os.MkdirAll(root, 0o700); err != nil {
			return nil, candor.Wrap(candor.Invalid, "cannot make the export folder", ioCause(err))
		}
		s.made = true
	} else {
		if err := checkExportTarget(root, false); err != nil { // still empty?
			return nil, err
		}
		if err := os.Chmod(root, 0o700); err != nil {
			return nil, candor.Wrap(candor.Invalid, "cannot use the export folder", ioCause(err))
		}
	}
	return s, nil
}

func (s *dirSink) note(name string) {
	top, _, _ := strings.Cut(name, "/")
	if !slices.Contains(s.entries, top) {
		s.entries = append(s.entries, top)
	}
}

func (s *dirSink) mkdir(name string) error {
	if err := os.Mkdir(filepath.Join(s.root, filepath.FromSlash(name)), 0o700); err != nil {
		return candor.Wrap(candor.Internal, "cannot make a folder of the export", ioCause(err))
	}
	s.note(name)
	return nil
}

func (s *dirSink) create(name string, mod time.Time, _ bool) (io.WriteCloser, error) {
	p := filepath.Join(s.root, filepath.FromSlash(name))
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, candor.Wrap(candor.Internal, "cannot write a file of the export", ioCause(err))
	}
	s.note(name)
	return &timedFile{File: f, mod: mod}, nil
}

func (s *dirSink) commit() error { return nil }

func (s *dirSink) abort() {
	if s.made {
		os.RemoveAll(s.root)
		return
	}
	for _, e := range s.entries {
		os.RemoveAll(filepath.Join(s.root, e))
	}
}

// timedFile is a file whose modification time is set when it is closed.
type timedFile struct {
	*os.File
	mod time.Time
}

func (f *timedFile) Close() error {
	if err := f.File.Close(); err != nil {
		return err
	}
	if f.mod.IsZero() {
		return nil
	}
	return os.Chtimes(f.Name(), f.mod, f.mod)
}

// zipSink writes a zip into a temporary file beside its final name.
type zipSink struct {
	path string
	f    *os.File
	zw   *zip.Writer
}

func newZipSink(out string) (*zipSink, error) {
	dir := filepath.Dir(out)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, candor.Wrap(candor.Invalid, "cannot make the folder of the export file", ioCause(err))
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(out)+".*.tmp")
	if err != nil {
		return nil, candor.Wrap(candor.Invalid, "cannot write the export file", ioCause(err))
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, candor.Wrap(candor.Invalid, "cannot write the export file", ioCause(err))
	}
	return &zipSink{path: out, f: f, zw: zip.NewWriter(f)}, nil
}

func (s *zipSink) mkdir(name string) error {
	h := &zip.FileHeader{Name: name + "/", Modified: time.Now().UTC()}
	h.SetMode(fs.ModeDir | 0o700)
	if _, err := s.zw.CreateHeader(h); err != nil {
		return candor.Wrap(candor.Internal, "cannot write the export file", ioCause(err))
	}
	return nil
}

func (s *zipSink) create(name string, mod time.Time, compress bool) (io.WriteCloser, error) {
	h := &zip.FileHeader{Name: name, Modified: mod, Method: zip.Store}
	if compress {
		h.Method = zip.Deflate
	}
	h.SetMode(0o600)
	w, err := s.zw.CreateHeader(h)
	if err != nil {
		return nil, candor.Wrap(candor.Internal, "cannot write the export file", ioCause(err))
	}
	return nopCloser{w}, nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func (s *zipSink) commit() error {
	if err := s.zw.Close(); err != nil {
		return candor.Wrap(candor.Internal, "cannot write the export file", ioCause(err))
	}
	if err := s.f.Sync(); err != nil {
		return candor.Wrap(candor.Internal, "cannot write the export file", ioCause(err))
	}
	if err := s.f.Close(); err != nil {
		return candor.Wrap(candor.Internal, "cannot write the export file", ioCause(err))
	}
	if _, err := os.Lstat(s.path); err == nil {
		return candor.E(candor.Conflict, "the export file exists already: name a new one")
	}
	if err := os.Rename(s.f.Name(), s.path); err != nil {
		return candor.Wrap(candor.Internal, "cannot write the export file", ioCause(err))
	}
	return nil
}

func (s *zipSink) abort() {
	s.f.Close()
	os.Remove(s.f.Name())
}
