package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client"
	"github.com/candorcloud/candor/internal/blobs/s3"
	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// cutAfter is an HTTP transport that fails every request once n photo
// parts went through: a connection lost in the middle of an upload.
type cutAfter struct {
	n     int64
	parts atomic.Int64
}

func (c *cutAfter) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.Contains(r.URL.Path, "/parts/") && c.parts.Add(1) > c.n {
		return nil, errors.New("connection lost")
	}
	return http.DefaultTransport.RoundTrip(r)
}

func writePhotos(t *testing.T, dir string, sizes ...int) map[[32]byte]bool {
	t.Helper()
	os.MkdirAll(dir, 0o700)
	sums := map[[32]byte]bool{}
	for i, size := range sizes {
		b := make([]byte, size)
		rand.Read(b)
		copy(b, "\xff\xd8\xff\xe0")
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("IMG_%04d.jpg", i)), b, 0o600); err != nil {
			t.Fatal(err)
		}
		sums[sha256.Sum256(b)] = true
	}
	return sums
}

func phoneWith(t *testing.T, env *servertest.Env, imei string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.Init(t.TempDir(), client.Config{Server: env.URL, IMEI: imei, Phone: "+919812345678", Country: "IN"},
		append([]client.Option{client.WithKDF(testKDF), client.WithKDFFloor(testKDF)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Photos upload in sealed parts, resume after a cut connection without
// starting over, restore byte-identical on another phone, and never sit in
// the clear in the blob store.
func TestPhotosResumeAndRestore(t *testing.T) {
	ctx := context.Background()
	env := servertest.Start(t)
	src := t.TempDir()
	want := writePhotos(t, src, 9<<20+12345, 300_000, 100_000, 0)

	cut := &cutAfter{n: 1}
	a := phoneWith(t, env, canaryIMEI, client.WithHTTPClient(&http.Client{Transport: cut}))
	if n, err := a.Photos().Import(src); err != nil || n != 4 {
		t.Fatalf("import: %d %v", n, err)
	}
	if _, err := a.Signup(ctx, canaryEmail, canaryPassword); err != nil {
		t.Fatal(err)
	}
	a.SetConsent(ctx, candor.Photos, true)
	if _, err := a.Sync(ctx, nil, candor.Photos); err == nil {
		t.Fatal("the sync survived a lost connection")
	}
	// Resume on the same phone with a working connection: the part that
	// arrived is not sent again.
	counter := &cutAfter{n: 1 << 30}
	a2, err := client.Open(a.Dir(), client.WithHTTPClient(&http.Client{Transport: counter}), client.WithKDF(testKDF), client.WithKDFFloor(testKDF))
	if err != nil {
		t.Fatal(err)
	}
	mustSync(t, a2)
	if got := counter.parts.Load(); got != 5 { // 3 parts of the big photo + 3 small - 1 already sent
		t.Fatalf("the resumed sync sent %d parts, want 5", got)
	}

	b := loggedIn(t, env, "356938035643817")
	mustSync(t, b)
	ps, _ := b.Photos().List()
	if len(ps) != 4 {
		t.Fatalf("phone B has %d photos", len(ps))
	}
	for _, p := range ps {
		data, err := os.ReadFile(p.File)
		if err != nil || !want[sha256.Sum256(data)] {
			t.Fatalf("restored %s is not byte-identical: %v", p.Name, err)
		}
	}

	// No 32-byte run of any photo appears in the server's data folder.
	big, _ := os.ReadFile(filepath.Join(src, "IMG_0000.jpg"))
	for _, off := range []int{5000, 4 << 20, 9 << 20} {
		needle := big[off : off+32]
		filepath.WalkDir(env.Data, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if data, _ := os.ReadFile(path); bytes.Contains(data, needle) {
					t.Errorf("photo bytes in the clear in %s", path)
				}
			}
			return nil
		})
	}

	// Turning photos off deletes every blob of the account.
	if _, err := a2.SetConsent(ctx, candor.Photos, false); err != nil {
		t.Fatal(err)
	}
	filepath.WalkDir(filepath.Join(env.Data, "regions"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(path, "/blobs/") && strings.Contains(path, "part-") {
			t.Errorf("a blob outlived the opt-out: %s", path)
		}
		return nil
	})
}

// Ranged reads, tampered parts, de-duplication, the size limit and the
// shape of parts, through the API.
func TestPhotoAPI(t *testing.T) {
	cfg := server.Config{}
	cfg.Photos.MaxSize = 10 << 20
	env := servertest.StartWith(t, cfg)
	r, _ := signup(t, env, "IN")
	hash := randomBytes(32)
	if a := r.call("POST", "/v1/photos/uploads", api.UploadCreate{Size: 5, Hash: hash}, nil); a.status != 403 || a.error().Code != "consent_required" {
		t.Fatalf("upload with photos off: %d %s", a.status, a.body)
	}
	r.consent("photos", true)
	if a := r.call("POST", "/v1/photos/uploads", api.UploadCreate{Size: 11 << 20, Hash: hash}, nil); a.status != 413 {
		t.Fatalf("too big: %d %s", a.status, a.body)
	}
	photo := make([]byte, api.PartSize+1000)
	rand.Read(photo)
	var up api.Upload
	r.must("POST", "/v1/photos/uploads", api.UploadCreate{Size: int64(len(photo)), Hash: hash}, &up)
	if up.Parts != 2 || len(up.Received) != 0 {
		t.Fatalf("upload: %+v", up)
	}
	put := func(n int, b []byte) answer {
		return r.send("PUT", fmt.Sprintf("/v1/photos/uploads/%s/parts/%d", up.ID, n), "application/octet-stream", b)
	}
	if a := put(1, photo[api.PartSize-1:]); a.status != 413 {
		t.Fatalf("a part too long: %d %s", a.status, a.body)
	}
	if a := put(0, photo[:100]); a.status != 400 {
		t.Fatalf("a part too short: %d %s", a.status, a.body)
	}
	if a := put(2, photo[:10]); a.status != 400 {
		t.Fatalf("a part that does not exist: %d %s", a.status, a.body)
	}
	if a := put(0, photo[:api.PartSize]); a.status != 200 {
		t.Fatalf("part 0: %d %s", a.status, a.body)
	}
	if a := r.call("POST", "/v1/photos/uploads/"+up.ID+"/complete", nil, nil); a.status != 409 {
		t.Fatalf("complete with a part missing: %d %s", a.status, a.body)
	}
	put(1, photo[api.PartSize:])
	r.must("POST", "/v1/photos/uploads/"+up.ID+"/complete", nil, &up)
	if up.Blob == "" {
		t.Fatal("no blob")
	}
	// The same photo again: the account has it; nothing to send.
	var again api.Upload
	r.must("POST", "/v1/photos/uploads", api.UploadCreate{Size: int64(len(photo)), Hash: hash}, &again)
	if again.Blob != up.Blob {
		t.Fatalf("de-duplication: %+v", again)
	}
	// Another account with the same hash gets nothing of it.
	other, _ := signup(t, env, "IN")
	other.consent("photos", true)
	var theirs api.Upload
	other.must("POST", "/v1/photos/uploads", api.UploadCreate{Size: int64(len(photo)), Hash: hash}, &theirs)
	if theirs.Blob != "" {
		t.Fatal("de-duplication crossed accounts")
	}
	if a := other.call("GET", "/v1/photos/blobs/"+up.Blob, nil, nil); a.status != 404 {
		t.Fatalf("another account's photo: %d", a.status)
	}

	get := func(rng string) (int, []byte) {
		req, _ := http.NewRequest("GET", env.URL+"/v1/photos/blobs/"+up.Blob, nil)
		req.Header.Set("Authorization", "Bearer "+r.token)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		return resp.StatusCode, buf.Bytes()
	}
	if code, body := get(""); code != 200 || !bytes.Equal(body, photo) {
		t.Fatalf("whole photo: %d, %d bytes", code, len(body))
	}
	from := api.PartSize - 10
	if code, body := get(fmt.Sprintf("bytes=%d-%d", from, from+99)); code != 206 || !bytes.Equal(body, photo[from:from+100]) {
		t.Fatalf("range across parts: %d", code)
	}
	if code, body := get("bytes=-7"); code != 206 || !bytes.Equal(body, photo[len(photo)-7:]) {
		t.Fatalf("suffix range: %d", code)
	}
	if code, _ := get("bytes=99999999-"); code != 400 {
		t.Fatalf("range past the end: %d", code)
	}

	// A flipped byte in a stored part is an integrity error, not data.
	var part string
	filepath.WalkDir(env.Data, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, up.Blob+"/part-000000") {
			part = path
		}
		return nil
	})
	data, _ := os.ReadFile(part)
	data[1000] ^= 1
	os.WriteFile(part, data, 0o600)
	if code, body := get(""); code != 500 || !strings.Contains(string(body), "integrity") {
		t.Fatalf("tampered part: %d %s", code, body[:min(len(body), 200)])
	}
}

