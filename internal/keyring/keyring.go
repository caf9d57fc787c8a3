package keyring

import (
	"context"
	"crypto/rand"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/seal"
	"github.com/candorcloud/candor/internal/store"
)

// SystemKeys is where the keyring keeps its check value and system secrets
// (the directory store).
type SystemKeys interface {
	SystemKey(ctx context.Context, name string) (store.WrappedKey, error)
	PutSystemKey(ctx context.Context, name string, k store.WrappedKey) (store.WrappedKey, error)
}

// RegionKeys is where the keyring keeps one region's KEKs and data keys (the
// region's metadata store).
type RegionKeys interface {
	PutKEK(ctx context.Context, k store.WrappedKey) error
	KEKs(ctx context.Context) ([]store.WrappedKey, error)
	DataKey(ctx context.Context, account candor.AccountID, c candor.Category) (store.DataKey, error)
	CreateDataKey(ctx context.Context, k store.DataKey) (store.DataKey, error)
}

// Names of system secrets.
const (
	// SecretHandleOPRF seeds the OPRF key that turns login emails into handles.
	SecretHandleOPRF = "login-handle-oprf"
	// SecretFakeSalt keys the stable fake salts returned for unknown handles.
	SecretFakeSalt = "fake-salt"
)

const (
	checkName      = "root-check"
	checkPlaintext = "candor root key check v1"
	// rootVersion is the version of the root key. Rekeying (a new root and a
	// new set of shares) increments it.
	rootVersion = 1
)

// Keyring is the key hierarchy of one server process. It is safe for
// concurrent use.
type Keyring struct {
	system  SystemKeys
	regions map[candor.RegionID]RegionKeys

	mu      sync.RWMutex
	root    *seal.Key
	secrets map[string][]byte
	keks    map[candor.RegionID]map[int64]seal.Key
	current map[candor.RegionID]int64
}

// New returns a sealed keyring over the given stores.
func New(system SystemKeys, regions map[candor.RegionID]RegionKeys) *Keyring {
	return &Keyring{system: system, regions: regions}
}

// Sealed reports whether the keyring holds no root key.
func (k *Keyring) Sealed() bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.root == nil
}

// Initialized reports whether a root key has ever been set up (a check value
// is stored).
func (k *Keyring) Initialized(ctx context.Context) (bool, error) {
	_, err := k.system.SystemKey(ctx, checkName)
	if candor.Is(err, candor.NotFound) {
		return false, nil
	}
	return err == nil, err
}

// Unseal takes a root key candidate. It accepts only the key that matches
// the stored check value, and fails with candor.Forbidden for any other. On
// first use (no check value stored: --dev, where no ceremony ran) it adopts
// the key and stores what RootKeys makes. It creates each region's first
// KEK if a region has none. Once unsealed, further calls with the right key
// are no-ops.
func (k *Keyring) Unseal(ctx context.Context, rootMaterial []byte) error {
	root, err := seal.NewKey(rootMaterial)
	if err != nil {
		return candor.E(candor.Invalid, "a root key is 32 bytes")
	}
	check, err := k.system.SystemKey(ctx, checkName)
	if candor.Is(err, candor.NotFound) { // first use (--dev): adopt this root key
		keys, kerr := k.RootKeys(rootMaterial)
		if kerr != nil {
			return kerr
		}
		for name, w := range keys {
			if _, err := k.system.PutSystemKey(ctx, name, w); err != nil {
				return fmt.Errorf("store %s: %w", name, err)
			}
		}
		check, err = k.system.SystemKey(ctx, checkName)
	}
	if err != nil {
		return fmt.Errorf("load root check value: %w", err)
	}
	if pt, err := root.Open(check.Wrapped, checkAD()); err != nil || string(pt) != checkPlaintext {
		return candor.E(candor.Forbidden, "this is not the server's root key: it does not match the stored check value")
	}

	secrets := map[string][]byte{}
	for _, name := range []string{SecretHandleOPRF, SecretFakeSalt} {
		s, err := k.loadSecret(ctx, root, name)
		if err != nil {
			return err
		}
		secrets[name] = s
	}
	keks := map[candor.RegionID]map[int64]seal.Key{}
	current := map[candor.RegionID]int64{}
	for id, rs := range k.regions {
		versions, cur, err := loadKEKs(ctx, root, id, rs)
		if err != nil {
			return err
		}
		keks[id], current[id] = versions, cur
	}

	k.mu.Lock()
	defer k.mu.Unlock()
	k.root, k.secrets, k.keks, k.current = &root, secrets, keks, current
	return nil
}

