package content

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

// Expiry is how long each role's signed metadata stays valid. A phone
// refuses metadata past its expiry, so a server (or a man in the middle)
// that keeps serving an old copy — freezing the phone on an old release —
// is found out within Timestamp.
type Expiry struct {
	Root, Targets, Snapshot, Timestamp time.Duration
}

// DefaultExpiry: root a year, targets 90 days, snapshot a week, timestamp
// a day. The server re-signs each well before it expires (see Renew).
var DefaultExpiry = Expiry{Root: 365 * 24 * time.Hour, Targets: 90 * 24 * time.Hour,
	Snapshot: 7 * 24 * time.Hour, Timestamp: 24 * time.Hour}

// OTA channels.
var otaChannels = map[string]bool{"stable": true, "beta": true}

var (
	modelPattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	versionPattern = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$`)
	sha256Pattern  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	metaPattern    = regexp.MustCompile(`^(timestamp|[1-9][0-9]{0,18}\.(root|snapshot|targets))\.json$`)
	targetPattern  = regexp.MustCompile(`^ota/[a-z0-9][a-z0-9._-]{0,63}/[0-9a-f]{64}\.[a-z]+\.json$`)
)

// TargetPath is the TUF target that carries the release notice of a model
// on a channel.
func TargetPath(model, channel string) string { return "ota/" + model + "/" + channel + ".json" }

// OTA is a TUF repository of update notices, one target per device model
// and channel, with the four top-level roles (root, targets, snapshot,
// timestamp), consistent snapshots and ed25519 keys.
//
// Its keys are derived from one secret the server's keyring keeps sealed
// (Unlock); while locked it still serves what it signed before, but cannot
// publish or re-sign. Safe for concurrent use.
type OTA struct {
	files  Files
	expiry Expiry
	now    func() time.Time

	mu   sync.Mutex
	keys map[string]ed25519.PrivateKey // by role; nil while locked
}

// NewOTA returns a repository kept in files, locked. now is the clock
// used for expiry (time.Now if nil).
func NewOTA(files Files, expiry Expiry, now func() time.Time) *OTA {
	if expiry == (Expiry{}) {
		expiry = DefaultExpiry
	}
	if now == nil {
		now = time.Now
	}
	return &OTA{files: files, expiry: expiry, now: now}
}

var roles = []string{metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP}

// Unlock derives the role keys from secret and, the first time, creates
// version 1 of every role. It fails if the stored root does not name the
// derived keys: the metadata were made by another secret.
func (o *OTA) Unlock(secret []byte) error {
	keys := map[string]ed25519.PrivateKey{}
	for _, role := range roles {
		seed, err := hkdf.Key(sha256.New, secret, nil, "candor/ota/"+role+"/v1", ed25519.SeedSize)
		if err != nil {
			return err
		}
		keys[role] = ed25519.NewKeyFromSeed(seed)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.keys = keys
	root, err := o.loadRoot()
	switch {
	case candor.Is(err, candor.NotFound):
		if err := o.create(); err != nil {
			o.keys = nil
			return err
		}
		return nil
	case err != nil:
		o.keys = nil
		return err
	}
	_ = root // loadRoot checked it against this server's keys
	return nil
}

// checkRoot refuses a root that is not exactly this server's: each role
// must be held by the one key derived for it, threshold 1, no other key
// listed, and the root must be signed by its root key. The files on disk
// are not trusted: someone who can write the data folder but holds no key
// must not get the server to re-sign metadata they edited.
func (o *OTA) checkRoot(root *metadata.Metadata[metadata.RootType]) error {
	ids := map[string]bool{}
	for _, role := range roles {
		k, err := metadata.KeyFromPublicKey(o.keys[role].Public())
		if err != nil {
			return err
		}
		id, err := k.ID()
		if err != nil {
			return err
		}
		ids[id] = true
		r := root.Signed.Roles[role]
		if r == nil || r.Threshold != 1 || len(r.KeyIDs) != 1 || r.KeyIDs[0] != id {
			return candor.Errorf(candor.Integrity, "the stored update root does not give the %s role to this server's key alone: refusing to sign anything on top of it", role)
		}
	}
	for id := range root.Signed.Keys {
		if !ids[id] {
			return candor.E(candor.Integrity, "the stored update root lists a key this server does not hold: refusing to sign anything on top of it")
		}
	}
	if err := root.VerifyDelegate(metadata.ROOT, root); err != nil {
		return candor.Wrap(candor.Integrity, "the stored update root is not signed by this server's root key", err)
	}
	return nil
}

// Lock forgets the keys.
func (o *OTA) Lock() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.keys = nil
}

// Unlocked reports whether the repository can sign.
func (o *OTA) Unlocked() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.keys != nil
}

func (o *OTA) expires(d time.Duration) time.Time { return o.now().UTC().Add(d).Truncate(time.Second) }

// next is the version after prev for timestamp, snapshot and targets: at
// least the current Unix time, so that versions keep rising even if the
// stored metadata is lost or restored from an old copy (a phone refuses a
// version lower than one it has seen), and never reuse a file name.
func (o *OTA) next(prev int64) int64 { return max(prev+1, o.now().Unix()) }

func (o *OTA) signer(role string) (signature.Signer, error) {
	return signature.LoadSigner(o.keys[role], crypto.Hash(0))
}

// create makes version 1 of every role. o.mu is held.
func (o *OTA) create() error {
	root := metadata.Root(o.expires(o.expiry.Root))
	for _, role := range roles {
		k, err := metadata.KeyFromPublicKey(o.keys[role].Public())
		if err != nil {
			return err
		}
		if err := root.Signed.AddKey(k, role); err != nil {
			return err
		}
	}
	if err := o.writeRoot(root); err != nil {
		return err
	}
	targets := metadata.Targets(o.expires(o.expiry.Targets))
	targets.Signed.Version = o.next(0)
	return o.writeChain(targets, 0)
}

func (o *OTA) writeRoot(root *metadata.Metadata[metadata.RootType]) error {
	root.ClearSignatures()
	s, err := o.signer(metadata.ROOT)
	if err != nil {
		return err
	}
	if _, err := root.Sign(s); err != nil {
		return err
	}
	b, err := root.ToBytes(true)
	if err != nil {
		return err
	}
	// The versioned file first: root.json only ever names a root that
	// phones can fetch by version.
	if err := o.files.Write("metadata/"+strconv.FormatInt(root.Signed.Version, 10)+".root.json", b); err != nil {
		return err
	}
	return o.files.Write("metadata/root.json", b)
}

// writeChain signs targets, then a snapshot and a timestamp that name it,
// and stores them, the timestamp last so readers never see a timestamp
// that names files not yet written. snapshotVersion is the current one (0
// if none).
func (o *OTA) writeChain(targets *metadata.Metadata[metadata.TargetsType], snapshotVersion int64) error {
	tb, err := o.sign(metadata.TARGETS, targets)
	if err != nil {
		return err
	}
	if err := o.files.Write(fmt.Sprintf("metadata/%d.targets.json", targets.Signed.Version), tb); err != nil {
		return err
	}
	snap := metadata.Snapshot(o.expires(o.expiry.Snapshot))
	snap.Signed.Version = o.next(snapshotVersion)
	snap.Signed.Meta["targets.json"] = metadata.MetaFile(targets.Signed.Version)
	return o.writeSnapshot(snap)
}

func (o *OTA) writeSnapshot(snap *metadata.Metadata[metadata.SnapshotType]) error {
	sb, err := o.sign(metadata.SNAPSHOT, snap)
	if err != nil {
		return err
	}
	if err := o.files.Write(fmt.Sprintf("metadata/%d.snapshot.json", snap.Signed.Version), sb); err != nil {
		return err
	}
	var tsVersion int64
	if ts, err := o.loadTimestamp(); err == nil {
		tsVersion = ts.Signed.Version
	} else if !candor.Is(err, candor.NotFound) {
		return err
	}
	ts := metadata.Timestamp(o.expires(o.expiry.Timestamp))
	ts.Signed.Version = o.next(tsVersion)
	sum := sha256.Sum256(sb)
	ts.Signed.Meta["snapshot.json"] = &metadata.MetaFiles{Version: snap.Signed.Version, Length: int64(len(sb)),
		Hashes: metadata.Hashes{"sha256": sum[:]}}
	return o.writeTimestamp(ts)
}

func (o *OTA) writeTimestamp(ts *metadata.Metadata[metadata.TimestampType]) error {
	b, err := o.sign(metadata.TIMESTAMP, ts)
	if err != nil {
		return err
	}
	return o.files.Write("metadata/timestamp.json", b)
}

// sign clears md's signatures, signs it with role's key and encodes it.
func (o *OTA) sign(role string, md interface {
	ClearSignatures()
	Sign(signature.Signer) (*metadata.Signature, error)
	ToBytes(bool) ([]byte, error)
}) ([]byte, error) {
	md.ClearSignatures()
	s, err := o.signer(role)
	if err != nil {
		return nil, err
	}
	if _, err := md.Sign(s); err != nil {
		return nil, err
	}
	return md.ToBytes(true)
}

// loadRoot reads the stored root and checks it is this server's
// (checkRoot).
func (o *OTA) loadRoot() (*metadata.Metadata[metadata.RootType], error) {
	b, err := o.files.Read("metadata/root.json")
	if err != nil {
		return nil, err
	}
	root, err := metadata.Root().FromBytes(b)
	if err != nil {
		return nil, candor.Wrap(candor.Integrity, "the stored update root does not parse", err)
	}
	return root, o.checkRoot(root)
}

// loadTimestamp reads the stored timestamp and checks its signature
// against the root.
func (o *OTA) loadTimestamp() (*metadata.Metadata[metadata.TimestampType], error) {
	b, err := o.files.Read("metadata/timestamp.json")
	if err != nil {
		return nil, err
	}
	ts, err := metadata.Timestamp().FromBytes(b)
	if err != nil {
		return nil, candor.Wrap(candor.Integrity, "the stored update timestamp does not parse", err)
	}
	return ts, o.verified(metadata.TIMESTAMP, ts)
}

// verified checks md is signed by role's key in the stored root.
func (o *OTA) verified(role string, md any) error {
	root, err := o.loadRoot()
	if err != nil {
		return err
	}
	if err := root.VerifyDelegate(role, md); err != nil {
		return candor.Wrap(candor.Integrity, "the stored update "+role+" metadata is not signed by this server: refusing to sign anything on top of it", err)
	}
	return nil
}

// current loads the timestamp, snapshot and targets now served.
func (o *OTA) current() (*metadata.Metadata[metadata.TimestampType], *metadata.Metadata[metadata.SnapshotType], *metadata.Metadata[metadata.TargetsType], error) {
	ts, err := o.loadTimestamp()
	if err != nil {
		return nil, nil, nil, err
	}
	sb, err := o.files.Read(fmt.Sprintf("metadata/%d.snapshot.json", ts.Signed.Meta["snapshot.json"].Version))
	if err != nil {
		return nil, nil, nil, err
	}
	snap, err := metadata.Snapshot().FromBytes(sb)
	if err == nil {
		err = o.verified(metadata.SNAPSHOT, snap)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	tb, err := o.files.Read(fmt.Sprintf("metadata/%d.targets.json", snap.Signed.Meta["targets.json"].Version))
	if err != nil {
		return nil, nil, nil, err
	}
	targets, err := metadata.Targets().FromBytes(tb)
	if err == nil {
		err = o.verified(metadata.TARGETS, targets)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	return ts, snap, targets, nil
}

// ValidateRelease checks a release before it is signed.
func ValidateRelease(r api.OTARelease) error {
	switch {
	case !modelPattern.MatchString(r.Model):
		return candor.Errorf(candor.Invalid, "model %q must be lowercase letters, digits, dots, dashes or underscores", r.Model)
	case !otaChannels[r.Channel]:
		return candor.Errorf(candor.Invalid, "channel %q must be stable or beta", r.Channel)
	case !versionPattern.MatchString(r.Version):
		return candor.Errorf(candor.Invalid, "version %q must be letters, digits and . + _ -", r.Version)
	case !sha256Pattern.MatchString(r.SHA256):
		return candor.E(candor.Invalid, "sha256 must be 64 lowercase hex digits")
	case r.Size <= 0:
		return candor.E(candor.Invalid, "size must be a positive number of bytes")
	case len(r.Notes) > 4000:
		return candor.E(candor.TooLarge, "notes are longer than 4000 bytes")
	case !utf8.ValidString(r.Notes) || hasControl(r.Notes):
		return candor.E(candor.Invalid, "notes must be UTF-8 text without control characters (line breaks and tabs are fine)")
	}
	u, err := url.Parse(r.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return candor.E(candor.Invalid, "url must be an https:// address of the update image")
	}
	return nil
}

// Publish signs r as the notice of its model and channel: a new targets
// version carrying it, then a new snapshot and timestamp. It fails with
// Sealed while locked and Invalid for a malformed release.
func (o *OTA) Publish(r api.OTARelease) (api.OTAPublished, error) {
	r.SHA256 = strings.ToLower(r.SHA256)
	if err := ValidateRelease(r); err != nil {
		return api.OTAPublished{}, err
	}
	r.Published = o.now().UTC().Truncate(time.Second)
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.keys == nil {
		return api.OTAPublished{}, candor.ErrSealed
	}
	_, snap, targets, err := o.current()
	if err != nil {
		return api.OTAPublished{}, err
	}
	notice, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return api.OTAPublished{}, err
	}
	path := TargetPath(r.Model, r.Channel)
	tf, err := metadata.TargetFile().FromBytes(path, notice, "sha256")
	if err != nil {
		return api.OTAPublished{}, err
	}
	sum := sha256.Sum256(notice)
	if err := o.files.Write(consistentTarget(path, hex.EncodeToString(sum[:])), notice); err != nil {
		return api.OTAPublished{}, err
	}
	targets.Signed.Targets[path] = tf
	targets.Signed.Version = o.next(targets.Signed.Version)
	targets.Signed.Expires = o.expires(o.expiry.Targets)
	if err := o.writeChain(targets, snap.Signed.Version); err != nil {
		return api.OTAPublished{}, err
	}
	ts, snap, targets, err := o.current()
	if err != nil {
		return api.OTAPublished{}, err
	}
	return api.OTAPublished{Release: r, TargetsVersion: targets.Signed.Version,
		SnapshotVersion: snap.Signed.Version, TimestampVersion: ts.Signed.Version}, nil
}

// consistentTarget is where a target is stored and served: its hash
// before its file name, as TUF consistent snapshots name targets.
func consistentTarget(path, hash string) string {
	i := strings.LastIndex(path, "/")
	return "targets/" + path[:i+1] + hash + "." + path[i+1:]
}

// Renew re-signs, with fresh expiry and a higher version, every role that
// has less than a third of its life left (half, for the timestamp), and
// what depends on it. It does nothing while locked. The server calls it
// regularly, so phones never see metadata expire while the server runs
// unsealed.
func (o *OTA) Renew() (renewed []string, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.keys == nil {
		return nil, nil
	}
	now := o.now()
	due := func(exp time.Time, life time.Duration, part int64) bool {
		return exp.Sub(now) < life/time.Duration(part)
	}
	root, err := o.loadRoot()
	if err != nil {
		return nil, err
	}
	if due(root.Signed.Expires, o.expiry.Root, 3) {
		root.Signed.Version++
		root.Signed.Expires = o.expires(o.expiry.Root)
		if err := o.writeRoot(root); err != nil {
			return nil, err
		}
		renewed = append(renewed, metadata.ROOT)
	}
	ts, snap, targets, err := o.current()
	if err != nil {
		return renewed, err
	}
	switch {
	case due(targets.Signed.Expires, o.expiry.Targets, 3):
		targets.Signed.Version = o.next(targets.Signed.Version)
		targets.Signed.Expires = o.expires(o.expiry.Targets)
		return append(renewed, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP), o.writeChain(targets, snap.Signed.Version)
	case due(snap.Signed.Expires, o.expiry.Snapshot, 3):
		snap.Signed.Version = o.next(snap.Signed.Version)
		snap.Signed.Expires = o.expires(o.expiry.Snapshot)
		return append(renewed, metadata.SNAPSHOT, metadata.TIMESTAMP), o.writeSnapshot(snap)
	case due(ts.Signed.Expires, o.expiry.Timestamp, 2):
		ts.Signed.Version = o.next(ts.Signed.Version)
		ts.Signed.Expires = o.expires(o.expiry.Timestamp)
		return append(renewed, metadata.TIMESTAMP), o.writeTimestamp(ts)
	}
	return renewed, nil
}

// Metadata returns a signed metadata file as phones fetch it:
// timestamp.json, or VERSION.ROLE.json for root, snapshot and targets. It
// fails with NotFound for any other name or a version that does not exist
// (which is how a phone learns there is no newer root).
func (o *OTA) Metadata(name string) ([]byte, error) {
	if !metaPattern.MatchString(name) {
		return nil, candor.Errorf(candor.NotFound, "no update metadata %q", name)
	}
	b, err := o.files.Read("metadata/" + name)
	if candor.Is(err, candor.NotFound) {
		return nil, candor.Errorf(candor.NotFound, "no update metadata %q (none signed yet, or no such version)", name)
	}
	return b, err
}

// Target returns a target file by its consistent-snapshot path
// (ota/MODEL/HASH.CHANNEL.json). It fails with NotFound otherwise.
func (o *OTA) Target(path string) ([]byte, error) {
	if !targetPattern.MatchString(path) {
		return nil, candor.Errorf(candor.NotFound, "no update target %q", path)
	}
	b, err := o.files.Read("targets/" + path)
	if candor.Is(err, candor.NotFound) {
		return nil, candor.Errorf(candor.NotFound, "no update target %q", path)
	}
	if err == nil {
		// The name carries the hash: serve nothing that does not match it.
		sum := sha256.Sum256(b)
		name := path[strings.LastIndex(path, "/")+1:]
		if !bytes.HasPrefix([]byte(name), []byte(hex.EncodeToString(sum[:])+".")) {
			return nil, candor.E(candor.Integrity, "a stored update target does not match its hash")
		}
	}
	return b, err
}
