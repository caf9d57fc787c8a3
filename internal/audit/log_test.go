package audit_test

import (
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/store"
	"github.com/candorcloud/candor/internal/store/pgtest"
	"github.com/candorcloud/candor/internal/store/sqlstore"
)

// secrets is a keyring that holds fixed system secrets: the one boundary
// through which package audit reads its keys. A secret it does not hold is
// refused as a sealed keyring refuses every one.
type secrets map[string][]byte

func (s secrets) Secret(name string) ([]byte, error) {
	b, ok := s[name]
	if !ok {
		return nil, candor.ErrSealed
	}
	return b, nil
}

// keys returns the secrets of a deployment made from seed: two seeds, two
// unrelated deployments.
func keys(seed string) secrets {
	return secrets{
		audit.SecretPseudonyms: []byte(seed + "/pseudonyms"),
		audit.SecretSigner:     []byte(seed + "/signer"),
	}
}

// signerName names the test deployment in its checkpoints.
const signerName = "candor-test"

// region is the region whose log the tests damage.
const region = "in"

// deployment is the logs of one deployment on real stores: the directory's
// and region "in"'s. raw is region "in"'s database opened a second time, as
// someone with write access to it would open it.
type deployment struct {
	logs   *audit.Logs
	dir    store.AuditLog
	region store.AuditLog
	raw    *sql.DB
	pg     bool // raw speaks PostgreSQL
}

// opener opens a fresh deployment whose keys come from secrets.
type opener func(t *testing.T, s audit.Secrets) *deployment

