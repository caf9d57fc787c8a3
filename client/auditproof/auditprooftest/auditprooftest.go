// Package auditprooftest builds small signed logs in memory, in the form
// the server sends (package auditproof's Checkpoint, Entry and Proof), for
// tests that attack the checks: a forged or forked log, a checkpoint
// signed by another key. It is the same tlog and note the server uses, not
// a second Merkle tree.
package auditprooftest

import (
	"crypto/rand"
	"fmt"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/candorcloud/candor/client/auditproof"
)

// Key is a note signing key and its verifier key text.
type Key struct {
	Signer   note.Signer
	Verifier string
}

// NewKey makes a fresh key named name.
func NewKey(name string) (Key, error) {
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return Key{}, err
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		return Key{}, err
	}
	return Key{Signer: s, Verifier: vkey}, nil
}

// Log is an in-memory log named Name under Origin (the checkpoint's
// origin line is Origin + "/" + Name). It is not safe for concurrent use.
type Log struct {
	Origin, Name string
	events       [][]byte
	hashes       []tlog.Hash
}

// Append adds an event (its bytes are the leaf) and returns its index.
func (l *Log) Append(event []byte) (int64, error) {
	n := int64(len(l.events))
	hs, err := tlog.StoredHashes(n, event, l.reader())
	if err != nil {
		return 0, err
	}
	l.events = append(l.events, event)
	l.hashes = append(l.hashes, hs...)
	return n, nil
}

// Tree is the log's tree at size n.
func (l *Log) Tree(n int64) (tlog.Tree, error) {
	h, err := tlog.TreeHash(n, l.reader())
	return tlog.Tree{N: n, Hash: h}, err
}

// Checkpoint signs the log's tree at size n with k.
func (l *Log) Checkpoint(n int64, k Key) (auditproof.Checkpoint, error) {
	tree, err := l.Tree(n)
	if err != nil {
		return auditproof.Checkpoint{}, err
	}
	msg, err := note.Sign(&note.Note{Text: l.Origin + "/" + l.Name + "\n" + string(tlog.FormatTree(tree))}, k.Signer)
	if err != nil {
		return auditproof.Checkpoint{}, err
	}
	return auditproof.Checkpoint{Log: l.Name, Size: n, Hash: tree.Hash[:], Note: string(msg)}, nil
}

// Entry is entry i with its inclusion proof in the tree of size n.
func (l *Log) Entry(i, n int64) (auditproof.Entry, error) {
	if i < 0 || i >= int64(len(l.events)) {
		return auditproof.Entry{}, fmt.Errorf("no entry %d", i)
	}
	p, err := tlog.ProveRecord(n, i, l.reader())
	if err != nil {
		return auditproof.Entry{}, err
	}
	return auditproof.Entry{Index: i, Event: string(l.events[i]), Proof: bytesOf(p)}, nil
}

// Consistency is the proof that the tree of size n extends that of size
// old.
func (l *Log) Consistency(old, n int64) (auditproof.Proof, error) {
	p, err := tlog.ProveTree(n, old, l.reader())
	return auditproof.Proof{Proof: bytesOf(p)}, err
}

func (l *Log) reader() tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x < 0 || x >= int64(len(l.hashes)) {
				return nil, fmt.Errorf("no stored hash %d", x)
			}
			out[i] = l.hashes[x]
		}
		return out, nil
	})
}

func bytesOf(hs []tlog.Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}
