package keyring

import (
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/erasure"
	"github.com/candorcloud/candor/internal/seal"
	"github.com/candorcloud/candor/internal/store"
)

// SystemKeys is where the keyring keeps its check value, master key,
// system secrets and shred secrets (the directory store).
type SystemKeys interface {
	SystemKey(ctx context.Context, name string) (store.WrappedKey, error)
	PutSystemKey(ctx context.Context, name string, k store.WrappedKey) (store.WrappedKey, error)
	PutShredSecret(ctx context.Context, s store.ShredSecret) (store.ShredSecret, error)
	ShredSecret(ctx context.Context, account candor.AccountID, c candor.Category, epoch int64) (store.ShredSecret, error)
	DeleteShredSecrets(ctx context.Context, account candor.AccountID, c candor.Category, keep int64) (int, error)
	ShredSecretsWrappedBefore(ctx context.Context, wrapper int64, limit int) ([]store.ShredSecret, error)
	RewrapShredSecrets(ctx context.Context, rewraps []store.Rewrap) (int, error)
}

// RegionKeys is where the keyring keeps one region's KEKs and data keys (the
// region's metadata store).
type RegionKeys interface {
	PutKEK(ctx context.Context, k store.WrappedKey) error
	KEKs(ctx context.Context) ([]store.WrappedKey, error)
	DeleteKEK(ctx context.Context, version int64) error
	DataKey(ctx context.Context, account candor.AccountID, c candor.Category) (store.DataKey, error)
	CreateDataKey(ctx context.Context, k store.DataKey) (store.DataKey, error)
	DataKeysWrappedBefore(ctx context.Context, kekVersion int64, limit int) ([]store.DataKey, error)
	CountDataKeys(ctx context.Context) (map[int64]int, error)
	RewrapDataKeys(ctx context.Context, rewraps []store.Rewrap) (int, error)
}

// Names of system keys.
const (
	// SecretHandleOPRF seeds the OPRF key that turns login emails into handles.
	SecretHandleOPRF = "login-handle-oprf"
	// SecretFakeSalt keys the stable fake salts returned for unknown handles.
	SecretFakeSalt = "fake-salt"
	// SecretAuditPseudonyms keys the pseudonyms of accounts and devices in
	// the audit logs.
	SecretAuditPseudonyms = "audit-pseudonyms"
	// SecretAuditSigner seeds the key that signs the audit logs'
	// checkpoints.
	SecretAuditSigner = "audit-signer"
	// SecretDiscoveryOPRF seeds the OPRF key of messaging's private contact
	// discovery.
	SecretDiscoveryOPRF = "discovery-oprf"
	// SecretOTASigner seeds the keys that sign the update metadata (every
	// TUF role, root included: see docs/content.md).
	SecretOTASigner = "ota-signer"
	// SecretStaffSignIn keys the MACs that make the staff console's
	// sign-in challenges the server's own (they are not stored until used).
	SecretStaffSignIn = "staff-sign-in"
	// SecretQuotaKeys keys the hashes under which allowances (sign-ins per
	// address, codes per number …) are counted in the directory.
	SecretQuotaKeys = "quota-keys"
	// SecretVerificationCodes keys the MACs under which messaging
	// verification codes wait in the directory.
	SecretVerificationCodes = "verification-codes"

	checkName      = "root-check"
	masterName     = "master-key"
	checkPlaintext = "candor root key check v1"
)

// Keyring is the key hierarchy of one server process. It is safe for
// concurrent use.
type Keyring struct {
	system  SystemKeys
	regions map[candor.RegionID]RegionKeys
	others  map[candor.RegionID]RegionKeys // regions not served, for migrations only (WithOtherRegions)
	erasure Erasure

	mu          sync.RWMutex
	master      *seal.Key // nil while sealed
	masterBytes []byte    // the master key material, for re-wrapping at rekey
	rootVersion int64
	secrets     map[string][]byte
	keks        map[candor.RegionID]map[int64]seal.Key
	current     map[candor.RegionID]int64
	chain       erasure.Chain // the erasure ratchet, from the oldest period still stored
}

// New returns a sealed keyring over the given stores, whose shred secrets
// are wrapped under the erasure keys of e (its zero Clock fields mean
// periods of DefaultPeriod on the system clock).
func New(system SystemKeys, regions map[candor.RegionID]RegionKeys, e Erasure) *Keyring {
	if e.Clock.Length <= 0 {
		e.Clock.Length = DefaultPeriod
	}
	if e.Clock.Now == nil {
		e.Clock.Now = time.Now
	}
	return &Keyring{system: system, regions: regions, erasure: e}
}

