// Package photos stores the original bytes of a person's photos (promises
// P4, P6): uploaded in parts that resume after any crash, sealed part by
// part with a streaming AEAD (64 KiB segments) under a key per photo
// derived from the account's photos data key, kept in the region's blob
// store, and read back whole or by byte range without decrypting more than
// the segments asked for.
//
// Why parts and not tus: a tus PATCH may carry any number of bytes, so the
// server would have to keep each upload's unsealed tail on disk between
// requests to seal it in whole segments later — plaintext at rest. A part
// here is always a whole number of segments (api.PartSize), so every byte
// is sealed before it is stored, and a resumed upload re-sends only the
// parts the server does not have.
//
// Photos are a consented category like any other: uploads and downloads
// need photos on, and turning it off (or deleting the account) deletes the
// blobs and destroys their keys. The photo's metadata travels separately,
// as a sealed record of the photos category.
package photos

import (
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/blobs"
	"github.com/candorcloud/candor/internal/consent"
	"github.com/candorcloud/candor/internal/seal"
	"github.com/candorcloud/candor/internal/slots"
	"github.com/candorcloud/candor/internal/store"
)

// Stores resolves a region's upload index and blob store.
type Stores interface {
	Uploads(region candor.RegionID) (store.Uploads, error)
	Blobs(region candor.RegionID) (blobs.Store, error)
}

// Keys derives per-photo keys.
type Keys interface {
	BlobKey(ctx context.Context, region candor.RegionID, account candor.AccountID, c candor.Category, epoch int64, blob string, create bool) ([]byte, error)
}

// Config tunes the service.
type Config struct {
	// MaxSize is the largest photo accepted (default 200 MiB).
	MaxSize int64
	// UploadTTL is how long an upload may stay incomplete before it is
	// abandoned and deleted (default 24 h).
	UploadTTL time.Duration
	// UploadTTLIn, when set, gives the upload expiry per region instead.
	UploadTTLIn func(candor.RegionID) time.Duration
	Now         func() time.Time
	// Plain stores parts unsealed. It exists for one purpose: benchmarks
	// measuring what sealing costs. The server never sets it.
	Plain bool
	// PartsPerAccount and Parts bound the parts received at once, per
	// account and in all (defaults MaxPartsPerAccount and MaxParts).
	PartsPerAccount, Parts int
}

// ttl is how long an upload may stay incomplete in region.
func (s *Service) ttl(region candor.RegionID) time.Duration {
	if s.cfg.UploadTTLIn != nil {
		return s.cfg.UploadTTLIn(region)
	}
	return s.cfg.UploadTTL
}

// Service handles photo uploads and downloads.
type Service struct {
	stores Stores
	keys   Keys
	logs   *audit.Logs
	cfg    Config
	parts  *slots.Counter[candor.AccountID] // parts being received
}

// New returns a Service.
func New(stores Stores, keys Keys, logs *audit.Logs, cfg Config) *Service {
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = 200 << 20
	}
	if cfg.UploadTTL <= 0 {
		cfg.UploadTTL = 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PartsPerAccount <= 0 {
		cfg.PartsPerAccount = MaxPartsPerAccount
	}
	if cfg.Parts <= 0 {
		cfg.Parts = MaxParts
	}
	return &Service{stores: stores, keys: keys, logs: logs, cfg: cfg,
		parts: slots.New[candor.AccountID](cfg.PartsPerAccount, cfg.Parts, errAccountParts, errServerParts)}
}

// Parts is how many parts a photo of size bytes is sent in (at least 1).
func Parts(size int64) int {
	if size <= 0 {
		return 1
	}
	return int((size + api.PartSize - 1) / api.PartSize)
}

func partLen(size int64, n int) int64 {
	return min(api.PartSize, size-int64(n)*api.PartSize)
}

// blobPrefix is where the parts of one photo lie in the blob store.
func blobPrefix(account candor.AccountID, id string) string {
	return blobs.CategoryPrefix(account, candor.Photos) + id + "/"
}

func partKey(account candor.AccountID, id string, n int) string {
	return fmt.Sprintf("%spart-%06d", blobPrefix(account, id), n)
}

type scope struct {
	uploads store.Uploads
	blobs   blobs.Store
	epoch   int64
}

// open checks that g grants photos and resolves its region's stores.
func (s *Service) open(g consent.Grant) (scope, error) {
	if err := g.For(candor.Photos); err != nil {
		return scope{}, err
	}
	p, epoch := g.Principal(), g.Epoch()
	up, err := s.stores.Uploads(p.Region)
	if err != nil {
		return scope{}, err
	}
	bl, err := s.stores.Blobs(p.Region)
	if err != nil {
		return scope{}, err
	}
	return scope{up, bl, epoch}, nil
}

