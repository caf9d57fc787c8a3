package keyring

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/seal"
	"github.com/candorcloud/candor/internal/store"
)

var errStale = candor.E(candor.Conflict, "the category was turned off and on again; sync again from the start")

// DataKey returns the record key of (account, category) in region and the
// consent epoch it belongs to, or a candor.NotFound error when there is
// none (the category was never on, or its data was shredded: either half
// of the key is gone).
func (k *Keyring) DataKey(ctx context.Context, region candor.RegionID, account candor.AccountID, c candor.Category) (seal.Key, int64, error) {
	_, _, rs, err := k.kek(ctx, region, 0)
	if err != nil {
		return seal.Key{}, 0, err
	}
	dk, err := rs.DataKey(ctx, account, c)
	if err != nil {
		return seal.Key{}, 0, err
	}
	key, err := k.open(ctx, region, dk)
	return key, dk.Epoch, err
}

// open unwraps a DEK, fetches its shred secret and derives the record key.
func (k *Keyring) open(ctx context.Context, region candor.RegionID, dk store.DataKey) (seal.Key, error) {
	material, shred, err := k.halves(ctx, region, dk)
	if err != nil {
		return seal.Key{}, err
	}
	defer clear(material)
	defer clear(shred)
	return derive(material, shred, dk.Account, dk.Category, dk.Epoch)
}

// halves returns a data key's two halves: the DEK's material and the shred
// secret. The caller wipes them.
func (k *Keyring) halves(ctx context.Context, region candor.RegionID, dk store.DataKey) ([]byte, []byte, error) {
	kek, _, _, err := k.kek(ctx, region, dk.Key.Wrapper)
	if err != nil {
		return nil, nil, err
	}
	material, err := kek.Open(dk.Key.Wrapped, dekAD(region, dk.Account, dk.Category, dk.Epoch, dk.Key.Wrapper))
	if err != nil {
		return nil, nil, err
	}
	ss, err := k.system.ShredSecret(ctx, dk.Account, dk.Category, dk.Epoch)
	if err != nil {
		clear(material)
		return nil, nil, err
	}
	shred, err := k.openShredSecret(ss)
	if err != nil {
		clear(material)
		return nil, nil, err
	}
	return material, shred, nil
}

// BlobKey returns the 32-byte key of one blob (a photo) of (account,
// category), derived from the data key's two halves, so destroying either
// destroys every blob too. With create it makes the data key if there is
// none (as EnsureDataKey, for an upload); without, a missing data key is
// NotFound. A data key of another epoch is Conflict.
func (k *Keyring) BlobKey(ctx context.Context, region candor.RegionID, account candor.AccountID, c candor.Category, epoch int64, blob string, create bool) ([]byte, error) {
	if create {
		if _, err := k.EnsureDataKey(ctx, region, account, c, epoch); err != nil {
			return nil, err
		}
	}
	_, _, rs, err := k.kek(ctx, region, 0)
	if err != nil {
		return nil, err
	}
	dk, err := rs.DataKey(ctx, account, c)
	if err != nil {
		return nil, err
	}
	if dk.Epoch != epoch {
		return nil, errStale
	}
	material, shred, err := k.halves(ctx, region, dk)
	if err != nil {
		return nil, err
	}
	defer clear(material)
	defer clear(shred)
	// Not bound to the region: a migration moves the blob as it is and
	// re-wraps only the DEK.
	info := "candor/blob-key/v2|" + string(account) + "|" + string(c) + "|" + strconv.FormatInt(epoch, 10) + "|" + blob
	return hkdf.Key(sha256.New, material, shred, info, seal.KeySize)
}

