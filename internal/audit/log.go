package audit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/keyring"
	"github.com/candorcloud/candor/internal/store"
)

// Secrets gives the keyring's system secrets (ErrSealed while sealed).
type Secrets interface {
	Secret(name string) ([]byte, error)
}

// Secret names this package needs from the keyring.
const (
	SecretPseudonyms = keyring.SecretAuditPseudonyms
	SecretSigner     = keyring.SecretAuditSigner
)

// Directory is the name of the directory's log; region logs are named by
// region id.
const Directory = "directory"

// Logs appends to and proves the deployment's logs: the directory's and
// each region's.
type Logs struct {
	logs    map[string]store.AuditLog
	secrets Secrets
	name    string // the signer's name
	now     func() time.Time
	// verified remembers each log's last verification (this process's).
	verified verifications
}

// New returns Logs over the directory log and the region logs. name names
// the deployment in checkpoints (the signer key's name).
func New(directory store.AuditLog, regions map[candor.RegionID]store.AuditLog, secrets Secrets, name string) *Logs {
	logs := map[string]store.AuditLog{Directory: directory}
	for id, l := range regions {
		logs[string(id)] = l
	}
	return &Logs{logs: logs, secrets: secrets, name: name, now: time.Now}
}

func (l *Logs) log(name string) (store.AuditLog, error) {
	lg, ok := l.logs[name]
	if !ok {
		return nil, candor.Errorf(candor.NotFound, "no audit log %q", name)
	}
	return lg, nil
}

// Names lists the logs: the directory's first, then the regions'.
func (l *Logs) Names() []string {
	names := []string{Directory}
	for n := range l.logs {
		if n != Directory {
			names = append(names, n)
		}
	}
	return names
}

func (l *Logs) pseudonym(kind, id string) (string, error) {
	key, err := l.secrets.Secret(SecretPseudonyms)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(kind + "\x00" + id))
	return hex.EncodeToString(m.Sum(nil)[:16]), nil
}

// Account is the pseudonym of an account in the logs.
func (l *Logs) Account(id candor.AccountID) (string, error) {
	return l.pseudonym("account", string(id))
}

// Device is the actor name of a device in the logs.
func (l *Logs) Device(id candor.DeviceID) (string, error) {
	p, err := l.pseudonym("device", string(id))
	return "device:" + p, err
}

// Record turns an event into the store record an access takes as its
// argument (store.AuditRecord), stamping its time: the store appends it in
// the same transaction as the access.
func (l *Logs) Record(e Event) store.AuditRecord {
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	return store.AuditRecord{Account: accountColumn(e), Data: e.Encode()}
}

// accountColumn is what the log keeps beside an entry to find an owner's
// entries: the account pseudonym the event names, as bytes (nil for none).
// Verify checks every stored entry's column against it.
func accountColumn(e Event) []byte {
	b, _ := hex.DecodeString(e.Account)
	if len(b) == 0 {
		return nil
	}
	return b
}

// Append appends e to the named log in a transaction of its own: for
// refusals, failures, and events that are not a store access.
func (l *Logs) Append(ctx context.Context, log string, e Event) error {
	lg, err := l.log(log)
	if err != nil {
		return err
	}
	_, err = lg.AppendAudit(ctx, l.Record(e))
	return err
}

// signer makes the deployment's note signer from its secret: the Ed25519
// key is derived deterministically, so every instance signs alike.
func (l *Logs) signer() (note.Signer, string, error) {
	secret, err := l.secrets.Secret(SecretSigner)
	if err != nil {
		return nil, "", err
	}
	seed := sha512.Sum512(append([]byte("candor/audit-signer/v1\x00"), secret...))
	skey, vkey, err := note.GenerateKey(bytes.NewReader(seed[:32]), l.name)
	if err != nil {
		return nil, "", err
	}
	s, err := note.NewSigner(skey)
	return s, vkey, err
}

// VerifierKey is the public key that checks the deployment's checkpoints.
func (l *Logs) VerifierKey() (string, error) {
	_, vkey, err := l.signer()
	return vkey, err
}

// Origin is the first line of a log's checkpoints' text: the deployment
// and the log.
func (l *Logs) origin(log string) string { return l.name + "/" + log }