func (s *Service) toAPI(ctx context.Context, sc scope, u store.Upload) (api.Upload, error) {
	out := api.Upload{ID: u.ID, Size: u.Size, Parts: Parts(u.Size), Expires: u.Expires, Received: []int{}}
	if u.Complete {
		out.Blob = u.ID
	}
	keys, err := sc.blobs.List(ctx, blobPrefix(u.Account, u.ID))
	if err != nil {
		return api.Upload{}, err
	}
	for _, k := range keys {
		if n, err := strconv.Atoi(strings.TrimPrefix(k[strings.LastIndex(k, "/")+1:], "part-")); err == nil {
			out.Received = append(out.Received, n)
		}
	}
	slices.Sort(out.Received)
	return out, nil
}

// Create starts an upload of size bytes with the device's keyed content
// hash. If the account already holds a photo with that hash, the answer
// names its blob and nothing needs sending.
func (s *Service) Create(ctx context.Context, g consent.Grant, size int64, hash []byte) (api.Upload, error) {
	switch {
	case size < 0:
		return api.Upload{}, candor.E(candor.Invalid, "a photo's size cannot be negative")
	case size > s.cfg.MaxSize:
		return api.Upload{}, candor.Errorf(candor.TooLarge, "a photo may be at most %d MiB", s.cfg.MaxSize>>20)
	case len(hash) != 32:
		return api.Upload{}, candor.E(candor.Invalid, "the content hash is 32 bytes (HMAC-SHA256)")
	}
	p := g.Principal()
	sc, err := s.open(g)
	if err != nil {
		return api.Upload{}, err
	}
	if u, err := sc.uploads.UploadByHash(ctx, p.Account, candor.Photos, hash); err == nil && u.Size == size {
		// Another photo record is about to name this blob: a phone that
		// deletes the blob before it sees that record must not.
		if err := sc.uploads.ShareUpload(ctx, p.Account, u.ID, s.cfg.Now().UTC()); err != nil {
			return api.Upload{}, err
		}
		return s.toAPI(ctx, sc, u)
	} else if err != nil && !candor.Is(err, candor.NotFound) {
		return api.Upload{}, err
	}
	now := s.cfg.Now().UTC()
	ttl := s.ttl(p.Region)
	u := store.Upload{ID: candor.NewID("pho"), Account: p.Account, Category: candor.Photos, Size: size, Hash: hash,
		Created: now, Expires: now.Add(ttl)}
	if err := sc.uploads.CreateUpload(ctx, u); err != nil {
		return api.Upload{}, err
	}
	return s.toAPI(ctx, sc, u)
}

func (s *Service) upload(ctx context.Context, sc scope, p candor.Principal, id string) (store.Upload, error) {
	if !candor.ValidID(id) {
		return store.Upload{}, candor.E(candor.NotFound, "no such upload")
	}
	return sc.uploads.Upload(ctx, p.Account, id)
}

// Status says which parts of an upload the server holds.
func (s *Service) Status(ctx context.Context, g consent.Grant, id string) (api.Upload, error) {
	p := g.Principal()
	sc, err := s.open(g)
	if err != nil {
		return api.Upload{}, err
	}
	u, err := s.upload(ctx, sc, p, id)
	if err != nil {
		return api.Upload{}, err
	}
	return s.toAPI(ctx, sc, u)
}

// A stored part is a header — a format byte and a random salt — and then
// its sealed segments. The salt makes every write of a part use a fresh
// key (HKDF of the photo's key and the salt), so a part sent twice with
// different bytes never reuses a key and nonce.
const (
	partFormat = 1
	saltSize   = 16
	headerSize = 1 + saltSize
)

func (s *Service) blobKey(ctx context.Context, sc scope, p candor.Principal, id string, create bool) ([]byte, error) {
	return s.keys.BlobKey(ctx, p.Region, p.Account, candor.Photos, sc.epoch, id, create)
}

// partStream is the stream of one write of part n of photo id.
func partStream(blobKey, salt []byte, id string, n int) (*seal.Stream, error) {
	key, err := hkdf.Key(sha256.New, blobKey, salt, "candor/photo-part/v1|"+id+"|"+strconv.Itoa(n), seal.KeySize)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	return seal.NewStream(key, []byte("candor/photo/v1|"+id))
}

