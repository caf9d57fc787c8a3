package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// TestDirectory runs the conformance suite of store.Directory. open returns
// a fresh, empty store for one subtest and registers its cleanup with
// t.Cleanup.
func TestDirectory(t *testing.T, open func(t *testing.T) store.Directory) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, d store.Directory)
	}{
		{"Entries", testEntries},
		{"Moves", testMoves},
		{"MigrationJobs", testMigrationJobs},
		{"MigrationJobMovesBounded", testMigrationJobMovesBounded},
		{"ConcurrentTakeOver", testConcurrentTakeOver},
		{"Sessions", testSessions},
		{"ExpiredSessions", testExpiredSessions},
		{"LoginThrottle", testLoginThrottle},
		{"ConcurrentLoginFailed", testConcurrentLoginFailed},
		{"SystemKeys", testSystemKeys},
		{"Staff", testStaff},
		{"Custody", testCustody},
		{"ConcurrentInitRoot", testConcurrentInitRoot},
		{"Rekey", testRekey},
		{"ConcurrentRekey", testConcurrentRekey},
		{"ShredSecrets", testShredSecrets},
		{"ConcurrentPutShredSecret", testConcurrentPutShredSecret},
		{"RewrapShredSecrets", testRewrapShredSecrets},
		{"AccessRequests", testAccessRequests},
		{"Approvals", testApprovals},
		{"OwnerApproval", testOwnerApproval},
		{"Passkeys", testPasskeys},
		{"StaffSessions", testStaffSessions},
		{"Challenges", testChallenges},
		{"SpentChallenges", testSpentChallenges},
		{"ApprovalMethods", testApprovalMethods},
		{"RefuseAccessRequest", testRefuseAccessRequest},
		{"ListAccessRequests", testListAccessRequests},
		{"Numbers", testNumbers},
		{"Quotas", testQuotas},
		{"ConcurrentSpend", testConcurrentSpend},
		{"Verifications", testVerifications},
		{"ConcurrentTakeVerification", testConcurrentTakeVerification},
		{"AuditAccess", testAuditDirectoryAccess},
		{"AuditConcurrentAccess", testAuditConcurrentDirectoryAccess},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
	for _, tc := range auditLogTests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func wantEntry(t *testing.T, what string, got, want store.Entry) {
	t.Helper()
	if got.Account != want.Account || got.Region != want.Region || got.Moving != want.Moving {
		t.Fatalf("%s = %s in %s moving to %q, want %s in %s moving to %q", what,
			got.Account, got.Region, got.Moving, want.Account, want.Region, want.Moving)
	}
	wantBytes(t, what+" handle", got.Handle, want.Handle)
	wantTime(t, what+" created", got.Created, want.Created)
}

func wantSession(t *testing.T, what string, got, want store.Session) {
	t.Helper()
	if got.Account != want.Account || got.Device != want.Device {
		t.Fatalf("%s = %s/%s, want %s/%s", what, got.Account, got.Device, want.Account, want.Device)
	}
	wantBytes(t, what+" token hash", got.TokenHash, want.TokenHash)
	wantTime(t, what+" created", got.Created, want.Created)
	wantTime(t, what+" expires", got.Expires, want.Expires)
}

func newSession(a candor.AccountID, d candor.DeviceID, expires time.Time) store.Session {
	return store.Session{TokenHash: randBytes(32), Account: a, Device: d, Created: testTime, Expires: expires}
}

func testEntries(t *testing.T, d store.Directory) {
	ctx := t.Context()
	e := store.Entry{Account: candor.AccountID(newID("acc")), Handle: randBytes(32), Region: "in", Created: testTime}
	must(t, d.CreateEntry(ctx, e))
	got, err := d.Entry(ctx, e.Account)
	must(t, err)
	wantEntry(t, "Entry", got, e)
	got, err = d.EntryByHandle(ctx, e.Handle)
	must(t, err)
	wantEntry(t, "EntryByHandle", got, e)

	wantKind(t, d.CreateEntry(ctx, store.Entry{Account: e.Account, Handle: randBytes(32), Region: "sg"}), candor.Conflict)
	wantKind(t, d.CreateEntry(ctx, store.Entry{Account: candor.AccountID(newID("acc")), Handle: e.Handle, Region: "sg"}), candor.Conflict)
	_, err = d.Entry(ctx, candor.AccountID(newID("acc")))
	wantKind(t, err, candor.NotFound)
	_, err = d.EntryByHandle(ctx, randBytes(32))
	wantKind(t, err, candor.NotFound)

	other := store.Entry{Account: candor.AccountID(newID("acc")), Handle: randBytes(32), Region: "sg"}
	must(t, d.CreateEntry(ctx, other))
	got, err = d.Entry(ctx, other.Account)
	must(t, err)
	if !recent(got.Created) {
		t.Fatalf("zero Created stored as %v, want the time of the call", got.Created)
	}
	mine := newSession(e.Account, candor.DeviceID(newID("dev")), testTime.Add(time.Hour))
	theirs := newSession(other.Account, candor.DeviceID(newID("dev")), testTime.Add(time.Hour))
	must(t, d.CreateSession(ctx, mine))
	must(t, d.CreateSession(ctx, theirs))
	var mySecrets []store.ShredSecret
	for _, c := range []candor.Category{candor.Contacts, candor.Notes} {
		for _, epoch := range []int64{1, 5} {
			mySecrets = append(mySecrets, putShredSecret(t, d, e.Account, c, epoch))
		}
	}
	theirSecret := putShredSecret(t, d, other.Account, candor.Contacts, 1)

	must(t, d.DeleteEntry(ctx, logged(), e.Account))
	for _, s := range mySecrets {
		_, err := d.ShredSecret(ctx, s.Account, s.Category, s.Epoch)
		wantKind(t, err, candor.NotFound)
	}
	wantStoredShredSecret(t, d, "another account's shred secret after DeleteEntry", theirSecret)
	_, err = d.Entry(ctx, e.Account)
	wantKind(t, err, candor.NotFound)
	_, err = d.EntryByHandle(ctx, e.Handle)
	wantKind(t, err, candor.NotFound)
	_, err = d.Session(ctx, mine.TokenHash)
	wantKind(t, err, candor.NotFound)
	if _, err := d.Session(ctx, theirs.TokenHash); err != nil {
		t.Fatalf("DeleteEntry removed another account's session: %v", err)
	}
	if _, err := d.Entry(ctx, other.Account); err != nil {
		t.Fatalf("DeleteEntry removed another entry: %v", err)
	}
	must(t, d.DeleteEntry(ctx, logged(), e.Account)) // absent: not an error

	// The handle is free again.
	must(t, d.CreateEntry(ctx, store.Entry{Account: candor.AccountID(newID("acc")), Handle: e.Handle, Region: "in"}))
}

func testSessions(t *testing.T, d store.Directory) {
	ctx := t.Context()
	a := candor.AccountID(newID("acc"))
	d1, d2 := candor.DeviceID(newID("dev")), candor.DeviceID(newID("dev"))
	s1 := newSession(a, d1, testTime.Add(30*24*time.Hour))
	s2 := newSession(a, d1, testTime.Add(time.Hour))
	s3 := newSession(a, d2, testTime.Add(time.Hour))
	for _, s := range []store.Session{s1, s2, s3} {
		must(t, d.CreateSession(ctx, s))
	}
	got, err := d.Session(ctx, s1.TokenHash)
	must(t, err)
	wantSession(t, "Session", got, s1)
	_, err = d.Session(ctx, randBytes(32))
	wantKind(t, err, candor.NotFound)

	must(t, d.DeleteSession(ctx, s2.TokenHash))
	_, err = d.Session(ctx, s2.TokenHash)
	wantKind(t, err, candor.NotFound)
	must(t, d.DeleteSession(ctx, s2.TokenHash)) // absent: not an error
	if _, err := d.Session(ctx, s1.TokenHash); err != nil {
		t.Fatalf("DeleteSession removed another session: %v", err)
	}

	s4 := newSession(a, d1, testTime.Add(time.Hour))
	must(t, d.CreateSession(ctx, s4))
	wantDevices := func(what string, now time.Time, want ...candor.DeviceID) {
		t.Helper()
		got, err := d.SignedInDevices(ctx, a, now)
		must(t, err)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("SignedInDevices %s = %v, want %v", what, got, want)
		}
	}
	wantDevices("with two sessions of one device and one of another", testTime, d1, d2)
	wantDevices("after the short sessions expired", testTime.Add(2*time.Hour), d1)
	got2, err := d.SignedInDevices(ctx, candor.AccountID(newID("acc")), testTime)
	must(t, err)
	if len(got2) != 0 {
		t.Fatalf("SignedInDevices of an account without sessions = %v", got2)
	}
	must(t, d.DeleteDeviceSessions(ctx, a, d1))
	wantDevices("after one device's sessions were deleted", testTime, d2)
	for _, s := range []store.Session{s1, s4} {
		_, err := d.Session(ctx, s.TokenHash)
		wantKind(t, err, candor.NotFound)
	}
	got, err = d.Session(ctx, s3.TokenHash)
	must(t, err)
	wantSession(t, "other device's session", got, s3)
}