// The same photo path on a real S3-compatible server: one bucket per
// region, photos sealed before they reach it, restored byte-identical.
func TestPhotosOnS3(t *testing.T) {
	raw := os.Getenv("CANDOR_TEST_S3")
	if raw == "" {
		t.Skip("S3 tests skipped: set CANDOR_TEST_S3, e.g. http://ACCESS:SECRET@127.0.0.1:7070/candor-test (.ci/run starts versitygw and sets it)")
	}
	base, err := s3.ParseURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	suffix := strings.ToLower(candor.NewID("t")[2:12])
	cfg := server.Config{S3: &server.S3{Endpoint: base.Endpoint, AccessKey: base.AccessKey, SecretKey: base.SecretKey,
		UseSSL: base.UseSSL, Buckets: map[candor.RegionID]string{}}}
	for _, id := range []candor.RegionID{"in", "sg", "us", "cn"} {
		cfg.S3.Buckets[id] = "candor-" + string(id) + "-" + suffix
	}
	env := servertest.StartWith(t, cfg)
	ctx := context.Background()
	src := t.TempDir()
	want := writePhotos(t, src, 5<<20, 1000)
	a := newPhone(t, env, canaryIMEI)
	a.Photos().Import(src)
	if _, err := a.Signup(ctx, canaryEmail, canaryPassword); err != nil {
		t.Fatal(err)
	}
	a.SetConsent(ctx, candor.Photos, true)
	mustSync(t, a)
	b := loggedIn(t, env, "356938035643817")
	mustSync(t, b)
	ps, _ := b.Photos().List()
	for _, p := range ps {
		data, _ := os.ReadFile(p.File)
		if !want[sha256.Sum256(data)] {
			t.Fatalf("%s not byte-identical after S3", p.Name)
		}
	}
	if len(ps) != 2 {
		t.Fatalf("%d photos", len(ps))
	}
	// Opting out empties the account's blobs in the bucket.
	if _, err := a.SetConsent(ctx, candor.Photos, false); err != nil {
		t.Fatal(err)
	}
	st, _ := a.Status()
	store, err := s3.New(ctx, s3.Config{Endpoint: base.Endpoint, AccessKey: base.AccessKey, SecretKey: base.SecretKey,
		UseSSL: base.UseSSL, Bucket: cfg.S3.Buckets["in"]})
	if err != nil {
		t.Fatal(err)
	}
	if keys, _ := store.List(ctx, "accounts/"+strings.ToLower(string(st.Account))+"/"); len(keys) != 0 {
		t.Fatalf("%d blobs outlived the opt-out in S3", len(keys))
	}
}

