// Package custody is the key ceremony: it creates the root key, splits it
// among custodians with Shamir's secret sharing (k of n), optionally
// encrypts each share to one custodian's age public key, and collects
// shares to unseal the server (promise P8: no single person can decrypt).
//
// The server never stores a share. It stores a hash of each share, to say
// at once whether an offered share belongs to this server, and the keyring
// checks the rebuilt root key against its own check value: what Shamir's
// combine returns is never trusted by itself.
package custody

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/openbao/openbao/sdk/v2/helper/shamir"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/keyring"
	"github.com/candorcloud/candor/internal/store"
)

// Directory is what the ceremony needs of the directory store.
type Directory interface {
	InitRoot(ctx context.Context, rec store.AuditRecord, c store.Custody, keys map[string]store.WrappedKey) error
	Rekey(ctx context.Context, rec store.AuditRecord, c store.Custody, keys map[string]store.WrappedKey) error
	Custody(ctx context.Context) (store.Custody, error)
}

// Keys is the keyring the ceremony unseals.
type Keys interface {
	Sealed() bool
	Unseal(ctx context.Context, root []byte) error
	Seal()
	RootKeys(root []byte) (map[string]store.WrappedKey, error)
	Rekeyed(newRoot []byte, version int64) (map[string]store.WrappedKey, error)
	CheckRoot(ctx context.Context, root []byte) error
	SetRootVersion(version int64)
}

// Limits of a ceremony.
const (
	MaxShares  = 32
	rootSize   = 32
	sharePrefx = "candor-share-v1-"
)

// Ceremony initialises and unseals one server. It is safe for concurrent
// use.
type Ceremony struct {
	dir  Directory
	keys Keys
	logs Events

	mu      sync.Mutex
	pending [][]byte // shares offered since the last unseal attempt
	rekey   *rekey   // a rekey waiting for current shares, if any
}

// rekey is a rekey in progress: the new split asked for, and the current
// shares offered to authorise it.
type rekey struct {
	n, k       int
	recipients [][]age.Recipient
	keys       []string // the recipients as given, for status
	shares     [][]byte
}

// publicKeys keeps the recipient lines of custodian key files (no comments).
func publicKeys(files []string) []string {
	var out []string
	for _, f := range files {
		for _, line := range strings.Split(f, "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				out = append(out, line)
				break
			}
		}
	}
	return out
}

// Events records the ceremony's steps in the directory's audit log.
type Events interface {
	Record(e audit.Event) store.AuditRecord
	Append(ctx context.Context, log string, e audit.Event) error
}

// New returns a Ceremony that logs its steps to logs.
func New(dir Directory, keys Keys, logs Events) *Ceremony {
	return &Ceremony{dir: dir, keys: keys, logs: logs}
}

// Status is where the server stands.
type Status struct {
	// Rekey is set while a rekey waits for current shares.
	Rekey *RekeyStatus

	Initialized bool
	Sealed      bool
	Shares      int // shares made at the last init or rekey
	Threshold   int // shares needed to unseal
	Submitted   int // valid shares offered towards the next unseal
	RootVersion int64
}

