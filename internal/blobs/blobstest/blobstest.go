// Package blobstest is the conformance suite of the blob store contract.
// Every implementation of blobs.Store runs it in one line:
//
//	func TestStore(t *testing.T) { blobstest.TestStore(t, openStore) }
//
// open must return an empty store that no other test uses; the suite calls
// it once per subtest. The suite checks observable behaviour only, as
// blobs.go documents it, plus the choices the layers above rely on: a
// reader yielding the wrong number of bytes is Invalid, DeletePrefix of ""
// is Invalid, and a failed or cancelled Put leaves nothing behind.
package blobstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/blobs"
)

// TestStore runs the conformance suite against the stores open returns.
func TestStore(t *testing.T, open func(t *testing.T) blobs.Store) {
	for _, tc := range []struct {
		name string
		test func(*testing.T, blobs.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"Replace", testReplace},
		{"NotFound", testNotFound},
		{"Delete", testDelete},
		{"List", testList},
		{"DeletePrefix", testDeletePrefix},
		{"WrongSize", testWrongSize},
		{"MalformedKeys", testMalformedKeys},
		{"LongKeys", testLongKeys},
		{"KeyAndDirectory", testKeyAndDirectory},
		{"CancelledPut", testCancelledPut},
		{"ConcurrentPuts", testConcurrentPuts},
		{"ConcurrentReplace", testConcurrentReplace},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, open(t)) })
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// wantKind fails unless err has kind k.
func wantKind(t testing.TB, what string, err error, k candor.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got no error, want kind %v", what, k)
	}
	if !candor.Is(err, k) {
		t.Fatalf("%s: got error %v of kind %v, want kind %v", what, err, candor.KindOf(err), k)
	}
}

// randBytes returns n bytes from a seeded generator: distinct per seed,
// cheap to make in bulk.
func randBytes(n int, seed uint64) []byte {
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24)})
	b := make([]byte, n)
	r.Read(b)
	return b
}

// onlyReader hides every method of r but Read, so a store cannot take a
// shortcut through io.ReaderAt, io.Seeker or io.WriterTo.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func put(t testing.TB, s blobs.Store, key string, data []byte) {
	t.Helper()
	if err := s.Put(context.Background(), key, onlyReader{bytes.NewReader(data)}, int64(len(data))); err != nil {
		t.Fatalf("Put %q (%d bytes): %v", key, len(data), err)
	}
}

// get returns the object at key, checking that the size Get reports is
// the number of bytes the reader yields.
func get(t testing.TB, s blobs.Store, key string) []byte {
	t.Helper()
	data, err := read(context.Background(), s, key)
	if err != nil {
		t.Fatalf("Get %q: %v", key, err)
	}
	return data
}

func read(ctx context.Context, s blobs.Store, key string) ([]byte, error) {
	rc, size, err := s.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("reading: %w", err)
	}
	if int64(len(data)) != size {
		return nil, fmt.Errorf("Get reports %d bytes but the reader yields %d", size, len(data))
	}
	return data, rc.Close()
}

func wantData(t testing.TB, s blobs.Store, key string, want []byte) {
	t.Helper()
	got := get(t, s, key)
	if !bytes.Equal(got, want) {
		t.Fatalf("Get %q = %d bytes %s, want %d bytes %s", key, len(got), short(got), len(want), short(want))
	}
}

func wantAbsent(t testing.TB, s blobs.Store, key string) {
	t.Helper()
	_, _, err := s.Get(context.Background(), key)
	wantKind(t, "Get "+key, err, candor.NotFound)
}

