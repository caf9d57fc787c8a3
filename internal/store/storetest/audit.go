package storetest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// The audit log every region store and the directory keep (store.AuditLog):
// the same subtests run on both, with a fresh store each.
var auditLogTests = []struct {
	name string
	fn   func(t *testing.T, l store.AuditLog)
}{
	{"AuditAppend", testAuditAppend},
	{"AuditTree", testAuditTree},
	{"AuditProofs", testAuditProofs},
	{"AuditEntriesFor", testAuditEntriesFor},
	{"AuditCheckpoints", testAuditCheckpoints},
	{"AuditConcurrentAppend", testAuditConcurrentAppend},
}

// memTree is a tlog tree kept in memory: the stored hashes a log must hold
// after the same records, computed independently of the store.
type memTree struct {
	n      int64
	hashes []tlog.Hash
}

func (m *memTree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m.hashes)) {
			return nil, fmt.Errorf("memTree: no hash %d", x)
		}
		out[i] = m.hashes[x]
	}
	return out, nil
}

func (m *memTree) add(t *testing.T, data []byte) {
	t.Helper()
	hs, err := tlog.StoredHashes(m.n, data, m)
	must(t, err)
	if want := tlog.StoredHashIndex(0, m.n); int64(len(m.hashes)) != want {
		t.Fatalf("memTree: %d hashes before record %d, want %d", len(m.hashes), m.n, want)
	}
	m.hashes = append(m.hashes, hs...)
	m.n++
}

func (m *memTree) treeHash(t *testing.T, n int64) tlog.Hash {
	t.Helper()
	h, err := tlog.TreeHash(n, m)
	must(t, err)
	return h
}

// hashReader reads a log's stored hashes, as the layers above do.
func hashReader(ctx context.Context, l store.AuditLog) tlog.HashReader {
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) { return l.ReadAuditHashes(ctx, indexes) })
}

func auditRecord(account []byte) store.AuditRecord {
	return store.AuditRecord{Account: account, Data: randBytes(20 + len(account))}
}

func auditSize(t *testing.T, l store.AuditLog) int64 {
	t.Helper()
	n, err := l.AuditSize(t.Context())
	must(t, err)
	return n
}

func wantAuditSize(t *testing.T, what string, l store.AuditLog, want int64) {
	t.Helper()
	if got := auditSize(t, l); got != want {
		t.Fatalf("%s: AuditSize = %d, want %d", what, got, want)
	}
}

func wantAuditEntry(t *testing.T, what string, got store.AuditEntry, index int64, rec store.AuditRecord) {
	t.Helper()
	if got.Index != index {
		t.Fatalf("%s: index %d, want %d", what, got.Index, index)
	}
	wantBytes(t, what+" account", got.Account, rec.Account)
	wantBytes(t, what+" data", got.Data, rec.Data)
}

// wantConsistent checks the whole of a log: its size matches its entries,
// and every stored hash and the tree hash are those recomputed in memory
// from the entries. It returns the entries.
func wantConsistent(t *testing.T, l store.AuditLog) []store.AuditEntry {
	t.Helper()
	ctx := t.Context()
	n := auditSize(t, l)
	entries, err := l.AuditEntries(ctx, 0, n)
	must(t, err)
	if int64(len(entries)) != n {
		t.Fatalf("AuditEntries(0, %d) = %d entries", n, len(entries))
	}
	var m memTree
	for i, e := range entries {
		if e.Index != int64(i) {
			t.Fatalf("entry %d has index %d", i, e.Index)
		}
		m.add(t, e.Data)
	}
	indexes := make([]int64, tlog.StoredHashCount(n))
	for i := range indexes {
		indexes[i] = int64(i)
	}
	stored, err := l.ReadAuditHashes(ctx, indexes)
	must(t, err)
	if len(stored) != len(m.hashes) {
		t.Fatalf("ReadAuditHashes of %d indexes = %d hashes", len(indexes), len(stored))
	}
	for i := range stored {
		if stored[i] != m.hashes[i] {
			t.Fatalf("stored hash %d = %v, recomputed %v", i, stored[i], m.hashes[i])
		}
	}
	got, err := tlog.TreeHash(n, hashReader(ctx, l))
	must(t, err)
	if want := m.treeHash(t, n); got != want {
		t.Fatalf("tree hash of %d records = %v, recomputed %v", n, got, want)
	}
	return entries
}