// WithOtherRegions gives the keyring the stores of regions it does not
// serve (a process serving some regions only): their keys are never
// loaded or made, and are opened only to move an account's data keys to
// or from them (MoveDataKey). It returns k; call it before use.
func (k *Keyring) WithOtherRegions(others map[candor.RegionID]RegionKeys) *Keyring {
	k.others = others
	return k
}

// Sealed reports whether the keyring holds no keys.
func (k *Keyring) Sealed() bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.master == nil
}

func checkAD(version int64) []byte {
	return seal.AD("candor/root-check/v1", strconv.FormatInt(version, 10))
}
func masterAD(version int64) []byte {
	return seal.AD("candor/master-key/v1", strconv.FormatInt(version, 10))
}
func secretAD(name string) []byte { return seal.AD("candor/system-key/v1", name) }
func kekAD(region candor.RegionID, version int64) []byte {
	return seal.AD("candor/kek/v1", string(region), strconv.FormatInt(version, 10))
}
func shredAD(account candor.AccountID, c candor.Category, epoch int64) []byte {
	return seal.AD("candor/shred-secret/v1", string(account), string(c), strconv.FormatInt(epoch, 10))
}
func dekAD(region candor.RegionID, account candor.AccountID, c candor.Category, epoch, kekVersion int64) []byte {
	return seal.AD("candor/dek/v1", string(region), string(account), string(c),
		strconv.FormatInt(epoch, 10), strconv.FormatInt(kekVersion, 10))
}

// systemSecrets are the secrets every deployment has, wrapped by the master
// key.
var systemSecrets = []string{SecretHandleOPRF, SecretFakeSalt, SecretAuditPseudonyms, SecretAuditSigner, SecretDiscoveryOPRF, SecretOTASigner, SecretStaffSignIn,
	SecretQuotaKeys, SecretVerificationCodes}

func newSecret(mk seal.Key, name string, now time.Time) store.WrappedKey {
	return store.WrappedKey{Version: 1, Wrapped: mk.Seal(randomKey(), secretAD(name)), Created: now}
}

// RootKeys returns what a new root key of version 1 brings with it, wrapped:
// its check value, a fresh master key (under the root key) and fresh system
// secrets (under the master key), by name. The ceremony stores them with
// the root key's custody.
func (k *Keyring) RootKeys(rootMaterial []byte) (map[string]store.WrappedKey, error) {
	root, err := seal.NewKey(rootMaterial)
	if err != nil {
		return nil, candor.E(candor.Invalid, "a root key is 32 bytes")
	}
	mkMaterial := randomKey()
	defer clear(mkMaterial)
	mk, _ := seal.NewKey(mkMaterial)
	now := time.Now().UTC()
	keys := map[string]store.WrappedKey{
		checkName:  {Version: 1, Wrapper: 1, Wrapped: root.Seal([]byte(checkPlaintext), checkAD(1)), Created: now},
		masterName: {Version: 1, Wrapper: 1, Wrapped: root.Seal(mkMaterial, masterAD(1)), Created: now},
	}
	for _, name := range systemSecrets {
		keys[name] = newSecret(mk, name, now)
	}
	return keys, nil
}

