package keyring

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/erasure"
	"github.com/candorcloud/candor/internal/seal"
	"github.com/candorcloud/candor/internal/store"
)

// DefaultPeriod is an erasure period unless configured: a shred secret
// deleted from the database cannot be opened from an earlier copy of it
// two periods later, and a copy of the directory can be restored for
// about one period.
const DefaultPeriod = 7 * 24 * time.Hour

// ErasureKeys keeps the one stored key of the erasure ratchet, sealed by
// the master key, outside every database (erasure.Folder).
type ErasureKeys interface {
	Load(ctx context.Context) (period int64, sealed []byte, err error)
	Create(ctx context.Context, period int64, sealed []byte) error
	Replace(ctx context.Context, period int64, sealed []byte) error
}

// Erasure is where the keyring keeps its erasure keys and how it counts
// periods.
type Erasure struct {
	Keys  ErasureKeys
	Clock erasure.Clock
}

func erasureKeyAD(period int64) []byte {
	return seal.AD("candor/erasure-key/v1", strconv.FormatInt(period, 10))
}
func shredErasureAD(account candor.AccountID, c candor.Category, epoch, period int64) []byte {
	return seal.AD("candor/shred-erasure/v1", string(account), string(c), strconv.FormatInt(epoch, 10), strconv.FormatInt(period, 10))
}

// erasureMarker names the system key whose presence says that this
// database's shred secrets are wrapped under erasure keys, so that an
// empty erasure folder is refused instead of replaced.
const erasureMarker = "erasure-in-use"

// loadChain opens the stored erasure key with the master key, creating the
// first (of the current period) if none is stored and the database never
// used one; an instance that loses the race to create it loads the
// winner's. It marks the database as using erasure keys.
func (k *Keyring) loadChain(ctx context.Context, mk seal.Key) (erasure.Chain, error) {
	if k.erasure.Keys == nil {
		return erasure.Chain{}, fmt.Errorf("keyring: no erasure key folder")
	}
	chain, err := k.openChain(ctx, mk)
	if err != nil {
		return erasure.Chain{}, err
	}
	if _, err := k.system.SystemKey(ctx, erasureMarker); candor.Is(err, candor.NotFound) {
		_, err = k.system.PutSystemKey(ctx, erasureMarker, store.WrappedKey{Version: 1, Created: time.Now().UTC(),
			Wrapped: mk.Seal([]byte(erasureMarker), secretAD(erasureMarker))})
		if err != nil {
			chain.Wipe()
			return erasure.Chain{}, fmt.Errorf("erasure marker: %w", err)
		}
	} else if err != nil {
		chain.Wipe()
		return erasure.Chain{}, fmt.Errorf("erasure marker: %w", err)
	}
	return chain, nil
}

// openChain loads and opens the stored erasure key, or makes the first if
// there is none and the database never had one.
func (k *Keyring) openChain(ctx context.Context, mk seal.Key) (erasure.Chain, error) {
	period, sealed, err := k.erasure.Keys.Load(ctx)
	if candor.Is(err, candor.NotFound) {
		if _, merr := k.system.SystemKey(ctx, erasureMarker); merr == nil {
			return erasure.Chain{}, errors.New("the erasure key folder is empty, but this database's shred secrets are wrapped under its keys: " +
				"restore the folder (or point the server at the right one); a new key would leave every account's data unreadable")
		} else if !candor.Is(merr, candor.NotFound) {
			return erasure.Chain{}, fmt.Errorf("erasure marker: %w", merr)
		}
		period = k.erasure.Clock.Period()
		first := randomKey()
		defer clear(first)
		err = k.erasure.Keys.Create(ctx, period, mk.Seal(first, erasureKeyAD(period)))
		if candor.Is(err, candor.Conflict) {
			return k.openChain(ctx, mk)
		}
		if err != nil {
			return erasure.Chain{}, fmt.Errorf("erasure key: %w", err)
		}
		return erasure.NewChain(period, first)
	}
	if err != nil {
		return erasure.Chain{}, fmt.Errorf("erasure key: %w", err)
	}
	key, err := mk.Open(sealed, erasureKeyAD(period))
	if err != nil {
		return erasure.Chain{}, fmt.Errorf("erasure key of period %d does not open under the master key: %w", period, err)
	}
	defer clear(key)
	return erasure.NewChain(period, key)
}

