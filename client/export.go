package client

import (
	"context"
	"crypto/hmac"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client/exportfmt"
)

// The layout of an export is package exportfmt's, which the server's
// export (GET /v1/account/export) writes too.
const (
	ExportFormat  = exportfmt.Format
	ExportVersion = exportfmt.Version
)

type (
	// ExportManifest describes an export; it is written as manifest.json, last.
	ExportManifest = exportfmt.Manifest
	// ExportCategory is what an export holds of one category.
	ExportCategory = exportfmt.Category
	// ExportFile is one file of an export.
	ExportFile = exportfmt.File
)

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
// of them is written. Then it writes, through package exportfmt (the
// format the server's export writes too, byte for byte),
//
//	contacts.vcf   every contact's original vCard bytes, one after another, in the order of their bytes
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
	m := exportfmt.NewManifest(c.opts.now(), candor.AccountID(c.sess.Account), candor.RegionID(c.sess.Region), c.consents.on)
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
	w := exportfmt.NewWriter(sk, m)
	if err := c.writeExport(ctx, w, progress); err != nil {
		sk.abort()
		return nil, err
	}
	if err := w.WriteManifest(); err != nil {
		sk.abort()
		return nil, err
	}
	if err := sk.commit(); err != nil {
		sk.abort()
		return nil, err
	}
	return m, nil
}

// writeExport writes the categories that are on, from the phone's
// records.
func (c *Client) writeExport(ctx context.Context, w *exportfmt.Writer, progress ProgressFunc) error {
	report := func(cat candor.Category, done, total int) {
		progress(Progress{Category: cat, Phase: "export", Done: done, Total: total})
	}
	m := w.Manifest()
	for i := range m.Categories {
		ec := &m.Categories[i]
		if !ec.On {
			continue
		}
		if err := ctx.Err(); err != nil {
			return candor.Wrap(candor.Unavailable, "the export was cancelled", err)
		}
		rs, err := c.liveRecords(ec.Category)
		if err != nil {
			return err
		}
		recs := make([]exportfmt.Record, len(rs))
		for i, r := range rs {
			recs[i] = exportfmt.Record{ID: r.ID, Data: r.Data}
		}
		switch ec.Category {
		case candor.Contacts:
			err = w.Contacts(ec, recs, report)
		case candor.Notes:
			err = w.Notes(ec, recs, report)
		case candor.SMS:
			err = w.SMS(ec, recs, report)
		case candor.Photos:
			err = c.exportPhotoFiles(ctx, w, ec, recs, report)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// exportPhotoFiles streams every photo whose bytes the cloud holds: the
// gallery's copy when it matches, else a fresh download.
func (c *Client) exportPhotoFiles(ctx context.Context, w *exportfmt.Writer, ec *ExportCategory, recs []exportfmt.Record, report exportfmt.Progress) error {
	c.mu.Lock()
	files, err := c.photoFiles()
	c.mu.Unlock()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(c.dir, ".export-")
	if err != nil {
		return candor.Wrap(candor.Internal, "cannot make a temporary folder in the phone's storage", exportfmt.IOCause(err))
	}
	defer os.RemoveAll(tmp)
	src := func(ctx context.Context, p exportfmt.Photo) (func(io.Writer) error, error) {
		path, err := c.photoSource(ctx, p.Meta, files[p.ID], tmp)
		if err != nil {
			return nil, err
		}
		return func(dst io.Writer) error {
			if strings.HasPrefix(path, tmp) {
				defer os.Remove(path)
			}
			in, err := os.Open(path)
			if err != nil {
				return candor.Wrap(candor.Internal, "cannot read a photo of the gallery", exportfmt.IOCause(err))
			}
			defer in.Close()
			if _, err := io.Copy(dst, in); err != nil {
				return candor.Wrap(candor.Internal, "cannot copy a photo into the export", exportfmt.IOCause(err))
			}
			return nil
		}, nil
	}
	return w.Photos(ctx, ec, recs, src, report)
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
		return candor.Wrap(candor.Invalid, "cannot read the export destination", exportfmt.IOCause(err))
	case asZip:
		return candor.E(candor.Conflict, "the export file exists already: name a new one")
	case !info.IsDir():
		return candor.E(candor.Invalid, "the export destination is a file: name a folder, or a file ending in .zip")
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		return candor.Wrap(candor.Invalid, "cannot read the export folder", exportfmt.IOCause(err))
	}
	if len(entries) > 0 {
		return candor.E(candor.Conflict, "the export folder is not empty: name a new or empty one")
	}
	return nil
}

// sink is where the phone's export goes: a folder or a zip file.
type sink interface {
	exportfmt.Sink
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
			return nil, candor.Wrap(candor.Invalid, "cannot make the export folder", exportfmt.IOCause(err))
		}
		s.made = true
	} else {
		if err := checkExportTarget(root, false); err != nil { // still empty?
			return nil, err
		}
		if err := os.Chmod(root, 0o700); err != nil {
			return nil, candor.Wrap(candor.Invalid, "cannot use the export folder", exportfmt.IOCause(err))
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

func (s *dirSink) Mkdir(name string, _ time.Time) error {
	if err := os.Mkdir(filepath.Join(s.root, filepath.FromSlash(name)), 0o700); err != nil {
		return candor.Wrap(candor.Internal, "cannot make a folder of the export", exportfmt.IOCause(err))
	}
	s.note(name)
	return nil
}

func (s *dirSink) Create(name string, mod time.Time, _ bool) (io.WriteCloser, error) {
	p := filepath.Join(s.root, filepath.FromSlash(name))
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, candor.Wrap(candor.Internal, "cannot write a file of the export", exportfmt.IOCause(err))
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

// zipSink writes a zip (exportfmt.Zip) into a temporary file beside its
// final name.
type zipSink struct {
	*exportfmt.Zip
	path string
	f    *os.File
}

func newZipSink(out string) (*zipSink, error) {
	dir := filepath.Dir(out)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, candor.Wrap(candor.Invalid, "cannot make the folder of the export file", exportfmt.IOCause(err))
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(out)+".*.tmp")
	if err != nil {
		return nil, candor.Wrap(candor.Invalid, "cannot write the export file", exportfmt.IOCause(err))
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, candor.Wrap(candor.Invalid, "cannot write the export file", exportfmt.IOCause(err))
	}
	return &zipSink{Zip: exportfmt.NewZip(f), path: out, f: f}, nil
}

func (s *zipSink) commit() error {
	if err := s.Zip.Close(); err != nil {
		return err
	}
	if err := s.f.Sync(); err != nil {
		return candor.Wrap(candor.Internal, "cannot write the export file", exportfmt.IOCause(err))
	}
	if err := s.f.Close(); err != nil {
		return candor.Wrap(candor.Internal, "cannot write the export file", exportfmt.IOCause(err))
	}
	if _, err := os.Lstat(s.path); err == nil {
		return candor.E(candor.Conflict, "the export file exists already: name a new one")
	}
	if err := os.Rename(s.f.Name(), s.path); err != nil {
		return candor.Wrap(candor.Internal, "cannot write the export file", exportfmt.IOCause(err))
	}
	return nil
}

func (s *zipSink) abort() {
	s.f.Close()
	os.Remove(s.f.Name())
}