func testAuditAppend(t *testing.T, l store.AuditLog) {
	ctx := t.Context()
	wantAuditSize(t, "empty log", l, 0)
	idx, err := l.AppendAudit(ctx)
	must(t, err)
	if len(idx) != 0 {
		t.Fatalf("AppendAudit of no records = %v", idx)
	}
	wantAuditSize(t, "after appending nothing", l, 0)

	recs := []store.AuditRecord{auditRecord(randBytes(16)), auditRecord(nil), auditRecord(randBytes(16)), {Data: []byte{}}}
	idx, err = l.AppendAudit(ctx, recs[0])
	must(t, err)
	if len(idx) != 1 || idx[0] != 0 {
		t.Fatalf("first AppendAudit = %v, want [0]", idx)
	}
	idx, err = l.AppendAudit(ctx, recs[1:]...)
	must(t, err)
	if len(idx) != 3 || idx[0] != 1 || idx[1] != 2 || idx[2] != 3 {
		t.Fatalf("AppendAudit of 3 records = %v, want [1 2 3]", idx)
	}
	wantAuditSize(t, "after 4 records", l, 4)

	all, err := l.AuditEntries(ctx, 0, 4)
	must(t, err)
	if len(all) != 4 {
		t.Fatalf("AuditEntries(0, 4) = %d entries", len(all))
	}
	for i, e := range all {
		wantAuditEntry(t, fmt.Sprintf("entry %d", i), e, int64(i), recs[i])
	}
	mid, err := l.AuditEntries(ctx, 1, 3)
	must(t, err)
	if len(mid) != 2 {
		t.Fatalf("AuditEntries(1, 3) = %d entries", len(mid))
	}
	wantAuditEntry(t, "AuditEntries(1, 3)[0]", mid[0], 1, recs[1])
	wantAuditEntry(t, "AuditEntries(1, 3)[1]", mid[1], 2, recs[2])
	beyond, err := l.AuditEntries(ctx, 2, 100)
	must(t, err)
	if len(beyond) != 2 || beyond[0].Index != 2 || beyond[1].Index != 3 {
		t.Fatalf("AuditEntries(2, 100) = %d entries", len(beyond))
	}
	none, err := l.AuditEntries(ctx, 4, 10)
	must(t, err)
	if len(none) != 0 {
		t.Fatalf("AuditEntries past the end = %d entries", len(none))
	}
	wantConsistent(t, l)
}

// testAuditTree appends 100 records in batches of varied sizes and checks
// the tree hash at every size against one computed in memory.
func testAuditTree(t *testing.T, l store.AuditLog) {
	ctx := t.Context()
	const n = 100
	var m memTree
	var recs []store.AuditRecord
	for len(recs) < n {
		batch := make([]store.AuditRecord, min(len(recs)%7+1, n-len(recs)))
		for i := range batch {
			batch[i] = auditRecord(nil)
			m.add(t, batch[i].Data)
		}
		idx, err := l.AppendAudit(ctx, batch...)
		must(t, err)
		for i, x := range idx {
			if x != int64(len(recs)+i) {
				t.Fatalf("AppendAudit at size %d returned index %d for record %d", len(recs), x, i)
			}
		}
		recs = append(recs, batch...)
	}
	wantAuditSize(t, "after 100 records", l, n)
	r := hashReader(ctx, l)
	for size := int64(1); size <= n; size++ {
		got, err := tlog.TreeHash(size, r)
		must(t, err)
		if want := m.treeHash(t, size); got != want {
			t.Fatalf("tree hash at size %d = %v, computed in memory %v", size, got, want)
		}
	}
	wantConsistent(t, l)
}

func appendRandom(t *testing.T, l store.AuditLog, n int) ([]store.AuditRecord, *memTree) {
	t.Helper()
	m := &memTree{}
	recs := make([]store.AuditRecord, n)
	for i := range recs {
		recs[i] = auditRecord(nil)
		m.add(t, recs[i].Data)
	}
	for i := 0; i < n; i += 10 {
		_, err := l.AppendAudit(t.Context(), recs[i:min(i+10, n)]...)
		must(t, err)
	}
	return recs, m
}

