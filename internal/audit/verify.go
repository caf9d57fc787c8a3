package audit

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/candorcloud/candor/internal/store"
)

// Report is the result of verifying one log.
type Report struct {
	Log         string `json:"log"`
	Size        int64  `json:"size"`
	Checkpoints int    `json:"checkpoints"`
	OK          bool   `json:"ok"`
	// BadEntry is the index of the first entry found wrong (-1 when the
	// fault is not one entry's), and Problem says what is wrong.
	BadEntry int64  `json:"bad_entry"`
	Problem  string `json:"problem,omitempty"`
}

const verifyChunk = 1000

// Verify recomputes a log from its stored entries — every leaf hash and
// every stored tree hash — compares them with what is stored, and checks
// every stored checkpoint: its signature, that it lies within the log, and
// that its tree hash is the recomputed one. It names the first bad entry.
// An edited, deleted, reordered or inserted entry, an edited hash, and a
// log truncated below a checkpoint are all found.
func (l *Logs) Verify(ctx context.Context, log string) (Report, error) {
	lg, err := l.log(log)
	if err != nil {
		return Report{}, err
	}
	_, vkey, err := l.signer()
	if err != nil {
		return Report{}, err
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return Report{}, err
	}
	r := Report{Log: log, BadEntry: -1}
	fail := func(index int64, format string, args ...any) (Report, error) {
		r.BadEntry, r.Problem = index, fmt.Sprintf(format, args...)
		return r, nil
	}
	if r.Size, err = lg.AuditSize(ctx); err != nil {
		return r, err
	}
	computed := make([]tlog.Hash, 0, tlog.StoredHashCount(r.Size))
	mem := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x >= int64(len(computed)) {
				return nil, fmt.Errorf("hash %d not computed yet", x)
			}
			out[i] = computed[x]
		}
		return out, nil
	})
	for from := int64(0); from < r.Size; from += verifyChunk {
		to := min(from+verifyChunk, r.Size)
		entries, err := lg.AuditEntries(ctx, from, to)
		if err != nil {
			return r, err
		}
		if int64(len(entries)) != to-from {
			return fail(from+int64(len(entries)), "entries %d to %d: %d stored, the log's size says %d", from, to-1, len(entries), to-from)
		}
		first := int64(len(computed))
		for i, e := range entries {
			n := from + int64(i)
			if e.Index != n {
				return fail(n, "entry %d is stored with index %d", n, e.Index)
			}
			if _, err := Decode(e.Data); err != nil {
				return fail(n, "entry %d is not a well-formed event", n)
			}
			hashes, err := tlog.StoredHashes(n, e.Data, mem)
			if err != nil {
				return r, err
			}
			computed = append(computed, hashes...)
		}
		idx := make([]int64, int64(len(computed))-first)
		for i := range idx {
			idx[i] = first + int64(i)
		}
		stored, err := lg.ReadAuditHashes(ctx, idx)
		if err != nil {
			return fail(from, "the stored tree hashes of entries %d to %d are missing", from, to-1)
		}
		for i, h := range stored {
			if h != computed[idx[i]] {
				_, n := tlog.SplitStoredHashIndex(idx[i])
				level, _ := tlog.SplitStoredHashIndex(idx[i])
				return fail(n<<level, "entry %d does not match the stored tree: it was edited, removed, reordered or inserted", n<<level)
			}
		}
	}
	cps, err := lg.Checkpoints(ctx)
	if err != nil {
		return r, err
	}
	r.Checkpoints = len(cps)
	for _, c := range cps {
		if err := l.checkCheckpoint(log, c, verifier); err != nil {
			return fail(-1, "checkpoint at size %d: %v", c.Size, err)
		}
		if c.Size > r.Size {
			return fail(r.Size, "the log holds %d entries but was signed at size %d: it was truncated", r.Size, c.Size)
		}
		h, err := tlog.TreeHash(c.Size, mem)
		if err != nil {
			return r, err
		}
		if h != c.Hash {
			return fail(-1, "checkpoint at size %d does not match the entries: the log was rewritten", c.Size)
		}
	}
	r.OK = true
	return r, nil
}

// checkCheckpoint verifies a checkpoint's signature and that its text is
// this log's tree (c.Size, c.Hash).
func (l *Logs) checkCheckpoint(log string, c store.Checkpoint, v note.Verifier) error {
	n, err := note.Open(c.Note, note.VerifierList(v))
	if err != nil {
		return fmt.Errorf("bad signature: %v", err)
	}
	origin, rest, ok := strings.Cut(n.Text, "\n")
	if !ok || origin != l.origin(log) {
		return fmt.Errorf("it is not a checkpoint of this log")
	}
	tree, err := tlog.ParseTree([]byte(rest))
	if err != nil {
		return err
	}
	if tree.N != c.Size || !bytes.Equal(tree.Hash[:], c.Hash[:]) {
		return fmt.Errorf("the signed tree is not the stored one")
	}
	return nil
}
