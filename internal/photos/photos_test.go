package photos_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"github.com/candorcloud/candor/internal/keyring/keyringtest"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/blobs"
	"github.com/candorcloud/candor/internal/blobs/disk"
	"github.com/candorcloud/candor/internal/consent"
	"github.com/candorcloud/candor/internal/consent/gate"
	"github.com/candorcloud/candor/internal/egress"
	"github.com/candorcloud/candor/internal/keyring"
	"github.com/candorcloud/candor/internal/photos"
	"github.com/candorcloud/candor/internal/seal"
	"github.com/candorcloud/candor/internal/store"
	"github.com/candorcloud/candor/internal/store/sqlstore"
)

// env is one region ("in") of a deployment on disk: real SQLite directory
// and region stores, a disk blob store, an unsealed keyring, audit logs,
// the consent ledger and the photos service, composed as the server does.
type env struct {
	data    string // the data folder everything lives in
	blobDir string
	dir     *sqlstore.DirectoryStore
	region  *sqlstore.RegionStore
	blobs   *disk.Store
	keys    *keyring.Keyring
	logs    *audit.Logs
	ledger  *consent.Ledger
	svc     *photos.Service // the service itself
	photos  *gate.Photos    // behind its consent gate, as the API holds it
	now     time.Time
}

const home candor.RegionID = "in"

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{data: t.TempDir(), now: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)}
	var err error
	if e.dir, err = sqlstore.OpenSQLiteDirectory(filepath.Join(e.data, "directory.db")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.dir.Close() })
	if e.region, err = sqlstore.OpenSQLiteRegion(filepath.Join(e.data, "in.db")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.region.Close() })
	e.blobDir = filepath.Join(e.data, "in-blobs")
	if e.blobs, err = disk.New(e.blobDir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.blobs.Close() })
	ek, _ := keyringtest.Erasure(t)
	e.keys = keyring.New(e.dir, map[candor.RegionID]keyring.RegionKeys{home: e.region}, ek)
	if err := e.keys.Unseal(ctx, bytes.Repeat([]byte{1}, 32)); err != nil {
		t.Fatal(err)
	}
	e.logs = audit.New(e.dir, map[candor.RegionID]store.AuditLog{home: e.region}, e.keys, "candor-test")
	e.ledger = consent.NewLedger(e, e, nil)
	e.svc = photos.New(e, e.keys, e.logs, photos.Config{
		MaxSize:   12 << 20,
		UploadTTL: time.Hour,
		Now:       func() time.Time { return e.now },
	})
	e.photos = gate.NewPhotos(e.ledger, e.svc)
	return e
}

func (e *env) check(id candor.RegionID) error {
	if id != home {
		return candor.Errorf(candor.WrongRegion, "region %s is not served here", id)
	}
	return nil
}

func (e *env) Uploads(id candor.RegionID) (store.Uploads, error) { return e.region, e.check(id) }
func (e *env) Blobs(id candor.RegionID) (blobs.Store, error)     { return e.blobs, e.check(id) }
func (e *env) Consent(id candor.RegionID) (consent.Store, error) { return e.region, e.check(id) }

// Shred destroys what a withdrawn category leaves outside the region's
// database, as the server does: the directory's half of the key and the
// category's blobs.
func (e *env) Shred(ctx context.Context, p candor.Principal, c candor.Category) error {
	if err := e.keys.Shred(ctx, p.Account, c); err != nil {
		return err
	}
	_, err := e.blobs.DeletePrefix(ctx, blobs.CategoryPrefix(p.Account, c))
	return err
}