// Checkpoint returns a signed checkpoint of the named log at its current
// size, storing it if it is new.
func (l *Logs) Checkpoint(ctx context.Context, log string) (store.Checkpoint, error) {
	lg, err := l.log(log)
	if err != nil {
		return store.Checkpoint{}, err
	}
	signer, _, err := l.signer()
	if err != nil {
		return store.Checkpoint{}, err
	}
	size, err := lg.AuditSize(ctx)
	if err != nil {
		return store.Checkpoint{}, err
	}
	hash, err := tlog.TreeHash(size, reader(ctx, lg))
	if err != nil {
		return store.Checkpoint{}, err
	}
	text := append([]byte(l.origin(log)+"\n"), tlog.FormatTree(tlog.Tree{N: size, Hash: hash})...)
	signed, err := note.Sign(&note.Note{Text: string(text)}, signer)
	if err != nil {
		return store.Checkpoint{}, err
	}
	c := store.Checkpoint{Size: size, Hash: hash, Note: signed, Created: l.now().UTC()}
	if err := lg.PutCheckpoint(ctx, c); err != nil {
		return store.Checkpoint{}, err
	}
	return c, nil
}

// reader adapts a log's stored hashes to tlog.HashReader.
func reader(ctx context.Context, lg store.AuditLog) tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) { return lg.ReadAuditHashes(ctx, idx) })
}

// Proof is an entry of a log with its inclusion proof against a checkpoint.
type Proof struct {
	Entry store.AuditEntry
	Proof tlog.RecordProof
}

// EntriesFor returns an account's entries in a log after index `after`,
// each with an inclusion proof against checkpoint c.
func (l *Logs) EntriesFor(ctx context.Context, log string, account candor.AccountID, after int64, limit int, c store.Checkpoint) ([]Proof, error) {
	lg, err := l.log(log)
	if err != nil {
		return nil, err
	}
	p, err := l.Account(account)
	if err != nil {
		return nil, err
	}
	raw, _ := hex.DecodeString(p)
	entries, err := lg.AuditEntriesFor(ctx, raw, after, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Proof, 0, len(entries))
	for _, e := range entries {
		if e.Index >= c.Size {
			break
		}
		proof, err := tlog.ProveRecord(c.Size, e.Index, reader(ctx, lg))
		if err != nil {
			return nil, err
		}
		out = append(out, Proof{Entry: e, Proof: proof})
	}
	return out, nil
}

// within checks a tree size asked for against the log's real size before
// any proof work: a proof costs about log2(n) reads of stored hashes, and a
// size the log never had would make the prover look for hashes that do not
// exist (or, unbounded, spin).
func within(ctx context.Context, lg store.AuditLog, n int64) error {
	size, err := lg.AuditSize(ctx)
	if err != nil {
		return err
	}
	if n > size {
		return candor.Errorf(candor.Invalid, "the log has %d entries: no proof for a size of %d", size, n)
	}
	return nil
}

// ProveConsistency proves that the log at size n extends the log at size
// old (0 <= old <= n <= the log's size).
func (l *Logs) ProveConsistency(ctx context.Context, log string, old, n int64) (tlog.TreeProof, error) {
	lg, err := l.log(log)
	if err != nil {
		return nil, err
	}
	if old < 0 || old > n {
		return nil, candor.E(candor.Invalid, "a consistency proof needs 0 <= old size <= new size")
	}
	if err := within(ctx, lg, n); err != nil {
		return nil, err
	}
	if old == 0 {
		return tlog.TreeProof{}, nil // every log extends the empty one
	}
	return tlog.ProveTree(n, old, reader(ctx, lg))
}

// ProveInclusion proves that entry index is in the log at size n (0 <=
// index < n <= the log's size).
func (l *Logs) ProveInclusion(ctx context.Context, log string, index, n int64) (tlog.RecordProof, error) {
	lg, err := l.log(log)
	if err != nil {
		return nil, err
	}
	if index < 0 || index >= n {
		return nil, candor.E(candor.Invalid, "an inclusion proof needs 0 <= index < size")
	}
	if err := within(ctx, lg, n); err != nil {
		return nil, err
	}
	return tlog.ProveRecord(n, index, reader(ctx, lg))
}
