// Package auditproof checks what a server shows an account owner of its
// access log (promise P10), with no network code of its own, so that the
// phone (package client) and the browser (cmd/candor-wasm) run the same
// checks: a checkpoint's signature under a verifier key, each entry's
// inclusion proof against the checkpoint's tree, a later checkpoint's
// consistency with one seen before, and the decoding of each entry's event
// into an Access.
//
// Every function is pure and safe for concurrent use. Each failure is a
// candor.Integrity error whose message begins "the access log failed
// verification:" and names what failed; nothing unverified is returned.
// The callers fetch the pages and proofs and keep what they saw (the
// pinned key, the last checkpoint).
package auditproof

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/candorcloud/candor"
)

// Checkpoint is a signed tree head of one log, as the server sends it
// (the fields and JSON of api.Checkpoint, which converts to it): Note is
// the signed note whose text is the log's origin line and then
// tlog.FormatTree of the tree. Only Log and Note are trusted, and Log only
// once CheckCheckpoint has matched it with the signed origin; Size and
// Hash are read from the signed note.
type Checkpoint struct {
	Log  string `json:"log"`
	Size int64  `json:"size"`
	Hash []byte `json:"hash"`
	Note string `json:"note"`
}

// Entry is one entry of an access log page (the fields and JSON of
// api.AccessLogEntry): its index in the log, the event exactly as stored
// (the leaf is the hash of these bytes) and its inclusion proof.
type Entry struct {
	Index int64    `json:"index"`
	Event string   `json:"event"`
	Proof [][]byte `json:"proof"`
}

// Page is one answer of GET /v1/account/access-log (the fields and JSON
// of api.AccessLog).
type Page struct {
	Checkpoint Checkpoint `json:"checkpoint"`
	Entries    []Entry    `json:"entries"`
	More       bool       `json:"more"`
}

// Proof is the answer of the consistency endpoint (api.Proof).
type Proof struct {
	Proof [][]byte `json:"proof"`
}