// onEachBackend runs test on SQLite, and on PostgreSQL when
// CANDOR_TEST_POSTGRES names a database.
func onEachBackend(t *testing.T, test func(t *testing.T, open opener)) {
	t.Run("SQLite", func(t *testing.T) { test(t, openSQLite) })
	t.Run("PostgreSQL", func(t *testing.T) {
		if os.Getenv(pgtest.Env) == "" {
			t.Skip("PostgreSQL tests skipped: set " + pgtest.Env + ", e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
		}
		test(t, openPostgres)
	})
}

func openSQLite(t *testing.T, s audit.Secrets) *deployment {
	t.Helper()
	folder := t.TempDir()
	dir, err := sqlstore.OpenSQLiteDirectory(filepath.Join(folder, "directory.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Close() })
	path := filepath.Join(folder, "region.db")
	reg, err := sqlstore.OpenSQLiteRegion(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	raw, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return newDeployment(dir, reg, raw, false, s)
}

func openPostgres(t *testing.T, s audit.Secrets) *deployment {
	t.Helper()
	dir, err := sqlstore.OpenPostgresDirectory(t.Context(), pgtest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Close() })
	dsn := pgtest.Schema(t)
	reg, err := sqlstore.OpenPostgresRegion(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	raw, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return newDeployment(dir, reg, raw, true, s)
}

func newDeployment(dir, reg store.AuditLog, raw *sql.DB, pg bool, s audit.Secrets) *deployment {
	return &deployment{
		logs:   audit.New(dir, map[candor.RegionID]store.AuditLog{region: reg}, s, signerName),
		dir:    dir,
		region: reg,
		raw:    raw,
		pg:     pg,
	}
}

// store returns the store that keeps the named log.
func (d *deployment) store(log string) store.AuditLog {
	if log == audit.Directory {
		return d.dir
	}
	return d.region
}

// t0 is when the test events happen.
var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

// event is the i-th event the tests append: every one different, about
// one of three accounts.
func event(i int64) audit.Event {
	return audit.Event{
		Time:     t0.Add(time.Duration(i) * time.Second),
		Actor:    fmt.Sprintf("device:%032x", i%3),
		Action:   audit.ActionPull,
		Outcome:  audit.OK,
		Region:   region,
		Account:  fmt.Sprintf("%032x", 0xacc0+i%3),
		Category: string(candor.Contacts),
		Count:    int(i),
	}
}

// grow appends events to the named log until it holds size entries,
// signing a checkpoint when it reaches each of the sizes in checkpoints,
// and returns the entries' data in order. Appends go in batches through
// the store, as Candor's own appends do.
func (d *deployment) grow(t *testing.T, log string, size int64, checkpoints ...int64) [][]byte {
	t.Helper()
	ctx := t.Context()
	lg := d.store(log)
	n, err := lg.AuditSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var data [][]byte
	sign := func() {
		for _, c := range checkpoints {
			if c == n {
				if _, err := d.logs.Checkpoint(ctx, log); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	sign()
	for n < size {
		end := size
		for _, c := range checkpoints {
			if c > n && c < end {
				end = c
			}
		}
		end = min(end, n+100)
		var recs []store.AuditRecord
		for i := n; i < end; i++ {
			rec := d.logs.Record(event(i))
			recs = append(recs, rec)
			data = append(data, rec.Data)
		}
		if _, err := lg.AppendAudit(ctx, recs...); err != nil {
			t.Fatal(err)
		}
		n = end
		sign()
	}
	return data
}

// exec runs a statement on the region's database behind Candor's back.
// Placeholders are written ?, as SQLite takes them.
func (d *deployment) exec(t *testing.T, query string, args ...any) {
	t.Helper()
	if _, err := d.raw.ExecContext(t.Context(), d.rebind(query), args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func (d *deployment) rebind(query string) string {
	if !d.pg {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// entry reads the data of entry i of the region's log from its database.
func (d *deployment) entry(t *testing.T, i int64) []byte {
	t.Helper()
	var data []byte
	if err := d.raw.QueryRowContext(t.Context(), d.rebind(`SELECT data FROM audit_entries WHERE idx = ?`), i).Scan(&data); err != nil {
		t.Fatalf("entry %d: %v", i, err)
	}
	return data
}

// rewrite replaces the data of entry i and then recomputes every stored
// hash of the tree from the entries, as a forger who knows tlog would: the
// stored tree is consistent again, and only the signed checkpoints can
// tell.
func (d *deployment) rewrite(t *testing.T, i int64, data []byte) {
	t.Helper()
	d.exec(t, `UPDATE audit_entries SET data = ? WHERE idx = ?`, data, i)
	rows, err := d.raw.QueryContext(t.Context(), `SELECT data FROM audit_entries ORDER BY idx`)
	if err != nil {
		t.Fatal(err)
	}
	var entries [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, b)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	for x, h := range newTree(t, entries) {
		d.exec(t, `UPDATE audit_hashes SET hash = ? WHERE idx = ?`, h[:], x)
	}
}

// tree is the tlog tree of entries, computed in memory: every stored hash,
// at its tlog.StoredHashIndex.
type tree []tlog.Hash

func (h tree) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x >= int64(len(h)) {
			return nil, fmt.Errorf("hash %d is not in a tree of %d hashes", x, len(h))
		}
		out[i] = h[x]
	}
	return out, nil
}

func newTree(t *testing.T, entries [][]byte) tree {
	t.Helper()
	var h tree
	for i, e := range entries {
		hs, err := tlog.StoredHashes(int64(i), e, h)
		if err != nil {
			t.Fatal(err)
		}
		h = append(h, hs...)
	}
	return h
}

// hash is the tree hash of the first n entries of h.
func (h tree) hash(t *testing.T, n int64) tlog.Hash {
	t.Helper()
	th, err := tlog.TreeHash(n, h)
	if err != nil {
		t.Fatal(err)
	}
	return th
}

func verifier(t *testing.T, logs *audit.Logs) note.Verifier {
	t.Helper()
	vkey, err := logs.VerifierKey()
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A checkpoint is the deployment's signature over the tree of one log at
// its current size: the key it verifies with is VerifierKey, the same for
// every instance with the same secret, and a note signed by any other key
// is refused.
func TestCheckpoint(t *testing.T) {
	onEachBackend(t, func(t *testing.T, open opener) {
		ctx := t.Context()
		d := open(t, keys("deployment"))
		v := verifier(t, d.logs)
		for _, tt := range []struct {
			log  string
			size int64
		}{
			{region, 0},
			{region, 1},
			{region, 5},
			{region, 16},
			{audit.Directory, 0},
			{audit.Directory, 3},
		} {
			d.grow(t, tt.log, tt.size)
			c, err := d.logs.Checkpoint(ctx, tt.log)
			if err != nil {
				t.Fatalf("Checkpoint(%s) at %d: %v", tt.log, tt.size, err)
			}
			entries, err := d.store(tt.log).AuditEntries(ctx, 0, tt.size)
			if err != nil {
				t.Fatal(err)
			}
			var all [][]byte
			for _, e := range entries {
				all = append(all, e.Data)
			}
			want := newTree(t, all).hash(t, tt.size)
			if c.Size != tt.size || c.Hash != want {
				t.Fatalf("Checkpoint(%s) = size %d hash %v, want %d %v", tt.log, c.Size, c.Hash, tt.size, want)
			}
			n, err := note.Open(c.Note, note.VerifierList(v))
			if err != nil {
				t.Fatalf("Checkpoint(%s) at %d does not open with VerifierKey: %v", tt.log, tt.size, err)
			}
			wantText := signerName + "/" + tt.log + "\n" + string(tlog.FormatTree(tlog.Tree{N: tt.size, Hash: want}))
			if n.Text != wantText {
				t.Fatalf("Checkpoint(%s) text = %q, want %q", tt.log, n.Text, wantText)
			}
			if len(n.Sigs) != 1 || n.Sigs[0].Name != signerName {
				t.Fatalf("Checkpoint(%s) signatures = %+v, want one by %s", tt.log, n.Sigs, signerName)
			}
			// Signing again at the same size stores nothing new.
			if _, err := d.logs.Checkpoint(ctx, tt.log); err != nil {
				t.Fatal(err)
			}
			cps, err := d.store(tt.log).Checkpoints(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if last := cps[len(cps)-1]; last.Size != tt.size || string(last.Note) != string(c.Note) {
				t.Fatalf("stored checkpoint %d %q, want %d %q", last.Size, last.Note, tt.size, c.Note)
			}
		}

		// Another instance with the same secret signs alike; a deployment
		// with another secret does not, and its notes are refused.
		same := audit.New(d.dir, map[candor.RegionID]store.AuditLog{region: d.region}, keys("deployment"), signerName)
		other := audit.New(d.dir, map[candor.RegionID]store.AuditLog{region: d.region}, keys("another deployment"), signerName)
		mine, _ := d.logs.VerifierKey()
		if k, _ := same.VerifierKey(); k != mine {
			t.Fatalf("VerifierKey differs between instances of one deployment: %s, %s", mine, k)
		}
		if k, _ := other.VerifierKey(); k == mine {
			t.Fatalf("two deployments share the verifier key %s", k)
		}
		foreign, err := other.Checkpoint(ctx, region)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := note.Open(foreign.Note, note.VerifierList(v)); err == nil {
			t.Fatal("a checkpoint signed by another key opened with the deployment's verifier key")
		}
		if _, err := note.Open(foreign.Note, note.VerifierList(verifier(t, other))); err != nil {
			t.Fatalf("the other deployment's checkpoint: %v", err)
		}
	})
}

// Without its secrets (a sealed keyring) the logs neither sign, verify nor
// name anyone; a log that does not exist is NotFound.
func TestSealedAndUnknown(t *testing.T) {
	ctx := t.Context()
	d := openSQLite(t, secrets{})
	for _, tt := range []struct {
		name string
		err  error
		kind candor.Kind
	}{
		{"Checkpoint", func() error { _, err := d.logs.Checkpoint(ctx, region); return err }(), candor.Sealed},
		{"Verify", func() error { _, err := d.logs.Verify(ctx, region); return err }(), candor.Sealed},
		{"VerifierKey", func() error { _, err := d.logs.VerifierKey(); return err }(), candor.Sealed},
		{"Account", func() error { _, err := d.logs.Account("a1"); return err }(), candor.Sealed},
		{"Device", func() error { _, err := d.logs.Device("d1"); return err }(), candor.Sealed},
		{"Verify unknown log", func() error {
			_, err := audit.New(d.dir, nil, keys("x"), signerName).Verify(ctx, "nowhere")
			return err
		}(), candor.NotFound},
		{"Append unknown log", audit.New(d.dir, nil, keys("x"), signerName).Append(ctx, "nowhere", event(0)), candor.NotFound},
	} {
		if !candor.Is(tt.err, tt.kind) {
			t.Errorf("%s: %v, want %v", tt.name, tt.err, tt.kind)
		}
	}
}

// Inclusion and consistency proofs between every pair of sizes of a log
// up to 20 entries check with tlog's checkers against the tree hashes
// computed independently, in memory; bad arguments are Invalid.
func TestProofs(t *testing.T) {
	onEachBackend(t, func(t *testing.T, open opener) {
		ctx := t.Context()
		d := open(t, keys("deployment"))
		const size = 20
		data := d.grow(t, region, size)
		honest := newTree(t, data)
		for n := int64(1); n <= size; n++ {
			th := honest.hash(t, n)
			for i := int64(0); i < n; i++ {
				p, err := d.logs.ProveInclusion(ctx, region, i, n)
				if err != nil {
					t.Fatalf("ProveInclusion(%d, %d): %v", i, n, err)
				}
				if err := tlog.CheckRecord(p, n, th, i, tlog.RecordHash(data[i])); err != nil {
					t.Fatalf("CheckRecord(%d, %d): %v", i, n, err)
				}
				if err := tlog.CheckRecord(p, n, th, i, tlog.RecordHash(data[(i+1)%size])); err == nil {
					t.Fatalf("CheckRecord(%d, %d) passed another entry", i, n)
				}
			}
			for old := int64(0); old <= n; old++ {
				p, err := d.logs.ProveConsistency(ctx, region, old, n)
				if err != nil {
					t.Fatalf("ProveConsistency(%d, %d): %v", old, n, err)
				}
				if old == 0 {
					if len(p) != 0 {
						t.Fatalf("ProveConsistency(0, %d) = %d hashes, want none", n, len(p))
					}
					continue
				}
				if err := tlog.CheckTree(p, n, th, old, honest.hash(t, old)); err != nil {
					t.Fatalf("CheckTree(%d, %d): %v", old, n, err)
				}
			}
		}
		for _, tt := range []struct {
			name string
			err  error
		}{
			{"inclusion of a negative index", func() error { _, err := d.logs.ProveInclusion(ctx, region, -1, 5); return err }()},
			{"inclusion of an index at the size", func() error { _, err := d.logs.ProveInclusion(ctx, region, 5, 5); return err }()},
			{"consistency from a negative size", func() error { _, err := d.logs.ProveConsistency(ctx, region, -1, 5); return err }()},
			{"consistency from a larger size", func() error { _, err := d.logs.ProveConsistency(ctx, region, 6, 5); return err }()},
		} {
			if !candor.Is(tt.err, candor.Invalid) {
				t.Errorf("%s: %v, want Invalid", tt.name, tt.err)
			}
		}
	})
}

// A forger with write access who rewrites an entry and recomputes the
// whole stored tree gets proofs out of Candor that fail against what was
// signed before: the forged entry is in no honest tree, and no honest tree
// that held the original extends to the forged one. Trees that end before
// the forged entry still extend to it: that part of the log is untouched.
func TestProofsOfARewrittenLog(t *testing.T) {
	onEachBackend(t, func(t *testing.T, open opener) {
		ctx := t.Context()
		d := open(t, keys("deployment"))
		const size, forged = 20, 6
		data := d.grow(t, region, size)
		honest := newTree(t, data)
		fake := audit.Event{Time: t0, Actor: "system", Action: audit.ActionPull, Outcome: audit.Denied}
		d.rewrite(t, forged, fake.Encode())
		data[forged] = fake.Encode()
		rewritten := newTree(t, data)

		for n := int64(forged + 1); n <= size; n++ {
			p, err := d.logs.ProveInclusion(ctx, region, forged, n)
			if err != nil {
				t.Fatal(err)
			}
			if err := tlog.CheckRecord(p, n, honest.hash(t, n), forged, tlog.RecordHash(fake.Encode())); err == nil {
				t.Fatalf("the forged entry proved in the honest tree of size %d", n)
			}
			if err := tlog.CheckRecord(p, n, rewritten.hash(t, n), forged, tlog.RecordHash(fake.Encode())); err != nil {
				t.Fatalf("the forged entry in the forged tree of size %d: %v", n, err)
			}
		}
		for n := int64(1); n <= size; n++ {
			for old := int64(1); old <= n; old++ {
				p, err := d.logs.ProveConsistency(ctx, region, old, n)
				if err != nil {
					t.Fatal(err)
				}
				err = tlog.CheckTree(p, n, rewritten.hash(t, n), old, honest.hash(t, old))
				if extends := old <= forged; (err == nil) != extends {
					t.Fatalf("the honest tree of size %d extending to the forged one of size %d: %v, want extends=%v", old, n, err, extends)
				}
			}
		}
	})
}

// An owner's entries come with inclusion proofs against a checkpoint; the
// entries after the checkpoint are left for a later one.
func TestEntriesFor(t *testing.T) {
	onEachBackend(t, func(t *testing.T, open opener) {
		ctx := t.Context()
		d := open(t, keys("deployment"))
		accounts := []candor.AccountID{"acct-a", "acct-b"}
		var data [][]byte
		add := func(i int) {
			a, err := d.logs.Account(accounts[i%2])
			if err != nil {
				t.Fatal(err)
			}
			ev := event(int64(i))
			ev.Account = a
			data = append(data, ev.Encode())
			if err := d.logs.Append(ctx, region, ev); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 11 {
			add(i)
		}
		c, err := d.logs.Checkpoint(ctx, region)
		if err != nil {
			t.Fatal(err)
		}
		for i := 11; i < 14; i++ {
			add(i)
		}
		for _, tt := range []struct {
			account candor.AccountID
			after   int64
			limit   int
			want    []int64
		}{
			{"acct-a", -1, 100, []int64{0, 2, 4, 6, 8, 10}},
			{"acct-b", -1, 100, []int64{1, 3, 5, 7, 9}},
			{"acct-a", 4, 100, []int64{6, 8, 10}},
			{"acct-a", -1, 2, []int64{0, 2}},
			{"acct-b", 9, 100, nil},
			{"acct-nobody", -1, 100, nil},
		} {
			got, err := d.logs.EntriesFor(ctx, region, tt.account, tt.after, tt.limit, c)
			if err != nil {
				t.Fatalf("EntriesFor(%s, %d, %d): %v", tt.account, tt.after, tt.limit, err)
			}
			var idx []int64
			for _, p := range got {
				idx = append(idx, p.Entry.Index)
				if string(p.Entry.Data) != string(data[p.Entry.Index]) {
					t.Fatalf("entry %d = %s, want %s", p.Entry.Index, p.Entry.Data, data[p.Entry.Index])
				}
				if err := tlog.CheckRecord(p.Proof, c.Size, c.Hash, p.Entry.Index, tlog.RecordHash(p.Entry.Data)); err != nil {
					t.Fatalf("entry %d against the checkpoint: %v", p.Entry.Index, err)
				}
			}
			if fmt.Sprint(idx) != fmt.Sprint(tt.want) {
				t.Errorf("EntriesFor(%s, after %d, limit %d) = %v, want %v", tt.account, tt.after, tt.limit, idx, tt.want)
			}
		}
	})
}

// Pseudonyms are keyed hashes: the same for one secret, unrelated across
// secrets, and an account and a device with the same id get different
// ones.
func TestPseudonyms(t *testing.T) {
	d := openSQLite(t, keys("deployment"))
	a := d.logs
	same := audit.New(d.dir, nil, keys("deployment"), signerName)
	other := audit.New(d.dir, nil, keys("another deployment"), signerName)
	account := func(l *audit.Logs, id string) string {
		p, err := l.Account(candor.AccountID(id))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	device := func(l *audit.Logs, id string) string {
		p, err := l.Device(candor.DeviceID(id))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tt := range []struct {
		name  string
		x, y  string
		equal bool
	}{
		{"one account, one secret", account(a, "acct-1"), account(a, "acct-1"), true},
		{"one account, two instances of one deployment", account(a, "acct-1"), account(same, "acct-1"), true},
		{"one device, one secret", device(a, "dev-1"), device(same, "dev-1"), true},
		{"two accounts", account(a, "acct-1"), account(a, "acct-2"), false},
		{"two devices", device(a, "dev-1"), device(a, "dev-2"), false},
		{"one account, two secrets", account(a, "acct-1"), account(other, "acct-1"), false},
		{"one device, two secrets", device(a, "dev-1"), device(other, "dev-1"), false},
		{"an account and a device with one id", "device:" + account(a, "id-1"), device(a, "id-1"), false},
	} {
		if (tt.x == tt.y) != tt.equal {
			t.Errorf("%s: %s, %s: want equal=%v", tt.name, tt.x, tt.y, tt.equal)
		}
	}
	// An account pseudonym is 16 bytes in hex (the store keeps the bytes
	// beside each entry); a device's is the same behind "device:".
	p := account(a, "acct-1")
	if b, err := hex.DecodeString(p); err != nil || len(b) != 16 {
		t.Errorf("account pseudonym %q is not 16 bytes in hex", p)
	}
	if dv := device(a, "acct-1"); !strings.HasPrefix(dv, "device:") || len(dv) != len("device:")+32 {
		t.Errorf("device pseudonym %q", dv)
	}
	for _, raw := range []string{"acct-1", "dev-1"} {
		if strings.Contains(p, raw) || strings.Contains(device(a, raw), raw) {
			t.Errorf("a pseudonym holds the id %q", raw)
		}
	}
}

// Record makes the store record of an event: its canonical encoding,
// stamped with the time if it has none, beside the account pseudonym's
// bytes.
func TestRecord(t *testing.T) {
	d := openSQLite(t, keys("deployment"))
	acct, err := d.logs.Account("acct-1")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := hex.DecodeString(acct)
	for _, tt := range []struct {
		name    string
		event   audit.Event
		account []byte
	}{
		{"about an account", audit.Event{Time: t0, Actor: "system", Action: audit.ActionPush, Outcome: audit.OK, Account: acct}, raw},
		{"about no account", audit.Event{Time: t0, Actor: "custodian", Action: audit.ActionUnseal, Outcome: audit.OK}, nil},
	} {
		rec := d.logs.Record(tt.event)
		if string(rec.Data) != string(tt.event.Encode()) || string(rec.Account) != string(tt.account) {
			t.Errorf("%s: Record = %x %s, want %x %s", tt.name, rec.Account, rec.Data, tt.account, tt.event.Encode())
		}
	}
	before := time.Now().Add(-time.Microsecond)
	rec := d.logs.Record(audit.Event{Actor: "system", Action: audit.ActionSeal, Outcome: audit.OK})
	after := time.Now()
	e, err := audit.Decode(rec.Data)
	if err != nil {
		t.Fatal(err)
	}
	if e.Time.Before(before) || e.Time.After(after) {
		t.Errorf("an event without a time was stamped %v, not between %v and %v", e.Time, before, after)
	}
}