// PutPart seals and stores part n of an upload, read from body, which must
// hold exactly the part's length. Sending a part again replaces it.
func (s *Service) PutPart(ctx context.Context, g consent.Grant, id string, n int, body io.Reader) (api.Upload, error) {
	p := g.Principal()
	sc, err := s.open(g)
	if err != nil {
		return api.Upload{}, err
	}
	u, err := s.upload(ctx, sc, p, id)
	if err != nil {
		return api.Upload{}, err
	}
	if u.Complete {
		return api.Upload{}, candor.E(candor.Conflict, "this upload is complete already")
	}
	if !s.cfg.Now().Before(u.Expires) {
		return api.Upload{}, candor.E(candor.NotFound, "this upload expired: start the photo again")
	}
	if n < 0 || n >= Parts(u.Size) {
		return api.Upload{}, candor.Errorf(candor.Invalid, "part %d does not exist: this photo has parts 0 to %d", n, Parts(u.Size)-1)
	}
	release, err := s.parts.Take(p.Account)
	if err != nil {
		return api.Upload{}, err
	}
	defer release()
	var st *seal.Stream
	var header []byte
	if !s.cfg.Plain {
		key, err := s.blobKey(ctx, sc, p, id, true)
		if err != nil {
			return api.Upload{}, err
		}
		salt := make([]byte, saltSize)
		rand.Read(salt)
		st, err = partStream(key, salt, id, n)
		clear(key)
		if err != nil {
			return api.Upload{}, err
		}
		header = append([]byte{partFormat}, salt...)
	}
	// An upload that is making progress is not abandoned: each part gives
	// it the whole lifetime again, before the part is stored, so that the
	// expiry worker does not pick it while a slow part is being written.
	u.Expires = s.cfg.Now().UTC().Add(s.ttl(p.Region))
	ev, err := s.logs.DeviceEvent(p, audit.ActionPhotoPart, candor.Photos)
	if err != nil {
		return api.Upload{}, err
	}
	ev.Count = n
	if err := sc.uploads.ExtendUpload(ctx, s.logs.Record(ev), p.Account, id, u.Expires); err != nil {
		return api.Upload{}, err
	}
	part := newPartReader(body, st, u.Size, n, header)
	if err := sc.blobs.Put(ctx, partKey(p.Account, id, n), part, part.storedSize(len(header))); err != nil {
		if part.err != nil {
			err = part.err // the body's fault, not the store's
		}
		// The part's record went in with the upload's extension, before
		// its bytes arrived: the owner's log also says it was not stored.
		return api.Upload{}, s.logs.Outcome(ctx, ev, err)
	}
	return s.toAPI(ctx, sc, u)
}

const segmentsPerPart = api.PartSize / seal.SegmentSize

// Complete checks that every part arrived and marks the upload a blob.
func (s *Service) Complete(ctx context.Context, g consent.Grant, id string) (api.Upload, error) {
	p := g.Principal()
	sc, err := s.open(g)
	if err != nil {
		return api.Upload{}, err
	}
	u, err := s.upload(ctx, sc, p, id)
	if err != nil {
		return api.Upload{}, err
	}
	st, err := s.toAPI(ctx, sc, u)
	if err != nil || u.Complete {
		return st, err
	}
	if len(st.Received) != st.Parts {
		return api.Upload{}, candor.Errorf(candor.Conflict, "%d of %d parts arrived: send the others first", len(st.Received), st.Parts)
	}
	if !s.cfg.Now().Before(u.Expires) {
		return api.Upload{}, candor.E(candor.NotFound, "this upload expired: start the photo again")
	}
	ev, err := s.event(p, audit.ActionPhotoUpload, u.Size)
	if err != nil {
		return api.Upload{}, err
	}
	if err := sc.uploads.CompleteUpload(ctx, s.logs.Record(ev), p.Account, id); err != nil {
		return api.Upload{}, err
	}
	u.Complete = true
	return s.toAPI(ctx, sc, u)
}

// event is the record of p's device accessing a photo of size bytes.
func (s *Service) event(p candor.Principal, action string, size int64) (audit.Event, error) {
	ev, err := s.logs.DeviceEvent(p, action, candor.Photos)
	ev.Count = int(min(size, 1<<31-1))
	return ev, err
}

// Blob is a stored photo opened for reading.
type Blob struct {
	Size int64
	sc   scope
	key  []byte // the photo's key; nil when stored plain
	p    candor.Principal
	id   string
	s    *Service
}

