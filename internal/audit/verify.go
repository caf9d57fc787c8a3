package audit

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/candorcloud/candor"
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
// An edited, deleted, reordered or inserted entry, an edited or missing
// hash, an entry stored past the log's size, and a log truncated below a
// checkpoint are all found. A stored hash over several entries that does
// not match names the first of them. Verify may run while entries are
// appended and checkpoints signed: it checks the log as it was when it
// began. Each finished verification is remembered (LastVerified).
func (l *Logs) Verify(ctx context.Context, log string) (Report, error) {
	r, err := l.verify(ctx, log)
	if err == nil {
		l.verified.remember(log, r, l.now())
	}
	return r, err
}

func (l *Logs) verify(ctx context.Context, log string) (Report, error) {
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
	// The checkpoints are read before the size: a checkpoint is signed at a
	// size the log had, so every checkpoint read first lies within the size
	// read after it, however many are signed meanwhile.
	cps, err := lg.Checkpoints(ctx)
	if err != nil {
		return r, err
	}
	r.Checkpoints = len(cps)
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
		// The entries are hashed up to the first missing or malformed one,
		// and the hashes of those before it compared first: an earlier bad
		// entry is named before a later one.
		first := int64(len(computed))
		bad, problem := int64(-1), ""
		for n := from; n < to; n++ {
			i := n - from
			if i >= int64(len(entries)) || entries[i].Index != n {
				bad, problem = n, fmt.Sprintf("entry %d is missing: the log's size says %d", n, r.Size)
				break
			}
			ev, err := Decode(entries[i].Data)
			if err != nil {
				bad, problem = n, fmt.Sprintf("entry %d is not a well-formed event", n)
				break
			}
			hashes, err := tlog.StoredHashes(n, entries[i].Data, mem)
			if err != nil {
				return r, err
			}
			computed = append(computed, hashes...)
			// The account column chooses whose access log shows the entry:
			// it must be the account the hashed entry names, or a writer on
			// the database could hide entries from their owner. (An entry
			// that does not match the tree either is named for that first.)
			if !bytes.Equal(entries[i].Account, accountColumn(ev)) {
				bad, problem = n, fmt.Sprintf("entry %d's account column is not the account the entry names", n)
				break
			}
		}
		n, absent, err := firstStoredMismatch(ctx, lg, computed, first)
		if err != nil {
			return r, err
		}
		switch {
		case n >= 0 && absent:
			return fail(n, "the stored tree hashes of entry %d are missing", n)
		case n >= 0:
			return fail(n, "entry %d does not match the stored tree: it was edited, removed, reordered or inserted", n)
		case bad >= 0:
			return fail(bad, "%s", problem)
		}
	}
	// An entry at or past the size was written outside Candor, or the size
	// was lowered. One appended meanwhile is not: it commits with the size.
	past, err := lg.AuditEntries(ctx, r.Size, r.Size+verifyChunk)
	if err != nil {
		return r, err
	}
	if len(past) > 0 {
		now, err := lg.AuditSize(ctx)
		if err != nil {
			return r, err
		}
		for _, e := range past {
			if e.Index >= now {
				return fail(e.Index, "entry %d is stored beyond the log's size %d: it was appended outside Candor, or the size was changed", e.Index, now)
			}
		}
	}
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

// firstStoredMismatch compares the stored hashes at storage indexes first
// onwards with computed, in order, and returns the first entry whose
// stored hash differs or is absent (-1 when all match), and whether it is
// absent. A hash over several entries names the first of them.
func firstStoredMismatch(ctx context.Context, lg store.AuditLog, computed []tlog.Hash, first int64) (entry int64, absent bool, err error) {
	idx := make([]int64, int64(len(computed))-first)
	for i := range idx {
		idx[i] = first + int64(i)
	}
	if len(idx) == 0 {
		return -1, false, nil
	}
	covers := func(x int64) int64 { // the first entry under stored hash x
		level, n := tlog.SplitStoredHashIndex(x)
		return n << level
	}
	stored, err := lg.ReadAuditHashes(ctx, idx)
	if candor.Is(err, candor.NotFound) {
		// One at least is missing: read them one by one to find the first
		// that is missing or differs.
		for _, x := range idx {
			h, err := lg.ReadAuditHashes(ctx, []int64{x})
			switch {
			case candor.Is(err, candor.NotFound):
				return covers(x), true, nil
			case err != nil:
				return -1, false, err
			case h[0] != computed[x]:
				return covers(x), false, nil
			}
		}
		return -1, false, fmt.Errorf("a stored hash of %d to %d was missing, and then none was", idx[0], idx[len(idx)-1])
	}
	if err != nil {
		return -1, false, err
	}
	for i, h := range stored {
		if h != computed[idx[i]] {
			return covers(idx[i]), false, nil
		}
	}
	return -1, false, nil
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
