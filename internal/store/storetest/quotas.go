package storetest

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

func spend(t *testing.T, d store.Directory, key []byte, now time.Time, n, limit int) (store.Quota, bool) {
	t.Helper()
	q, ok, err := d.Spend(t.Context(), key, now, time.Hour, n, limit)
	must(t, err)
	return q, ok
}

func testQuotas(t *testing.T, d store.Directory) {
	key, other := randBytes(32), randBytes(32)
	now := testTime
	if q, ok := spend(t, d, key, now, 0, 3); !ok || q.Used != 0 || !sameTime(q.Start, now) {
		t.Fatalf("an unused allowance reads %+v, %v", q, ok)
	}
	if q, ok := spend(t, d, key, now, 2, 3); !ok || q.Used != 2 || !sameTime(q.Start, now) {
		t.Fatalf("first spend: %+v, %v", q, ok)
	}
	later := now.Add(10 * time.Minute)
	if q, ok := spend(t, d, key, later, 2, 3); ok || q.Used != 2 || !sameTime(q.Start, now) {
		t.Fatalf("a spend past the limit was taken or changed the count: %+v, %v", q, ok)
	}
	if q, ok := spend(t, d, key, later, 1, 3); !ok || q.Used != 3 || !sameTime(q.Start, now) {
		t.Fatalf("a spend up to the limit: %+v, %v", q, ok)
	}
	if _, ok := spend(t, d, key, later, 1, 3); ok {
		t.Fatal("a spend past the limit was taken")
	}
	if q, ok := spend(t, d, key, later, 0, 3); !ok || q.Used != 3 {
		t.Fatalf("a read at the limit: %+v, %v", q, ok)
	}
	if _, ok := spend(t, d, key, later, 0, 2); ok {
		t.Fatal("a read of an allowance past a lower limit says it is within it")
	}
	if q, ok := spend(t, d, other, later, 1, 3); !ok || q.Used != 1 {
		t.Fatalf("keys share an allowance: %+v, %v", q, ok)
	}
	if q, ok := spend(t, d, other, later, 5, 3); ok || q.Used != 1 {
		t.Fatalf("n above the limit on its own was taken: %+v, %v", q, ok)
	}

	// Giving back, never below zero.
	if q, _ := spend(t, d, key, later, -1, 3); q.Used != 2 {
		t.Fatalf("after giving one back: %+v", q)
	}
	if q, _ := spend(t, d, key, later, -5, 3); q.Used != 0 {
		t.Fatalf("after giving back more than used: %+v", q)
	}
	if q, ok := spend(t, d, key, later, 3, 3); !ok || q.Used != 3 || !sameTime(q.Start, now) {
		t.Fatalf("after giving back, the window is the same one: %+v, %v", q, ok)
	}

	// A window ends length after it began, and a new one begins at the
	// next use.
	next := now.Add(time.Hour)
	if q, ok := spend(t, d, key, next, 0, 3); !ok || q.Used != 0 {
		t.Fatalf("an ended window reads %+v, %v", q, ok)
	}
	if q, ok := spend(t, d, key, next, 1, 3); !ok || q.Used != 1 || !sameTime(q.Start, next) {
		t.Fatalf("the next window: %+v, %v", q, ok)
	}
	// Giving back into an ended window changes nothing.
	if q, _ := spend(t, d, other, next.Add(time.Hour), -1, 3); q.Used != 0 {
		t.Fatalf("giving back into an ended window: %+v", q)
	}

	// Ended windows are forgotten (other's, begun at later, ended an hour
	// on); current ones are not.
	n, err := d.DeleteEndedQuotas(t.Context(), later.Add(time.Hour))
	must(t, err)
	if n < 1 {
		t.Fatalf("DeleteEndedQuotas forgot %d allowances, want the ended one", n)
	}
	if q, _ := spend(t, d, key, next, 0, 3); q.Used != 1 {
		t.Fatalf("a current window was forgotten: %+v", q)
	}
	if n, err := d.DeleteEndedQuotas(t.Context(), next.Add(time.Hour)); err != nil || n < 1 {
		t.Fatalf("the window that ended at next+1h: %d forgotten, %v", n, err)
	}
	_, _, err = d.Spend(t.Context(), nil, now, time.Hour, 1, 3)
	wantKind(t, err, candor.Invalid)
}