func testExpiredSessions(t *testing.T, d store.Directory) {
	ctx := t.Context()
	a := candor.AccountID(newID("acc"))
	dev := candor.DeviceID(newID("dev"))
	now := testTime
	gone := []store.Session{newSession(a, dev, now.Add(-time.Hour)), newSession(a, dev, now.Add(-time.Second))}
	kept := []store.Session{newSession(a, dev, now), newSession(a, dev, now.Add(time.Second))}
	for _, s := range append(gone, kept...) {
		must(t, d.CreateSession(ctx, s))
	}
	n, err := d.DeleteExpiredSessions(ctx, now)
	must(t, err)
	if n != len(gone) {
		t.Fatalf("DeleteExpiredSessions = %d, want %d", n, len(gone))
	}
	for _, s := range gone {
		_, err := d.Session(ctx, s.TokenHash)
		wantKind(t, err, candor.NotFound)
	}
	for _, s := range kept {
		if _, err := d.Session(ctx, s.TokenHash); err != nil {
			t.Fatalf("a session expiring at or after now was removed: %v", err)
		}
	}
	n, err = d.DeleteExpiredSessions(ctx, now)
	must(t, err)
	if n != 0 {
		t.Fatalf("second DeleteExpiredSessions = %d, want 0", n)
	}
}