// Access is one verified entry of the account's access log.
type Access struct {
	Index     int64     `json:"index"`
	Time      time.Time `json:"time"`
	Actor     string    `json:"actor"`
	Action    string    `json:"action"`
	Outcome   string    `json:"outcome"`
	Category  string    `json:"category,omitempty"`
	Count     int       `json:"count,omitempty"`
	Grant     string    `json:"grant,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Approvers []string  `json:"approvers,omitempty"`
	Code      string    `json:"code,omitempty"`
	// Verified is always true in a returned entry: each was checked with an
	// inclusion proof against a signed checkpoint consistent with every
	// checkpoint this device saw before.
	Verified bool `json:"verified"`
}

// Staff reports whether the access was by a staff member: its actor is a
// staff identity ("staff:<id>") or staff the event does not name
// ("staff"), as the audit log's vocabulary (internal/audit) names them.
func (a Access) Staff() bool {
	return a.Actor == "staff" || strings.HasPrefix(a.Actor, "staff:")
}

// Errorf is the error of a failed check: candor.Integrity, its message
// "the access log failed verification: " and then the sentence.
func Errorf(format string, args ...any) error {
	return candor.Errorf(candor.Integrity, "the access log failed verification: "+format, args...)
}

// Verifier parses a note verifier key (the text of GET /v1/audit/key).
func Verifier(key string) (note.Verifier, error) {
	v, err := note.NewVerifier(key)
	if err != nil {
		return nil, Errorf("the verifier key is not valid")
	}
	return v, nil
}

// Fingerprint is a short form of a verifier key for people to compare
// across devices: the first 16 hex digits of the SHA-256 of its text. The
// phone (candor device access-log) and the browser show the same one.
func Fingerprint(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:8])
}

// OpenNote verifies a signed checkpoint note with v and returns its origin
// line and its tree.
func OpenNote(text string, v note.Verifier) (origin string, tree tlog.Tree, err error) {
	n, err := note.Open([]byte(text), note.VerifierList(v))
	if err != nil {
		return "", tlog.Tree{}, Errorf("the checkpoint is not signed by the trusted audit key")
	}
	origin, rest, ok := strings.Cut(n.Text, "\n")
	if !ok {
		return "", tlog.Tree{}, Errorf("the checkpoint's tree is malformed")
	}
	if tree, err = tlog.ParseTree([]byte(rest)); err != nil {
		return "", tlog.Tree{}, Errorf("the checkpoint's tree is malformed")
	}
	return origin, tree, nil
}

// CheckCheckpoint verifies a checkpoint's signature with v, that it is a
// checkpoint of the log it names, and returns its tree.
func CheckCheckpoint(cp Checkpoint, v note.Verifier) (tlog.Tree, error) {
	origin, tree, err := OpenNote(cp.Note, v)
	if err != nil {
		return tlog.Tree{}, err
	}
	if cp.Log == "" || !strings.HasSuffix(origin, "/"+cp.Log) {
		return tlog.Tree{}, Errorf("the checkpoint is not one of this region's log")
	}
	if tree.N != cp.Size {
		return tlog.Tree{}, Errorf("the checkpoint's tree is malformed")
	}
	return tree, nil
}

// CheckExtends checks that tree extends old, the last tree seen of the
// same log: a smaller tree is a rolled-back log, another tree of the same
// size a forked one, and a larger one must come with proof, the
// consistency proof (a tlog.TreeProof) from old to tree. An empty old tree
// is extended by any tree (first sight of a log that was empty).
func CheckExtends(old, tree tlog.Tree, proof [][]byte) error {
	switch {
	case old.N == 0:
		return nil
	case tree.N < old.N:
		return Errorf("the log was rolled back: it had %d entries, now it has %d", old.N, tree.N)
	case tree.N == old.N:
		if tree.Hash != old.Hash {
			return Errorf("the log was forked: two different trees of %d entries", tree.N)
		}
		return nil
	}
	hashes, ok := toHashes(proof)
	if !ok || tlog.CheckTree(hashes, tree.N, tree.Hash, old.N, old.Hash) != nil {
		return Errorf("the log is not consistent with the one seen before (rolled back or forked)")
	}
	return nil
}

// CheckEntry verifies one entry's inclusion proof against tree and
// decodes its event; it returns the Access and the account pseudonym the
// event names.
func CheckEntry(e Entry, tree tlog.Tree) (Access, string, error) {
	if e.Index < 0 || e.Index >= tree.N {
		return Access{}, "", Errorf("entry %d lies outside the checkpoint", e.Index)
	}
	hashes, ok := toHashes(e.Proof)
	if !ok || tlog.CheckRecord(hashes, tree.N, tree.Hash, e.Index, tlog.RecordHash([]byte(e.Event))) != nil {
		return Access{}, "", Errorf("entry %d is not in the signed log", e.Index)
	}
	var ev struct {
		Access
		Account string `json:"account"`
	}
	if json.Unmarshal([]byte(e.Event), &ev) != nil || ev.Account == "" {
		return Access{}, "", Errorf("entry %d is not a well-formed event of an account", e.Index)
	}
	a := ev.Access
	a.Index, a.Verified = e.Index, true
	return a, ev.Account, nil
}

// CheckOneAccount checks a selection of verified entries, in the order
// shown, with the account pseudonym each names: indexes rise and every
// entry names one account, account when it is not empty (the one pinned
// before), else the first entry's. It returns that account ("" for no
// entries and none pinned).
func CheckOneAccount(shown []Access, accounts []string, account string) (string, error) {
	for i, a := range shown {
		if i > 0 && a.Index <= shown[i-1].Index {
			return "", Errorf("entry %d is shown out of order", a.Index)
		}
		if account == "" {
			account = accounts[i]
		}
		if accounts[i] != account {
			return "", Errorf("entry %d is another account's", a.Index)
		}
	}
	return account, nil
}

// Shown is what a device was shown of one log: the indexes of its entries
// up to Upto, as a SHA-256 digest (DigestOf). The phone keeps one per log
// in its audit state and the browser one per log in its storage, in this
// JSON.
type Shown struct {
	Upto   int64  `json:"upto"`
	Digest []byte `json:"digest"`
}

// DigestOf is the digest of the indexes of shown up to upto, in the order
// shown: each as 8 bytes big-endian, hashed with SHA-256.
func DigestOf(shown []Access, upto int64) []byte {
	h := sha256.New()
	var b [8]byte
	for _, a := range shown {
		if a.Index <= upto {
			binary.BigEndian.PutUint64(b[:], uint64(a.Index))
			h.Write(b[:])
		}
	}
	return h.Sum(nil)
}

// CheckShown checks the entries a device is shown now of one log, in the
// order shown, against what it was shown of that log before (nil when
// never): indexes rise, and every entry shown before up to before.Upto is
// shown again and no other (the log only grows and keeps every entry, so
// what an honest server shows of an account up to an index never
// changes). It returns what to keep for next time: the entries up to the
// last shown, or before itself when none is shown now.
func CheckShown(before *Shown, shown []Access) (*Shown, error) {
	for i, a := range shown {
		if i > 0 && a.Index <= shown[i-1].Index {
			return nil, Errorf("entry %d is shown out of order", a.Index)
		}
	}
	if before != nil && !bytes.Equal(DigestOf(shown, before.Upto), before.Digest) {
		return nil, Errorf("the entries shown up to entry %d are not those this device was shown before: some are missing or new", before.Upto)
	}
	if len(shown) == 0 {
		return before, nil
	}
	last := shown[len(shown)-1].Index
	return &Shown{Upto: last, Digest: DigestOf(shown, last)}, nil
}

// toHashes reads the hashes of a proof; ok is false when one is not a
// hash's size or the proof is longer than any proof of a tree can be.
func toHashes(b [][]byte) (_ []tlog.Hash, ok bool) {
	if len(b) > maxProof {
		return nil, false
	}
	out := make([]tlog.Hash, len(b))
	for i := range b {
		if len(b[i]) != tlog.HashSize {
			return nil, false
		}
		copy(out[i][:], b[i])
	}
	return out, true
}

// maxProof bounds a proof's length: a tree of at most 2^63 entries has
// proofs of at most 2 × 63 hashes.
const maxProof = 2 * 63