// Status reports initialisation, sealing and unseal progress.
func (c *Ceremony) Status(ctx context.Context) (Status, error) {
	cust, err := c.dir.Custody(ctx)
	if candor.Is(err, candor.NotFound) {
		return Status{Sealed: c.keys.Sealed()}, nil
	} else if err != nil {
		return Status{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st := Status{Initialized: true, Sealed: c.keys.Sealed(), Shares: cust.Shares, Threshold: cust.Threshold,
		Submitted: len(c.pending), RootVersion: cust.RootVersion}
	if c.rekey != nil {
		st.Rekey = &RekeyStatus{Shares: c.rekey.n, Threshold: c.rekey.k, Submitted: len(c.rekey.shares), Needed: cust.Threshold,
			CustodianKeys: c.rekey.keys}
	}
	return st, nil
}

// Init creates the root key, splits it into n shares of which k unseal,
// records the custody, and leaves the server unsealed. It returns the
// shares, each exactly once: as text, or — when recipients are given, one
// per share — each encrypted to its custodian's age public key (ASCII
// armored), so that nobody but that custodian can read it. It fails with
// Conflict if the server is initialised already.
func (c *Ceremony) Init(ctx context.Context, n, k int, recipients []string) ([]string, error) {
	switch {
	case k < 2 || n < k || n > MaxShares:
		return nil, candor.Errorf(candor.Invalid, "shares and threshold must satisfy 2 <= threshold <= shares <= %d", MaxShares)
	case len(recipients) > 0 && len(recipients) != n:
		return nil, candor.Errorf(candor.Invalid, "give one custodian key per share: %d keys for %d shares", len(recipients), n)
	}
	recips, err := parseRecipients(recipients)
	if err != nil {
		return nil, err
	}
	if _, err := c.dir.Custody(ctx); err == nil {
		return nil, errInitialized
	} else if !candor.Is(err, candor.NotFound) {
		return nil, err
	}

	root := make([]byte, rootSize)
	rand.Read(root)
	defer clear(root)
	parts, err := shamir.Split(root, n, k)
	if err != nil {
		return nil, fmt.Errorf("split root key: %w", err)
	}
	cust := store.Custody{RootVersion: 1, Shares: n, Threshold: k, Created: time.Now().UTC()}
	for _, p := range parts {
		cust.ShareHashes = append(cust.ShareHashes, shareHash(p))
	}
	keys, err := c.keys.RootKeys(root)
	if err != nil {
		return nil, err
	}
	if err := c.dir.InitRoot(ctx, c.logs.Record(audit.KeyEvent(audit.ActorOperator, audit.ActionInit, nil)), cust, keys); err != nil {
		if candor.Is(err, candor.Conflict) {
			return nil, errInitialized
		}
		return nil, err
	}
	if err := c.keys.Unseal(ctx, root); err != nil {
		return nil, err
	}
	return present(parts, recips)
}

func parseRecipients(keys []string) ([][]age.Recipient, error) {
	recips := make([][]age.Recipient, len(keys))
	for i, r := range keys {
		rs, err := age.ParseRecipients(strings.NewReader(r))
		if err != nil || len(rs) == 0 {
			return nil, candor.Errorf(candor.Invalid, "custodian key %d is not an age public key (age1...)", i+1)
		}
		recips[i] = rs
	}
	return recips, nil
}

// present encodes shares as text, each encrypted to its custodian when
// recipients are given, and wipes the raw shares.
func present(parts [][]byte, recips [][]age.Recipient) ([]string, error) {
	out := make([]string, len(parts))
	var err error
	for i, p := range parts {
		out[i] = EncodeShare(p)
		clear(p)
		if len(recips) > 0 {
			if out[i], err = encrypt(out[i], recips[i]); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

var errInitialized = candor.E(candor.Conflict, "the server is initialised already: its custodians hold the shares")

func encrypt(share string, to []age.Recipient) (string, error) {
	var buf bytes.Buffer
	a := armor.NewWriter(&buf)
	w, err := age.Encrypt(a, to...)
	if err != nil {
		return "", fmt.Errorf("encrypt share: %w", err)
	}
	if _, err := io.WriteString(w, share+"\n"); err != nil {
		return "", err
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	if err := a.Close(); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// Submit offers one share towards unsealing. A malformed share is Invalid;
// a share that is not one of this server's is Forbidden; both say so at
// once and count for nothing. When the threshold is reached the shares are
// combined and the result is checked against the keyring's check value; if
// it does not match, the collected shares are dropped and the server stays
// sealed (Forbidden). A share already offered is Conflict.
func (c *Ceremony) Submit(ctx context.Context, text string) (Status, error) {
	st, err := c.submit(ctx, text)
	if lerr := c.logs.Append(ctx, audit.Directory, audit.KeyEvent(audit.ActorCustodian, audit.ActionUnseal, err)); lerr != nil && err == nil {
		return st, lerr
	}
	return st, err
}

func (c *Ceremony) submit(ctx context.Context, text string) (Status, error) {
	cust, err := c.dir.Custody(ctx)
	if candor.Is(err, candor.NotFound) {
		return Status{}, candor.E(candor.Conflict, "the server is not initialised: run 'candor operator init' first")
	} else if err != nil {
		return Status{}, err
	}
	if !c.keys.Sealed() {
		return c.Status(ctx)
	}
	share, err := DecodeShare(text)
	if err != nil {
		return Status{}, err
	}
	if !slices.ContainsFunc(cust.ShareHashes, func(h []byte) bool { return bytes.Equal(h, shareHash(share)) }) {
		return Status{}, candor.E(candor.Forbidden, "this share does not belong to this server's root key (another server's, or from before a rekey)")
	}

	c.mu.Lock()
	if slices.ContainsFunc(c.pending, func(p []byte) bool { return bytes.Equal(p, share) }) {
		c.mu.Unlock()
		return Status{}, candor.E(candor.Conflict, "this share was offered already: the next custodian's share is needed")
	}
	c.pending = append(c.pending, share)
	var root []byte
	if len(c.pending) >= cust.Threshold {
		root, err = shamir.Combine(c.pending)
		for _, p := range c.pending {
			clear(p)
		}
		c.pending = nil
	}
	c.mu.Unlock()

	if root != nil || err != nil {
		if err == nil {
			err = c.keys.Unseal(ctx, root)
			clear(root)
		}
		switch {
		case err == nil:
		case candor.Is(err, candor.Forbidden) || candor.Is(err, candor.Invalid) || root == nil:
			return Status{}, candor.E(candor.Forbidden, "the shares offered do not rebuild the root key; the server stays sealed: offer them again")
		default:
			return Status{}, err
		}
	}
	return c.Status(ctx)
}

// Seal forgets every key, every unseal share offered so far, and a waiting
// rekey with its shares. by names who sealed it, for the log.
func (c *Ceremony) Seal(ctx context.Context, by string) error {
	defer c.seal()
	return c.logs.Append(ctx, audit.Directory, audit.KeyEvent(by, audit.ActionSeal, nil))
}

func (c *Ceremony) seal() {
	c.CancelRekey()
	c.mu.Lock()
	for _, p := range c.pending {
		clear(p)
	}
	c.pending = nil
	c.mu.Unlock()
	c.keys.Seal()
}

// EncodeShare is the text form of a share that custodians keep.
func EncodeShare(share []byte) string {
	return sharePrefx + base64.RawURLEncoding.EncodeToString(share)
}

// DecodeShare parses the text form of a share. Surrounding space is ignored.
func DecodeShare(text string) ([]byte, error) {
	text = strings.TrimSpace(text)
	rest, ok := strings.CutPrefix(text, sharePrefx)
	if !ok {
		return nil, candor.E(candor.Invalid, "this is not a Candor key share: a share starts with "+sharePrefx)
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(b) != rootSize+1 {
		return nil, candor.E(candor.Invalid, "this key share is damaged: check that it was copied whole")
	}
	return b, nil
}

func shareHash(share []byte) []byte {
	h := sha256.New()
	h.Write([]byte("candor/share-check/v1\x00"))
	h.Write(share)
	return h.Sum(nil)
}

var _ Keys = (*keyring.Keyring)(nil)
