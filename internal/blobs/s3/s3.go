// Package s3 is a blob store in a bucket of an S3-compatible object store
// (AWS S3, MinIO, versitygw, Ceph, Garage, ...): the object at key "a/b" is
// the S3 object Prefix+"a/b".
//
// Objects are put whole with one PUT (multipart above 16 MiB), so S3's own
// atomicity gives readers the old object or the new one. The bucket holds
// only ciphertext; the credentials in Config can read and delete all of it,
// and should be scoped to this bucket (and prefix).
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/blobs"
)

// Config says where the bucket is and how to reach it.
type Config struct {
	Endpoint  string // host:port of the S3 API, without a scheme
	AccessKey string
	SecretKey string
	Bucket    string // created by New if missing
	Region    string // optional; "" lets the client ask the server
	UseSSL    bool   // https, with the system's roots
	// Prefix, empty or ending with "/", is put before every key: several
	// stores (regions, tests) can share a bucket under distinct prefixes.
	Prefix string
}

// Store is a blob store in an S3 bucket. It is safe for concurrent use.
type Store struct {
	client *minio.Client
	core   minio.Core
	bucket string
	prefix string
}

var _ blobs.Store = (*Store)(nil)

// New connects to the bucket in cfg, creating the bucket if it does not
// exist. It fails with candor.Invalid for a malformed Config and with
// candor.Unavailable if the server cannot be reached.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Endpoint == "" || strings.Contains(cfg.Endpoint, "/") {
		return nil, candor.E(candor.Invalid, "s3 endpoint must be host:port, without a scheme")
	}
	if err := s3utils.CheckValidBucketName(cfg.Bucket); err != nil {
		return nil, candor.Errorf(candor.Invalid, "s3 bucket name: %v", err)
	}
	if err := blobs.CheckPrefix(cfg.Prefix); err != nil {
		return nil, candor.E(candor.Invalid, "s3 prefix must be empty or a blob key followed by /")
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:     cfg.UseSSL,
		Region:     cfg.Region,
		MaxRetries: maxRetries,
	})
	if err != nil {
		return nil, candor.Wrap(candor.Invalid, "s3 configuration", err)
	}
	s := &Store{client: client, core: minio.Core{Client: client}, bucket: cfg.Bucket, prefix: cfg.Prefix}
	exists, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, s.fail(ctx, "bucket", err)
	}
	if !exists {
		err := client.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region})
		if err != nil && !isCode(err, "BucketAlreadyOwnedByYou") {
			return nil, s.fail(ctx, "make bucket", err)
		}
	}
	return s, nil
}

// maxRetries bounds the attempts of one request, the first included (the
// client's MaxRetries): a server that cannot be reached is reported within
// about a second rather than after the client's default ten attempts, and
// the phone, told to retry later, does so itself.
const maxRetries = 3

// RetryAfter is what a client is told to wait when the S3 server cannot
// be reached.
const RetryAfter = 5 * time.Second

// Check asks the server, with one HEAD request of the bucket, whether the
// bucket can be reached. It fails with candor.Unavailable when the server
// cannot be reached or answers with a server error, or the bucket is gone,
// and with ctx's error when ctx is done first. It reads and writes no
// object; readiness probes call it.
func (s *Store) Check(ctx context.Context) error {
	exists, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return s.fail(ctx, "check", err)
	}
	if !exists {
		return unavailable(fmt.Errorf("s3 blobs: bucket %q does not exist", s.bucket))
	}
	return nil
}

// ParseURL reads a Config from a URL of the form
//
//	http://ACCESS:SECRET@HOST:PORT/BUCKET[/PREFIX/][?region=REGION]
//
// https instead of http sets UseSSL. ACCESS and SECRET are
// percent-encoded if they hold reserved characters. PREFIX, if present,
// ends with "/". CANDOR_TEST_S3 has this form.
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, candor.E(candor.Invalid, "malformed s3 url")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return Config{}, candor.E(candor.Invalid, "an s3 url starts with http:// or https://")
	}
	secret, ok := u.User.Password()
	if !ok || u.User.Username() == "" {
		return Config{}, candor.E(candor.Invalid, "an s3 url holds ACCESS:SECRET@ before the host")
	}
	bucket, prefix, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	cfg := Config{
		Endpoint:  u.Host,
		AccessKey: u.User.Username(),
		SecretKey: secret,
		Bucket:    bucket,
		Region:    u.Query().Get("region"),
		UseSSL:    u.Scheme == "https",
		Prefix:    prefix,
	}
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return Config{}, candor.E(candor.Invalid, "an s3 url names a host and a bucket")
	}
	if err := blobs.CheckPrefix(cfg.Prefix); err != nil {
		return Config{}, candor.E(candor.Invalid, "the prefix in an s3 url is a blob key followed by /")
	}
	return cfg, nil
}

// Put uploads size bytes from r to key. It fails with candor.Invalid if r
// yields more or fewer bytes, and with ctx's error if ctx is done first; in
// both cases the upload is aborted and the old object is untouched.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := blobs.CheckKey(key); err != nil {
		return err
	}
	if size < 0 {
		return candor.E(candor.Invalid, "negative blob size")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	er := &exactReader{r: r, left: size}
	if size == 0 {
		// The client may not read an empty body at all: check it here.
		if err := er.checkEnd(); err != nil {
			return err
		}
	}
	_, err := s.client.PutObject(ctx, s.bucket, s.prefix+key, er, size, minio.PutObjectOptions{
		ContentType: "application/octet-stream",
	})
	if er.err != nil {
		return er.err
	}
	if err != nil {
		return s.fail(ctx, "put", err)
	}
	return nil
}

