package auditproof_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/client/auditproof"
	"github.com/candorcloud/candor/client/auditproof/auditprooftest"
)

// event is an audit event of account acct, as the server encodes it.
func event(i int, actor, acct string) []byte {
	return fmt.Appendf(nil, `{"time":"2026-11-21T06:55:%02dZ","actor":%q,"action":"records.push","outcome":"ok","region":"in","account":%q,"category":"contacts","count":%d}`, i, actor, acct, i+1)
}

func newLog(t *testing.T, n int, actor func(int) string) *auditprooftest.Log {
	t.Helper()
	l := &auditprooftest.Log{Origin: "candor.test/audit", Name: "in"}
	for i := range n {
		if _, err := l.Append(event(i, actor(i), "acct-a")); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

func device(int) string { return "device:2c4a" }

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// refused checks err is an Integrity failure whose message says want.
func refused(t *testing.T, what string, err error, want string) {
	t.Helper()
	if !candor.Is(err, candor.Integrity) || !strings.Contains(err.Error(), want) {
		t.Errorf("%s: %v, want an integrity failure saying %q", what, err, want)
	}
}

func TestCheckEntries(t *testing.T) {
	key := must[auditprooftest.Key](t)(auditprooftest.NewKey("candor.test"))
	other := must[auditprooftest.Key](t)(auditprooftest.NewKey("candor.test"))
	l := newLog(t, 9, func(i int) string {
		if i == 4 {
			return "staff:stf_3xqv"
		}
		return "device:2c4a"
	})
	verifier, err := auditproof.Verifier(key.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	cp := must[auditproof.Checkpoint](t)(l.Checkpoint(9, key))
	tree, err := auditproof.CheckCheckpoint(cp, verifier)
	if err != nil || tree.N != 9 {
		t.Fatalf("a good checkpoint: %v, %d", err, tree.N)
	}
	var shown []auditproof.Access
	var accounts []string
	for i := range int64(9) {
		a, acct, err := auditproof.CheckEntry(must[auditproof.Entry](t)(l.Entry(i, 9)), tree)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if a.Index != i || !a.Verified || acct != "acct-a" || a.Action != "records.push" || a.Count != int(i)+1 || a.Category != "contacts" {
			t.Errorf("entry %d: %+v %s", i, a, acct)
		}
		if a.Staff() != (i == 4) {
			t.Errorf("entry %d by %s: Staff() = %v", i, a.Actor, a.Staff())
		}
		shown, accounts = append(shown, a), append(accounts, acct)
	}
	if acct, err := auditproof.CheckOneAccount(shown, accounts, ""); err != nil || acct != "acct-a" {
		t.Errorf("one account: %q, %v", acct, err)
	}

	// Attacks on the checkpoint.
	_, err = auditproof.CheckCheckpoint(must[auditproof.Checkpoint](t)(l.Checkpoint(9, other)), verifier)
	refused(t, "a checkpoint signed by another key", err, "not signed by the trusted audit key")
	bad := cp
	bad.Log = "sg"
	_, err = auditproof.CheckCheckpoint(bad, verifier)
	refused(t, "a checkpoint of another log", err, "not one of this region's log")
	bad = cp
	bad.Size = 10
	_, err = auditproof.CheckCheckpoint(bad, verifier)
	refused(t, "a checkpoint whose size is not the signed one", err, "malformed")
	bad = cp
	bad.Note = strings.Replace(cp.Note, "\n9\n", "\n10\n", 1)
	_, err = auditproof.CheckCheckpoint(bad, verifier)
	refused(t, "a note edited after signing", err, "not signed")
	_, err = auditproof.Verifier("candor.test+0000+AAAA")
	refused(t, "a malformed key", err, "verifier key is not valid")

	// Attacks on the entries.
	e := must[auditproof.Entry](t)(l.Entry(3, 9))
	alt := e
	alt.Event = strings.Replace(e.Event, `"ok"`, `"denied"`, 1)
	_, _, err = auditproof.CheckEntry(alt, tree)
	refused(t, "an altered event", err, "entry 3 is not in the signed log")
	alt = e
	alt.Proof = append([][]byte(nil), e.Proof...)
	flipped := append([]byte(nil), e.Proof[1]...)
	flipped[7] ^= 1
	alt.Proof[1] = flipped
	_, _, err = auditproof.CheckEntry(alt, tree)
	refused(t, "a flipped proof hash", err, "not in the signed log")
	alt.Proof[1] = append(append([]byte(nil), e.Proof[1]...), 0)
	_, _, err = auditproof.CheckEntry(alt, tree)
	refused(t, "a proof hash of 33 bytes", err, "not in the signed log")
	alt = e
	alt.Proof = make([][]byte, 200)
	_, _, err = auditproof.CheckEntry(alt, tree)
	refused(t, "an overlong proof", err, "not in the signed log")
	alt = e
	alt.Index = 4
	_, _, err = auditproof.CheckEntry(alt, tree)
	refused(t, "an entry moved to another index", err, "not in the signed log")
	_, _, err = auditproof.CheckEntry(must[auditproof.Entry](t)(l.Entry(3, 9)), must[tlog.Tree](t)(l.Tree(8)))
	refused(t, "a proof against another tree", err, "not in the signed log")
	alt = e
	alt.Index = 9
	_, _, err = auditproof.CheckEntry(alt, tree)
	refused(t, "an entry past the checkpoint", err, "outside the checkpoint")

	// An event that is in the log but not an account's.
	l2 := &auditprooftest.Log{Origin: "candor.test/audit", Name: "in"}
	l2.Append([]byte(`{"time":"2026-11-21T06:55:00Z","actor":"system","action":"retention.run","outcome":"ok"}`))
	_, _, err = auditproof.CheckEntry(must[auditproof.Entry](t)(l2.Entry(0, 1)), must[tlog.Tree](t)(l2.Tree(1)))
	refused(t, "an event of no account", err, "not a well-formed event of an account")

	// The selection.
	_, err = auditproof.CheckOneAccount([]auditproof.Access{shown[2], shown[1]}, []string{"acct-a", "acct-a"}, "")
	refused(t, "entries out of order", err, "out of order")
	_, err = auditproof.CheckOneAccount(shown[:2], []string{"acct-a", "acct-b"}, "")
	refused(t, "another account's entry", err, "another account's")
	_, err = auditproof.CheckOneAccount(shown[:1], []string{"acct-a"}, "acct-b")
	refused(t, "an account other than the pinned one", err, "another account's")
}

func TestCheckExtends(t *testing.T) {
	l := newLog(t, 12, device)
	fork := newLog(t, 5, device)
	for i := 5; i < 12; i++ {
		fork.Append(event(i, "device:forked", "acct-a"))
	}
	tree := func(l *auditprooftest.Log, n int64) tlog.Tree { return must[tlog.Tree](t)(l.Tree(n)) }
	proof := func(l *auditprooftest.Log, old, n int64) [][]byte {
		return must[auditproof.Proof](t)(l.Consistency(old, n)).Proof
	}
	if err := auditproof.CheckExtends(tree(l, 5), tree(l, 12), proof(l, 5, 12)); err != nil {
		t.Errorf("a log that grew: %v", err)
	}
	if err := auditproof.CheckExtends(tree(l, 12), tree(l, 12), nil); err != nil {
		t.Errorf("the same tree: %v", err)
	}
	if err := auditproof.CheckExtends(tlog.Tree{}, tree(fork, 12), nil); err != nil {
		t.Errorf("first sight after an empty log: %v", err)
	}
	refused(t, "a rolled-back log", auditproof.CheckExtends(tree(l, 12), tree(l, 5), nil), "rolled back: it had 12 entries, now it has 5")
	refused(t, "a fork of the same size", auditproof.CheckExtends(tree(l, 8), tree(fork, 8), nil), "forked: two different trees of 8 entries")
	refused(t, "a fork that grew, with its own proof", auditproof.CheckExtends(tree(l, 8), tree(fork, 12), proof(fork, 8, 12)), "not consistent")
	refused(t, "a grown log without a proof", auditproof.CheckExtends(tree(l, 5), tree(l, 12), nil), "not consistent")
	refused(t, "a proof from another size", auditproof.CheckExtends(tree(l, 5), tree(l, 12), proof(l, 6, 12)), "not consistent")
	p := proof(l, 5, 12)
	p[0] = append([]byte(nil), p[0]...)
	p[0][0] ^= 0x80
	refused(t, "a flipped consistency hash", auditproof.CheckExtends(tree(l, 5), tree(l, 12), p), "not consistent")
}

func TestOpenNote(t *testing.T) {
	key := must[auditprooftest.Key](t)(auditprooftest.NewKey("candor.test"))
	l := newLog(t, 3, device)
	cp := must[auditproof.Checkpoint](t)(l.Checkpoint(3, key))
	v, _ := auditproof.Verifier(key.Verifier)
	origin, tree, err := auditproof.OpenNote(cp.Note, v)
	if err != nil || origin != "candor.test/audit/in" || tree != must[tlog.Tree](t)(l.Tree(3)) {
		t.Errorf("OpenNote: %q %+v %v", origin, tree, err)
	}
	_, _, err = auditproof.OpenNote("candor.test/audit/in\n3\nAAAA\n\n— candor.test AAAA\n", v)
	refused(t, "an unsigned note", err, "not signed")
}

func TestFingerprint(t *testing.T) {
	const key = "candor.test+5c0f0f6b+AQ5Y2Z6Jc3d0bW9ja2tleWJ5dGVzZm9ydGVzdGluZzEyMzQ="
	sum := sha256.Sum256([]byte(key))
	got := auditproof.Fingerprint(key)
	if got != hex.EncodeToString(sum[:])[:16] || len(got) != 16 {
		t.Errorf("Fingerprint = %q", got)
	}
	if auditproof.Fingerprint(key+"x") == got {
		t.Error("two keys, one fingerprint")
	}
}

func TestCheckShown(t *testing.T) {
	at := func(idx ...int64) []auditproof.Access {
		out := make([]auditproof.Access, len(idx))
		for i, n := range idx {
			out[i] = auditproof.Access{Index: n, Verified: true}
		}
		return out
	}
	// The digest's encoding is kept by phones and browsers: each index as
	// 8 bytes big-endian, hashed in the order shown.
	want := sha256.Sum256([]byte{0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 1, 5})
	if got := auditproof.DigestOf(at(3, 261, 300), 261); string(got) != string(want[:]) {
		t.Fatalf("DigestOf = %x, want %x", got, want)
	}

	first, err := auditproof.CheckShown(nil, at(1, 4, 6))
	if err != nil || first == nil || first.Upto != 6 {
		t.Fatalf("first sight: %+v %v", first, err)
	}
	if again, err := auditproof.CheckShown(nil, nil); err != nil || again != nil {
		t.Errorf("first sight of an empty log: %+v %v", again, err)
	}
	grown, err := auditproof.CheckShown(first, at(1, 4, 6, 9, 12))
	if err != nil || grown.Upto != 12 || string(grown.Digest) != string(auditproof.DigestOf(at(1, 4, 6, 9, 12), 12)) {
		t.Fatalf("the log grew: %+v %v", grown, err)
	}
	if same, err := auditproof.CheckShown(grown, at(1, 4, 6, 9, 12)); err != nil || same.Upto != 12 {
		t.Errorf("the same entries again: %+v %v", same, err)
	}

	// The attacks: a server that drops an entry it showed before (a staff
	// read), slips one in among them, shows none at all, or reorders them.
	_, err = auditproof.CheckShown(grown, at(1, 6, 9, 12))
	refused(t, "an entry shown before left out", err, "entries shown up to entry 12 are not those this device was shown before: some are missing or new")
	_, err = auditproof.CheckShown(grown, at(1, 4, 6, 9, 12, 14)[1:])
	refused(t, "the first entry left out and a new one added", err, "missing or new")
	_, err = auditproof.CheckShown(grown, at(1, 2, 4, 6, 9, 12))
	refused(t, "an entry added among those shown before", err, "missing or new")
	_, err = auditproof.CheckShown(grown, nil)
	refused(t, "nothing shown after entries were", err, "missing or new")
	_, err = auditproof.CheckShown(grown, at(1, 4, 6, 9))
	refused(t, "the last entry shown before left out", err, "missing or new")
	_, err = auditproof.CheckShown(nil, at(1, 6, 4))
	refused(t, "entries out of order", err, "entry 4 is shown out of order")
	_, err = auditproof.CheckShown(nil, at(1, 4, 4))
	refused(t, "an entry shown twice", err, "out of order")
	_, err = auditproof.CheckShown(&auditproof.Shown{Upto: 6, Digest: []byte("garbage")}, at(1, 4, 6))
	refused(t, "a kept state that is not a digest", err, "missing or new")
}