func testLoginThrottle(t *testing.T, d store.Directory) {
	ctx := t.Context()
	h, other := randBytes(32), randBytes(32)
	const window = 10 * time.Minute
	got, err := d.LoginAttempts(ctx, h)
	must(t, err)
	if got.Failures != 0 || !got.First.IsZero() || !got.Last.IsZero() {
		t.Fatalf("LoginAttempts with no failures = %+v, want zero", got)
	}
	want := func(what string, got store.Attempts, failures int, first, last time.Time) {
		t.Helper()
		if got.Failures != failures {
			t.Fatalf("%s: %d failures, want %d", what, got.Failures, failures)
		}
		wantTime(t, what+" first", got.First, first)
		wantTime(t, what+" last", got.Last, last)
	}
	t0 := testTime
	for i := range 3 {
		at := t0.Add(time.Duration(i) * time.Minute)
		got, err := d.LoginFailed(ctx, h, at, window)
		must(t, err)
		want("LoginFailed", got, i+1, t0, at)
	}
	_, err = d.LoginFailed(ctx, other, t0, window)
	must(t, err)
	got, err = d.LoginAttempts(ctx, h)
	must(t, err)
	want("LoginAttempts", got, 3, t0, t0.Add(2*time.Minute))

	// At the window's end the count still runs; past it, it restarts.
	got, err = d.LoginFailed(ctx, h, t0.Add(window), window)
	must(t, err)
	want("LoginFailed at the end of the window", got, 4, t0, t0.Add(window))
	later := t0.Add(window + time.Second)
	got, err = d.LoginFailed(ctx, h, later, window)
	must(t, err)
	want("LoginFailed after the window", got, 1, later, later)
	got, err = d.LoginFailed(ctx, h, later.Add(time.Minute), window)
	must(t, err)
	want("LoginFailed in the new window", got, 2, later, later.Add(time.Minute))

	must(t, d.LoginSucceeded(ctx, h))
	got, err = d.LoginAttempts(ctx, h)
	must(t, err)
	if got.Failures != 0 {
		t.Fatalf("LoginAttempts after LoginSucceeded = %+v", got)
	}
	got, err = d.LoginAttempts(ctx, other)
	must(t, err)
	want("other handle", got, 1, t0, t0)
	must(t, d.LoginSucceeded(ctx, randBytes(32))) // no failures: not an error
}

// testConcurrentLoginFailed checks that failures recorded at once are all
// counted: a lost update would let a guesser past the throttle.
func testConcurrentLoginFailed(t *testing.T, d store.Directory) {
	ctx := t.Context()
	h := randBytes(32)
	const n = 20
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := d.LoginFailed(ctx, h, testTime, time.Hour); err != nil {
				t.Errorf("LoginFailed: %v", err)
			}
		}()
	}
	wg.Wait()
	got, err := d.LoginAttempts(ctx, h)
	must(t, err)
	if got.Failures != n {
		t.Fatalf("%d concurrent failures counted as %d", n, got.Failures)
	}
}

func testSystemKeys(t *testing.T, d store.Directory) {
	ctx := t.Context()
	_, err := d.SystemKey(ctx, "pseudonym-key")
	wantKind(t, err, candor.NotFound)
	k := store.WrappedKey{Version: 1, Wrapper: 2, Wrapped: randBytes(48), Created: testTime}
	got, err := d.PutSystemKey(ctx, "pseudonym-key", k)
	must(t, err)
	wantSystemKey(t, "PutSystemKey", got, k)
	got, err = d.PutSystemKey(ctx, "pseudonym-key", store.WrappedKey{Version: 9, Wrapper: 9, Wrapped: randBytes(48)})
	must(t, err)
	wantSystemKey(t, "second PutSystemKey", got, k)
	got, err = d.SystemKey(ctx, "pseudonym-key")
	must(t, err)
	wantSystemKey(t, "SystemKey", got, k)
	_, err = d.SystemKey(ctx, "other")
	wantKind(t, err, candor.NotFound)

	// Racing first puts all get the one key that was stored.
	const n = 8
	var wg sync.WaitGroup
	keys := make([]store.WrappedKey, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			keys[i], err = d.PutSystemKey(ctx, "raced", store.WrappedKey{Version: int64(i + 1), Wrapper: 1, Wrapped: randBytes(48)})
			if err != nil {
				t.Errorf("PutSystemKey: %v", err)
			}
		}()
	}
	wg.Wait()
	stored, err := d.SystemKey(ctx, "raced")
	must(t, err)
	for i := range n {
		wantSystemKey(t, "raced PutSystemKey", keys[i], stored)
	}
}