func testAuditProofs(t *testing.T, l store.AuditLog) {
	ctx := t.Context()
	const n = 100
	recs, m := appendRandom(t, l, n)
	r := hashReader(ctx, l)
	for _, size := range []int64{n, 64, 37} {
		th := m.treeHash(t, size)
		for _, i := range []int64{0, 1, 31, 36, 63, 64, 99} {
			if i >= size {
				continue
			}
			p, err := tlog.ProveRecord(size, i, r)
			must(t, err)
			if err := tlog.CheckRecord(p, size, th, i, tlog.RecordHash(recs[i].Data)); err != nil {
				t.Fatalf("record %d in a tree of %d: %v", i, size, err)
			}
			if err := tlog.CheckRecord(p, size, th, i, tlog.RecordHash(randBytes(20))); err == nil {
				t.Fatalf("record %d in a tree of %d: proof accepts other data", i, size)
			}
		}
	}
	for _, old := range []int64{1, 37, 64, 99} {
		p, err := tlog.ProveTree(n, old, r)
		must(t, err)
		if err := tlog.CheckTree(p, n, m.treeHash(t, n), old, m.treeHash(t, old)); err != nil {
			t.Fatalf("tree of %d extends tree of %d: %v", n, old, err)
		}
	}

	// Hashes come back in the order asked, repetitions included.
	got, err := l.ReadAuditHashes(ctx, []int64{5, 0, 5})
	must(t, err)
	if len(got) != 3 || got[0] != m.hashes[5] || got[1] != m.hashes[0] || got[2] != m.hashes[5] {
		t.Fatalf("ReadAuditHashes([5 0 5]) = %v", got)
	}
	got, err = l.ReadAuditHashes(ctx, nil)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("ReadAuditHashes(nil) = %v", got)
	}
	_, err = l.ReadAuditHashes(ctx, []int64{0, tlog.StoredHashCount(n)})
	wantKind(t, err, candor.NotFound)
}

func testAuditEntriesFor(t *testing.T, l store.AuditLog) {
	ctx := t.Context()
	a, b := randBytes(16), randBytes(16)
	var mine []int64
	var recs []store.AuditRecord
	for i := range 12 {
		var acc []byte
		switch i % 3 {
		case 0:
			acc = a
		case 1:
			acc = b
		}
		recs = append(recs, auditRecord(acc))
	}
	idx, err := l.AppendAudit(ctx, recs...)
	must(t, err)
	for i, x := range idx {
		if bytes.Equal(recs[i].Account, a) {
			mine = append(mine, x)
		}
	}
	wantFor := func(what string, after int64, limit int, want ...int64) {
		t.Helper()
		got, err := l.AuditEntriesFor(ctx, a, after, limit)
		must(t, err)
		if len(got) != len(want) {
			t.Fatalf("%s: %d entries, want %d", what, len(got), len(want))
		}
		for i, e := range got {
			wantAuditEntry(t, fmt.Sprintf("%s[%d]", what, i), e, want[i], recs[want[i]])
		}
	}
	wantFor("all of a", -1, 100, mine...)
	wantFor("a after its first", mine[0], 100, mine[1:]...)
	wantFor("a after an index of b", mine[1]-2, 100, mine[1:]...)
	wantFor("a, limit 2", -1, 2, mine[:2]...)
	wantFor("a after its last", mine[len(mine)-1], 100)
	none, err := l.AuditEntriesFor(ctx, randBytes(16), -1, 100)
	must(t, err)
	if len(none) != 0 {
		t.Fatalf("AuditEntriesFor an unknown pseudonym = %d entries", len(none))
	}
}