// Open opens a complete photo of the granted account for reading. The
// access is logged in the same transaction as the read of its index entry
// (fail-closed: no log, no read).
func (s *Service) Open(ctx context.Context, g consent.Grant, id string) (*Blob, error) {
	p := g.Principal()
	sc, err := s.open(g)
	if err != nil {
		return nil, err
	}
	if !candor.ValidID(id) {
		return nil, candor.E(candor.NotFound, "no such upload")
	}
	ev, err := s.event(p, audit.ActionPhotoDownload, 0)
	if err != nil {
		return nil, err
	}
	u, err := sc.uploads.OpenUpload(ctx, s.logs.Record(ev), p.Account, id)
	if candor.Is(err, candor.NotFound) {
		return nil, candor.E(candor.NotFound, "no such photo (or its upload is not complete)")
	} else if err != nil {
		return nil, err
	}
	b := &Blob{Size: u.Size, sc: sc, p: p, id: id, s: s}
	if !s.cfg.Plain {
		if b.key, err = s.blobKey(ctx, sc, p, id, false); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// WriteRange writes bytes [from, to) of the photo to w, opening only the
// segments that hold them. A stored segment that fails its check is a
// candor.Integrity error; nothing of it is written.
func (b *Blob) WriteRange(ctx context.Context, w io.Writer, from, to int64) error {
	if from < 0 || to > b.Size || from > to {
		return candor.E(candor.Invalid, "the range lies outside the photo")
	}
	for part := int(from / api.PartSize); int64(part)*api.PartSize < to; part++ {
		r, _, err := b.sc.blobs.Get(ctx, partKey(b.p.Account, b.id, part))
		if err != nil {
			if candor.Is(err, candor.NotFound) {
				return candor.E(candor.Integrity, "a part of the photo is missing from storage")
			}
			return err
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			return err
		}
		plain, err := b.openPart(part, data)
		if err != nil {
			return err
		}
		start := int64(part) * api.PartSize
		lo, hi := max(from-start, 0), min(to-start, int64(len(plain)))
		if _, err := w.Write(plain[lo:hi]); err != nil {
			return err
		}
	}
	return nil
}

func (b *Blob) openPart(part int, data []byte) ([]byte, error) {
	if b.key == nil {
		return data, nil
	}
	want := partLen(b.Size, part)
	if int64(len(data)) != headerSize+seal.SealedSize(want) || data[0] != partFormat {
		return nil, candor.E(candor.Integrity, "a stored part of the photo is damaged")
	}
	st, err := partStream(b.key, data[1:headerSize], b.id, part)
	if err != nil {
		return nil, err
	}
	data = data[headerSize:]
	last := seal.Segments(b.Size) - 1
	first := int64(part) * segmentsPerPart
	out := make([]byte, 0, want)
	for i := int64(0); len(data) > 0; i++ {
		n := min(int64(len(data)), seal.SegmentSize+seal.SegmentOverhead)
		var err error
		if out, err = st.Open(out, first+i, first+i == last, data[:n]); err != nil {
			return nil, err
		}
		data = data[n:]
	}
	return out, nil
}

// Delete deletes a photo's blob (or an unfinished upload) of p's account.
func (s *Service) Delete(ctx context.Context, g consent.Grant, id string) error {
	p := g.Principal()
	sc, err := s.open(g)
	if err != nil {
		return err
	}
	u, err := s.upload(ctx, sc, p, id)
	if err != nil {
		return err
	}
	if !u.Shared.IsZero() && s.cfg.Now().Sub(u.Shared) < s.ttl(p.Region) {
		return candor.E(candor.Conflict, "this photo was just added again from another phone: its bytes are kept")
	}
	ev, err := s.event(p, audit.ActionPhotoDelete, 0)
	if err != nil {
		return err
	}
	// The bytes first: if their deletion fails, the index entry stays and
	// the phone's next try finds them again.
	if _, err := sc.blobs.DeletePrefix(ctx, blobPrefix(p.Account, id)); err != nil {
		return err
	}
	return sc.uploads.DeleteUpload(ctx, s.logs.Record(ev), p.Account, id)
}

// Expire deletes uploads abandoned before completing (their expiry has
// passed), parts and all, in one region, and reports how many.
func (s *Service) Expire(ctx context.Context, region candor.RegionID) (int, error) {
	up, err := s.stores.Uploads(region)
	if err != nil {
		return 0, err
	}
	bl, err := s.stores.Blobs(region)
	if err != nil {
		return 0, err
	}
	list, err := up.ExpiredUploads(ctx, s.cfg.Now(), 100)
	if err != nil {
		return 0, err
	}
	for _, u := range list {
		ev, err := s.logs.AccountEvent(audit.ActorSystem, audit.ActionPhotoExpire, u.Account, region, u.Category)
		if err != nil {
			return 0, err
		}
		if _, err := bl.DeletePrefix(ctx, blobPrefix(u.Account, u.ID)); err != nil {
			return 0, err
		}
		if err := up.DeleteUpload(ctx, s.logs.Record(ev), u.Account, u.ID); err != nil {
			return 0, err
		}
	}
	return len(list), nil
}