func wantStaff(t *testing.T, what string, got, want store.Staff) {
	t.Helper()
	if got.ID != want.ID || got.Name != want.Name {
		t.Fatalf("%s = %s (%q), want %s (%q)", what, got.ID, got.Name, want.ID, want.Name)
	}
	if !slices.Equal(got.Roles, want.Roles) {
		t.Fatalf("%s roles = %q, want %q", what, got.Roles, want.Roles)
	}
	wantBytes(t, what+" token hash", got.TokenHash, want.TokenHash)
	wantTime(t, what+" created", got.Created, want.Created)
	if got.Revoked.IsZero() != want.Revoked.IsZero() {
		t.Fatalf("%s revoked = %v, want %v", what, got.Revoked, want.Revoked)
	}
	wantTime(t, what+" revoked", got.Revoked, want.Revoked)
}

func testStaff(t *testing.T, d store.Directory) {
	ctx := t.Context()
	list, err := d.ListStaff(ctx)
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("ListStaff of an empty store = %d identities", len(list))
	}

	// Created out of order, so that oldest first is not insertion order.
	newer := store.Staff{ID: newID("stf"), Name: "Asha Rao", Roles: []string{"support"}, TokenHash: randBytes(32), Created: testTime.Add(time.Hour)}
	older := store.Staff{ID: newID("stf"), Name: "Ben Ode", Roles: []string{"security", "custodian", "auditor"}, TokenHash: randBytes(32), Created: testTime}
	must(t, d.CreateStaff(ctx, logged(), newer))
	must(t, d.CreateStaff(ctx, logged(), older))

	got, err := d.StaffByToken(ctx, older.TokenHash)
	must(t, err)
	wantStaff(t, "StaffByToken", got, older)
	_, err = d.StaffByToken(ctx, randBytes(32))
	wantKind(t, err, candor.NotFound)

	wantKind(t, d.CreateStaff(ctx, logged(), store.Staff{ID: older.ID, Name: "x", TokenHash: randBytes(32)}), candor.Conflict)
	wantKind(t, d.CreateStaff(ctx, logged(), store.Staff{ID: newID("stf"), Name: "x", TokenHash: older.TokenHash}), candor.Conflict)
	got, err = d.StaffByToken(ctx, older.TokenHash)
	must(t, err)
	wantStaff(t, "StaffByToken after refused duplicates", got, older)

	// Roles are lowercase words: anything that could not round-trip through
	// a comma-joined list, or is not lowercase, is refused.
	for _, roles := range [][]string{
		{""},
		{"Admin"},
		{"support,security"},
		{"support", ""},
		{"has space"},
		{"sécurité"},
	} {
		err := d.CreateStaff(ctx, logged(), store.Staff{ID: newID("stf"), Name: "x", Roles: roles, TokenHash: randBytes(32)})
		if !candor.Is(err, candor.Invalid) {
			t.Fatalf("CreateStaff with roles %q = %v, want Invalid", roles, err)
		}
	}

	list, err = d.ListStaff(ctx)
	must(t, err)
	if len(list) != 2 {
		t.Fatalf("ListStaff = %d identities, want 2", len(list))
	}
	wantStaff(t, "ListStaff[0]", list[0], older)
	wantStaff(t, "ListStaff[1]", list[1], newer)

	at := testTime.Add(2 * time.Hour)
	must(t, d.RevokeStaff(ctx, logged(), newer.ID, at))
	must(t, d.RevokeStaff(ctx, logged(), newer.ID, at.Add(time.Hour))) // keeps the first time
	revoked := newer
	revoked.Revoked = at
	got, err = d.StaffByToken(ctx, newer.TokenHash)
	must(t, err)
	wantStaff(t, "StaffByToken of a revoked identity", got, revoked)
	got, err = d.StaffByToken(ctx, older.TokenHash)
	must(t, err)
	wantStaff(t, "StaffByToken of another identity", got, older)
	wantKind(t, d.RevokeStaff(ctx, logged(), newID("stf"), at), candor.NotFound)

	list, err = d.ListStaff(ctx)
	must(t, err)
	if len(list) != 2 {
		t.Fatalf("ListStaff after revocation = %d identities, want 2", len(list))
	}
	wantStaff(t, "ListStaff[1] after revocation", list[1], revoked)

	// A zero Created is the time of the call.
	now := store.Staff{ID: newID("stf"), Name: "Chen Li", TokenHash: randBytes(32)}
	must(t, d.CreateStaff(ctx, logged(), now))
	got, err = d.StaffByToken(ctx, now.TokenHash)
	must(t, err)
	if !recent(got.Created) || len(got.Roles) != 0 || !got.Revoked.IsZero() {
		t.Fatalf("staff with zero Created and no roles stored as %+v", got)
	}
}

// newCustody returns a custody of threshold of shares, with random hashes.
func newCustody(version int64, threshold, shares int) store.Custody {
	c := store.Custody{RootVersion: version, Shares: shares, Threshold: threshold, Created: testTime}
	for range shares {
		c.ShareHashes = append(c.ShareHashes, randBytes(32))
	}
	return c
}