// Photos turned off and on again: the blobs were deleted, so the phone
// uploads its photos again rather than pointing at blobs that are gone.
func TestPhotosOffAndOnAgain(t *testing.T) {
	ctx := context.Background()
	env := servertest.Start(t)
	src := t.TempDir()
	want := writePhotos(t, src, 200_000)
	a := newPhone(t, env, canaryIMEI)
	a.Photos().Import(src)
	if _, err := a.Signup(ctx, canaryEmail, canaryPassword); err != nil {
		t.Fatal(err)
	}
	a.SetConsent(ctx, candor.Photos, true)
	mustSync(t, a)
	a.SetConsent(ctx, candor.Photos, false)
	a.SetConsent(ctx, candor.Photos, true)
	mustSync(t, a)
	b := loggedIn(t, env, "356938035643817")
	mustSync(t, b)
	ps, _ := b.Photos().List()
	if len(ps) != 1 {
		t.Fatalf("%d photos after off and on", len(ps))
	}
	data, _ := os.ReadFile(ps[0].File)
	if !want[sha256.Sum256(data)] {
		t.Fatal("the photo did not come back")
	}
}

// Deleting a photo on the phone deletes its bytes in the cloud at the next
// sync, unless another photo of the account is the same picture (they share
// one blob); a new phone still restores what is left.
func TestDeletedPhotoLeavesTheCloud(t *testing.T) {
	ctx := context.Background()
	env := servertest.Start(t)
	src := t.TempDir()
	writePhotos(t, src, 70_000, 90_000)
	same, _ := os.ReadFile(filepath.Join(src, "IMG_0000.jpg"))
	os.WriteFile(filepath.Join(src, "IMG_0000 copy.jpg"), same, 0o600)
	a := phoneWith(t, env, canaryIMEI)
	if n, err := a.Photos().Import(src); err != nil || n != 3 {
		t.Fatalf("import: %d %v", n, err)
	}
	if _, err := a.Signup(ctx, canaryEmail, canaryPassword); err != nil {
		t.Fatal(err)
	}
	a.SetConsent(ctx, candor.Photos, true)
	mustSync(t, a)
	st, _ := a.Status()
	uploads := func() int {
		return servertest.CountRows(t, env.Data, "in", "SELECT count(*) FROM uploads WHERE account = ?", string(st.Account))
	}
	if n := uploads(); n != 2 {
		t.Fatalf("%d uploads for 3 photos of which 2 are the same, want 2", n)
	}
	byName := map[string]string{}
	list, _ := a.Photos().List()
	for _, p := range list {
		byName[p.Name] = p.ID
	}
	// One of the two copies: the blob stays for the other.
	if err := a.Photos().Delete(byName["IMG_0000.jpg"]); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a)
	if n := uploads(); n != 2 {
		t.Fatalf("%d uploads after deleting one of two copies, want 2", n)
	}
	// The only photo of its kind: its blob goes.
	if err := a.Photos().Delete(byName["IMG_0001.jpg"]); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a)
	if n := uploads(); n != 1 {
		t.Fatalf("%d uploads after deleting the only copy, want 1", n)
	}
	b := loggedIn(t, env, "356938035643817")
	mustSync(t, b)
	got, _ := b.Photos().List()
	if len(got) != 1 || got[0].File == "" {
		t.Fatalf("a new phone has %+v, want the one photo left, downloaded", got)
	}
	if data, _ := os.ReadFile(got[0].File); !bytes.Equal(data, same) {
		t.Fatal("the photo left is not the copy that was kept")
	}
}