// EnsureDataKey returns the record key of (account, category) for a
// consent epoch, creating its two halves if there are none: first the shred
// secret in the directory, then the DEK, wrapped by the region's current
// KEK, which the store refuses to create unless the category is on under
// that epoch (ConsentRequired). A key of another epoch is Conflict.
func (k *Keyring) EnsureDataKey(ctx context.Context, region candor.RegionID, account candor.AccountID, c candor.Category, epoch int64) (seal.Key, error) {
	key, dkEpoch, err := k.DataKey(ctx, region, account, c)
	switch {
	case err == nil && dkEpoch == epoch:
		return key, nil
	case err == nil:
		return seal.Key{}, errStale
	case !candor.Is(err, candor.NotFound):
		return seal.Key{}, err
	}
	now := time.Now().UTC()
	secret := randomKey()
	defer clear(secret)
	wrapped, err := k.wrapShredSecret(account, c, epoch, secret, now)
	if err != nil {
		return seal.Key{}, err
	}
	if _, err := k.system.PutShredSecret(ctx, store.ShredSecret{Account: account, Category: c, Epoch: epoch, Key: wrapped}); err != nil {
		return seal.Key{}, err
	}
	material := randomKey()
	defer clear(material)
	dk, err := k.createDataKey(ctx, region, store.DataKey{Account: account, Category: c, Epoch: epoch,
		Key: store.WrappedKey{Version: 1, Created: now}}, material)
	if errors.Is(err, store.ErrNoKEK) {
		// Another instance rotated the region's key and retired the
		// version this one still had as current: learn the versions
		// stored now and wrap again, once.
		if err := k.reloadKEKs(ctx, region); err != nil {
			return seal.Key{}, err
		}
		dk, err = k.createDataKey(ctx, region, store.DataKey{Account: account, Category: c, Epoch: epoch,
			Key: store.WrappedKey{Version: 1, Created: now}}, material)
	}
	if err != nil {
		return seal.Key{}, err
	}
	if dk.Epoch != epoch {
		return seal.Key{}, errStale
	}
	// Secrets of earlier epochs belong to shredded data: make sure none is left.
	if _, err := k.system.DeleteShredSecrets(ctx, account, c, epoch); err != nil {
		return seal.Key{}, err
	}
	return k.open(ctx, region, dk)
}

// createDataKey wraps material under region's current KEK version, as
// this process knows it, and stores it as dk's key (CreateDataKey): the
// store refuses a version that is no longer stored (store.ErrNoKEK).
func (k *Keyring) createDataKey(ctx context.Context, region candor.RegionID, dk store.DataKey, material []byte) (store.DataKey, error) {
	kek, version, rs, err := k.kek(ctx, region, 0)
	if err != nil {
		return store.DataKey{}, err
	}
	dk.Key.Wrapper = version
	dk.Key.Wrapped = kek.Seal(material, dekAD(region, dk.Account, dk.Category, dk.Epoch, version))
	return rs.CreateDataKey(ctx, dk)
}

// Shred destroys the directory's half of every data key of (account,
// category). Consent withdrawal calls it after the region has deleted the
// records and the DEK; from then on, no copy of that region's database
// taken earlier can be opened by anyone.
func (k *Keyring) Shred(ctx context.Context, account candor.AccountID, c candor.Category) error {
	_, err := k.system.DeleteShredSecrets(ctx, account, c, 0)
	return err
}

// Rotation is where a region's key rotation stands.
type Rotation struct {
	Region  candor.RegionID
	Version int64 // the current KEK version
	Pending int   // data keys still wrapped by an older version
	Total   int   // data keys in the region
}

// RotationStatus reports a region's key versions and pending re-wraps.
func (k *Keyring) RotationStatus(ctx context.Context, region candor.RegionID) (Rotation, error) {
	_, version, rs, err := k.kek(ctx, region, 0)
	if err != nil {
		return Rotation{}, err
	}
	counts, err := rs.CountDataKeys(ctx)
	if err != nil {
		return Rotation{}, err
	}
	r := Rotation{Region: region, Version: version}
	for v, n := range counts {
		r.Total += n
		if v < version {
			r.Pending += n
		}
	}
	return r, nil
}

// StartRotation makes a new KEK version current in region: data keys
// created from now on use it. If a rotation is still pending (data keys
// wrapped by an older version remain) it makes no new version and the
// caller resumes that one with RewrapBatch.
func (k *Keyring) StartRotation(ctx context.Context, region candor.RegionID) (Rotation, error) {
	r, err := k.RotationStatus(ctx, region)
	if err != nil || r.Pending > 0 {
		return r, err
	}
	mk, err := k.masterKey()
	if err != nil {
		return Rotation{}, err
	}
	_, _, rs, err := k.kek(ctx, region, 0)
	if err != nil {
		return Rotation{}, err
	}
	next := r.Version + 1
	material := randomKey()
	defer clear(material)
	if err := rs.PutKEK(ctx, store.WrappedKey{Version: next, Wrapped: mk.Seal(material, kekAD(region, next)), Created: time.Now().UTC()}); err != nil {
		return Rotation{}, fmt.Errorf("region %s key version %d: %w", region, next, err)
	}
	if err := k.reloadKEKs(ctx, region); err != nil {
		return Rotation{}, err
	}
	return k.RotationStatus(ctx, region)
}