// person makes an account in the region with photos on and returns a
// principal of one of its devices.
func (e *env) person(t *testing.T) candor.Principal {
	t.Helper()
	ctx := context.Background()
	p := candor.Principal{Account: candor.NewAccountID(), Device: candor.NewDeviceID(), Region: home}
	if err := e.region.CreateAccount(ctx, store.Account{ID: p.Account, Country: "IN", Salt: make([]byte, 16), AuthHash: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := e.dir.CreateEntry(ctx, store.Entry{Account: p.Account, Handle: []byte(p.Account), Region: home}); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.WrapConsent(e.ledger, e.logs).Set(ctx, p, candor.Photos, true, ""); err != nil {
		t.Fatal(err)
	}
	return p
}

// partFile is where the disk store keeps part n of a photo.
func (e *env) partFile(p candor.Principal, id string, n int) string {
	return filepath.Join(e.blobDir, filepath.FromSlash(blobs.CategoryPrefix(p.Account, candor.Photos)), id, fmt.Sprintf("part-%06d", n))
}

// stored lists the blob keys of an upload.
func (e *env) stored(t *testing.T, p candor.Principal, id string) []string {
	t.Helper()
	keys, err := e.blobs.List(context.Background(), blobs.CategoryPrefix(p.Account, candor.Photos)+id+"/")
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// actions lists the actions of the account's entries in the region's
// audit log, oldest first.
func (e *env) actions(t *testing.T, a candor.AccountID) []string {
	t.Helper()
	ctx := context.Background()
	cp, err := e.logs.Checkpoint(ctx, string(home))
	if err != nil {
		t.Fatal(err)
	}
	proofs, err := e.logs.EntriesFor(ctx, string(home), a, -1, 1000, cp)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, pr := range proofs {
		ev, err := audit.Decode(pr.Entry.Data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev.Action)
	}
	return out
}

const canary = "Marmalade-photo canary of the harbour at dawn"

// photo returns size pseudo-random bytes with the canary written into
// every part, and a content hash for them.
func photo(size int64, seed uint64) ([]byte, []byte) {
	b := make([]byte, size)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	r.Read(b)
	for off := int64(1000); off+int64(len(canary)) <= size; off += api.PartSize {
		copy(b[off:], canary)
	}
	h := sha256.Sum256(b)
	return b, h[:]
}

func part(b []byte, n int) []byte {
	return b[n*api.PartSize : min((n+1)*api.PartSize, len(b))]
}

// upload sends every part of b and completes the upload.
func (e *env) upload(t *testing.T, p candor.Principal, b, hash []byte) api.Upload {
	t.Helper()
	ctx := context.Background()
	u, err := e.photos.Create(ctx, p, int64(len(b)), hash)
	if err != nil {
		t.Fatal(err)
	}
	for n := range u.Parts {
		if _, err := e.photos.PutPart(ctx, p, u.ID, n, bytes.NewReader(part(b, n))); err != nil {
			t.Fatalf("part %d: %v", n, err)
		}
	}
	done, err := e.photos.Complete(ctx, p, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if done.Blob != u.ID {
		t.Fatalf("complete upload names blob %q, want %q", done.Blob, u.ID)
	}
	return done
}

// read reads bytes [from, to) of a photo.
func (e *env) read(p candor.Principal, id string, from, to int64) ([]byte, error) {
	b, err := e.photos.Open(context.Background(), p, id)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	err = b.WriteRange(context.Background(), &buf, from, to)
	return buf.Bytes(), err
}

func wantKind(t *testing.T, what string, err error, k candor.Kind) {
	t.Helper()
	if !candor.Is(err, k) {
		t.Fatalf("%s: got %v (kind %v), want %v", what, err, candor.KindOf(err), k)
	}
}

// A photo sent in parts, in any order, reads back byte for byte, whole
// and by any range, and completing is refused until every part arrived.
func TestUploadAndRead(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	p := e.person(t)
	size := int64(api.PartSize + 3*seal.SegmentSize + 100) // two parts, the last not whole segments
	b, hash := photo(size, 1)

	u, err := e.photos.Create(ctx, p, size, hash)
	if err != nil {
		t.Fatal(err)
	}
	if u.Parts != 2 || u.Size != size || len(u.Received) != 0 || u.Blob != "" || !u.Expires.Equal(e.now.Add(time.Hour)) {
		t.Fatalf("created %+v", u)
	}
	// The last part first: parts may come in any order.
	st, err := e.photos.PutPart(ctx, p, u.ID, 1, bytes.NewReader(part(b, 1)))
	if err != nil || !slices.Equal(st.Received, []int{1}) {
		t.Fatalf("after part 1: %+v %v", st, err)
	}
	_, err = e.photos.Complete(ctx, p, u.ID)
	wantKind(t, "complete with part 0 missing", err, candor.Conflict)
	_, err = e.photos.Open(ctx, p, u.ID)
	wantKind(t, "open an incomplete upload", err, candor.NotFound)

	// A part sent again replaces the first copy.
	wrong := bytes.Repeat([]byte{'x'}, api.PartSize)
	if _, err := e.photos.PutPart(ctx, p, u.ID, 0, bytes.NewReader(wrong)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.photos.PutPart(ctx, p, u.ID, 0, bytes.NewReader(part(b, 0))); err != nil {
		t.Fatal(err)
	}
	if st, err := e.photos.Status(ctx, p, u.ID); err != nil || !slices.Equal(st.Received, []int{0, 1}) || st.Blob != "" {
		t.Fatalf("status: %+v %v", st, err)
	}
	done, err := e.photos.Complete(ctx, p, u.ID)
	if err != nil || done.Blob != u.ID {
		t.Fatalf("complete: %+v %v", done, err)
	}
	// Completing again is harmless; sending a part after is a conflict.
	if again, err := e.photos.Complete(ctx, p, u.ID); err != nil || again.Blob != u.ID {
		t.Fatalf("complete again: %+v %v", again, err)
	}
	_, err = e.photos.PutPart(ctx, p, u.ID, 0, bytes.NewReader(part(b, 0)))
	wantKind(t, "a part after completion", err, candor.Conflict)

	blob, err := e.photos.Open(ctx, p, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if blob.Size != size {
		t.Fatalf("blob size %d, want %d", blob.Size, size)
	}
	ranges := [][2]int64{
		{0, size},                              // whole
		{0, 0},                                 // empty
		{size - 1, size},                       // last byte
		{api.PartSize - 10, api.PartSize + 10}, // across the part boundary
		{seal.SegmentSize - 1, seal.SegmentSize + 1}, // across a segment boundary
		{api.PartSize + 5, api.PartSize + 6},         // inside the last part
		{12345, 2 * seal.SegmentSize},
	}
	for _, r := range ranges {
		var buf bytes.Buffer
		if err := blob.WriteRange(ctx, &buf, r[0], r[1]); err != nil {
			t.Fatalf("range %v: %v", r, err)
		}
		if !bytes.Equal(buf.Bytes(), b[r[0]:r[1]]) {
			t.Fatalf("range %v: %d bytes differ from what was sent", r, buf.Len())
		}
	}
	for _, r := range [][2]int64{{-1, 10}, {0, size + 1}, {10, 9}} {
		var buf bytes.Buffer
		err := blob.WriteRange(ctx, &buf, r[0], r[1])
		wantKind(t, fmt.Sprintf("range %v", r), err, candor.Invalid)
		if buf.Len() != 0 {
			t.Fatalf("range %v wrote %d bytes", r, buf.Len())
		}
	}
	// The upload and the read are in the region's audit log.
	got := e.actions(t, p.Account)
	if !slices.Contains(got, "photos.upload") || !slices.Contains(got, "photos.download") {
		t.Fatalf("audit log of the account: %v", got)
	}
}

// An empty photo is one empty part and reads back empty.
func TestEmptyPhoto(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	p := e.person(t)
	h := sha256.Sum256(nil)
	u, err := e.photos.Create(ctx, p, 0, h[:])
	if err != nil || u.Parts != 1 {
		t.Fatalf("create: %+v %v", u, err)
	}
	_, err = e.photos.PutPart(ctx, p, u.ID, 0, bytes.NewReader([]byte{1}))
	wantKind(t, "one byte for an empty part", err, candor.TooLarge)
	if _, err := e.photos.PutPart(ctx, p, u.ID, 0, bytes.NewReader(nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.photos.Complete(ctx, p, u.ID); err != nil {
		t.Fatal(err)
	}
	got, err := e.read(p, u.ID, 0, 0)
	if err != nil || len(got) != 0 {
		t.Fatalf("read: %q %v", got, err)
	}
}

// Bad sizes, hashes and part numbers are refused, and a refused part
// leaves nothing in the blob store.
func TestRefusedInput(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	p := e.person(t)
	size := int64(api.PartSize + 100)
	b, hash := photo(size, 2)

	_, err := e.photos.Create(ctx, p, -1, hash)
	wantKind(t, "negative size", err, candor.Invalid)
	_, err = e.photos.Create(ctx, p, 12<<20+1, hash)
	wantKind(t, "above MaxSize", err, candor.TooLarge)
	_, err = e.photos.Create(ctx, p, size, hash[:31])
	wantKind(t, "31-byte hash", err, candor.Invalid)

	u, err := e.photos.Create(ctx, p, size, hash)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		n    int
		body []byte
		kind candor.Kind
	}{
		{"part 0 one byte short", 0, part(b, 0)[:api.PartSize-1], candor.Invalid},
		{"part 0 one byte long", 0, append(slices.Clone(part(b, 0)), 0), candor.TooLarge},
		{"part 0 empty", 0, nil, candor.Invalid},
		{"last part short", 1, part(b, 1)[:99], candor.Invalid},
		{"last part sent at full part size", 1, part(b, 0), candor.TooLarge},
		{"part 2 of a 2-part photo", 2, part(b, 1), candor.Invalid},
		{"part -1", -1, part(b, 1), candor.Invalid},
	}
	for _, c := range cases {
		_, err := e.photos.PutPart(ctx, p, u.ID, c.n, bytes.NewReader(c.body))
		wantKind(t, c.name, err, c.kind)
	}
	if keys := e.stored(t, p, u.ID); len(keys) != 0 {
		t.Fatalf("refused parts left %v in the blob store", keys)
	}
	if st, err := e.photos.Status(ctx, p, u.ID); err != nil || len(st.Received) != 0 {
		t.Fatalf("status after refused parts: %+v %v", st, err)
	}
	_, err = e.photos.Complete(ctx, p, u.ID)
	wantKind(t, "complete with no parts", err, candor.Conflict)

	for _, id := range []string{"", "../x", "pho_nope", u.ID + "/../" + u.ID} {
		_, err := e.photos.Status(ctx, p, id)
		wantKind(t, fmt.Sprintf("status of %q", id), err, candor.NotFound)
		_, err = e.photos.PutPart(ctx, p, id, 0, bytes.NewReader(part(b, 0)))
		wantKind(t, fmt.Sprintf("part of %q", id), err, candor.NotFound)
	}
}

// A second upload of a photo the account holds names the stored blob and
// needs no parts; the same hash with another size, or in another account,
// is a new upload.
func TestDuplicate(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	p := e.person(t)
	b, hash := photo(70000, 3)
	first := e.upload(t, p, b, hash)

	again, err := e.photos.Create(ctx, p, int64(len(b)), hash)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != first.ID || again.Blob != first.ID || !slices.Equal(again.Received, []int{0}) {
		t.Fatalf("second upload of the same photo: %+v, first %+v", again, first)
	}
	other, err := e.photos.Create(ctx, p, int64(len(b))+1, hash)
	if err != nil || other.ID == first.ID || other.Blob != "" {
		t.Fatalf("same hash, other size: %+v %v", other, err)
	}
	q := e.person(t)
	theirs, err := e.photos.Create(ctx, q, int64(len(b)), hash)
	if err != nil || theirs.ID == first.ID || theirs.Blob != "" || len(theirs.Received) != 0 {
		t.Fatalf("same hash in another account: %+v %v", theirs, err)
	}
	if keys := e.stored(t, p, first.ID); len(keys) != 1 {
		t.Fatalf("the photo is stored as %v, want one part", keys)
	}
}

// No principal of another account reaches a photo or an upload: every
// call is NotFound, and the owner's photo stays as it was.
func TestOtherAccount(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	p := e.person(t)
	q := e.person(t)
	b, hash := photo(api.PartSize+10, 4)
	done := e.upload(t, p, b, hash)
	pending, err := e.photos.Create(ctx, p, 10, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	// q is the same device id too: only the account decides.
	q.Device = p.Device
	for _, id := range []string{done.ID, pending.ID} {
		_, err := e.photos.Status(ctx, q, id)
		wantKind(t, "status", err, candor.NotFound)
		_, err = e.photos.PutPart(ctx, q, id, 0, bytes.NewReader(make([]byte, 10)))
		wantKind(t, "put part", err, candor.NotFound)
		_, err = e.photos.Complete(ctx, q, id)
		wantKind(t, "complete", err, candor.NotFound)
		_, err = e.photos.Open(ctx, q, id)
		wantKind(t, "open", err, candor.NotFound)
		err = e.photos.Delete(ctx, q, id)
		wantKind(t, "delete", err, candor.NotFound)
	}
	got, err := e.read(p, done.ID, 0, int64(len(b)))
	if err != nil || !bytes.Equal(got, b) {
		t.Fatalf("the owner's photo after another account's calls: %d bytes, %v", len(got), err)
	}
	if st, err := e.photos.Status(ctx, p, pending.ID); err != nil || len(st.Received) != 0 {
		t.Fatalf("the owner's upload after another account's calls: %+v %v", st, err)
	}
	if keys := e.stored(t, q, done.ID); len(keys) != 0 {
		t.Fatalf("another account's calls stored %v", keys)
	}
}

// An upload not completed by its expiry takes no more parts and cannot be
// completed; Expire deletes it, parts and all, and leaves complete photos
// and live uploads alone.
func TestExpire(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	p := e.person(t)
	b, hash := photo(api.PartSize+10, 5)
	kept := e.upload(t, p, b, hash)
	abandoned, err := e.photos.Create(ctx, p, int64(len(b)), make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.photos.PutPart(ctx, p, abandoned.ID, 0, bytes.NewReader(part(b, 0))); err != nil {
		t.Fatal(err)
	}
	// An upload that completed in time may still expire on paper; it is kept.
	e.now = e.now.Add(30 * time.Minute)
	live, err := e.photos.Create(ctx, p, 10, bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := e.svc.Expire(ctx, home); err != nil || n != 0 {
		t.Fatalf("expire before any expiry: %d %v", n, err)
	}

	e.now = e.now.Add(30 * time.Minute) // the abandoned upload's expiry, exactly
	_, err = e.photos.PutPart(ctx, p, abandoned.ID, 1, bytes.NewReader(part(b, 1)))
	wantKind(t, "a part at expiry", err, candor.NotFound)
	if keys := e.stored(t, p, abandoned.ID); len(keys) != 1 {
		t.Fatalf("parts of the expired upload before Expire: %v", keys)
	}
	e.now = e.now.Add(time.Second)
	if n, err := e.svc.Expire(ctx, home); err != nil || n != 1 {
		t.Fatalf("expire: %d %v", n, err)
	}
	if keys := e.stored(t, p, abandoned.ID); len(keys) != 0 {
		t.Fatalf("Expire left %v", keys)
	}
	_, err = e.photos.Status(ctx, p, abandoned.ID)
	wantKind(t, "status of an expired upload", err, candor.NotFound)
	if _, err := e.photos.Status(ctx, p, live.ID); err != nil {
		t.Fatalf("a live upload was expired: %v", err)
	}
	got, err := e.read(p, kept.ID, 0, int64(len(b)))
	if err != nil || !bytes.Equal(got, b) {
		t.Fatalf("a complete photo after Expire: %d bytes, %v", len(got), err)
	}
	if n, err := e.svc.Expire(ctx, home); err != nil || n != 0 {
		t.Fatalf("expire again: %d %v", n, err)
	}
	_, err = e.svc.Expire(ctx, "sg")
	wantKind(t, "expire in a region not served", err, candor.WrongRegion)
}

// A photo whose parts all arrived but whose upload expired cannot be
// completed.
func TestCompleteAfterExpiry(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	p := e.person(t)
	b, hash := photo(100, 6)
	u, err := e.photos.Create(ctx, p, 100, hash)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.photos.PutPart(ctx, p, u.ID, 0, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(time.Hour)
	_, err = e.photos.Complete(ctx, p, u.ID)
	wantKind(t, "complete after expiry", err, candor.NotFound)
	_, err = e.photos.Open(ctx, p, u.ID)
	wantKind(t, "open", err, candor.NotFound)
}

// Without photos on, nothing works; turning photos off deletes the photos,
// and a photo sent again after turning it on is stored again, not taken
// for the one deleted.
func TestConsent(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	p := e.person(t)
	b, hash := photo(1000, 7)
	done := e.upload(t, p, b, hash)

	if _, err := audit.WrapConsent(e.ledger, e.logs).Set(ctx, p, candor.Photos, false, ""); err != nil {
		t.Fatal(err)
	}
	_, err := e.photos.Create(ctx, p, 1000, hash)
	wantKind(t, "create with photos off", err, candor.ConsentRequired)
	_, err = e.photos.Status(ctx, p, done.ID)
	wantKind(t, "status with photos off", err, candor.ConsentRequired)
	_, err = e.photos.PutPart(ctx, p, done.ID, 0, bytes.NewReader(b))
	wantKind(t, "put part with photos off", err, candor.ConsentRequired)
	_, err = e.photos.Open(ctx, p, done.ID)
	wantKind(t, "open with photos off", err, candor.ConsentRequired)
	err = e.photos.Delete(ctx, p, done.ID)
	wantKind(t, "delete with photos off", err, candor.ConsentRequired)
	if keys := e.stored(t, p, done.ID); len(keys) != 0 {
		t.Fatalf("photos off left %v", keys)
	}

	if _, err := audit.WrapConsent(e.ledger, e.logs).Set(ctx, p, candor.Photos, true, ""); err != nil {
		t.Fatal(err)
	}
	_, err = e.photos.Open(ctx, p, done.ID)
	wantKind(t, "open a photo deleted by withdrawal", err, candor.NotFound)
	again, err := e.photos.Create(ctx, p, 1000, hash)
	if err != nil || again.Blob != "" || again.ID == done.ID {
		t.Fatalf("the same photo after photos off and on: %+v %v", again, err)
	}
	e.upload(t, p, b, hash)

	// Another account, never asked: photos were never on.
	q := candor.Principal{Account: candor.NewAccountID(), Device: candor.NewDeviceID(), Region: home}
	_, err = e.photos.Create(ctx, q, 1000, hash)
	wantKind(t, "create in an account that never turned photos on", err, candor.ConsentRequired)
}

// Delete removes a photo and its parts; the id is then unknown.
func TestDelete(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	p := e.person(t)
	b, hash := photo(api.PartSize+1, 8)
	done := e.upload(t, p, b, hash)
	if err := e.photos.Delete(ctx, p, done.ID); err != nil {
		t.Fatal(err)
	}
	if keys := e.stored(t, p, done.ID); len(keys) != 0 {
		t.Fatalf("Delete left %v", keys)
	}
	_, err := e.photos.Open(ctx, p, done.ID)
	wantKind(t, "open a deleted photo", err, candor.NotFound)
	err = e.photos.Delete(ctx, p, done.ID)
	wantKind(t, "delete twice", err, candor.NotFound)
	if !slices.Contains(e.actions(t, p.Account), "photos.delete") {
		t.Fatal("the deletion is not in the audit log")
	}
	// The same photo, sent again, is not taken for the deleted one.
	if u, err := e.photos.Create(ctx, p, int64(len(b)), hash); err != nil || u.Blob != "" {
		t.Fatalf("after delete: %+v %v", u, err)
	}
}

// Nothing of a photo's bytes is at rest in the clear: no file in the data
// folder holds the canary written into each part, in any form the egress
// proof searches for.
func TestNoPlaintextAtRest(t *testing.T) {
	e := newEnv(t)
	p := e.person(t)
	b, hash := photo(api.PartSize+4096, 9)
	done := e.upload(t, p, b, hash)
	if got, err := e.read(p, done.ID, 0, int64(len(b))); err != nil || !bytes.Equal(got, b) {
		t.Fatalf("read: %v", err)
	}
	forms := egress.Forms(egress.Canary{Item: "photo", Value: []byte(canary), Kind: egress.Text})
	files, parts := 0, 0
	err := filepath.WalkDir(e.data, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		if strings.HasPrefix(d.Name(), "part-") {
			parts++
		}
		for _, f := range forms {
			if bytes.Contains(data, f.Bytes) {
				t.Errorf("the canary (as %s) is in %s", f.Name, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if parts != 2 || files < 3 {
		t.Fatalf("scanned %d files, %d parts", files, parts)
	}
}

// A stored part altered, cut short, lost, or taken from another photo is
// an Integrity error when read, and nothing of it is written; the other
// parts still read.
func TestDamagedPart(t *testing.T) {
	size := int64(api.PartSize + 2*seal.SegmentSize)
	cases := []struct {
		name   string
		damage func(t *testing.T, e *env, p candor.Principal, id string, file string)
	}{
		{"a flipped byte", func(t *testing.T, e *env, p candor.Principal, id, file string) {
			data := readFile(t, file)
			data[len(data)-seal.SegmentSize/2] ^= 1
			writeFile(t, file, data)
		}},
		{"a flipped salt byte", func(t *testing.T, e *env, p candor.Principal, id, file string) {
			data := readFile(t, file)
			data[3] ^= 0x80
			writeFile(t, file, data)
		}},
		{"cut short", func(t *testing.T, e *env, p candor.Principal, id, file string) {
			data := readFile(t, file)
			writeFile(t, file, data[:len(data)-1])
		}},
		{"its last segment dropped", func(t *testing.T, e *env, p candor.Principal, id, file string) {
			data := readFile(t, file)
			writeFile(t, file, data[:len(data)-seal.SegmentSize-seal.SegmentOverhead])
		}},
		{"lost", func(t *testing.T, e *env, p candor.Principal, id, file string) {
			if err := os.Remove(file); err != nil {
				t.Fatal(err)
			}
		}},
		{"taken from another photo of the account", func(t *testing.T, e *env, p candor.Principal, id, file string) {
			b, hash := photo(size, 99)
			other := e.upload(t, p, b, hash)
			writeFile(t, file, readFile(t, e.partFile(p, other.ID, 1)))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			p := e.person(t)
			b, hash := photo(size, 10)
			done := e.upload(t, p, b, hash)
			c.damage(t, e, p, done.ID, e.partFile(p, done.ID, 1))

			got, err := e.read(p, done.ID, api.PartSize, size)
			wantKind(t, "read the damaged part", err, candor.Integrity)
			if len(got) != 0 {
				t.Fatalf("%d bytes of the damaged part were written", len(got))
			}
			got, err = e.read(p, done.ID, 0, api.PartSize)
			if err != nil || !bytes.Equal(got, b[:api.PartSize]) {
				t.Fatalf("the undamaged part: %d bytes, %v", len(got), err)
			}
		})
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// An upload making progress is not abandoned: each part accepted gives it
// its whole lifetime again.
func TestPartsKeepAnUploadAlive(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	p := e.person(t)
	b, hash := photo(2*api.PartSize+10, 6)
	up, err := e.photos.Create(ctx, p, int64(len(b)), hash)
	if err != nil {
		t.Fatal(err)
	}
	life := up.Expires.Sub(e.now)
	for n := range 3 {
		e.now = e.now.Add(life - time.Minute) // just before it would expire
		got, err := e.photos.PutPart(ctx, p, up.ID, n, bytes.NewReader(part(b, n)))
		if err != nil {
			t.Fatalf("part %d, %s after the last: %v", n, life-time.Minute, err)
		}
		if !got.Expires.Equal(e.now.UTC().Add(life)) {
			t.Fatalf("after part %d the upload expires at %s, want %s", n, got.Expires, e.now.UTC().Add(life))
		}
	}
	if n, err := e.svc.Expire(ctx, home); err != nil || n != 0 {
		t.Fatalf("an upload in progress was expired: %d %v", n, err)
	}
	if _, err := e.photos.Complete(ctx, p, up.ID); err != nil {
		t.Fatal(err)
	}
}

// A blob just given to a second photo record by de-duplication is not
// deleted by a phone that may not have seen that record yet; once the
// upload lifetime has passed since, it is.
func TestSharedBlobIsKeptForAWhile(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	p := e.person(t)
	b, hash := photo(1000, 7)
	first := e.upload(t, p, b, hash).ID
	again, err := e.photos.Create(ctx, p, int64(len(b)), hash)
	if err != nil || again.Blob == "" || again.ID != first {
		t.Fatalf("the same photo again: %+v %v (first %s)", again, err, first)
	}
	wantKind(t, "deleting a blob just shared", e.photos.Delete(ctx, p, first), candor.Conflict)
	if _, err := e.photos.Status(ctx, p, first); err != nil {
		t.Fatalf("the shared blob is gone: %v", err)
	}
	e.now = e.now.Add(25 * time.Hour)
	if err := e.photos.Delete(ctx, p, first); err != nil {
		t.Fatalf("deleting it a day later: %v", err)
	}
}