// Seal forgets the root key and everything derived from it. Requests that
// need keys fail with candor.ErrSealed until the next Unseal.
func (k *Keyring) Seal() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, s := range k.secrets {
		clear(s)
	}
	k.root, k.secrets, k.keks, k.current = nil, nil, nil, nil
}

func checkAD() []byte { return seal.AD("candor/root-check/v1", strconv.Itoa(rootVersion)) }

func secretAD(name string) []byte { return seal.AD("candor/system-key/v1", name) }

// RootKeys returns what a new root key brings with it, wrapped by that key:
// its check value and fresh system secrets, by name. Init stores them with
// the root key's custody.
func (k *Keyring) RootKeys(rootMaterial []byte) (map[string]store.WrappedKey, error) {
	root, err := seal.NewKey(rootMaterial)
	if err != nil {
		return nil, candor.E(candor.Invalid, "a root key is 32 bytes")
	}
	now := time.Now().UTC()
	keys := map[string]store.WrappedKey{
		checkName: {Version: rootVersion, Wrapper: rootVersion, Wrapped: root.Seal([]byte(checkPlaintext), checkAD()), Created: now},
	}
	for _, name := range []string{SecretHandleOPRF, SecretFakeSalt} {
		keys[name] = store.WrappedKey{Version: 1, Wrapper: rootVersion, Wrapped: root.Seal(randomKey(), secretAD(name)), Created: now}
	}
	return keys, nil
}

func (k *Keyring) loadSecret(ctx context.Context, root seal.Key, name string) ([]byte, error) {
	ad := secretAD(name)
	w, err := k.system.SystemKey(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("system secret %s: %w", name, err)
	}
	s, err := root.Open(w.Wrapped, ad)
	if err != nil {
		return nil, fmt.Errorf("system secret %s: %w", name, err)
	}
	return s, nil
}

func kekAD(region candor.RegionID, version int64) []byte {
	return seal.AD("candor/kek/v1", string(region), strconv.FormatInt(version, 10))
}

func loadKEKs(ctx context.Context, root seal.Key, region candor.RegionID, rs RegionKeys) (map[int64]seal.Key, int64, error) {
	stored, err := rs.KEKs(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("region %s keys: %w", region, err)
	}
	if len(stored) == 0 {
		first := store.WrappedKey{Version: 1, Wrapper: rootVersion, Wrapped: root.Seal(randomKey(), kekAD(region, 1)), Created: time.Now().UTC()}
		if err := rs.PutKEK(ctx, first); err != nil && !candor.Is(err, candor.Conflict) {
			return nil, 0, fmt.Errorf("region %s first key: %w", region, err)
		}
		if stored, err = rs.KEKs(ctx); err != nil {
			return nil, 0, err
		}
	}
	keys := map[int64]seal.Key{}
	var current int64
	for _, w := range stored {
		material, err := root.Open(w.Wrapped, kekAD(region, w.Version))
		if err != nil {
			return nil, 0, fmt.Errorf("region %s key version %d: %w", region, w.Version, err)
		}
		key, err := seal.NewKey(material)
		if err != nil {
			return nil, 0, err
		}
		keys[w.Version] = key
		current = max(current, w.Version)
	}
	return keys, current, nil
}

// Secret returns a system secret. The caller must not modify it.
func (k *Keyring) Secret(name string) ([]byte, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.root == nil {
		return nil, candor.ErrSealed
	}
	s, ok := k.secrets[name]
	if !ok {
		return nil, fmt.Errorf("keyring: no system secret %q", name)
	}
	return s, nil
}