func wantCustody(t *testing.T, what string, got, want store.Custody) {
	t.Helper()
	if got.RootVersion != want.RootVersion || got.Shares != want.Shares || got.Threshold != want.Threshold {
		t.Fatalf("%s = v%d %d of %d, want v%d %d of %d", what,
			got.RootVersion, got.Threshold, got.Shares, want.RootVersion, want.Threshold, want.Shares)
	}
	if len(got.ShareHashes) != len(want.ShareHashes) {
		t.Fatalf("%s has %d share hashes, want %d", what, len(got.ShareHashes), len(want.ShareHashes))
	}
	for i := range want.ShareHashes {
		wantBytes(t, fmt.Sprintf("%s share hash %d", what, i), got.ShareHashes[i], want.ShareHashes[i])
	}
	wantTime(t, what+" created", got.Created, want.Created)
}

func wantSystemKey(t *testing.T, what string, got, want store.WrappedKey) {
	t.Helper()
	if got.Version != want.Version || got.Wrapper != want.Wrapper {
		t.Fatalf("%s = v%d/%d, want v%d/%d", what, got.Version, got.Wrapper, want.Version, want.Wrapper)
	}
	wantBytes(t, what+" wrapped", got.Wrapped, want.Wrapped)
	wantTime(t, what+" created", got.Created, want.Created)
}

func newSystemKey(root int64) store.WrappedKey {
	return store.WrappedKey{Version: 1, Wrapper: root, Wrapped: randBytes(48), Created: testTime}
}

func testCustody(t *testing.T, d store.Directory) {
	ctx := t.Context()
	_, err := d.Custody(ctx)
	wantKind(t, err, candor.NotFound)

	// Invalid custody is refused and writes nothing.
	for name, bad := range map[string]store.Custody{
		"threshold 1":           newCustody(1, 1, 3),
		"threshold over shares": newCustody(1, 4, 3),
		"256 shares":            newCustody(1, 2, 256),
		"no shares":             {RootVersion: 1},
		"hash missing": func() store.Custody {
			c := newCustody(1, 2, 3)
			c.ShareHashes = c.ShareHashes[:2]
			return c
		}(),
		"hash too short": func() store.Custody {
			c := newCustody(1, 2, 3)
			c.ShareHashes[1] = c.ShareHashes[1][:31]
			return c
		}(),
		"hash too long": func() store.Custody {
			c := newCustody(1, 2, 3)
			c.ShareHashes[2] = append(c.ShareHashes[2], 0)
			return c
		}(),
	} {
		err := d.InitRoot(ctx, logged(), bad, map[string]store.WrappedKey{"refused-key": newSystemKey(1)})
		if !candor.Is(err, candor.Invalid) {
			t.Fatalf("InitRoot with %s = %v, want Invalid", name, err)
		}
	}
	_, err = d.Custody(ctx)
	wantKind(t, err, candor.NotFound)
	_, err = d.SystemKey(ctx, "refused-key")
	wantKind(t, err, candor.NotFound)

	// A system key of one of the names exists: Conflict, and nothing of
	// the call is stored.
	taken := newSystemKey(7)
	_, err = d.PutSystemKey(ctx, "taken-key", taken)
	must(t, err)
	wantKind(t, d.InitRoot(ctx, logged(), newCustody(1, 2, 3), map[string]store.WrappedKey{
		"fresh-key": newSystemKey(1),
		"taken-key": newSystemKey(1),
	}), candor.Conflict)
	_, err = d.Custody(ctx)
	wantKind(t, err, candor.NotFound)
	_, err = d.SystemKey(ctx, "fresh-key")
	wantKind(t, err, candor.NotFound)
	got, err := d.SystemKey(ctx, "taken-key")
	must(t, err)
	wantSystemKey(t, "SystemKey after a refused InitRoot", got, taken)

	// The real initialisation.
	c := newCustody(1, 3, 5)
	keys := map[string]store.WrappedKey{
		"pseudonym-key": newSystemKey(1),
		"handle-key":    newSystemKey(1),
	}
	must(t, d.InitRoot(ctx, logged(), c, keys))
	gotC, err := d.Custody(ctx)
	must(t, err)
	wantCustody(t, "Custody", gotC, c)
	for name, k := range keys {
		got, err := d.SystemKey(ctx, name)
		must(t, err)
		wantSystemKey(t, "SystemKey "+name, got, k)
	}

	// A server is initialised once: a second InitRoot, even of another
	// version with other keys, is Conflict and changes nothing.
	wantKind(t, d.InitRoot(ctx, logged(), newCustody(2, 2, 2), map[string]store.WrappedKey{
		"pseudonym-key": newSystemKey(2),
		"other-key":     newSystemKey(2),
	}), candor.Conflict)
	wantKind(t, d.InitRoot(ctx, logged(), newCustody(1, 3, 5), nil), candor.Conflict)
	gotC, err = d.Custody(ctx)
	must(t, err)
	wantCustody(t, "Custody after a second InitRoot", gotC, c)
	got, err = d.SystemKey(ctx, "pseudonym-key")
	must(t, err)
	wantSystemKey(t, "SystemKey after a second InitRoot", got, keys["pseudonym-key"])
	_, err = d.SystemKey(ctx, "other-key")
	wantKind(t, err, candor.NotFound)
}

