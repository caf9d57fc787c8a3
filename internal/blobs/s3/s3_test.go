package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"testing"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/blobs"
	"github.com/candorcloud/candor/internal/blobs/blobstest"
)

// testEnv names the S3 server the tests use, as a URL ParseURL reads:
// http://ACCESS:SECRET@127.0.0.1:PORT/BUCKET. Each test works under a
// fresh random prefix of the bucket and deletes it when done. .ci/run
// starts versitygw and sets it.
const testEnv = "CANDOR_TEST_S3"

func TestStore(t *testing.T) {
	blobstest.TestStore(needS3(t), func(t *testing.T) blobs.Store { return openTest(t) })
}

func BenchmarkStore(b *testing.B) { blobstest.Benchmark(b, openTest(needS3(b))) }

// needS3 skips t unless CANDOR_TEST_S3 names a server, and returns t.
func needS3[T testing.TB](t T) T {
	t.Helper()
	if os.Getenv(testEnv) == "" {
		t.Skip("S3 tests skipped: set " + testEnv + ", e.g. http://ACCESS:SECRET@127.0.0.1:7070/candor-test (.ci/run starts versitygw and sets it)")
	}
	return t
}

// openTest returns a store under a fresh prefix of the bucket in
// CANDOR_TEST_S3, emptied when the test ends.
func openTest(t testing.TB) blobs.Store {
	cfg, err := ParseURL(os.Getenv(testEnv))
	if err != nil {
		t.Fatalf("%s: %v", testEnv, err)
	}
	b := make([]byte, 8)
	rand.Read(b)
	sub := "t-" + hex.EncodeToString(b) + "/"
	base, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("connecting to %s: %v", cfg.Endpoint, err)
	}
	t.Cleanup(func() {
		if _, err := base.DeletePrefix(context.Background(), sub); err != nil {
			t.Errorf("cleaning up %s: %v", sub, err)
		}
	})
	cfg.Prefix += sub
	s, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want Config
	}{
		{"http://candor:candor-secret-key@127.0.0.1:7070/candor-test",
			Config{Endpoint: "127.0.0.1:7070", AccessKey: "candor", SecretKey: "candor-secret-key", Bucket: "candor-test"}},
		{"https://AK:s%2Fe%40c@s3.example.net/bucket/region-in/?region=ap-south-1",
			Config{Endpoint: "s3.example.net", AccessKey: "AK", SecretKey: "s/e@c", Bucket: "bucket", Region: "ap-south-1", UseSSL: true, Prefix: "region-in/"}},
	} {
		got, err := ParseURL(tc.url)
		if err != nil || got != tc.want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", tc.url, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		"", "s3://a:b@host/bucket", "http://host:1/bucket", "http://a:b@host:1", "http://a:b@host:1/",
		"http://a:b@host:1/bucket/prefix", "http://a:b@host:1/bucket/UP/", "http://a@host:1/bucket",
	} {
		if _, err := ParseURL(bad); !candor.Is(err, candor.Invalid) {
			t.Errorf("ParseURL(%q): %v, want Invalid", bad, err)
		}
	}
}

func TestNewInvalid(t *testing.T) {
	for _, cfg := range []Config{
		{Endpoint: "", Bucket: "b"},
		{Endpoint: "http://127.0.0.1:1", Bucket: "bucket"},
		{Endpoint: "127.0.0.1:1", Bucket: "B_"},
		{Endpoint: "127.0.0.1:1", Bucket: "bucket", Prefix: "no-slash"},
	} {
		if _, err := New(t.Context(), cfg); !candor.Is(err, candor.Invalid) {
			t.Errorf("New(%+v): %v, want Invalid", cfg, err)
		}
	}
}

func TestUnavailable(t *testing.T) {
	// Port 1 on loopback: nothing listens there.
	_, err := New(t.Context(), Config{Endpoint: "127.0.0.1:1", AccessKey: "a", SecretKey: "b", Bucket: "bucket"})
	if !candor.Is(err, candor.Unavailable) {
		t.Fatalf("New with no server: %v, want Unavailable", err)
	}
}

// TestExactReader checks the reader that makes Put refuse a source of the
// wrong length, without a server.
func TestExactReader(t *testing.T) {
	data := []byte("0123456789")
	for _, tc := range []struct {
		have, size int
		ok         bool
	}{{10, 10, true}, {0, 0, true}, {9, 10, false}, {11, 10, false}, {1, 0, false}, {0, 1, false}} {
		src := io.MultiReader(bytes.NewReader(data), bytes.NewReader(data))
		er := &exactReader{r: io.LimitReader(src, int64(tc.have)), left: int64(tc.size)}
		var err error
		if tc.size == 0 {
			err = er.checkEnd()
		}
		var got []byte
		if err == nil {
			got, err = io.ReadAll(er)
		}
		if tc.ok != (err == nil) {
			t.Errorf("%d bytes for size %d: %v", tc.have, tc.size, err)
		}
		if tc.ok && len(got) != tc.size {
			t.Errorf("%d bytes for size %d: read %d", tc.have, tc.size, len(got))
		}
		if !tc.ok && !candor.Is(err, candor.Invalid) {
			t.Errorf("%d bytes for size %d: %v, want Invalid", tc.have, tc.size, err)
		}
		if !tc.ok && tc.have > tc.size && tc.size > 0 && len(got) >= tc.size {
			t.Errorf("%d bytes for size %d: the reader handed over all %d bytes before failing", tc.have, tc.size, len(got))
		}
	}
}