// exactReader passes on exactly left bytes of r and fails if r has more or
// fewer. It hides r's io.ReaderAt and io.Seeker, which would let the client
// read a section of size bytes and never notice a longer source.
type exactReader struct {
	r    io.Reader
	left int64
	err  error
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	switch {
	case e.left == 0:
		// Check for more before handing over the last bytes: a client
		// that has its size stops reading here and would never see them.
		if err := e.checkEnd(); err != nil {
			return 0, err
		}
		return n, nil
	case err == io.EOF:
		e.err = candor.Errorf(candor.Invalid, "the blob is shorter than its size")
		return n, e.err
	case err != nil:
		e.err = fmt.Errorf("reading blob: %w", err)
		return n, e.err
	}
	return n, nil
}

// checkEnd fails unless r is at its end.
func (e *exactReader) checkEnd() error {
	var b [1]byte
	n, err := io.ReadFull(e.r, b[:])
	switch {
	case n > 0:
		e.err = candor.Errorf(candor.Invalid, "the blob is longer than its size")
	case err != io.EOF:
		e.err = fmt.Errorf("reading blob: %w", err)
	}
	return e.err
}

// Get opens the object at key with one GET, whose response carries both the
// size and the bytes of one version of the object. The reader stops
// working once ctx is done.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	if err := blobs.CheckKey(key); err != nil {
		return nil, 0, err
	}
	// minio.Client.GetObject is lazy and may stat and read in two requests;
	// Core.GetObject sends the GET now.
	body, info, _, err := s.core.GetObject(ctx, s.bucket, s.prefix+key, minio.GetObjectOptions{})
	if err != nil {
		return nil, 0, s.fail(ctx, "get", err)
	}
	return body, info.Size, nil
}

// Delete removes the object at key; an absent one is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := blobs.CheckKey(key); err != nil {
		return err
	}
	err := s.client.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{})
	if err != nil && !isCode(err, "NoSuchKey") {
		return s.fail(ctx, "delete", err)
	}
	return nil
}

// List returns the keys under prefix, sorted.
func (s *Store) List(ctx context.Context, prefix string) ([]string, error) {
	if err := blobs.CheckPrefix(prefix); err != nil {
		return nil, err
	}
	keys, err := s.list(ctx, prefix)
	if err != nil {
		return nil, err
	}
	for i, k := range keys {
		keys[i] = strings.TrimPrefix(k, s.prefix)
	}
	return keys, nil
}

// list returns the S3 names of the objects under prefix whose keys are
// valid, sorted.
func (s *Store) list(ctx context.Context, prefix string) ([]string, error) {
	ctx, cancel := context.WithCancel(ctx) // ends the listing goroutine on an early return
	defer cancel()
	var names []string
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
		if obj.Err != nil {
			return nil, s.fail(ctx, "list", obj.Err)
		}
		// Skip what Candor did not put: "directory" markers, foreign names.
		if blobs.CheckKey(strings.TrimPrefix(obj.Key, s.prefix)) == nil {
			names = append(names, obj.Key)
		}
	}
	slices.Sort(names)
	return names, nil
}

// DeletePrefix removes the objects under prefix with multi-object deletes
// and reports how many it removed.
func (s *Store) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	if err := blobs.CheckPrefix(prefix); err != nil {
		return 0, err
	}
	if prefix == "" {
		return 0, candor.E(candor.Invalid, "a blob prefix ends with /")
	}
	names, err := s.list(ctx, prefix)
	if err != nil {
		return 0, err
	}
	objs := make(chan minio.ObjectInfo, len(names))
	for _, n := range names {
		objs <- minio.ObjectInfo{Key: n}
	}
	close(objs)
	failed := 0
	var first error
	for e := range s.client.RemoveObjects(ctx, s.bucket, objs, minio.RemoveObjectsOptions{}) {
		if isCode(e.Err, "NoSuchKey") {
			continue
		}
		failed++
		if first == nil {
			first = e.Err
		}
	}
	if first != nil {
		return len(names) - failed, s.fail(ctx, "delete prefix", first)
	}
	return len(names), nil
}

// isCode reports whether err is an S3 error response with this code.
func isCode(err error, code string) bool {
	return err != nil && minio.ToErrorResponse(err).Code == code
}

// fail turns an error of the client into a candor error: NotFound for a
// missing object, Conflict for a key the server cannot hold beside another
// (a file-backed server refuses "a" beside "a/b"), Unavailable with
// Retry-After when the server cannot be reached or fails (see
// unreachable), ctx's error when ctx is done.
func (s *Store) fail(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("s3 blobs: %s: %w", op, ctx.Err())
	}
	switch minio.ToErrorResponse(err).Code {
	case "NoSuchKey":
		return candor.E(candor.NotFound, "no such blob")
	case "ExistingObjectIsDirectory", "ObjectParentIsFile", "DirectoryObjectContainsData":
		return candor.Wrap(candor.Conflict, "the blob key clashes with the directory of other keys", err)
	}
	if unreachable(err) {
		return unavailable(fmt.Errorf("s3 blobs: %s: %w", op, err))
	}
	return fmt.Errorf("s3 blobs: %s: %w", op, err)
}

// unavailable is the error told to clients when the S3 server cannot be
// reached: a sentence naming what is missing, not where it is, and a wait.
func unavailable(cause error) error {
	return &candor.Error{Kind: candor.Unavailable, Message: "the blob store cannot be reached", RetryAfter: RetryAfter, Err: cause}
}

// unreachable reports whether err says the S3 server could not be reached
// or could not serve: a connection refused, reset or cut, a timeout, a
// server error (5xx) or a request to slow down.
func unreachable(err error) bool {
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case "SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout":
		return true
	}
	if resp.StatusCode >= 500 {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded)
}