func testAuditCheckpoints(t *testing.T, l store.AuditLog) {
	ctx := t.Context()
	list, err := l.Checkpoints(ctx)
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("Checkpoints of an empty log = %d", len(list))
	}
	_, m := appendRandom(t, l, 9)
	c5 := store.Checkpoint{Size: 5, Hash: m.treeHash(t, 5), Note: []byte("note at 5\n"), Created: testTime}
	c9 := store.Checkpoint{Size: 9, Hash: m.treeHash(t, 9), Note: []byte("note at 9\n"), Created: testTime.Add(time.Hour)}
	must(t, l.PutCheckpoint(ctx, c9))
	must(t, l.PutCheckpoint(ctx, c5))
	// Insert if absent: a second checkpoint of a size leaves the first.
	must(t, l.PutCheckpoint(ctx, store.Checkpoint{Size: 9, Hash: m.treeHash(t, 8), Note: []byte("other"), Created: testTime}))
	list, err = l.Checkpoints(ctx)
	must(t, err)
	if len(list) != 2 {
		t.Fatalf("Checkpoints = %d, want 2", len(list))
	}
	for i, want := range []store.Checkpoint{c5, c9} {
		got := list[i]
		if got.Size != want.Size || got.Hash != want.Hash {
			t.Fatalf("Checkpoints[%d] = size %d hash %v, want size %d hash %v", i, got.Size, got.Hash, want.Size, want.Hash)
		}
		wantBytes(t, fmt.Sprintf("Checkpoints[%d] note", i), got.Note, want.Note)
		wantTime(t, fmt.Sprintf("Checkpoints[%d] created", i), got.Created, want.Created)
	}
}