func wantList(t testing.TB, s blobs.Store, prefix string, want ...string) {
	t.Helper()
	got, err := s.List(context.Background(), prefix)
	if err != nil {
		t.Fatalf("List %q: %v", prefix, err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("List %q = %q, want %q", prefix, got, want)
	}
}

// short shows the start of b.
func short(b []byte) string {
	if len(b) > 16 {
		return fmt.Sprintf("%x…", b[:16])
	}
	return fmt.Sprintf("%x", b)
}

func testRoundTrip(t *testing.T, s blobs.Store) {
	all := make([]byte, 512)
	for i := range all {
		all[i] = byte(i) // every byte value, NUL and 0xff included, twice
	}
	for _, tc := range []struct {
		key  string
		data []byte
	}{
		{"empty", nil},
		{"one", []byte{0}},
		{"binary", all},
		{"acc_1/photos/ph_1/part-0001.sealed", randBytes(5<<20, 1)}, // 5 MiB
		{"a-b_c.d/0", []byte("x")},
	} {
		put(t, s, tc.key, tc.data)
		wantData(t, s, tc.key, tc.data)
	}
	// An io.ReaderAt or io.WriterTo source must be read the same way.
	data := randBytes(100_000, 2)
	must(t, s.Put(t.Context(), "bytes-reader", bytes.NewReader(data), int64(len(data))))
	wantData(t, s, "bytes-reader", data)
}

func testReplace(t *testing.T, s blobs.Store) {
	long, shorter := randBytes(300_000, 3), randBytes(1000, 4)
	put(t, s, "k", long)
	put(t, s, "k", shorter)
	wantData(t, s, "k", shorter)
	put(t, s, "k", nil)
	wantData(t, s, "k", nil)
	put(t, s, "k", long)
	wantData(t, s, "k", long)
	wantList(t, s, "", "k")
}

func testNotFound(t *testing.T, s blobs.Store) {
	wantAbsent(t, s, "absent")
	wantAbsent(t, s, "a/b/absent")
	put(t, s, "dir/x", []byte("x"))
	wantAbsent(t, s, "dir")     // a "directory" is not an object
	wantAbsent(t, s, "dir/x/y") // nor is anything under an object
	wantAbsent(t, s, "di")
}

func testDelete(t *testing.T, s blobs.Store) {
	must(t, s.Delete(t.Context(), "absent"))
	must(t, s.Delete(t.Context(), "a/b/absent"))
	put(t, s, "a/b/c", []byte("c"))
	put(t, s, "a/d", []byte("d"))
	must(t, s.Delete(t.Context(), "a/b")) // a "directory": no object there
	must(t, s.Delete(t.Context(), "a/b/c"))
	wantAbsent(t, s, "a/b/c")
	must(t, s.Delete(t.Context(), "a/b/c"))
	wantData(t, s, "a/d", []byte("d"))
	wantList(t, s, "", "a/d")
	// The emptied "directory" can hold an object again.
	put(t, s, "a/b", []byte("b"))
	wantData(t, s, "a/b", []byte("b"))
}

func testList(t *testing.T, s blobs.Store) {
	wantList(t, s, "")
	wantList(t, s, "a/")
	keys := []string{"b", "a/y/z", "ab/x", "a/x", "a-c/1", "a/b", "a.d", "a_e/f", "z/z/z/z"}
	for i, k := range keys {
		put(t, s, k, []byte{byte(i)})
	}
	wantList(t, s, "", "a-c/1", "a.d", "a/b", "a/x", "a/y/z", "a_e/f", "ab/x", "b", "z/z/z/z")
	wantList(t, s, "a/", "a/b", "a/x", "a/y/z")
	wantList(t, s, "a/y/", "a/y/z")
	wantList(t, s, "ab/", "ab/x")
	wantList(t, s, "z/z/", "z/z/z/z")
	wantList(t, s, "c/")
	wantList(t, s, "b/") // "b" is an object, not a directory
	for _, p := range []string{"a", "../", "/", "A/", "a//", "a b/"} {
		_, err := s.List(t.Context(), p)
		wantKind(t, fmt.Sprintf("List %q", p), err, candor.Invalid)
	}
}

func testDeletePrefix(t *testing.T, s blobs.Store) {
	n, err := s.DeletePrefix(t.Context(), "a/")
	must(t, err)
	if n != 0 {
		t.Fatalf("DeletePrefix of an empty store = %d", n)
	}
	for _, k := range []string{"a/1", "a/2/3", "a/2/4", "ab/x", "a-1", "b/a/1"} {
		put(t, s, k, []byte(k))
	}
	n, err = s.DeletePrefix(t.Context(), "a/")
	must(t, err)
	if n != 3 {
		t.Fatalf("DeletePrefix a/ = %d, want 3", n)
	}
	wantList(t, s, "", "a-1", "ab/x", "b/a/1")
	for _, k := range []string{"a/1", "a/2/3", "a/2/4"} {
		wantAbsent(t, s, k)
	}
	for _, k := range []string{"a-1", "ab/x", "b/a/1"} {
		wantData(t, s, k, []byte(k))
	}
	n, err = s.DeletePrefix(t.Context(), "a/")
	must(t, err)
	if n != 0 {
		t.Fatalf("DeletePrefix a/ again = %d, want 0", n)
	}
	for _, p := range []string{"", "a", "ab", "../", "A/"} {
		_, err := s.DeletePrefix(t.Context(), p)
		wantKind(t, fmt.Sprintf("DeletePrefix %q", p), err, candor.Invalid)
	}
	wantList(t, s, "", "a-1", "ab/x", "b/a/1")

	// Many objects, more than one page of a listing or batch of a delete,
	// put by 8 goroutines (a disk store syncs each).
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < 1100; i += 8 {
				if err := s.Put(t.Context(), fmt.Sprintf("many/%04d", i), bytes.NewReader(nil), 0); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	n, err = s.DeletePrefix(t.Context(), "many/")
	must(t, err)
	if n != 1100 {
		t.Fatalf("DeletePrefix many/ = %d, want 1100", n)
	}
	wantList(t, s, "many/")
	wantList(t, s, "", "a-1", "ab/x", "b/a/1")
}

// errReader yields data and then fails.
type errReader struct {
	data []byte
	err  error
}

func (e *errReader) Read(p []byte) (int, error) {
	if len(e.data) == 0 {
		return 0, e.err
	}
	n := copy(p, e.data)
	e.data = e.data[n:]
	return n, nil
}

func testWrongSize(t *testing.T, s blobs.Store) {
	old := randBytes(70_000, 5)
	put(t, s, "k", old)
	const size = 200_000
	data := randBytes(3*size, 6)
	for _, n := range []int{0, 1, 65536, size - 1, size + 1, 2 * size} {
		// A bytes.Reader offers io.ReaderAt and io.Seeker: a store must not
		// take them as a licence to read only size bytes.
		for _, mk := range []func() io.Reader{
			func() io.Reader { return bytes.NewReader(data[:n]) },
			func() io.Reader { return onlyReader{bytes.NewReader(data[:n])} },
		} {
			what := fmt.Sprintf("Put of %d bytes announced as %d from a %T", n, size, mk())
			wantKind(t, what, s.Put(t.Context(), "k", mk(), size), candor.Invalid)
			wantData(t, s, "k", old)
			wantKind(t, what, s.Put(t.Context(), "new", mk(), size), candor.Invalid)
			wantAbsent(t, s, "new")
		}
	}
	err := s.Put(t.Context(), "k", &errReader{data: data[:1000], err: errors.New("disk on fire")}, size)
	if err == nil {
		t.Fatal("Put from a failing reader succeeded")
	}
	wantData(t, s, "k", old)
	wantKind(t, "Put of a negative size", s.Put(t.Context(), "k", bytes.NewReader(nil), -1), candor.Invalid)
	wantData(t, s, "k", old)
	wantList(t, s, "", "k")
}

var malformedKeys = []string{
	"", "../x", "x/..", "a/../b", "..", ".", "./x", "a/./b", "a/.", "/x", "x/", "/", "a//b",
	"Upper", "a/B", "with space", " x", "x\n", "tab\tx", "a\\b", "ä", "x\x00", "a:b", "a*", "%2e%2e",
	strings.Repeat("a", 513),
}

func testMalformedKeys(t *testing.T, s blobs.Store) {
	for _, k := range malformedKeys {
		what := fmt.Sprintf("%q", k)
		if len(k) > 20 {
			what = fmt.Sprintf("%q… (%d bytes)", k[:20], len(k))
		}
		wantKind(t, "Put "+what, s.Put(t.Context(), k, bytes.NewReader([]byte("x")), 1), candor.Invalid)
		_, _, err := s.Get(t.Context(), k)
		wantKind(t, "Get "+what, err, candor.Invalid)
		wantKind(t, "Delete "+what, s.Delete(t.Context(), k), candor.Invalid)
	}
	wantList(t, s, "")
}

func testLongKeys(t *testing.T, s blobs.Store) {
	seg := strings.Repeat("s", 255)
	longest := seg + "/" + seg
	// Keys of 511 and 512 bytes, with 255-byte segments.
	for _, k := range []string{longest, seg + "/" + seg[1:] + "/x"} {
		put(t, s, k, []byte("long"))
		wantData(t, s, k, []byte("long"))
		wantList(t, s, strings.Split(k, "/")[0]+"/", k)
		must(t, s.Delete(t.Context(), k))
		wantAbsent(t, s, k)
	}
	// A 256-byte segment, alone or not, and a 513-byte key.
	for _, k := range []string{strings.Repeat("s", 256), "a/" + strings.Repeat("s", 256), longest + "/x"} {
		wantKind(t, fmt.Sprintf("Put of a %d-byte key", len(k)), s.Put(t.Context(), k, bytes.NewReader(nil), 0), candor.Invalid)
	}
}

// testKeyAndDirectory checks that a key that is also another key's
// directory is either kept or refused as Conflict, never lost or garbled.
func testKeyAndDirectory(t *testing.T, s blobs.Store) {
	put(t, s, "a/b", []byte("b"))
	err := s.Put(t.Context(), "a", onlyReader{bytes.NewReader([]byte("a"))}, 1)
	switch {
	case err == nil:
		wantData(t, s, "a", []byte("a"))
		wantList(t, s, "", "a", "a/b")
	case candor.Is(err, candor.Conflict):
		wantAbsent(t, s, "a")
		wantList(t, s, "", "a/b")
	default:
		t.Fatalf("Put of a key that is a directory: %v, want success or Conflict", err)
	}
	wantData(t, s, "a/b", []byte("b"))

	put(t, s, "c", []byte("c"))
	err = s.Put(t.Context(), "c/d/e", onlyReader{bytes.NewReader([]byte("e"))}, 1)
	switch {
	case err == nil:
		wantData(t, s, "c/d/e", []byte("e"))
	case candor.Is(err, candor.Conflict):
		wantAbsent(t, s, "c/d/e")
	default:
		t.Fatalf("Put under a key: %v, want success or Conflict", err)
	}
	wantData(t, s, "c", []byte("c"))
}

// cancellingReader yields half of data, cancels the Put's context, waits a
// moment for the store to notice, and then yields the rest as if nothing
// happened: only the cancellation can make the Put fail.
type cancellingReader struct {
	data   []byte
	half   int
	cancel context.CancelFunc
	done   bool
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	if len(c.data) <= c.half && !c.done {
		c.done = true
		c.cancel()
		time.Sleep(200 * time.Millisecond)
	}
	n := len(p)
	if len(c.data) > c.half && n > len(c.data)-c.half {
		n = len(c.data) - c.half
	}
	n = copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

func testCancelledPut(t *testing.T, s blobs.Store) {
	data := randBytes(2<<20, 7)
	old := randBytes(1000, 8)
	put(t, s, "old", old)
	for _, key := range []string{"old", "new"} {
		ctx, cancel := context.WithCancel(t.Context())
		r := &cancellingReader{data: data, half: len(data) / 2, cancel: cancel}
		err := s.Put(ctx, key, r, int64(len(data)))
		cancel()
		if err == nil {
			t.Fatalf("Put %q cancelled midway succeeded", key)
		}
		ctx, cancel = context.WithCancel(t.Context())
		cancel()
		if err := s.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err == nil {
			t.Fatalf("Put %q with a cancelled context succeeded", key)
		}
	}
	wantData(t, s, "old", old)
	wantAbsent(t, s, "new")
	wantList(t, s, "", "old")
}

func testConcurrentPuts(t *testing.T, s blobs.Store) {
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			data := randBytes(100_000+i, uint64(100+i))
			key := fmt.Sprintf("c/%02d", i)
			if err := s.Put(t.Context(), key, onlyReader{bytes.NewReader(data)}, int64(len(data))); err != nil {
				errs <- fmt.Errorf("Put %s: %w", key, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	var want []string
	for i := range n {
		key := fmt.Sprintf("c/%02d", i)
		want = append(want, key)
		wantData(t, s, key, randBytes(100_000+i, uint64(100+i)))
	}
	wantList(t, s, "c/", want...)
}

// testConcurrentReplace has a writer replace one object with two versions
// of different sizes in turn while readers read it: each read must see one
// version whole.
func testConcurrentReplace(t *testing.T, s blobs.Store) {
	versions := [][]byte{randBytes(1<<20, 9), randBytes(1<<20+4096, 10)}
	put(t, s, "hot", versions[0])
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	wg.Go(func() {
		defer stop()
		for i := range 24 {
			v := versions[(i+1)%2]
			if err := s.Put(ctx, "hot", onlyReader{bytes.NewReader(v)}, int64(len(v))); err != nil {
				errs <- fmt.Errorf("Put %d: %w", i, err)
				return
			}
		}
	})
	var reads sync.Map
	for r := range 4 {
		wg.Go(func() {
			n := 0
			for ctx.Err() == nil {
				got, err := read(context.Background(), s, "hot")
				if err != nil {
					errs <- fmt.Errorf("reader %d, read %d: %w", r, n, err)
					return
				}
				if !bytes.Equal(got, versions[0]) && !bytes.Equal(got, versions[1]) {
					errs <- fmt.Errorf("reader %d, read %d: a torn object of %d bytes %s", r, n, len(got), short(got))
					return
				}
				n++
			}
			reads.Store(r, n)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	total := 0
	reads.Range(func(_, n any) bool { total += n.(int); return true })
	t.Logf("%d whole reads during 24 replacements", total)
}