// testConcurrentSpend is the promise quotas exist for: however many
// instances spend one allowance at once, no more than the limit is taken.
func testConcurrentSpend(t *testing.T, d store.Directory) {
	key := randBytes(32)
	const spenders, limit = 24, 10
	var taken atomic.Int64
	var wg sync.WaitGroup
	for range spenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, ok, err := d.Spend(t.Context(), key, testTime, time.Hour, 1, limit)
			if err != nil {
				t.Errorf("Spend: %v", err)
			}
			if ok {
				taken.Add(1)
			}
		}()
	}
	wg.Wait()
	if got := taken.Load(); got != limit {
		t.Fatalf("%d concurrent spenders of an allowance of %d took %d", spenders, limit, got)
	}
}

func testVerifications(t *testing.T, d store.Directory) {
	ctx := t.Context()
	a, b := candor.AccountID(newID("acc")), candor.AccountID(newID("acc"))
	_, err := d.Verification(ctx, a)
	wantKind(t, err, candor.NotFound)
	mac, mac2 := randBytes(32), randBytes(32)
	expires := testTime.Add(10 * time.Minute)
	must(t, d.PutVerification(ctx, store.Verification{Account: a, MAC: mac, Expires: expires}))
	must(t, d.PutVerification(ctx, store.Verification{Account: b, MAC: mac, Expires: expires}))
	got, err := d.Verification(ctx, a)
	must(t, err)
	if got.Account != a || !bytes.Equal(got.MAC, mac) {
		t.Fatalf("Verification = %+v", got)
	}
	wantTime(t, "Expires", got.Expires, expires)

	// A new code replaces the one before.
	must(t, d.PutVerification(ctx, store.Verification{Account: a, MAC: mac2, Expires: expires}))
	if ok, err := d.TakeVerification(ctx, a, mac, testTime); err != nil || ok {
		t.Fatalf("the replaced code was taken: %v, %v", ok, err)
	}
	if ok, err := d.TakeVerification(ctx, a, mac2, expires); err != nil || ok {
		t.Fatalf("an expired code was taken: %v, %v", ok, err)
	}
	if ok, err := d.TakeVerification(ctx, a, mac2, testTime); err != nil || !ok {
		t.Fatalf("the waiting code was not taken: %v, %v", ok, err)
	}
	if ok, err := d.TakeVerification(ctx, a, mac2, testTime); err != nil || ok {
		t.Fatalf("a code was taken twice: %v, %v", ok, err)
	}
	if _, err := d.Verification(ctx, b); err != nil {
		t.Fatalf("taking one account's code touched another's: %v", err)
	}

	// Expired codes are forgotten; waiting ones are not.
	must(t, d.PutVerification(ctx, store.Verification{Account: a, MAC: mac, Expires: testTime}))
	n, err := d.DeleteExpiredVerifications(ctx, testTime.Add(time.Minute))
	must(t, err)
	if n != 1 {
		t.Fatalf("DeleteExpiredVerifications = %d, want 1", n)
	}
	must(t, d.DeleteVerification(ctx, b))
	must(t, d.DeleteVerification(ctx, b))
	_, err = d.Verification(ctx, b)
	wantKind(t, err, candor.NotFound)
}

// testConcurrentTakeVerification: one code, typed at several instances at
// once, is taken once.
func testConcurrentTakeVerification(t *testing.T, d store.Directory) {
	a, mac := candor.AccountID(newID("acc")), randBytes(32)
	must(t, d.PutVerification(t.Context(), store.Verification{Account: a, MAC: mac, Expires: testTime.Add(time.Hour)}))
	var taken atomic.Int64
	var wg sync.WaitGroup
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := d.TakeVerification(t.Context(), a, mac, testTime)
			if err != nil {
				t.Errorf("TakeVerification: %v", err)
			}
			if ok {
				taken.Add(1)
			}
		}()
	}
	wg.Wait()
	if taken.Load() != 1 {
		t.Fatalf("one code was taken %d times", taken.Load())
	}
}