// erasureKey returns the erasure key of period q, derived from the chain.
func (k *Keyring) erasureKey(q int64) (seal.Key, error) {
	k.mu.RLock()
	sealed, chain := k.master == nil, k.chain
	var material []byte
	var err error
	if !sealed {
		material, err = chain.Key(q) // under the lock: Seal wipes the chain
	}
	k.mu.RUnlock()
	if sealed {
		return seal.Key{}, candor.ErrSealed
	}
	if err != nil {
		return seal.Key{}, err
	}
	defer clear(material)
	return seal.NewKey(material)
}

// wrapShredSecret wraps a new shred secret under the master key, then
// under the erasure key of the next period: a period ahead, so that an
// instance whose clock lags behind the one advancing the ratchet still
// wraps under a key that is kept.
func (k *Keyring) wrapShredSecret(account candor.AccountID, c candor.Category, epoch int64, secret []byte, now time.Time) (store.WrappedKey, error) {
	mk, err := k.masterKey()
	if err != nil {
		return store.WrappedKey{}, err
	}
	q := k.erasure.Clock.Period() + 1
	ek, err := k.erasureKey(q)
	if err != nil {
		return store.WrappedKey{}, err
	}
	inner := mk.Seal(secret, shredAD(account, c, epoch))
	return store.WrappedKey{Version: 2, Wrapper: q, Created: now,
		Wrapped: ek.Seal(inner, shredErasureAD(account, c, epoch, q))}, nil
}

// openShredSecret unwraps a shred secret: version 1 under the master key
// only (written before erasure periods; the next advance re-wraps it),
// version 2 also under the erasure key of its period. The caller wipes it.
func (k *Keyring) openShredSecret(ss store.ShredSecret) ([]byte, error) {
	mk, err := k.masterKey()
	if err != nil {
		return nil, err
	}
	inner := ss.Key.Wrapped
	switch ss.Key.Version {
	case 1:
	case 2:
		if inner, err = k.openErasureLayer(ss); err != nil {
			return nil, err
		}
		defer clear(inner)
	default:
		return nil, fmt.Errorf("keyring: shred secret of version %d", ss.Key.Version)
	}
	return mk.Open(inner, shredAD(ss.Account, ss.Category, ss.Epoch))
}

// openErasureLayer removes a version-2 secret's outer layer. A secret of an
// erased period cannot be opened by anyone: that is the horizon.
func (k *Keyring) openErasureLayer(ss store.ShredSecret) ([]byte, error) {
	ek, err := k.erasureKey(ss.Key.Wrapper)
	if err != nil {
		return nil, fmt.Errorf("shred secret of %s/%s: %w", ss.Account, ss.Category, err)
	}
	return ek.Open(ss.Key.Wrapped, shredErasureAD(ss.Account, ss.Category, ss.Epoch, ss.Key.Wrapper))
}

// ErasureState is where the erasure ratchet stands.
type ErasureState struct {
	Length  time.Duration // of a period
	Stored  int64         // the oldest period whose key can still be derived
	Current int64         // the period now
	// Horizon is when a shred secret deleted now can no longer be opened
	// from a copy of the database taken earlier: the end of the period
	// after the next, provided the upkeep keeps advancing the ratchet.
	Horizon time.Time
}

// Erasure reports where the ratchet stands.
func (k *Keyring) Erasure() (ErasureState, error) {
	k.mu.RLock()
	sealed, stored := k.master == nil, k.chain.Period
	k.mu.RUnlock()
	if sealed {
		return ErasureState{}, candor.ErrSealed
	}
	c := k.erasure.Clock.Period()
	return ErasureState{Length: k.erasure.Clock.Length, Stored: stored, Current: c, Horizon: k.erasure.Clock.End(c + 1)}, nil
}

