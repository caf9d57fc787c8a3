// Package erasure puts a horizon on what a copy of a database can open.
//
// A SQLite data folder is wiped as soon as a deletion is acknowledged, but
// a PostgreSQL database keeps dead tuples until a vacuum, WAL segments
// until they are recycled, and whatever a base backup or a WAL archive
// took: a deleted shred secret lives on in copies nobody at Candor can
// reach. So shred secrets are wrapped a second time, under the erasure key
// of a period (a week by default), and the erasure keys are kept outside
// every database, in a folder that is never backed up.
//
// The keys form a ratchet: the key of period p+1 is derived from the key
// of period p by a one-way function, and only one key is stored, the
// oldest still needed. Any instance can derive the keys of later periods
// from it (so instances need not agree on when a key was made), and no one
// can derive an earlier one: replacing the stored key with a later one
// erases every period before it, in the folder's one file. The keyring
// wraps new secrets under the next period's key, re-wraps the live secrets
// forward once a period and then advances the stored key to the current
// period, so a secret deleted from the database, but still in a copy of it
// taken earlier, cannot be opened once two periods have passed — even with
// the custodians' shares and the live database.
package erasure

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/candorcloud/candor"
)

// KeySize is the size of an erasure key.
const KeySize = 32

// Chain is the ratchet at one period: the key of Period, from which the
// keys of every later period follow. The zero Chain holds nothing.
type Chain struct {
	Period int64
	key    []byte
}

// NewChain returns the chain whose key at period is key (32 bytes, copied).
func NewChain(period int64, key []byte) (Chain, error) {
	if len(key) != KeySize {
		return Chain{}, errors.New("erasure: a key is 32 bytes")
	}
	return Chain{Period: period, key: append([]byte(nil), key...)}, nil
}

// next is the one-way step from one period's key to the next.
func next(key []byte) []byte {
	k, err := hkdf.Expand(sha256.New, key, "candor/erasure-ratchet/v1", KeySize)
	if err != nil {
		panic(err) // only for lengths HKDF cannot make
	}
	return k
}

// Key returns the key of period q, derived from the chain's own. A period
// before the chain's is erased: candor.NotFound.
func (c Chain) Key(q int64) ([]byte, error) {
	switch {
	case c.key == nil:
		return nil, errors.New("erasure: no chain")
	case q < c.Period:
		return nil, candor.Errorf(candor.NotFound, "the erasure key of period %d is erased", q)
	}
	k := append([]byte(nil), c.key...)
	for p := c.Period; p < q; p++ {
		n := next(k)
		clear(k)
		k = n
	}
	return k, nil
}

// Advance returns the chain at period q (itself if q is not later). The
// caller stores it, then wipes the old one.
func (c Chain) Advance(q int64) (Chain, error) {
	if q <= c.Period {
		return c, nil
	}
	k, err := c.Key(q)
	if err != nil {
		return Chain{}, err
	}
	return Chain{Period: q, key: k}, nil
}

// Wipe overwrites the chain's key in memory.
func (c Chain) Wipe() { clear(c.key) }

// Clock turns times into periods of a fixed length, counted from the Unix
// epoch.
type Clock struct {
	Length time.Duration
	Now    func() time.Time
}

// Period is the period that holds the current time.
func (c Clock) Period() int64 {
	return c.Now().UnixNano() / int64(c.Length)
}

// End is when period p ends.
func (c Clock) End(p int64) time.Time {
	return time.Unix(0, (p+1)*int64(c.Length)).UTC()
}

// Folder keeps the one stored key of the chain, sealed by the caller, as a
// file in a folder outside every database. The folder must not be backed
// up: a backup of it would keep the periods it erases.
//
// A replacement overwrites the file in place and syncs it, so that on a
// file system that rewrites blocks where they are (ext4, XFS) the old key
// is gone from the disk too; a copy-on-write file system or an SSD's
// remapping may keep the old blocks until they are reused (see
// docs/threat-model.md).
type Folder string