func dekAD(region candor.RegionID, account candor.AccountID, c candor.Category, epoch, kekVersion int64) []byte {
	return seal.AD("candor/dek/v1", string(region), string(account), string(c),
		strconv.FormatInt(epoch, 10), strconv.FormatInt(kekVersion, 10))
}

func (k *Keyring) kek(region candor.RegionID, version int64) (seal.Key, int64, RegionKeys, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.root == nil {
		return seal.Key{}, 0, nil, candor.ErrSealed
	}
	rs, ok := k.regions[region]
	if !ok {
		return seal.Key{}, 0, nil, candor.Errorf(candor.WrongRegion, "region %s is not served here", region)
	}
	if version == 0 {
		version = k.current[region]
	}
	key, ok := k.keks[region][version]
	if !ok {
		return seal.Key{}, 0, nil, fmt.Errorf("keyring: region %s has no key version %d", region, version)
	}
	return key, version, rs, nil
}

// DataKey returns the data key of (account, category) in region, or a
// candor.NotFound error when there is none (the category was never on, or
// its data was shredded). The returned epoch is the consent epoch the key
// belongs to.
func (k *Keyring) DataKey(ctx context.Context, region candor.RegionID, account candor.AccountID, c candor.Category) (seal.Key, int64, error) {
	_, _, rs, err := k.kek(region, 0)
	if err != nil {
		return seal.Key{}, 0, err
	}
	dk, err := rs.DataKey(ctx, account, c)
	if err != nil {
		return seal.Key{}, 0, err
	}
	key, err := k.unwrap(region, dk)
	return key, dk.Epoch, err
}

// EnsureDataKey returns the data key of (account, category) for a consent
// epoch, creating it under the region's current KEK if there is none. The
// store refuses to create it unless the category is on under that epoch.
func (k *Keyring) EnsureDataKey(ctx context.Context, region candor.RegionID, account candor.AccountID, c candor.Category, epoch int64) (seal.Key, error) {
	key, dkEpoch, err := k.DataKey(ctx, region, account, c)
	if err == nil && dkEpoch == epoch {
		return key, nil
	}
	if err != nil && !candor.Is(err, candor.NotFound) {
		return seal.Key{}, err
	}
	if err == nil { // a key of another epoch: the store will decide which is current
		return seal.Key{}, candor.E(candor.Conflict, "the category was turned off and on again; sync again from the start")
	}
	kek, version, rs, err := k.kek(region, 0)
	if err != nil {
		return seal.Key{}, err
	}
	dk, err := rs.CreateDataKey(ctx, store.DataKey{
		Account: account, Category: c, Epoch: epoch,
		Key: store.WrappedKey{Version: 1, Wrapper: version, Created: time.Now().UTC(),
			Wrapped: kek.Seal(randomKey(), dekAD(region, account, c, epoch, version))},
	})
	if err != nil {
		return seal.Key{}, err
	}
	if dk.Epoch != epoch {
		return seal.Key{}, candor.E(candor.Conflict, "the category was turned off and on again; sync again from the start")
	}
	return k.unwrap(region, dk)
}

func (k *Keyring) unwrap(region candor.RegionID, dk store.DataKey) (seal.Key, error) {
	kek, _, _, err := k.kek(region, dk.Key.Wrapper)
	if err != nil {
		return seal.Key{}, err
	}
	material, err := kek.Open(dk.Key.Wrapped, dekAD(region, dk.Account, dk.Category, dk.Epoch, dk.Key.Wrapper))
	if err != nil {
		return seal.Key{}, err
	}
	defer clear(material)
	return seal.NewKey(material)
}

func randomKey() []byte {
	b := make([]byte, seal.KeySize)
	rand.Read(b)
	return b
}

// KeyVersions returns the current KEK version of each region; empty while
// sealed.
func (k *Keyring) KeyVersions() map[candor.RegionID]int64 {
	k.mu.RLock()
	defer k.mu.RUnlock()
	out := make(map[candor.RegionID]int64, len(k.current))
	for id, v := range k.current {
		out[id] = v
	}
	return out
}
