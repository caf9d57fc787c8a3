package client

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

// The phone's gallery: photos are ordinary files with their original bytes
// in the state folder's photos/ (restored ones too). Each has a record of
// category photos whose data is an api.PhotoMeta; the bytes go to the cloud
// as an upload of parts that resumes after any failure, and come back by
// download when another phone's record arrives.
const (
	photosDir      = "photos"
	photoFilesFile = "photo-files.json"         // record id → file name in photos/
	uploadsFile    = "uploads.json"             // keyed hash → upload id, for resuming
	unusedBlobs    = "photo-blobs-deleted.json" // blobs of deleted photos, to delete in the cloud at the next sync
	photoHashInfo  = "candor/photo-hash/v1"
)

// Photos is the phone's gallery.
type Photos struct{ c *Client }

// Photos returns the phone's gallery.
func (c *Client) Photos() *Photos { return &Photos{c} }

// Photo is one photo on the phone.
type Photo struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Size    int64     `json:"size"`
	Type    string    `json:"type"`
	TakenAt time.Time `json:"taken_at"`
	// File is the photo's path in the state folder; empty while a photo
	// known from the cloud has not been downloaded yet.
	File string `json:"file,omitempty"`
	// Uploaded says whether the cloud holds the photo's bytes.
	Uploaded bool `json:"uploaded"`
}

type photoFiles map[string]string

func (c *Client) photoFiles() (photoFiles, error) {
	m := photoFiles{}
	err := readJSON(filepath.Join(c.dir, photoFilesFile), &m)
	if candor.Is(err, candor.NotFound) {
		err = nil
	}
	return m, err
}

func (c *Client) savePhotoFiles(m photoFiles) error {
	return writeJSON(filepath.Join(c.dir, photoFilesFile), m)
}

// freeName returns name, or name with a number added, that no file in the
// gallery has yet.
func freeName(dir, name string) string {
	ext := filepath.Ext(name)
	base := strings.TrimSuffix(name, ext)
	for i := 1; ; i++ {
		if _, err := os.Lstat(filepath.Join(dir, name)); errors.Is(err, fs.ErrNotExist) {
			return name
		}
		name = fmt.Sprintf("%s (%d)%s", base, i+1, ext)
	}
}