// RewrapBatch re-wraps up to n data keys of region that an older KEK
// version wraps, under the current version; the data itself is untouched.
// A key destroyed or replaced meanwhile is skipped. When none is left, it
// deletes the older versions. It returns how many it re-wrapped and how
// many are left.
func (k *Keyring) RewrapBatch(ctx context.Context, region candor.RegionID, n int) (done, left int, err error) {
	newKEK, version, rs, err := k.kek(ctx, region, 0)
	if err != nil {
		return 0, 0, err
	}
	dks, err := rs.DataKeysWrappedBefore(ctx, version, n)
	if err != nil {
		return 0, 0, err
	}
	rewraps := make([]store.Rewrap, 0, len(dks))
	for _, dk := range dks {
		old, _, _, err := k.kek(ctx, region, dk.Key.Wrapper)
		if err != nil {
			return 0, 0, err
		}
		material, err := old.Open(dk.Key.Wrapped, dekAD(region, dk.Account, dk.Category, dk.Epoch, dk.Key.Wrapper))
		if err != nil {
			return 0, 0, fmt.Errorf("data key of %s/%s: %w", dk.Account, dk.Category, err)
		}
		wrapped := newKEK.Seal(material, dekAD(region, dk.Account, dk.Category, dk.Epoch, version))
		clear(material)
		rewraps = append(rewraps, store.Rewrap{Account: dk.Account, Category: dk.Category, Epoch: dk.Epoch, OldWrapper: dk.Key.Wrapper,
			Key: store.WrappedKey{Version: dk.Key.Version, Wrapper: version, Wrapped: wrapped, Created: dk.Key.Created}})
	}
	if done, err = rs.RewrapDataKeys(ctx, rewraps); err != nil {
		return 0, 0, err
	}
	r, err := k.RotationStatus(ctx, region)
	if err != nil {
		return done, 0, err
	}
	if r.Pending == 0 {
		err = k.retire(ctx, region, version, rs)
	}
	return done, r.Pending, err
}

// retire deletes a region's KEK versions older than current once no data
// key uses them.
func (k *Keyring) retire(ctx context.Context, region candor.RegionID, current int64, rs RegionKeys) error {
	stored, err := rs.KEKs(ctx)
	if err != nil {
		return err
	}
	for _, w := range stored {
		if w.Version < current {
			if err := rs.DeleteKEK(ctx, w.Version); err != nil {
				return fmt.Errorf("retire region %s key version %d: %w", region, w.Version, err)
			}
		}
	}
	return k.reloadKEKs(ctx, region)
}

// MoveDataKey re-wraps a data key of region from for region to, under to's
// current KEK, for a migration; the key itself, and so every record and
// blob it protects, is unchanged. Its two halves stay whole: the shred
// secret is in the directory, which both regions share.
//
// A region this keyring does not serve (a process serving some regions
// only) may be either end, if it was given as another region
// (WithOtherRegions): its key is opened for this data key only, and not
// kept.
func (k *Keyring) MoveDataKey(ctx context.Context, dk store.DataKey, from, to candor.RegionID) (store.DataKey, error) {
	old, _, err := k.moveKEK(ctx, from, dk.Key.Wrapper)
	if err != nil {
		return store.DataKey{}, err
	}
	material, err := old.Open(dk.Key.Wrapped, dekAD(from, dk.Account, dk.Category, dk.Epoch, dk.Key.Wrapper))
	if err != nil {
		return store.DataKey{}, fmt.Errorf("data key of %s/%s: %w", dk.Account, dk.Category, err)
	}
	defer clear(material)
	kek, version, err := k.moveKEK(ctx, to, 0)
	if err != nil {
		return store.DataKey{}, err
	}
	dk.Key.Wrapper, dk.Key.Wrapped = version, kek.Seal(material, dekAD(to, dk.Account, dk.Category, dk.Epoch, version))
	return dk, nil
}

// moveKEK is kek for a migration: a served region's key as kek gives it,
// or another region's (WithOtherRegions), read from its store and opened
// with the master key for this one use. Another region whose processes
// never made its key is Unavailable: they make it when first unsealed.
func (k *Keyring) moveKEK(ctx context.Context, region candor.RegionID, version int64) (seal.Key, int64, error) {
	k.mu.RLock()
	_, served := k.regions[region]
	rs, other := k.others[region]
	k.mu.RUnlock()
	if served || !other {
		key, v, _, err := k.kek(ctx, region, version)
		return key, v, err
	}
	mk, err := k.masterKey()
	if err != nil {
		return seal.Key{}, 0, err
	}
	keys, current, err := loadKEKs(ctx, mk, region, rs, false)
	if err != nil {
		return seal.Key{}, 0, err
	}
	if current == 0 {
		return seal.Key{}, 0, candor.Errorf(candor.Unavailable, "region %s has no key yet: unseal one of its processes first", region)
	}
	if version == 0 {
		version = current
	}
	key, ok := keys[version]
	if !ok {
		return seal.Key{}, 0, fmt.Errorf("keyring: region %s has no key version %d", region, version)
	}
	return key, version, nil
}
