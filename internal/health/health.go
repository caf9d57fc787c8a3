// Package health tells whether the server can serve personal data: whether
// the keyring is sealed (GET /healthz, and the unsealed check in front of
// every personal route), whether every store answers (GET /readyz), and the
// candor_sealed metric.
//
// Readiness answers for what the server needs to serve a request: each
// database answering a read and each S3 bucket a HEAD request within 2
// seconds, and each folder it writes
// to (the data folder: SQLite databases and disk blob stores) having at
// least MinFree bytes and a free inode. What is missing is named in a
// sentence fit for anyone to read; the cause is kept for the log.
package health

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// Keys tells whether the keyring holds no key (keyring.Keyring).
type Keys interface {
	Sealed() bool
}

// Directory is the directory store, asked for a system key to see that it
// answers.
type Directory interface {
	SystemKey(ctx context.Context, name string) (store.WrappedKey, error)
}

// Region is a region's store, asked for its key versions to see that it
// answers.
type Region interface {
	KEKs(ctx context.Context) ([]store.WrappedKey, error)
}

// Bucket is a region's blob store on another server (an S3 bucket), asked
// whether it can be reached. Check must be cheap (one small request) and
// return when ctx is done.
type Bucket interface {
	Check(ctx context.Context) error
}

// Folder is a folder the server writes to, checked for free space.
type Folder struct {
	// Path is the folder; it is never shown to clients.
	Path string
	// MinFree is the free space, in bytes, under which the folder counts
	// as full (MinFree when zero).
	MinFree uint64
}

// MinFree is the free space under which a folder counts as full: writes
// soon fail there, and a SQLite database needs room for its write-ahead
// log before it can even delete.
const MinFree = 16 << 20

// Probe answers health and readiness checks. It is safe for concurrent
// use and needs no key: it works while sealed.
type Probe struct {
	keys    Keys
	dir     Directory
	regions map[candor.RegionID]Region
	buckets map[candor.RegionID]Bucket
	folders []Folder
}

// New returns a Probe over the keyring, every store, the regions' blob
// stores kept on another server (nil when blobs are files under a folder)
// and the folders the server writes to.
func New(keys Keys, dir Directory, regions map[candor.RegionID]Region, buckets map[candor.RegionID]Bucket, folders ...Folder) *Probe {
	return &Probe{keys: keys, dir: dir, regions: regions, buckets: buckets, folders: folders}
}

// retryAfter is what a client not ready is told to wait.
const retryAfter = 5 * time.Second

// missing is the answer naming what is missing, with the cause kept.
func missing(msg string, cause error) error {
	return &candor.Error{Kind: candor.Unavailable, Message: msg, RetryAfter: retryAfter, Err: cause}
}

// readyTimeout bounds one readiness check.
const readyTimeout = 2 * time.Second

// Sealed reports whether the keyring holds no key, so that no personal
// data can be served.
func (p *Probe) Sealed() bool { return p.keys.Sealed() }

// Ready checks, within 2 seconds, that the directory and every region's
// store answer, that every bucket can be reached, and that every folder
// has room; it names the first that
// does not, as a candor.Unavailable error whose message says what is
// missing and whose cause holds the detail. It reads no secret (the
// directory's root check value, which need not exist yet, and each
// region's wrapped keys), so it answers while sealed too.
func (p *Probe) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for _, f := range p.folders {
		if err := f.check(); err != nil {
			return err
		}
	}
	if _, err := p.dir.SystemKey(ctx, "root-check"); err != nil && !candor.Is(err, candor.NotFound) {
		return missing("the directory database cannot be reached: "+reason(err), fmt.Errorf("directory: %w", err))
	}
	for id, st := range p.regions {
		if _, err := st.KEKs(ctx); err != nil {
			return missing(fmt.Sprintf("the database of region %s cannot be reached: %s", id, reason(err)), fmt.Errorf("region %s: %w", id, err))
		}
	}
	for id, b := range p.buckets {
		if err := b.Check(ctx); err != nil {
			return missing(fmt.Sprintf("the blob store of region %s cannot be reached", id), fmt.Errorf("region %s blobs: %w", id, err))
		}
	}
	return nil
}

// reason is the store's own sentence for a fault it classified, or a
// generic one.
func reason(err error) string {
	if candor.Is(err, candor.Unavailable) {
		return candor.Message(err)
	}
	return "it does not answer"
}

// check fails when the folder's file system has less than MinFree bytes
// or no inode left for an unprivileged writer.
func (f Folder) check() error {
	min := f.MinFree
	if min == 0 {
		min = MinFree
	}
	var st unix.Statfs_t
	if err := unix.Statfs(f.Path, &st); err != nil {
		return missing("the server's disk cannot be read", fmt.Errorf("statfs: %w", err))
	}
	free := st.Bavail * uint64(st.Bsize)
	if free < min || st.Files > 0 && st.Ffree == 0 {
		return missing("the server's disk is full", fmt.Errorf("%d bytes and %d inodes free, fewer than %d bytes needed", free, st.Ffree, min))
	}
	return nil
}

// SealedGauge is the candor_sealed metric: 1 while the server is sealed,
// 0 otherwise.
func (p *Probe) SealedGauge() prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "candor_sealed", Help: "1 while the server is sealed and serves no personal data.",
	}, func() float64 {
		if p.Sealed() {
			return 1
		}
		return 0
	})
}