// cutter cuts the first download of a photo off after a number of bytes,
// and records the Range header of every download.
type cutter struct {
	mu     sync.Mutex
	after  int64
	cut    bool
	ranges []string
}

func (c *cutter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || !strings.Contains(req.URL.Path, "/photos/blobs/") {
		return resp, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ranges = append(c.ranges, req.Header.Get("Range"))
	if !c.cut {
		c.cut = true
		resp.Body = &cutBody{r: resp.Body, left: c.after}
	}
	return resp, nil
}

type cutBody struct {
	r    io.ReadCloser
	left int64
}

func (b *cutBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errors.New("connection reset")
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *cutBody) Close() error { return b.r.Close() }

// A photo download cut off in the middle goes on from where it stopped at
// the next sync, with a range request, and the photo arrives whole.
func TestPhotoDownloadResumes(t *testing.T) {
	ctx := context.Background()
	env := servertest.Start(t)
	src := t.TempDir()
	sums := writePhotos(t, src, 3_000_000)
	a := phoneWith(t, env, canaryIMEI)
	a.Photos().Import(src)
	if _, err := a.Signup(ctx, canaryEmail, canaryPassword); err != nil {
		t.Fatal(err)
	}
	a.SetConsent(ctx, candor.Photos, true)
	mustSync(t, a)
	cut := &cutter{after: 1_000_000}
	b := phoneWith(t, env, "356938035643817", client.WithHTTPClient(&http.Client{Transport: cut}))
	if _, err := b.Login(ctx, canaryEmail, canaryPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Sync(ctx, nil); err == nil {
		t.Fatal("the sync whose download was cut off reported no error")
	}
	mustSync(t, b)
	if len(cut.ranges) != 2 || cut.ranges[0] != "" || !strings.HasPrefix(cut.ranges[1], "bytes=") || cut.ranges[1] == "bytes=0-" {
		t.Fatalf("downloads' ranges: %q, want a whole one then one from where it stopped", cut.ranges)
	}
	got, _ := b.Photos().List()
	if len(got) != 1 || got[0].File == "" {
		t.Fatalf("photos after the resumed download: %+v", got)
	}
	data, _ := os.ReadFile(got[0].File)
	if !sums[sha256.Sum256(data)] {
		t.Fatal("the resumed photo is not byte-identical")
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(got[0].File), ".download-*")); len(left) != 0 {
		t.Fatalf("partial files left: %v", left)
	}
}

// Phone B adds a picture the account already has (de-duplicated onto the
// same blob); phone A then deletes its own copy: A's sync succeeds and B's
// photo keeps its bytes for a third phone. (A pulls B's record before it
// deletes blobs; the narrower race, where it has not, is answered by the
// server keeping a blob just shared: TestSharedBlobIsKeptForAWhile.)
func TestDeletingOneOfTwoPhonesCopiesKeepsTheBytes(t *testing.T) {
	ctx := context.Background()
	env := servertest.Start(t)
	src := t.TempDir()
	writePhotos(t, src, 80_000)
	a := phoneWith(t, env, canaryIMEI)
	a.Photos().Import(src)
	if _, err := a.Signup(ctx, canaryEmail, canaryPassword); err != nil {
		t.Fatal(err)
	}
	a.SetConsent(ctx, candor.Photos, true)
	mustSync(t, a)
	b := loggedIn(t, env, "356938035643817")
	mustSync(t, b)
	// B adds the same picture under another name: de-duplicated.
	got, _ := b.Photos().List()
	same, _ := os.ReadFile(got[0].File)
	again := t.TempDir()
	os.WriteFile(filepath.Join(again, "copy.jpg"), same, 0o600)
	b.Photos().Import(again)
	mustSync(t, b)
	// A deletes its own copy.
	list, _ := a.Photos().List()
	if err := a.Photos().Delete(list[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Sync(ctx, nil); err != nil {
		t.Fatalf("A's sync after deleting a blob just shared: %v", err)
	}
	c := loggedIn(t, env, "356938035643825")
	mustSync(t, c)
	photos, _ := c.Photos().List()
	if len(photos) != 1 || photos[0].File == "" {
		t.Fatalf("a third phone has %+v, want B's copy, downloaded", photos)
	}
	if data, _ := os.ReadFile(photos[0].File); !bytes.Equal(data, same) {
		t.Fatal("B's copy lost its bytes")
	}
}

// Every part received is an access in the owner's log, like the upload it
// completes and each download.
func TestPhotoPartsAreInTheAccessLog(t *testing.T) {
	env := servertest.Start(t)
	r, _ := signup(t, env, "IN")
	r.consent("photos", true)
	uploadRound(t, r, randomBytes(api.PartSize+1000)) // two parts
	var log api.AccessLog
	r.must("GET", "/v1/account/access-log", nil, &log)
	count := map[string]int{}
	for _, e := range log.Entries {
		for _, action := range []string{"photos.part", "photos.upload"} {
			if strings.Contains(e.Event, `"action":"`+action+`"`) {
				count[action]++
			}
		}
	}
	if count["photos.part"] != 2 || count["photos.upload"] != 1 {
		t.Fatalf("access log: %v, want 2 parts and 1 upload", count)
	}
}