// AdvanceErasure re-wraps, batch after batch, every shred secret wrapped
// under a period before the next one (or only under the master key) under
// the next period's erasure key; once none is left it stores the ratchet
// at the current period, which erases the keys of every earlier period
// from the folder. It returns how many secrets it re-wrapped and the
// period now stored. A later period stored by another instance is adopted
// first; secrets are never left under an erased period: the ratchet
// advances only after the re-wrap found nothing left.
func (k *Keyring) AdvanceErasure(ctx context.Context, batch int) (int, int64, error) {
	mk, err := k.masterKey()
	if err != nil {
		return 0, 0, err
	}
	stored, err := k.adoptStoredChain(ctx)
	if err != nil {
		return 0, 0, err
	}
	c := k.erasure.Clock.Period()
	target := c + 1
	ek, err := k.erasureKey(target)
	if err != nil {
		return 0, 0, err
	}
	done := 0
	for {
		if err := ctx.Err(); err != nil {
			return done, 0, err
		}
		list, err := k.system.ShredSecretsWrappedBefore(ctx, target, batch)
		if err != nil {
			return done, 0, err
		}
		if len(list) == 0 {
			break
		}
		rewraps := make([]store.Rewrap, 0, len(list))
		for _, ss := range list {
			inner := ss.Key.Wrapped
			if ss.Key.Version == 2 {
				if inner, err = k.openErasureLayer(ss); err != nil {
					return done, 0, err
				}
			}
			rewraps = append(rewraps, store.Rewrap{Account: ss.Account, Category: ss.Category, Epoch: ss.Epoch, OldWrapper: ss.Key.Wrapper,
				Key: store.WrappedKey{Version: 2, Wrapper: target, Created: ss.Key.Created,
					Wrapped: ek.Seal(inner, shredErasureAD(ss.Account, ss.Category, ss.Epoch, target))}})
			if ss.Key.Version == 2 {
				clear(inner)
			}
		}
		n, err := k.system.RewrapShredSecrets(ctx, rewraps)
		done += n
		if err != nil {
			return done, 0, err
		}
	}
	stored, err = k.storeChain(ctx, mk, stored, c)
	return done, stored, err
}

// adoptStoredChain moves the chain in memory to the stored one if another
// instance advanced it, and returns the stored period; one stored behind
// ours (an instance that advanced earlier wrote last) is put forward again
// by storeChain.
func (k *Keyring) adoptStoredChain(ctx context.Context) (int64, error) {
	period, _, err := k.erasure.Keys.Load(ctx)
	if err != nil {
		return 0, fmt.Errorf("erasure key: %w", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.master == nil || period <= k.chain.Period {
		return period, nil
	}
	next, err := k.chain.Advance(period)
	if err != nil {
		return 0, err
	}
	k.chain.Wipe()
	k.chain = next
	return period, nil
}

// storeChain stores the ratchet at period c if the stored period (as
// adoptStoredChain read it) is behind, then keeps only that in memory, and
// returns the period stored.
func (k *Keyring) storeChain(ctx context.Context, mk seal.Key, stored, c int64) (int64, error) {
	k.mu.RLock()
	next, err := k.chain.Advance(c) // under the lock: Seal and adopt wipe the chain
	var material []byte
	if err == nil {
		material, err = next.Key(next.Period)
	}
	k.mu.RUnlock()
	if err != nil {
		return 0, err
	}
	defer clear(material)
	if stored < next.Period {
		if err := k.erasure.Keys.Replace(ctx, next.Period, mk.Seal(material, erasureKeyAD(next.Period))); err != nil {
			return 0, fmt.Errorf("erasure key: %w", err)
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.master != nil && next.Period > k.chain.Period {
		k.chain.Wipe()
		k.chain = next
	}
	return max(stored, next.Period), nil
}