// Import copies every regular file of dir into the gallery and adds a
// record for each (uploaded at the next sync while photos is on). It makes
// no network request.
func (p *Photos) Import(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, candor.Wrap(candor.Invalid, "cannot read the photos folder", err)
	}
	gallery := filepath.Join(p.c.dir, photosDir)
	if err := os.MkdirAll(gallery, 0o700); err != nil {
		return 0, candor.Wrap(candor.Internal, "cannot make the gallery", err)
	}
	n := 0
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if _, err := p.Add(filepath.Join(dir, e.Name())); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Add copies one photo file into the gallery and adds its record.
func (p *Photos) Add(path string) (Photo, error) {
	c := p.c
	info, err := os.Stat(path)
	if err != nil || !info.Mode().IsRegular() {
		return Photo{}, candor.E(candor.Invalid, "a photo must be a readable file")
	}
	gallery := filepath.Join(c.dir, photosDir)
	if err := os.MkdirAll(gallery, 0o700); err != nil {
		return Photo{}, candor.Wrap(candor.Internal, "cannot make the gallery", err)
	}
	c.mu.Lock()
	name := freeName(gallery, filepath.Base(path))
	c.mu.Unlock()
	if err := copyFile(path, filepath.Join(gallery, name)); err != nil {
		return Photo{}, err
	}
	meta := api.PhotoMeta{Name: name, Size: info.Size(), Type: photoType(name), TakenAt: info.ModTime().UTC().Truncate(time.Second)}
	data, _ := json.Marshal(meta)
	ids, err := c.addRecords(candor.Photos, [][]byte{data})
	if err != nil {
		os.Remove(filepath.Join(gallery, name))
		return Photo{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	files, err := c.photoFiles()
	if err != nil {
		return Photo{}, err
	}
	files[ids[0]] = name
	return Photo{ID: ids[0], Name: name, Size: meta.Size, Type: meta.Type, TakenAt: meta.TakenAt, File: filepath.Join(gallery, name)},
		c.savePhotoFiles(files)
}

func photoType(name string) string {
	if t := mime.TypeByExtension(strings.ToLower(filepath.Ext(name))); t != "" {
		return t
	}
	return "application/octet-stream"
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return candor.Wrap(candor.Invalid, "cannot read a photo", err)
	}
	defer in.Close()
	tmp := to + ".part"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return candor.Wrap(candor.Internal, "cannot write to the gallery", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return candor.Wrap(candor.Internal, "cannot write to the gallery", err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		os.Remove(tmp)
		return candor.Wrap(candor.Internal, "cannot write to the gallery", err)
	}
	out.Close()
	return os.Rename(tmp, to)
}

// List lists the photos the phone knows, by name.
func (p *Photos) List() ([]Photo, error) {
	recs, err := p.c.liveRecords(candor.Photos)
	if err != nil {
		return nil, err
	}
	p.c.mu.Lock()
	files, err := p.c.photoFiles()
	p.c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	out := make([]Photo, 0, len(recs))
	for _, r := range recs {
		var m api.PhotoMeta
		json.Unmarshal(r.Data, &m)
		ph := Photo{ID: r.ID, Name: m.Name, Size: m.Size, Type: m.Type, TakenAt: m.TakenAt, Uploaded: m.Blob != ""}
		if f, ok := files[r.ID]; ok {
			ph.File = filepath.Join(p.c.dir, photosDir, f)
		}
		out = append(out, ph)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Delete deletes a photo from the phone and, at the next sync, its record
// everywhere and its bytes in the cloud (unless another photo record of the
// account still uses them).
func (p *Photos) Delete(id string) error {
	blob := p.c.photoBlob(id)
	if err := p.c.deleteRecord(candor.Photos, id); err != nil {
		return err
	}
	p.c.mu.Lock()
	defer p.c.mu.Unlock()
	if blob != "" {
		var pending []string
		if err := readJSON(filepath.Join(p.c.dir, unusedBlobs), &pending); err != nil && !candor.Is(err, candor.NotFound) {
			return err
		}
		if err := writeJSON(filepath.Join(p.c.dir, unusedBlobs), append(pending, blob)); err != nil {
			return err
		}
	}
	files, err := p.c.photoFiles()
	if err != nil {
		return err
	}
	if f, ok := files[id]; ok {
		os.Remove(filepath.Join(p.c.dir, photosDir, f))
		delete(files, id)
	}
	return p.c.savePhotoFiles(files)
}

// photoBlob returns the cloud blob a photo record names ("" if none).
func (c *Client) photoBlob(id string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.category(candor.Photos)
	if err != nil {
		return ""
	}
	r := s.get(id)
	if r == nil || r.Deleted {
		return ""
	}
	var m api.PhotoMeta
	if json.Unmarshal(r.Data, &m) != nil {
		return ""
	}
	return m.Blob
}

// deleteUnusedBlobs deletes in the cloud the blobs of photos deleted on
// this phone, once their records' deletions are synced, unless a photo
// record this phone knows of still uses the blob (the same photo kept twice
// shares one). A blob already gone is fine. Called after a photos sync has
// settled.
func (c *Client) deleteUnusedBlobs(ctx context.Context, s *categoryState) error {
	var pending []string
	path := filepath.Join(c.dir, unusedBlobs)
	if err := readJSON(path, &pending); candor.Is(err, candor.NotFound) {
		return nil
	} else if err != nil {
		return err
	}
	used := map[string]bool{}
	for _, r := range s.Records {
		var m api.PhotoMeta
		if !r.Deleted && json.Unmarshal(r.Data, &m) == nil && m.Blob != "" {
			used[m.Blob] = true
		}
	}
	for len(pending) > 0 {
		blob := pending[0]
		if !used[blob] {
			err := c.call(ctx, http.MethodDelete, "/photos/blobs/"+url.PathEscape(blob), nil, nil)
			// Gone already, or just given to another photo record that
			// this phone has not seen yet (the server keeps it): done.
			if err != nil && !candor.Is(err, candor.NotFound) && !candor.Is(err, candor.Conflict) {
				return err
			}
		}
		pending = pending[1:]
		if err := writeJSON(path, pending); err != nil {
			return err
		}
	}
	return os.Remove(path)
}

// photoHash is the keyed content hash of a photo: HMAC-SHA256, under a key
// derived from the account's device key (the same on every phone of the
// account), of the photo's SHA-256. The server can match it against the
// account's own photos and nothing else.
func (c *Client) photoHash(sum []byte) ([]byte, error) {
	key, err := hkdf.Key(sha256.New, c.sess.DeviceKey, nil, photoHashInfo, 32)
	if err != nil {
		return nil, candor.Wrap(candor.Internal, "cannot derive the photo key", err)
	}
	m := hmac.New(sha256.New, key)
	m.Write(sum)
	return m.Sum(nil), nil
}

func fileSum(path string) ([]byte, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return h.Sum(nil), n, err
}

// uploadPhotos uploads every photo whose record has no blob yet, resuming
// uploads begun before, and marks its record for pushing. c.mu is held.
func (c *Client) uploadPhotos(ctx context.Context, s *categoryState, progress ProgressFunc) error {
	files, err := c.photoFiles()
	if err != nil {
		return err
	}
	uploads := map[string]string{}
	if err := readJSON(filepath.Join(c.dir, uploadsFile), &uploads); err != nil && !candor.Is(err, candor.NotFound) {
		return err
	}
	var todo []*record
	var total int64
	for _, r := range s.live() {
		var m api.PhotoMeta
		if json.Unmarshal(r.Data, &m) != nil || files[r.ID] == "" {
			continue
		}
		if m.Blob != "" && r.Version == 0 {
			// A record the cloud does not have in this epoch (photos was
			// turned off and on again) names a blob that may be gone.
			var up api.Upload
			err := c.remote().Do(ctx, http.MethodGet, "/photos/uploads/"+url.PathEscape(m.Blob), nil, &up)
			if candor.Is(err, candor.NotFound) || (err == nil && up.Blob == "") {
				m.Blob = ""
			} else if err != nil {
				return err
			}
		}
		if m.Blob == "" {
			todo = append(todo, r)
			total += m.Size
		}
	}
	var done int64
	for _, r := range todo {
		var m api.PhotoMeta
		json.Unmarshal(r.Data, &m)
		path := filepath.Join(c.dir, photosDir, files[r.ID])
		sum, size, err := fileSum(path)
		if err != nil {
			return candor.Wrap(candor.Internal, "cannot read a photo of the gallery", err)
		}
		hash, err := c.photoHash(sum)
		if err != nil {
			return err
		}
		blob, err := c.uploadPhoto(ctx, path, size, hash, uploads, func(n int64) {
			progress(Progress{Category: candor.Photos, Phase: "upload", Done: int(min((done+n)>>20, 1<<30)), Total: int(total >> 20)})
		})
		if candor.Is(err, candor.TooLarge) {
			continue // the server refuses this one photo; the others still go
		}
		if err != nil {
			return err
		}
		done += size
		m.Blob, m.Size, m.Hash = blob, size, hash
		r.Data, _ = json.Marshal(m)
		r.Dirty = true
		delete(uploads, hex.EncodeToString(hash))
		if err := writeJSON(filepath.Join(c.dir, uploadsFile), uploads); err != nil {
			return err
		}
		if err := c.saveCategory(candor.Photos); err != nil {
			return err
		}
	}
	return nil
}

// uploadPhoto sends one photo's missing parts and completes its upload,
// returning the blob. An upload begun before (uploads, by hash) resumes.
func (c *Client) uploadPhoto(ctx context.Context, path string, size int64, hash []byte, uploads map[string]string, sent func(int64)) (string, error) {
	r := c.remote()
	key := hex.EncodeToString(hash)
	var up api.Upload
	if id := uploads[key]; id != "" {
		if err := r.Do(ctx, http.MethodGet, "/photos/uploads/"+url.PathEscape(id), nil, &up); err != nil && !candor.Is(err, candor.NotFound) {
			return "", err
		}
	}
	if up.ID == "" {
		if err := r.Do(ctx, http.MethodPost, "/photos/uploads", api.UploadCreate{Size: size, Hash: hash}, &up); err != nil {
			return "", err
		}
		uploads[key] = up.ID
		if err := writeJSON(filepath.Join(c.dir, uploadsFile), uploads); err != nil {
			return "", err
		}
	}
	if up.Blob != "" {
		sent(size)
		return up.Blob, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", candor.Wrap(candor.Internal, "cannot read a photo of the gallery", err)
	}
	defer f.Close()
	have := map[int]bool{}
	for _, n := range up.Received {
		have[n] = true
	}
	buf := make([]byte, api.PartSize)
	for n := 0; n < up.Parts; n++ {
		length := min(int64(api.PartSize), size-int64(n)*api.PartSize)
		if have[n] {
			sent(int64(n)*api.PartSize + length)
			continue
		}
		if _, err := f.ReadAt(buf[:length], int64(n)*api.PartSize); err != nil && !errors.Is(err, io.EOF) {
			return "", candor.Wrap(candor.Internal, "cannot read a photo of the gallery", err)
		}
		if err := r.Raw(ctx, http.MethodPut, fmt.Sprintf("/photos/uploads/%s/parts/%d", url.PathEscape(up.ID), n), bytes.NewReader(buf[:length]), length, &up); err != nil {
			return "", err
		}
		sent(int64(n)*api.PartSize + length)
	}
	if err := r.Do(ctx, http.MethodPost, "/photos/uploads/"+url.PathEscape(up.ID)+"/complete", nil, &up); err != nil {
		return "", err
	}
	return up.Blob, nil
}

// downloadPhotos fetches the bytes of every photo whose record arrived from
// the cloud but whose file the phone lacks, checking each against its keyed
// hash. c.mu is held.
func (c *Client) downloadPhotos(ctx context.Context, s *categoryState, progress ProgressFunc) error {
	files, err := c.photoFiles()
	if err != nil {
		return err
	}
	gallery := filepath.Join(c.dir, photosDir)
	if err := os.MkdirAll(gallery, 0o700); err != nil {
		return candor.Wrap(candor.Internal, "cannot make the gallery", err)
	}
	live := map[string]bool{}
	var todo []*record
	for _, r := range s.live() {
		live[r.ID] = true
		var m api.PhotoMeta
		if json.Unmarshal(r.Data, &m) != nil || m.Blob == "" {
			continue
		}
		if f := files[r.ID]; f != "" {
			if _, err := os.Stat(filepath.Join(gallery, f)); err == nil {
				continue
			}
		}
		todo = append(todo, r)
	}
	// Partial downloads no photo to fetch names any more are dropped.
	want := map[string]bool{}
	for _, r := range todo {
		var m api.PhotoMeta
		json.Unmarshal(r.Data, &m)
		sum := sha256.Sum256([]byte(m.Blob))
		want[".download-"+hex.EncodeToString(sum[:12])+".part"] = true
	}
	if parts, err := filepath.Glob(filepath.Join(gallery, ".download-*.part")); err == nil {
		for _, f := range parts {
			if !want[filepath.Base(f)] {
				os.Remove(f)
			}
		}
	}
	// Photos deleted elsewhere leave the gallery too.
	for id, f := range files {
		if !live[id] {
			os.Remove(filepath.Join(gallery, f))
			delete(files, id)
		}
	}
	for i, r := range todo {
		var m api.PhotoMeta
		json.Unmarshal(r.Data, &m)
		name := freeName(gallery, filepath.Base(m.Name))
		if err := c.downloadPhoto(ctx, m, filepath.Join(gallery, name)); candor.Is(err, candor.NotFound) {
			// Its bytes are gone from the cloud (deleted from another
			// phone a moment before this record was synced): the photo
			// stays listed without a file rather than stopping every sync.
			continue
		} else if err != nil {
			return err
		}
		files[r.ID] = name
		if err := c.savePhotoFiles(files); err != nil {
			return err
		}
		progress(Progress{Category: candor.Photos, Phase: "download", Done: i + 1, Total: len(todo)})
	}
	return c.savePhotoFiles(files)
}

func (c *Client) downloadPhoto(ctx context.Context, m api.PhotoMeta, path string) error {
	// The partial file is named by the blob, so a download cut off goes on
	// from where it stopped at the next sync (a range request), whatever
	// name the photo gets in the gallery.
	sum := sha256.Sum256([]byte(m.Blob))
	tmp := filepath.Join(filepath.Dir(path), ".download-"+hex.EncodeToString(sum[:12])+".part")
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return candor.Wrap(candor.Internal, "cannot write to the gallery", err)
	}
	h := sha256.New()
	have, err := io.Copy(h, out) // what an earlier attempt got
	if err != nil || have >= m.Size {
		// Nothing to resume from (a whole file is checked by downloading
		// it again: cheaper to reason about than trusting its size).
		have = 0
	}
	err = c.remote().DownloadFrom(ctx, "/photos/blobs/"+url.PathEscape(m.Blob), have, func(fromOffset bool) (io.Writer, error) {
		if !fromOffset { // the whole photo comes: start the file again
			h.Reset()
			if err := out.Truncate(0); err != nil {
				return nil, err
			}
			if _, err := out.Seek(0, io.SeekStart); err != nil {
				return nil, err
			}
		}
		return io.MultiWriter(out, h), nil
	})
	if err == nil {
		err = out.Sync()
	}
	out.Close()
	if err != nil {
		if !candor.Is(err, candor.Unavailable) {
			os.Remove(tmp) // keep it only to resume after a cut-off
		}
		return err
	}
	want, err := c.photoHash(h.Sum(nil))
	if err != nil || !hmac.Equal(want, m.Hash) {
		os.Remove(tmp)
		return candor.E(candor.Integrity, "a downloaded photo does not match its hash: it was not kept")
	}
	return os.Rename(tmp, path)
}