// testConcurrentInitRoot checks that of initialisations racing on an empty
// store exactly one succeeds, even when they share neither a root version
// nor a key name, and only its custody and keys are stored.
func testConcurrentInitRoot(t *testing.T, d store.Directory) {
	ctx := t.Context()
	const n = 8
	custody := make([]store.Custody, n)
	keys := make([]map[string]store.WrappedKey, n)
	errs := make([]error, n)
	for i := range n {
		v := int64(i + 1)
		custody[i] = newCustody(v, 2, 3)
		keys[i] = map[string]store.WrappedKey{fmt.Sprintf("key-%d", i): newSystemKey(v)}
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.InitRoot(ctx, logged(), custody[i], keys[i])
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("InitRoot %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !candor.Is(err, candor.Conflict):
			t.Fatalf("InitRoot %d = %v, want nil or Conflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no concurrent InitRoot succeeded")
	}
	got, err := d.Custody(ctx)
	must(t, err)
	wantCustody(t, "Custody", got, custody[winner])
	for i := range n {
		for name, k := range keys[i] {
			got, err := d.SystemKey(ctx, name)
			if i != winner {
				wantKind(t, err, candor.NotFound)
				continue
			}
			must(t, err)
			wantSystemKey(t, "SystemKey "+name, got, k)
		}
	}
}

func testRekey(t *testing.T, d store.Directory) {
	ctx := t.Context()
	wantUnchanged := func(what string, c store.Custody, keys map[string]store.WrappedKey, absent ...string) {
		t.Helper()
		got, err := d.Custody(ctx)
		must(t, err)
		wantCustody(t, what+": Custody", got, c)
		for name, k := range keys {
			got, err := d.SystemKey(ctx, name)
			must(t, err)
			wantSystemKey(t, what+": SystemKey "+name, got, k)
		}
		for _, name := range absent {
			_, err := d.SystemKey(ctx, name)
			wantKind(t, err, candor.NotFound)
		}
	}

	// Before InitRoot there is no version to follow.
	for _, v := range []int64{1, 2} {
		wantKind(t, d.Rekey(ctx, logged(), newCustody(v, 2, 3), map[string]store.WrappedKey{"early-key": newSystemKey(v)}), candor.Conflict)
	}
	_, err := d.Custody(ctx)
	wantKind(t, err, candor.NotFound)
	_, err = d.SystemKey(ctx, "early-key")
	wantKind(t, err, candor.NotFound)

	c1 := newCustody(1, 2, 3)
	keys1 := map[string]store.WrappedKey{"pseudonym-key": newSystemKey(1), "handle-key": newSystemKey(1)}
	must(t, d.InitRoot(ctx, logged(), c1, keys1))

	// Not the next version: Conflict, and nothing of the call is stored.
	for _, v := range []int64{1, 3, 7} {
		wantKind(t, d.Rekey(ctx, logged(), newCustody(v, 3, 5), map[string]store.WrappedKey{
			"pseudonym-key": newSystemKey(v),
			"new-key":       newSystemKey(v),
		}), candor.Conflict)
	}
	wantUnchanged("after refused rekeys", c1, keys1, "new-key")
	// An invalid custody is refused and writes nothing.
	err = d.Rekey(ctx, logged(), newCustody(2, 1, 3), map[string]store.WrappedKey{"pseudonym-key": newSystemKey(2)})
	wantKind(t, err, candor.Invalid)
	wantUnchanged("after an invalid rekey", c1, keys1)

	// Version 2 replaces the named keys, adds new ones and leaves the
	// others.
	c2 := newCustody(2, 3, 5)
	c2.Created = testTime.Add(24 * time.Hour)
	keys2 := map[string]store.WrappedKey{
		"pseudonym-key": {Version: 4, Wrapper: 2, Wrapped: randBytes(48), Created: testTime.Add(24 * time.Hour)},
		"new-key":       newSystemKey(2),
	}
	must(t, d.Rekey(ctx, logged(), c2, keys2))
	wantUnchanged("after rekey to 2", c2, map[string]store.WrappedKey{
		"pseudonym-key": keys2["pseudonym-key"],
		"new-key":       keys2["new-key"],
		"handle-key":    keys1["handle-key"],
	})

	wantKind(t, d.Rekey(ctx, logged(), newCustody(2, 2, 3), nil), candor.Conflict)
	wantKind(t, d.InitRoot(ctx, logged(), newCustody(3, 2, 3), nil), candor.Conflict)

	// A rekey may replace no key at all.
	c3 := newCustody(3, 2, 2)
	must(t, d.Rekey(ctx, logged(), c3, nil))
	wantUnchanged("after rekey to 3", c3, map[string]store.WrappedKey{"pseudonym-key": keys2["pseudonym-key"]})
}

// testConcurrentRekey checks that of rekeys to the same version racing,
// exactly one succeeds and only its custody and keys are stored.
func testConcurrentRekey(t *testing.T, d store.Directory) {
	ctx := t.Context()
	must(t, d.InitRoot(ctx, logged(), newCustody(1, 2, 3), map[string]store.WrappedKey{"shared": newSystemKey(1)}))
	const n = 8
	custody := make([]store.Custody, n)
	keys := make([]map[string]store.WrappedKey, n)
	errs := make([]error, n)
	for i := range n {
		custody[i] = newCustody(2, 2, 3)
		keys[i] = map[string]store.WrappedKey{"shared": newSystemKey(2), fmt.Sprintf("key-%d", i): newSystemKey(2)}
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.Rekey(ctx, logged(), custody[i], keys[i])
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("Rekey %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !candor.Is(err, candor.Conflict):
			t.Fatalf("Rekey %d = %v, want nil or Conflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no concurrent Rekey succeeded")
	}
	got, err := d.Custody(ctx)
	must(t, err)
	wantCustody(t, "Custody", got, custody[winner])
	for i := range n {
		for name, k := range keys[i] {
			got, err := d.SystemKey(ctx, name)
			switch {
			case i == winner:
				must(t, err)
				wantSystemKey(t, "SystemKey "+name, got, k)
			case name != "shared":
				wantKind(t, err, candor.NotFound)
			}
		}
	}
}

// putShredSecret stores a fresh shred secret and returns it.
func putShredSecret(t *testing.T, d store.Directory, a candor.AccountID, c candor.Category, epoch int64) store.ShredSecret {
	t.Helper()
	s := store.ShredSecret{Account: a, Category: c, Epoch: epoch,
		Key: store.WrappedKey{Version: 1, Wrapper: 1, Wrapped: randBytes(48), Created: testTime}}
	got, err := d.PutShredSecret(t.Context(), s)
	must(t, err)
	wantShredSecret(t, "PutShredSecret", got, s)
	return s
}

func wantShredSecret(t *testing.T, what string, got, want store.ShredSecret) {
	t.Helper()
	if got.Account != want.Account || got.Category != want.Category || got.Epoch != want.Epoch {
		t.Fatalf("%s = %s/%s epoch %d, want %s/%s epoch %d", what,
			got.Account, got.Category, got.Epoch, want.Account, want.Category, want.Epoch)
	}
	wantSystemKey(t, what+" key", got.Key, want.Key)
}

func wantStoredShredSecret(t *testing.T, d store.Directory, what string, want store.ShredSecret) {
	t.Helper()
	got, err := d.ShredSecret(t.Context(), want.Account, want.Category, want.Epoch)
	must(t, err)
	wantShredSecret(t, what, got, want)
}

func testShredSecrets(t *testing.T, d store.Directory) {
	ctx := t.Context()
	a, b := candor.AccountID(newID("acc")), candor.AccountID(newID("acc"))
	_, err := d.ShredSecret(ctx, a, candor.Contacts, 3)
	wantKind(t, err, candor.NotFound)

	s3 := putShredSecret(t, d, a, candor.Contacts, 3)
	// A second put for the same epoch returns the first secret.
	got, err := d.PutShredSecret(ctx, store.ShredSecret{Account: a, Category: candor.Contacts, Epoch: 3,
		Key: store.WrappedKey{Version: 2, Wrapper: 5, Wrapped: randBytes(48)}})
	must(t, err)
	wantShredSecret(t, "second PutShredSecret", got, s3)
	wantStoredShredSecret(t, d, "ShredSecret", s3)

	s7 := putShredSecret(t, d, a, candor.Contacts, 7)
	notes := putShredSecret(t, d, a, candor.Notes, 3)
	theirs := putShredSecret(t, d, b, candor.Contacts, 3)
	_, err = d.ShredSecret(ctx, a, candor.Contacts, 4)
	wantKind(t, err, candor.NotFound)
	_, err = d.ShredSecret(ctx, a, candor.Photos, 3)
	wantKind(t, err, candor.NotFound)

	// A zero Created is the time of the call.
	got, err = d.PutShredSecret(ctx, store.ShredSecret{Account: b, Category: candor.Photos, Epoch: 1,
		Key: store.WrappedKey{Version: 1, Wrapper: 1, Wrapped: randBytes(48)}})
	must(t, err)
	if !recent(got.Key.Created) {
		t.Fatalf("zero Created stored as %v, want the time of the call", got.Key.Created)
	}

	// Keep the current epoch: the older ones go.
	n, err := d.DeleteShredSecrets(ctx, a, candor.Contacts, 7)
	must(t, err)
	if n != 1 {
		t.Fatalf("DeleteShredSecrets keeping epoch 7 = %d, want 1", n)
	}
	_, err = d.ShredSecret(ctx, a, candor.Contacts, 3)
	wantKind(t, err, candor.NotFound)
	wantStoredShredSecret(t, d, "kept secret", s7)
	wantStoredShredSecret(t, d, "secret of another category", notes)
	wantStoredShredSecret(t, d, "secret of another account", theirs)

	// Keep none.
	s9 := putShredSecret(t, d, a, candor.Contacts, 9)
	n, err = d.DeleteShredSecrets(ctx, a, candor.Contacts, 0)
	must(t, err)
	if n != 2 {
		t.Fatalf("DeleteShredSecrets keeping none = %d, want 2", n)
	}
	for _, s := range []store.ShredSecret{s7, s9} {
		_, err := d.ShredSecret(ctx, s.Account, s.Category, s.Epoch)
		wantKind(t, err, candor.NotFound)
	}
	n, err = d.DeleteShredSecrets(ctx, a, candor.Contacts, 0)
	must(t, err)
	if n != 0 {
		t.Fatalf("DeleteShredSecrets of nothing = %d", n)
	}
	// Keeping an epoch that has no secret deletes the others.
	n, err = d.DeleteShredSecrets(ctx, a, candor.Notes, 8)
	must(t, err)
	if n != 1 {
		t.Fatalf("DeleteShredSecrets keeping an absent epoch = %d, want 1", n)
	}
	wantStoredShredSecret(t, d, "secret of another account at the end", theirs)

	// The epoch is free again once deleted.
	putShredSecret(t, d, a, candor.Contacts, 3)

	// Chosen here: an empty account, an unknown category or an epoch that
	// is not positive is Invalid.
	for name, bad := range map[string]store.ShredSecret{
		"no account":       {Category: candor.Contacts, Epoch: 1},
		"unknown category": {Account: a, Category: "calendar", Epoch: 1},
		"epoch 0":          {Account: a, Category: candor.Contacts, Epoch: 0},
	} {
		_, err := d.PutShredSecret(ctx, bad)
		if !candor.Is(err, candor.Invalid) {
			t.Fatalf("PutShredSecret with %s = %v, want Invalid", name, err)
		}
	}
}

// testConcurrentPutShredSecret checks that racing first puts of one
// epoch's secret all get the one that was stored: two halves of one data
// key must never disagree.
func testConcurrentPutShredSecret(t *testing.T, d store.Directory) {
	ctx := t.Context()
	a := candor.AccountID(newID("acc"))
	const n = 8
	var wg sync.WaitGroup
	got := make([]store.ShredSecret, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			got[i], err = d.PutShredSecret(ctx, store.ShredSecret{Account: a, Category: candor.SMS, Epoch: 2,
				Key: store.WrappedKey{Version: int64(i + 1), Wrapper: 1, Wrapped: randBytes(48)}})
			if err != nil {
				t.Errorf("PutShredSecret: %v", err)
			}
		}()
	}
	wg.Wait()
	stored, err := d.ShredSecret(ctx, a, candor.SMS, 2)
	must(t, err)
	for i := range n {
		wantShredSecret(t, "raced PutShredSecret", got[i], stored)
	}
}

// Secrets under an earlier wrapper are listed, lowest first and no more
// than asked; a rewrap applies only while the stored secret still has its
// old wrapper, keeps its creation time, and a deleted one is skipped.
func testRewrapShredSecrets(t *testing.T, d store.Directory) {
	ctx := t.Context()
	a := candor.AccountID(newID("acc"))
	put := func(c candor.Category, wrapper int64) store.ShredSecret {
		s := store.ShredSecret{Account: a, Category: c, Epoch: 1,
			Key: store.WrappedKey{Version: 2, Wrapper: wrapper, Wrapped: randBytes(48), Created: testTime}}
		_, err := d.PutShredSecret(ctx, s)
		must(t, err)
		return s
	}
	notes, contacts, sms := put(candor.Notes, 7), put(candor.Contacts, 5), put(candor.SMS, 9)

	_, err := d.ShredSecretsWrappedBefore(ctx, 9, 0)
	wantKind(t, err, candor.Invalid)
	list, err := d.ShredSecretsWrappedBefore(ctx, 9, 10)
	must(t, err)
	if len(list) != 2 {
		t.Fatalf("wrapped before 9: %d secrets, want 2", len(list))
	}
	wantShredSecret(t, "lowest wrapper first", list[0], contacts)
	wantShredSecret(t, "then", list[1], notes)
	if list, err = d.ShredSecretsWrappedBefore(ctx, 9, 1); err != nil || len(list) != 1 {
		t.Fatalf("limit 1: %d secrets, %v", len(list), err)
	}

	newKey := func(s store.ShredSecret, wrapper int64) store.Rewrap {
		return store.Rewrap{Account: s.Account, Category: s.Category, Epoch: s.Epoch, OldWrapper: s.Key.Wrapper,
			Key: store.WrappedKey{Version: 2, Wrapper: wrapper, Wrapped: randBytes(48), Created: s.Key.Created}}
	}
	stale := newKey(notes, 10)
	stale.OldWrapper = 6 // not what is stored
	_, err = d.DeleteShredSecrets(ctx, a, candor.SMS, 0)
	must(t, err)
	rw := newKey(contacts, 10)
	n, err := d.RewrapShredSecrets(ctx, []store.Rewrap{rw, stale, newKey(sms, 10)})
	must(t, err)
	if n != 1 {
		t.Fatalf("applied %d rewraps, want 1 (the others are stale or deleted)", n)
	}
	wantStoredShredSecret(t, d, "re-wrapped", store.ShredSecret{Account: a, Category: candor.Contacts, Epoch: 1, Key: rw.Key})
	wantStoredShredSecret(t, d, "stale rewrap not applied", notes)
	if _, err := d.ShredSecret(ctx, a, candor.SMS, 1); !candor.Is(err, candor.NotFound) {
		t.Fatalf("a deleted secret came back: %v", err)
	}
	if list, err = d.ShredSecretsWrappedBefore(ctx, 10, 10); err != nil || len(list) != 1 || list[0].Category != candor.Notes {
		t.Fatalf("after the rewrap, wrapped before 10: %+v, %v", list, err)
	}
}
