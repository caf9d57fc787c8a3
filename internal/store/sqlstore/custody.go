package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"slices"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// shareHashSize is the size of each share hash: a SHA-256 or similar.
const shareHashSize = 32

// maxShares is the most shares a root key may be split into: a share index
// is one byte.
const maxShares = 255

// checkCustody fails with Invalid unless c is a custody that can be held:
// a positive root version, 2 <= Threshold <= Shares <= 255, and one 32-byte
// hash per share.
func checkCustody(c store.Custody) error {
	switch {
	case c.RootVersion <= 0:
		return candor.E(candor.Invalid, "custody needs a positive root version")
	case c.Threshold < 2 || c.Threshold > c.Shares || c.Shares > maxShares:
		return candor.Errorf(candor.Invalid, "custody of %d of %d shares: want 2 <= threshold <= shares <= %d", c.Threshold, c.Shares, maxShares)
	case len(c.ShareHashes) != c.Shares:
		return candor.Errorf(candor.Invalid, "custody has %d share hashes for %d shares", len(c.ShareHashes), c.Shares)
	}
	for i, h := range c.ShareHashes {
		if len(h) != shareHashSize {
			return candor.Errorf(candor.Invalid, "share hash %d is %d bytes, want %d", i, len(h), shareHashSize)
		}
	}
	return nil
}