// Rekeyed returns the check value and master key wrapped for a new root key
// of the given version: what a rekey replaces. The keyring must be
// unsealed.
func (k *Keyring) Rekeyed(newRoot []byte, version int64) (map[string]store.WrappedKey, error) {
	root, err := seal.NewKey(newRoot)
	if err != nil {
		return nil, candor.E(candor.Invalid, "a root key is 32 bytes")
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.master == nil {
		return nil, candor.ErrSealed
	}
	now := time.Now().UTC()
	return map[string]store.WrappedKey{
		checkName:  {Version: version, Wrapper: version, Wrapped: root.Seal([]byte(checkPlaintext), checkAD(version)), Created: now},
		masterName: {Version: 1, Wrapper: version, Wrapped: root.Seal(k.masterBytes, masterAD(version)), Created: now},
	}, nil
}

// RootVersion is the version of the root key that unsealed the keyring (0
// while sealed).
func (k *Keyring) RootVersion() int64 {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.rootVersion
}

// SetRootVersion tells an unsealed keyring that a rekey made its root key
// version.
func (k *Keyring) SetRootVersion(version int64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.master != nil {
		k.rootVersion = version
	}
}

// CheckRoot reports whether rootMaterial is the current root key, by its
// check value, without unsealing anything. A rekey uses it to verify the
// custodians' current shares.
func (k *Keyring) CheckRoot(ctx context.Context, rootMaterial []byte) error {
	mk, _, err := k.openMaster(ctx, rootMaterial)
	clear(mk)
	return err
}

// openMaster checks rootMaterial against the stored check value and opens
// the master key with it.
func (k *Keyring) openMaster(ctx context.Context, rootMaterial []byte) ([]byte, int64, error) {
	root, err := seal.NewKey(rootMaterial)
	if err != nil {
		return nil, 0, candor.E(candor.Invalid, "a root key is 32 bytes")
	}
	check, err := k.system.SystemKey(ctx, checkName)
	if err != nil {
		return nil, 0, fmt.Errorf("load root check value: %w", err)
	}
	if pt, err := root.Open(check.Wrapped, checkAD(check.Version)); err != nil || string(pt) != checkPlaintext {
		return nil, 0, candor.E(candor.Forbidden, "this is not the server's root key: it does not match the stored check value")
	}
	w, err := k.system.SystemKey(ctx, masterName)
	if err != nil {
		return nil, 0, fmt.Errorf("load master key: %w", err)
	}
	mk, err := root.Open(w.Wrapped, masterAD(w.Wrapper))
	if err != nil || w.Wrapper != check.Version {
		return nil, 0, fmt.Errorf("master key does not open under root key version %d: %v", check.Version, err)
	}
	return mk, check.Version, nil
}

// Unseal takes a root key candidate. It accepts only the key that matches
// the stored check value, and fails with candor.Forbidden for any other. On
// first use (no check value stored: --dev, where no ceremony ran) it adopts
// the key and stores what RootKeys makes. It creates each region's first
// KEK if a region has none. The root key is not kept: only the master key
// it opens. Once unsealed, further calls with the right key are no-ops.
func (k *Keyring) Unseal(ctx context.Context, rootMaterial []byte) error {
	if _, err := k.system.SystemKey(ctx, checkName); candor.Is(err, candor.NotFound) {
		keys, err := k.RootKeys(rootMaterial)
		if err != nil {
			return err
		}
		for _, name := range append(append([]string{masterName}, systemSecrets...), checkName) { // the check value last
			if _, err := k.system.PutSystemKey(ctx, name, keys[name]); err != nil {
				return fmt.Errorf("store %s: %w", name, err)
			}
		}
	}
	mkMaterial, version, err := k.openMaster(ctx, rootMaterial)
	if err != nil {
		return err
	}
	mk, err := seal.NewKey(mkMaterial)
	if err != nil {
		return err
	}
	secrets := map[string][]byte{}
	for _, name := range systemSecrets {
		w, err := k.system.SystemKey(ctx, name)
		if candor.Is(err, candor.NotFound) { // a secret newer than the deployment
			w, err = k.system.PutSystemKey(ctx, name, newSecret(mk, name, time.Now().UTC()))
		}
		if err != nil {
			return fmt.Errorf("system secret %s: %w", name, err)
		}
		if secrets[name], err = mk.Open(w.Wrapped, secretAD(name)); err != nil {
			return fmt.Errorf("system secret %s: %w", name, err)
		}
	}
	keks := map[candor.RegionID]map[int64]seal.Key{}
	current := map[candor.RegionID]int64{}
	for id, rs := range k.regions {
		versions, cur, err := loadKEKs(ctx, mk, id, rs, true)
		if err != nil {
			return err
		}
		keks[id], current[id] = versions, cur
	}
	chain, err := k.loadChain(ctx, mk)
	if err != nil {
		return err
	}

	k.mu.Lock()
	defer k.mu.Unlock()
	k.master, k.masterBytes, k.rootVersion, k.secrets, k.keks, k.current = &mk, mkMaterial, version, secrets, keks, current
	k.chain = chain
	return nil
}

// Seal forgets every key. Requests that need keys fail with
// candor.ErrSealed until the next Unseal.
func (k *Keyring) Seal() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, s := range k.secrets {
		clear(s)
	}
	clear(k.masterBytes)
	k.chain.Wipe()
	k.master, k.masterBytes, k.rootVersion, k.secrets, k.keks, k.current = nil, nil, 0, nil, nil, nil
	k.chain = erasure.Chain{}
}