const stateFile = "erasure-key"

// Load returns the stored period and sealed key; candor.NotFound if none
// was ever created.
func (f Folder) Load(ctx context.Context) (int64, []byte, error) {
	b, err := os.ReadFile(filepath.Join(string(f), stateFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return 0, nil, candor.E(candor.NotFound, "no erasure key stored yet")
	case err != nil:
		return 0, nil, candor.Errorf(candor.Unavailable, "the erasure key folder cannot be read: %v", errors.Unwrap(err))
	}
	return decode(b)
}

// Create stores the first key; candor.Conflict if one exists (another
// instance made it first: Load it). The file appears whole or not at all:
// it is written beside and linked into place, which fails if the name is
// taken.
func (f Folder) Create(ctx context.Context, period int64, sealed []byte) error {
	if err := os.MkdirAll(string(f), 0o700); err != nil {
		return candor.Errorf(candor.Unavailable, "the erasure key folder cannot be made: %v", errors.Unwrap(err))
	}
	tmp, err := os.CreateTemp(string(f), ".new-*")
	if err != nil {
		return candor.Errorf(candor.Unavailable, "the erasure key folder cannot be written: %v", errors.Unwrap(err))
	}
	defer os.Remove(tmp.Name())
	if err := writeSync(tmp, encode(period, sealed)); err != nil {
		return err
	}
	err = os.Link(tmp.Name(), filepath.Join(string(f), stateFile))
	switch {
	case errors.Is(err, fs.ErrExist):
		return candor.E(candor.Conflict, "an erasure key is stored already")
	case err != nil:
		return candor.Errorf(candor.Unavailable, "the erasure key cannot be stored: %v", errors.Unwrap(err))
	}
	return syncDir(string(f))
}

// Replace overwrites the stored key with a later period's, in place: the
// file keeps its blocks and its length (every stored key has the same
// size), so the earlier key is overwritten, not left in freed blocks.
func (f Folder) Replace(ctx context.Context, period int64, sealed []byte) error {
	file, err := os.OpenFile(filepath.Join(string(f), stateFile), os.O_WRONLY, 0)
	if err != nil {
		return candor.Errorf(candor.Unavailable, "the erasure key cannot be replaced: %v", errors.Unwrap(err))
	}
	b := encode(period, sealed)
	if err := writeSync(file, b); err != nil {
		return err
	}
	return nil
}

func writeSync(file *os.File, b []byte) error {
	_, err := file.WriteAt(b, 0)
	if err == nil {
		err = file.Truncate(int64(len(b)))
	}
	if err == nil {
		err = file.Sync()
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return candor.Errorf(candor.Unavailable, "the erasure key cannot be written: %v", errors.Unwrap(err))
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return candor.Errorf(candor.Unavailable, "the erasure key folder cannot be synced: %v", errors.Unwrap(err))
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return candor.Errorf(candor.Unavailable, "the erasure key folder cannot be synced: %v", errors.Unwrap(err))
	}
	return nil
}

// The file: "candor-erasure v1 <period>\n" then the sealed key. The period
// is padded to 20 digits so every file has the same length.
const header = "candor-erasure v1 "

func encode(period int64, sealed []byte) []byte {
	return append(fmt.Appendf(nil, "%s%020d\n", header, period), sealed...)
}

func decode(b []byte) (int64, []byte, error) {
	n := len(header) + 21
	if len(b) < n || string(b[:len(header)]) != header || b[n-1] != '\n' {
		return 0, nil, candor.E(candor.Integrity, "the stored erasure key is not in Candor's format")
	}
	p, err := strconv.ParseInt(string(b[len(header):n-1]), 10, 64)
	if err != nil || p < 0 {
		return 0, nil, candor.E(candor.Integrity, "the stored erasure key has no valid period")
	}
	return p, b[n:], nil
}