// changeRoot runs fn, the work of InitRoot or Rekey, in a write transaction
// that appends rec (see auditLog.access) and first takes the dialect's
// rootLock, if it has one, so that changes of the root run one after the
// other. fn gets the names of keys sorted: a stable order of inserts, for
// reproducible errors. Invalid, before anything runs, if c is not a custody
// checkCustody accepts or a key name is empty.
func (s *DirectoryStore) changeRoot(ctx context.Context, rec store.AuditRecord, c store.Custody, keys map[string]store.WrappedKey, fn func(r runner, names []string) error) error {
	if err := checkCustody(c); err != nil {
		return err
	}
	names := make([]string, 0, len(keys))
	for name := range keys {
		if name == "" {
			return candor.E(candor.Invalid, "system key name is empty")
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return s.auditLog.access(ctx, rec, func(r runner) error {
		if s.db.dialect.rootLock != "" {
			if _, err := r.exec(ctx, s.db.dialect.rootLock); err != nil {
				return internal("lock root custody", err)
			}
		}
		return fn(r, names)
	})
}

// InitRoot records the first root key's custody and its system keys (each
// stored under its name as by PutSystemKey) in one transaction. It fails
// with Conflict, writing nothing, if any custody is recorded or any of the
// named system keys exists, and with Invalid, writing nothing, if c is not
// a custody checkCustody accepts or a key name is empty.
//
// Of concurrent calls exactly one can succeed; the others get Conflict. In
// SQLite the single writer serialises them; in PostgreSQL an advisory lock
// held for the transaction does, and a system key put at the same moment by
// PutSystemKey makes the insert fail as a uniqueness violation (Conflict).
//
// rec is appended in the same transaction,
// unless it fails.
func (s *DirectoryStore) InitRoot(ctx context.Context, rec store.AuditRecord, c store.Custody, keys map[string]store.WrappedKey) error {
	return s.changeRoot(ctx, rec, c, keys, func(r runner, names []string) error {
		var n int
		if err := r.row(ctx, `SELECT COUNT(*) FROM custody`).Scan(&n); err != nil {
			return internal("init root", err)
		}
		if n > 0 {
			return candor.E(candor.Conflict, "the root key is initialised already")
		}
		for _, name := range names {
			if err := r.row(ctx, `SELECT COUNT(*) FROM system_keys WHERE name = ?`, name).Scan(&n); err != nil {
				return internal("init root", err)
			}
			if n > 0 {
				return candor.Errorf(candor.Conflict, "system key %q exists already", name)
			}
		}
		_, err := r.exec(ctx, `INSERT INTO custody (root_version, shares, threshold, share_hashes, created_us) VALUES (?, ?, ?, ?, ?)`,
			c.RootVersion, c.Shares, c.Threshold, bytes.Join(c.ShareHashes, nil), micros(stamp(c.Created)))
		switch {
		case s.db.dialect.unique(err):
			return candor.Wrap(candor.Conflict, "the root key is initialised already", err)
		case err != nil:
			return internal("init root", err)
		}
		for _, name := range names {
			k := keys[name]
			_, err := r.exec(ctx, `INSERT INTO system_keys (name, version, wrapper, wrapped, created_us) VALUES (?, ?, ?, ?, ?)`,
				name, k.Version, k.Wrapper, k.Wrapped, micros(stamp(k.Created)))
			switch {
			case s.db.dialect.unique(err):
				return candor.Wrap(candor.Conflict, "a system key exists already", err)
			case err != nil:
				return internal("init root", err)
			}
		}
		return nil
	})
}

// Custody returns the custody of the latest root version; NotFound before
// InitRoot.
func (s *DirectoryStore) Custody(ctx context.Context) (store.Custody, error) {
	var c store.Custody
	var hashes []byte
	var created int64
	err := s.db.reader().row(ctx, `SELECT root_version, shares, threshold, share_hashes, created_us FROM custody
		ORDER BY root_version DESC LIMIT 1`).Scan(&c.RootVersion, &c.Shares, &c.Threshold, &hashes, &created)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Custody{}, candor.E(candor.NotFound, "the root key is not initialised")
	case err != nil:
		return store.Custody{}, internal("read custody", err)
	}
	if len(hashes) != shareHashSize*c.Shares {
		return store.Custody{}, internal("read custody", errors.New("share hashes do not match the share count"))
	}
	c.ShareHashes = make([][]byte, c.Shares)
	for i := range c.ShareHashes {
		c.ShareHashes[i] = hashes[i*shareHashSize : (i+1)*shareHashSize : (i+1)*shareHashSize]
	}
	c.Created = fromMicros(created)
	return c, nil
}

// Rekey records the custody of a new root version and replaces the named
// system keys (inserting those that do not exist), in one transaction. It
// fails with Conflict, writing nothing, unless c.RootVersion is exactly the
// latest recorded version plus one (so also before InitRoot), and with
// Invalid, writing nothing, if c is not a custody checkCustody accepts or a
// key name is empty. System keys not named in keys are left as they are.
//
// Of concurrent calls for the same version exactly one can succeed; the
// others get Conflict. They are serialised as InitRoot's are. rec is appended in the same transaction, unless it fails.
func (s *DirectoryStore) Rekey(ctx context.Context, rec store.AuditRecord, c store.Custody, keys map[string]store.WrappedKey) error {
	return s.changeRoot(ctx, rec, c, keys, func(r runner, names []string) error {
		var latest int64
		if err := r.row(ctx, `SELECT COALESCE(MAX(root_version), 0) FROM custody`).Scan(&latest); err != nil {
			return internal("rekey", err)
		}
		switch {
		case latest == 0:
			return candor.E(candor.Conflict, "the root key is not initialised")
		case c.RootVersion != latest+1:
			return candor.Errorf(candor.Conflict, "the next root version is %d, not %d", latest+1, c.RootVersion)
		}
		_, err := r.exec(ctx, `INSERT INTO custody (root_version, shares, threshold, share_hashes, created_us) VALUES (?, ?, ?, ?, ?)`,
			c.RootVersion, c.Shares, c.Threshold, bytes.Join(c.ShareHashes, nil), micros(stamp(c.Created)))
		switch {
		case s.db.dialect.unique(err):
			return candor.Wrap(candor.Conflict, "the root version exists already", err)
		case err != nil:
			return internal("rekey", err)
		}
		for _, name := range names {
			k := keys[name]
			if _, err := r.exec(ctx, `INSERT INTO system_keys (name, version, wrapper, wrapped, created_us) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (name) DO UPDATE SET version = excluded.version, wrapper = excluded.wrapper,
					wrapped = excluded.wrapped, created_us = excluded.created_us`,
				name, k.Version, k.Wrapper, k.Wrapped, micros(stamp(k.Created))); err != nil {
				return internal("rekey", err)
			}
		}
		return nil
	})
}