// loadKEKs opens every stored KEK version of a region with the master key,
// creating version 1 if there is none and create is set.
func loadKEKs(ctx context.Context, mk seal.Key, region candor.RegionID, rs RegionKeys, create bool) (map[int64]seal.Key, int64, error) {
	stored, err := rs.KEKs(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("region %s keys: %w", region, err)
	}
	if len(stored) == 0 && create {
		first := store.WrappedKey{Version: 1, Wrapped: mk.Seal(randomKey(), kekAD(region, 1)), Created: time.Now().UTC()}
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
		material, err := mk.Open(w.Wrapped, kekAD(region, w.Version))
		if err != nil {
			return nil, 0, fmt.Errorf("region %s key version %d: %w", region, w.Version, err)
		}
		key, err := seal.NewKey(material)
		clear(material)
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
	if k.master == nil {
		return nil, candor.ErrSealed
	}
	s, ok := k.secrets[name]
	if !ok {
		return nil, fmt.Errorf("keyring: no system secret %q", name)
	}
	return s, nil
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

// kek returns a region's KEK of a version (0: the current one). A version
// this process has not seen (another instance rotated) is loaded from the
// store.
func (k *Keyring) kek(ctx context.Context, region candor.RegionID, version int64) (seal.Key, int64, RegionKeys, error) {
	k.mu.RLock()
	sealed, rs := k.master == nil, k.regions[region]
	var key seal.Key
	ok := false
	if !sealed {
		if version == 0 {
			version = k.current[region]
		}
		key, ok = k.keks[region][version]
	}
	k.mu.RUnlock()
	switch {
	case sealed:
		return seal.Key{}, 0, nil, candor.ErrSealed
	case rs == nil:
		return seal.Key{}, 0, nil, candor.Errorf(candor.WrongRegion, "region %s is not served here", region)
	case ok:
		return key, version, rs, nil
	}
	if err := k.reloadKEKs(ctx, region); err != nil {
		return seal.Key{}, 0, nil, err
	}
	k.mu.RLock()
	key, ok = k.keks[region][version]
	k.mu.RUnlock()
	if !ok {
		return seal.Key{}, 0, nil, fmt.Errorf("keyring: region %s has no key version %d", region, version)
	}
	return key, version, rs, nil
}

// reloadKEKs re-reads a region's KEK versions (after a rotation, perhaps by
// another instance).
func (k *Keyring) reloadKEKs(ctx context.Context, region candor.RegionID) error {
	k.mu.RLock()
	mk, rs := k.master, k.regions[region]
	k.mu.RUnlock()
	if mk == nil {
		return candor.ErrSealed
	}
	versions, cur, err := loadKEKs(ctx, *mk, region, rs, false)
	if err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.master != nil {
		k.keks[region], k.current[region] = versions, cur
	}
	return nil
}

// ReloadKEKs re-reads every region's KEK versions from its store, so that
// this process forgets the versions another instance retired and learns
// the one it made current. The upkeep loop calls it periodically; a data
// key is safe without it (the store refuses a key wrapped by a retired
// version and EnsureDataKey reloads and wraps again), but reading with a
// retired version cached is not, and a stale current version costs each
// new data key a retry. ErrSealed while sealed; a region that fails does
// not hold up the others.
func (k *Keyring) ReloadKEKs(ctx context.Context) error {
	k.mu.RLock()
	sealed := k.master == nil
	ids := make([]candor.RegionID, 0, len(k.regions))
	for id := range k.regions {
		ids = append(ids, id)
	}
	k.mu.RUnlock()
	if sealed {
		return candor.ErrSealed
	}
	var errs []error
	for _, id := range ids {
		if err := k.reloadKEKs(ctx, id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (k *Keyring) masterKey() (seal.Key, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.master == nil {
		return seal.Key{}, candor.ErrSealed
	}
	return *k.master, nil
}

func randomKey() []byte {
	b := make([]byte, seal.KeySize)
	rand.Read(b)
	return b
}

// derive makes a record key from a DEK's material and its shred secret. It
// is not bound to the region (the DEK's wrapping is): a migration moves
// ciphertext as it is and re-wraps only the DEK for the target region.
func derive(dek, shred []byte, account candor.AccountID, c candor.Category, epoch int64) (seal.Key, error) {
	info := "candor/record-key/v2|" + string(account) + "|" + string(c) + "|" + strconv.FormatInt(epoch, 10)
	material, err := hkdf.Key(sha256.New, dek, shred, info, seal.KeySize)
	if err != nil {
		return seal.Key{}, err
	}
	defer clear(material)
	return seal.NewKey(material)
}