// testAuditConcurrentAppend appends from several goroutines at once: every
// index is handed out once, densely, and the tree stays consistent.
func testAuditConcurrentAppend(t *testing.T, l store.AuditLog) {
	ctx := t.Context()
	const workers, appends = 8, 20
	var mu sync.Mutex
	byIndex := map[int64][]byte{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range appends {
				recs := []store.AuditRecord{auditRecord(nil)}
				if (w+i)%3 == 0 {
					recs = append(recs, auditRecord(randBytes(16)))
				}
				idx, err := l.AppendAudit(ctx, recs...)
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				mu.Lock()
				for j, x := range idx {
					if _, dup := byIndex[x]; dup {
						t.Errorf("index %d handed out twice", x)
					}
					byIndex[x] = recs[j].Data
					if j > 0 && x != idx[j-1]+1 {
						t.Errorf("one append's indexes %v are not consecutive", idx)
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	entries := wantConsistent(t, l)
	if len(entries) != len(byIndex) {
		t.Fatalf("log has %d entries, %d appended", len(entries), len(byIndex))
	}
	for _, e := range entries {
		wantBytes(t, fmt.Sprintf("entry %d", e.Index), e.Data, byIndex[e.Index])
	}
}

// auditWatch follows a log's size around calls that should or should not
// append the records of their context.
type auditWatch struct {
	t    *testing.T
	l    store.AuditLog
	size int64
}

func watchAudit(t *testing.T, l store.AuditLog) *auditWatch {
	return &auditWatch{t: t, l: l, size: auditSize(t, l)}
}

// appended fails unless exactly recs were appended since the last check, in
// order.
func (w *auditWatch) appended(what string, recs ...store.AuditRecord) {
	w.t.Helper()
	ctx := w.t.Context()
	n := auditSize(w.t, w.l)
	if n != w.size+int64(len(recs)) {
		w.t.Fatalf("%s: log grew from %d to %d, want %d records appended", what, w.size, n, len(recs))
	}
	got, err := w.l.AuditEntries(ctx, w.size, n)
	must(w.t, err)
	if len(got) != len(recs) {
		w.t.Fatalf("%s: %d new entries, want %d", what, len(got), len(recs))
	}
	for i, e := range got {
		wantAuditEntry(w.t, what, e, w.size+int64(i), recs[i])
	}
	w.size = n
}

// skip takes what was appended since the last check as seen.
func (w *auditWatch) skip() {
	w.t.Helper()
	w.size = auditSize(w.t, w.l)
}

// none fails unless nothing was appended since the last check.
func (w *auditWatch) none(what string) {
	w.t.Helper()
	w.appended(what)
}

// testAuditRegionAccess checks which Region methods append the records of
// their context: the accesses, when they succeed, and nothing else.
func testAuditRegionAccess(t *testing.T, r store.Region) {
	rt := with(t, r)
	ctx := t.Context()
	a := rt.newAccount()
	epoch := rt.enable(a, candor.Contacts)
	rt.dataKey(a, candor.Contacts, epoch)
	w := watchAudit(t, r)
	withRec := func() store.AuditRecord { return auditRecord(randBytes(16)) }

	// ApplyChanges: appended when it succeeds, also when a change is not
	// applied, and not at all when it fails.
	rec := withRec()
	id := newID("rec")
	_, err := r.ApplyChanges(ctx, rec, a, candor.Contacts, epoch, []store.Change{create(id, randBytes(40))})
	must(t, err)
	w.appended("ApplyChanges", rec)
	rec = withRec()
	res, err := r.ApplyChanges(ctx, rec, a, candor.Contacts, epoch, []store.Change{create(id, randBytes(40))})
	must(t, err)
	if res[0].Applied {
		t.Fatal("a stale change was applied")
	}
	w.appended("ApplyChanges with a stale change", rec)
	_, err = r.ApplyChanges(ctx, rec, a, candor.Notes, epoch, []store.Change{create(newID("rec"), randBytes(40))})
	wantConsentRequired(t, err, candor.Notes)
	w.none("ApplyChanges refused for consent")
	_, err = r.ApplyChanges(ctx, rec, a, candor.Contacts, epoch+1, []store.Change{create(newID("rec"), randBytes(40))})
	wantKind(t, err, candor.Conflict)
	w.none("ApplyChanges in another epoch")
	_, err = r.ApplyChanges(ctx, rec, a, candor.Contacts, epoch, []store.Change{{ID: newID("rec"), Version: 5}})
	wantKind(t, err, candor.Invalid)
	w.none("ApplyChanges of a malformed change")
	_, err = r.ApplyChanges(ctx, rec, candor.AccountID(newID("acc")), candor.Contacts, epoch, []store.Change{create(newID("rec"), nil)})
	wantKind(t, err, candor.NotFound)
	w.none("ApplyChanges of an unknown account")
	_, err = r.ApplyChanges(ctx, store.AuditRecord{}, a, candor.Contacts, epoch, []store.Change{create(newID("rec"), randBytes(40))})
	wantKind(t, err, candor.Internal)
	w.none("ApplyChanges without its record")

	// Reads that are accesses.
	rec = withRec()
	recs, err := r.Changes(ctx, rec, a, candor.Contacts, epoch, 0, 100)
	must(t, err)
	if len(recs) != 1 {
		t.Fatalf("Changes = %d records, want 1", len(recs))
	}
	w.appended("Changes", rec)
	_, err = r.Changes(ctx, rec, a, candor.Contacts, epoch, 0, 0)
	wantKind(t, err, candor.Invalid)
	w.none("Changes with no limit")
	_, err = r.Changes(ctx, rec, a, candor.Notes, epoch, 0, 10)
	wantConsentRequired(t, err, candor.Notes)
	w.none("Changes of a category that is off")
	_, err = r.Changes(ctx, rec, a, candor.Contacts, epoch+1, 0, 10)
	wantKind(t, err, candor.Conflict)
	w.none("Changes in another epoch")
	_, err = r.Changes(ctx, store.AuditRecord{}, a, candor.Contacts, epoch, 0, 10)
	wantKind(t, err, candor.Internal)
	w.none("Changes without its record")
	rec = withRec()
	ledger, err := r.ConsentLedger(ctx, rec, a)
	must(t, err)
	if len(ledger) != 1 {
		t.Fatalf("ConsentLedger with audit records = %d events, want 1", len(ledger))
	}
	w.appended("ConsentLedger", rec)

	// AppendConsent.
	rec = withRec()
	_, err = r.AppendConsent(ctx, rec, store.ConsentEvent{Account: a, Category: candor.Notes, On: true, PolicyVersion: candor.PolicyVersion})
	must(t, err)
	w.appended("AppendConsent", rec)
	_, err = r.AppendConsent(ctx, rec, store.ConsentEvent{Account: candor.AccountID(newID("acc")), Category: candor.Notes, On: true})
	wantKind(t, err, candor.NotFound)
	w.none("AppendConsent for an unknown account")
	// A request for the state a category has already appends no event,
	// and is on record all the same.
	rec = withRec()
	again, err := r.AppendConsent(ctx, rec, store.ConsentEvent{Account: a, Category: candor.Notes, On: true, PolicyVersion: candor.PolicyVersion})
	must(t, err)
	w.appended("AppendConsent of the current state", rec)
	rec = withRec()
	never, err := r.AppendConsent(ctx, rec, store.ConsentEvent{Account: a, Category: candor.SMS, PolicyVersion: candor.PolicyVersion})
	must(t, err)
	w.appended("AppendConsent turning off a category never on", rec)
	ledger, err = r.ConsentLedger(ctx, withRec(), a)
	must(t, err)
	w.skip()
	if len(ledger) != 2 || again.Seq != ledger[1].Seq || never.Seq != 0 {
		t.Fatalf("after two requests that change nothing: %d events (want 2), seqs %d and %d (want %d and 0)",
			len(ledger), again.Seq, never.Seq, ledger[1].Seq)
	}
	_, err = r.AppendConsent(ctx, store.AuditRecord{}, store.ConsentEvent{Account: a, Category: candor.SMS, On: true})
	wantKind(t, err, candor.Internal)
	w.none("AppendConsent without its record")

	// Photos: completing, opening and deleting an upload.
	up := store.Upload{ID: newID("pho"), Account: a, Category: candor.Photos, Size: 10, Hash: randBytes(32),
		Created: testTime, Expires: testTime.Add(time.Hour)}
	must(t, r.CreateUpload(ctx, up))
	w.none("CreateUpload")
	_, err = r.OpenUpload(ctx, withRec(), a, newID("pho"))
	wantKind(t, err, candor.NotFound)
	w.none("OpenUpload of an unknown upload")
	rec = withRec()
	must(t, r.ExtendUpload(ctx, rec, a, up.ID, testTime.Add(2*time.Hour)))
	w.appended("ExtendUpload (a part received)", rec)
	rec = withRec()
	must(t, r.CompleteUpload(ctx, rec, a, up.ID))
	w.appended("CompleteUpload", rec)
	rec = withRec()
	got, err := r.OpenUpload(ctx, rec, a, up.ID)
	must(t, err)
	if got.ID != up.ID || !got.Complete {
		t.Fatalf("OpenUpload = %+v, want the complete upload %s", got, up.ID)
	}
	w.appended("OpenUpload", rec)
	rec = withRec()
	must(t, r.DeleteUpload(ctx, rec, a, up.ID))
	w.appended("DeleteUpload", rec)

	// Revoking a device's messaging.
	rec = withRec()
	must(t, r.DeleteDeviceMessaging(ctx, rec, a, candor.DeviceID(newID("dev"))))
	w.appended("DeleteDeviceMessaging", rec)

	// Methods that are not accesses take no record and append nothing.
	_, err = r.DataKey(ctx, a, candor.Contacts)
	must(t, err)
	_, err = r.ConsentState(ctx, a)
	must(t, err)
	_, err = r.Account(ctx, a)
	must(t, err)
	_, err = r.CountRecords(ctx, a, candor.Contacts)
	must(t, err)
	_, err = r.Devices(ctx, a)
	must(t, err)
	must(t, r.PutKEK(ctx, store.WrappedKey{Version: 9, Wrapper: 1, Wrapped: randBytes(60)}))
	_, err = r.KEKs(ctx)
	must(t, err)
	_, err = r.CountDataKeys(ctx)
	must(t, err)
	must(t, r.CreateAccount(ctx, store.Account{ID: candor.AccountID(newID("acc")), Country: "IN"}))
	w.none("methods that are not accesses")

	// RegisterDevice: a sign-in.
	rec = withRec()
	_, err = r.RegisterDevice(ctx, rec, store.Device{ID: candor.DeviceID(newID("dev")), Account: a, Pseudonym: randBytes(32)})
	must(t, err)
	w.appended("RegisterDevice", rec)

	// DeleteAccount, also of an absent account (it succeeds).
	rec = withRec()
	must(t, r.DeleteAccount(ctx, rec, a))
	w.appended("DeleteAccount", rec)
	rec = withRec()
	must(t, r.DeleteAccount(ctx, rec, a))
	w.appended("DeleteAccount of an absent account", rec)

	wantConsistent(t, r)
}

// testAuditConcurrentRegionAccess runs accesses that carry records from
// several goroutines, some of which fail: the log holds exactly the records
// of the calls that succeeded, and its tree is consistent.
func testAuditConcurrentRegionAccess(t *testing.T, r store.Region) {
	rt := with(t, r)
	ctx := t.Context()
	const workers, calls = 8, 20
	accounts := make([]candor.AccountID, workers)
	epochs := make([]int64, workers)
	for w := range accounts {
		accounts[w] = rt.newAccount()
		epochs[w] = rt.enable(accounts[w], candor.Contacts)
	}
	shared := rt.newAccount()
	sharedEpoch := rt.enable(shared, candor.Notes)
	before := auditSize(t, r)
	var mu sync.Mutex
	done := map[string]bool{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				rec := auditRecord(randBytes(16))
				var err error
				switch i % 5 {
				case 0: // refused: the category is off
					_, err = r.ApplyChanges(ctx, rec, accounts[w], candor.SMS, epochs[w], []store.Change{create(newID("rec"), randBytes(16))})
					if !candor.Is(err, candor.ConsentRequired) {
						t.Errorf("worker %d: ApplyChanges to an off category = %v", w, err)
						return
					}
					continue
				case 1:
					_, err = r.Changes(ctx, rec, accounts[w], candor.Contacts, epochs[w], 0, 10)
				case 2:
					_, err = r.ApplyChanges(ctx, rec, shared, candor.Notes, sharedEpoch, []store.Change{create(newID("rec"), randBytes(16))})
				default:
					_, err = r.ApplyChanges(ctx, rec, accounts[w], candor.Contacts, epochs[w], []store.Change{create(newID("rec"), randBytes(16))})
				}
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				mu.Lock()
				done[string(rec.Data)] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	entries := wantConsistent(t, r)
	if got := int64(len(entries)) - before; got != int64(len(done)) {
		t.Fatalf("log grew by %d records for %d successful calls", got, len(done))
	}
	for _, e := range entries[before:] {
		if !done[string(e.Data)] {
			t.Fatalf("entry %d is not the record of a successful call", e.Index)
		}
	}
}

// testAuditDirectoryAccess checks which Directory methods append the
// records of their context: the accesses, when they succeed, and nothing
// else.
func testAuditDirectoryAccess(t *testing.T, d store.Directory) {
	ctx := t.Context()
	w := watchAudit(t, d)
	withRec := func() store.AuditRecord { return auditRecord(randBytes(16)) }

	// Staff.
	st := store.Staff{ID: newID("stf"), Name: "Asha Rao", Roles: []string{"support"}, TokenHash: randBytes(32)}
	rec := withRec()
	must(t, d.CreateStaff(ctx, rec, st))
	w.appended("CreateStaff", rec)
	wantKind(t, d.CreateStaff(ctx, rec, st), candor.Conflict)
	w.none("CreateStaff of an existing id")
	rec = withRec()
	must(t, d.RevokeStaff(ctx, rec, st.ID, testTime))
	w.appended("RevokeStaff", rec)
	wantKind(t, d.RevokeStaff(ctx, rec, newID("stf"), testTime), candor.NotFound)
	w.none("RevokeStaff of an unknown id")

	// Custody.
	rec = withRec()
	must(t, d.InitRoot(ctx, rec, newCustody(1, 2, 3), map[string]store.WrappedKey{"master": newSystemKey(1)}))
	w.appended("InitRoot", rec)
	wantKind(t, d.InitRoot(ctx, rec, newCustody(1, 2, 3), nil), candor.Conflict)
	w.none("InitRoot again")
	rec = withRec()
	must(t, d.Rekey(ctx, rec, newCustody(2, 2, 3), map[string]store.WrappedKey{"master": newSystemKey(2)}))
	w.appended("Rekey", rec)
	wantKind(t, d.Rekey(ctx, rec, newCustody(4, 2, 3), nil), candor.Conflict)
	w.none("Rekey to a wrong version")

	// Access requests.
	account := candor.AccountID(newID("acc"))
	req := newAccessRequest(account, testTime)
	rec = withRec()
	must(t, d.CreateAccessRequest(ctx, rec, req))
	w.appended("CreateAccessRequest", rec)
	wantKind(t, d.CreateAccessRequest(ctx, rec, req), candor.Conflict)
	w.none("CreateAccessRequest of an existing id")
	rec = withRec()
	must(t, d.AddApproval(ctx, rec, store.Approval{Request: req.ID, Approver: newID("stf"), Time: testTime}))
	w.appended("AddApproval", rec)
	approver := newID("stf")
	wantKind(t, d.AddApproval(ctx, store.AuditRecord{}, store.Approval{Request: req.ID, Approver: approver, Time: testTime}), candor.Internal)
	w.none("AddApproval without its record")
	rec = withRec()
	must(t, d.AddApproval(ctx, rec, store.Approval{Request: req.ID, Approver: approver, Time: testTime}))
	w.appended("AddApproval by another approver", rec)
	wantKind(t, d.AddApproval(ctx, rec, store.Approval{Request: req.ID, Approver: approver, Time: testTime}), candor.Conflict)
	w.none("AddApproval twice")
	wantKind(t, d.AddApproval(ctx, rec, store.Approval{Request: newID("req"), Approver: approver, Time: testTime}), candor.NotFound)
	w.none("AddApproval of an unknown request")
	rec = withRec()
	must(t, d.ApproveAsOwner(ctx, rec, req.ID, testTime))
	w.appended("ApproveAsOwner", rec)
	rec = withRec()
	must(t, d.RevokeAccessRequest(ctx, rec, req.ID, testTime))
	w.appended("RevokeAccessRequest", rec)
	wantKind(t, d.RevokeAccessRequest(ctx, rec, newID("req"), testTime), candor.NotFound)
	w.none("RevokeAccessRequest of an unknown request")
	rec = withRec()
	must(t, d.SetOwnerApproval(ctx, rec, account, true))
	w.appended("SetOwnerApproval", rec)

	// Methods that are not accesses take no record and append nothing.
	entry := store.Entry{Account: account, Handle: randBytes(32), Region: "in"}
	must(t, d.CreateEntry(ctx, entry))
	_, err := d.Entry(ctx, account)
	must(t, err)
	must(t, d.CreateSession(ctx, newSession(account, candor.DeviceID(newID("dev")), testTime.Add(time.Hour))))
	_, err = d.PutSystemKey(ctx, "other", newSystemKey(2))
	must(t, err)
	_, err = d.StaffByToken(ctx, st.TokenHash)
	must(t, err)
	_, err = d.ListStaff(ctx)
	must(t, err)
	_, err = d.Custody(ctx)
	must(t, err)
	_, _, err = d.AccessRequest(ctx, req.ID)
	must(t, err)
	_, err = d.AccessRequestsFor(ctx, account, 10)
	must(t, err)
	_, err = d.OwnerApprovalRequired(ctx, account)
	must(t, err)
	_, err = d.PutShredSecret(ctx, store.ShredSecret{Account: account, Category: candor.Notes, Epoch: 1,
		Key: store.WrappedKey{Version: 1, Wrapper: 1, Wrapped: randBytes(60)}})
	must(t, err)
	_, err = d.LoginFailed(ctx, entry.Handle, testTime, time.Hour)
	must(t, err)
	w.none("methods that are not accesses")

	rec = withRec()
	must(t, d.DeleteEntry(ctx, rec, account))
	w.appended("DeleteEntry", rec)

	wantConsistent(t, d)
}

// testAuditConcurrentDirectoryAccess runs staff changes that carry records
// from several goroutines, a quarter of which fail as duplicates: the log
// holds exactly the records of the calls that succeeded.
func testAuditConcurrentDirectoryAccess(t *testing.T, d store.Directory) {
	ctx := t.Context()
	const workers, calls = 8, 20
	req := newAccessRequest(candor.AccountID(newID("acc")), testTime)
	must(t, d.CreateAccessRequest(ctx, logged(), req))
	before := auditSize(t, d)
	var mu sync.Mutex
	done := map[string]bool{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last store.Staff
			for i := range calls {
				rec := auditRecord(nil)
				var err error
				switch i % 4 {
				case 0:
					last = store.Staff{ID: newID("stf"), Name: "x", TokenHash: randBytes(32)}
					err = d.CreateStaff(ctx, rec, last)
				case 1: // refused: the id exists
					err = d.CreateStaff(ctx, rec, store.Staff{ID: last.ID, Name: "y", TokenHash: randBytes(32)})
					if !candor.Is(err, candor.Conflict) {
						t.Errorf("worker %d: CreateStaff of an existing id = %v", w, err)
						return
					}
					continue
				case 2:
					err = d.AddApproval(ctx, rec, store.Approval{Request: req.ID, Approver: last.ID})
				default:
					err = d.RevokeStaff(ctx, rec, last.ID, time.Time{})
				}
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				mu.Lock()
				done[string(rec.Data)] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	entries := wantConsistent(t, d)[before:]
	if len(entries) != len(done) {
		t.Fatalf("log has %d records for %d successful calls", len(entries), len(done))
	}
	for _, e := range entries {
		if !done[string(e.Data)] {
			t.Fatalf("entry %d is not the record of a successful call", e.Index)
		}
	}
}
