package storetest

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// The rotation of a region's KEK: list the data keys wrapped by older
// versions, rewrap them, and delete the old version once nothing needs it.

// wrappedKey turns c on for a and creates its data key, wrapped by KEK
// version wrapper.
func (rt regionT) wrappedKey(a candor.AccountID, c candor.Category, wrapper int64) store.DataKey {
	rt.Helper()
	rt.haveKEK(wrapper)
	k, err := rt.r.CreateDataKey(rt.ctx, store.DataKey{Account: a, Category: c, Epoch: rt.enable(a, c),
		Key: store.WrappedKey{Version: 1, Wrapper: wrapper, Wrapped: randBytes(60), Created: testTime}})
	must(rt.T, err)
	return k
}

// haveKEK stores KEK version v unless it is stored already: a data key
// can be created only under a stored version.
func (rt regionT) haveKEK(v int64) {
	rt.Helper()
	err := rt.r.PutKEK(rt.ctx, store.WrappedKey{Version: v, Wrapper: 1, Wrapped: randBytes(72), Created: testTime})
	if err != nil && !candor.Is(err, candor.Conflict) {
		rt.Fatalf("PutKEK %d: %v", v, err)
	}
}

func (rt regionT) counts() map[int64]int {
	rt.Helper()
	n, err := rt.r.CountDataKeys(rt.ctx)
	must(rt.T, err)
	return n
}

func (rt regionT) wantCounts(what string, want map[int64]int) {
	rt.Helper()
	if got := rt.counts(); !maps.Equal(got, want) {
		rt.Fatalf("%s: CountDataKeys = %v, want %v", what, got, want)
	}
}

func (rt regionT) rewrap(rewraps ...store.Rewrap) int {
	rt.Helper()
	n, err := rt.r.RewrapDataKeys(rt.ctx, rewraps)
	must(rt.T, err)
	return n
}

func wantDataKey(t *testing.T, what string, got, want store.DataKey) {
	t.Helper()
	if got.Account != want.Account || got.Category != want.Category || got.Epoch != want.Epoch ||
		got.Key.Version != want.Key.Version || got.Key.Wrapper != want.Key.Wrapper {
		t.Fatalf("%s = %s/%s epoch %d v%d/%d, want %s/%s epoch %d v%d/%d", what,
			got.Account, got.Category, got.Epoch, got.Key.Version, got.Key.Wrapper,
			want.Account, want.Category, want.Epoch, want.Key.Version, want.Key.Wrapper)
	}
	wantBytes(t, what+" wrapped", got.Key.Wrapped, want.Key.Wrapped)
	wantTime(t, what+" created", got.Key.Created, want.Key.Created)
}

// wantStored fails unless the stored data key of (k.Account, k.Category)
// is k.
func (rt regionT) wantStored(what string, k store.DataKey) {
	rt.Helper()
	got, err := rt.r.DataKey(rt.ctx, k.Account, k.Category)
	must(rt.T, err)
	wantDataKey(rt.T, what, got, k)
}

// rewrapTo returns the rewrap of k to a fresh key wrapped by wrapper, and
// the data key as it will be stored.
func rewrapTo(k store.DataKey, wrapper int64) (store.Rewrap, store.DataKey) {
	next := k
	next.Key = store.WrappedKey{Version: k.Key.Version, Wrapper: wrapper, Wrapped: randBytes(60), Created: testTime.Add(time.Hour)}
	return store.Rewrap{Account: k.Account, Category: k.Category, Epoch: k.Epoch, OldWrapper: k.Key.Wrapper, Key: next.Key}, next
}

func byAccountCategory(a, b store.DataKey) int {
	return cmp.Or(cmp.Compare(a.Account, b.Account), cmp.Compare(a.Category, b.Category))
}

func testDataKeysWrappedBefore(t *testing.T, r store.Region) {
	rt := with(t, r)
	ks, err := r.DataKeysWrappedBefore(rt.ctx, 10, 10)
	must(t, err)
	if len(ks) != 0 {
		t.Fatalf("DataKeysWrappedBefore of an empty store = %d keys", len(ks))
	}
	// Chosen here, as for Changes: the limit must be positive.
	for _, limit := range []int{0, -1} {
		_, err := r.DataKeysWrappedBefore(rt.ctx, 10, limit)
		wantKind(t, err, candor.Invalid)
	}

	// Wrappers 1, 2 and 3 interleaved in (account, category) order, so that
	// keys of several versions must be merged into one order.
	var all []store.DataKey
	for i := range 6 {
		a := rt.newAccount()
		for j, c := range []candor.Category{candor.Notes, candor.Contacts} {
			all = append(all, rt.wrappedKey(a, c, int64((2*i+j)%3+1)))
		}
	}
	slices.SortFunc(all, byAccountCategory)
	for _, kek := range []int64{1, 2, 3, 4, 100} {
		var below []store.DataKey
		for _, k := range all {
			if k.Key.Wrapper < kek {
				below = append(below, k)
			}
		}
		for _, limit := range []int{1, 3, 5, len(below), 100} {
			if limit == 0 {
				continue
			}
			got, err := r.DataKeysWrappedBefore(rt.ctx, kek, limit)
			must(t, err)
			want := below[:min(limit, len(below))]
			if len(got) != len(want) {
				t.Fatalf("DataKeysWrappedBefore(%d, %d) = %d keys, want %d", kek, limit, len(got), len(want))
			}
			for i := range want {
				wantDataKey(t, fmt.Sprintf("DataKeysWrappedBefore(%d, %d)[%d]", kek, limit, i), got[i], want[i])
			}
		}
	}

	// A destroyed key is not listed.
	rt.consent(all[0].Account, all[0].Category, false)
	got, err := r.DataKeysWrappedBefore(rt.ctx, 100, 100)
	must(t, err)
	if len(got) != len(all)-1 {
		t.Fatalf("DataKeysWrappedBefore after a key was destroyed = %d keys, want %d", len(got), len(all)-1)
	}
	wantDataKey(t, "first key after a key was destroyed", got[0], all[1])
}

func testCountDataKeys(t *testing.T, r store.Region) {
	rt := with(t, r)
	rt.wantCounts("empty store", map[int64]int{})
	a, b := rt.newAccount(), rt.newAccount()
	rt.wrappedKey(a, candor.Contacts, 1)
	rt.wrappedKey(a, candor.Notes, 1)
	k := rt.wrappedKey(b, candor.Contacts, 1)
	rt.wrappedKey(b, candor.Photos, 2)
	rt.wrappedKey(b, candor.SMS, 7)
	rt.wantCounts("after CreateDataKey", map[int64]int{1: 3, 2: 1, 7: 1})

	rw, _ := rewrapTo(k, 2)
	if n := rt.rewrap(rw); n != 1 {
		t.Fatalf("RewrapDataKeys = %d, want 1", n)
	}
	rt.wantCounts("after a rewrap", map[int64]int{1: 2, 2: 2, 7: 1})
	rt.consent(a, candor.Notes, false)
	rt.wantCounts("after consent off", map[int64]int{1: 1, 2: 2, 7: 1})
	must(t, r.DeleteAccount(rt.ctx, logged(), b))
	rt.wantCounts("after DeleteAccount", map[int64]int{1: 1})
}

func testRewrapDataKeys(t *testing.T, r store.Region) {
	rt := with(t, r)
	a, b := rt.newAccount(), rt.newAccount()
	moved := rt.wrappedKey(a, candor.Contacts, 1)
	destroyed := rt.wrappedKey(a, candor.Notes, 1)
	reEnabled := rt.wrappedKey(a, candor.Photos, 1)
	wrongWrapper := rt.wrappedKey(b, candor.Contacts, 1)
	untouched := rt.wrappedKey(b, candor.Notes, 1)

	n, err := r.RewrapDataKeys(rt.ctx, nil)
	must(t, err)
	if n != 0 {
		t.Fatalf("RewrapDataKeys of nothing = %d", n)
	}

	rwMoved, wantMoved := rewrapTo(moved, 2)
	rwDestroyed, _ := rewrapTo(destroyed, 2)
	rwReEnabled, _ := rewrapTo(reEnabled, 2)
	rwWrong, _ := rewrapTo(wrongWrapper, 2)
	rwWrong.OldWrapper = 3
	rwUnknown, _ := rewrapTo(store.DataKey{Account: candor.AccountID(newID("acc")), Category: candor.Contacts, Epoch: 1,
		Key: store.WrappedKey{Version: 1, Wrapper: 1}}, 2)

	// Meanwhile one key is destroyed, and another replaced in a new epoch
	// by a key wrapped by the same version.
	rt.consent(a, candor.Notes, false)
	rt.consent(a, candor.Photos, false)
	replaced := rt.wrappedKey(a, candor.Photos, 1)

	if n := rt.rewrap(rwReEnabled, rwWrong, rwMoved, rwUnknown, rwDestroyed); n != 1 {
		t.Fatalf("RewrapDataKeys = %d applied, want 1", n)
	}
	rt.wantStored("rewrapped key", wantMoved)
	rt.wantNoDataKey(a, candor.Notes) // not brought back
	rt.wantStored("key of a new epoch", replaced)
	rt.wantStored("key with another wrapper", wrongWrapper)
	rt.wantStored("key not named", untouched)
	_, err = r.DataKey(rt.ctx, rwUnknown.Account, rwUnknown.Category)
	wantKind(t, err, candor.NotFound)

	// Applied again, nothing matches: the stored key is wrapped by 2 now.
	if n := rt.rewrap(rwMoved); n != 0 {
		t.Fatalf("repeated RewrapDataKeys = %d applied, want 0", n)
	}
	rt.wantStored("rewrapped key after a repeated rewrap", wantMoved)

	// A zero Created is the time of the call.
	rw, next := rewrapTo(untouched, 2)
	rw.Key.Created = time.Time{}
	if n := rt.rewrap(rw); n != 1 {
		t.Fatalf("RewrapDataKeys = %d applied, want 1", n)
	}
	got, err := r.DataKey(rt.ctx, b, candor.Notes)
	must(t, err)
	if !recent(got.Key.Created) {
		t.Fatalf("zero Created stored as %v, want the time of the call", got.Key.Created)
	}
	wantBytes(t, "wrapped", got.Key.Wrapped, next.Key.Wrapped)

	// Chosen here: two rewraps of one key in a call are Invalid and
	// nothing is written.
	rw1, _ := rewrapTo(wrongWrapper, 5)
	rw2, _ := rewrapTo(wrongWrapper, 6)
	rw3, _ := rewrapTo(replaced, 5)
	_, err = r.RewrapDataKeys(rt.ctx, []store.Rewrap{rw1, rw3, rw2})
	wantKind(t, err, candor.Invalid)
	rt.wantStored("key after a refused call", wrongWrapper)
	rt.wantStored("other key after a refused call", replaced)

	// A large call, mostly of keys that do not exist, applies the few that
	// do.
	var many []store.Rewrap
	var want []store.DataKey
	for i := range 1200 {
		rw, next := rewrapTo(store.DataKey{Account: candor.AccountID(fmt.Sprintf("acc_%04d", i)), Category: candor.Contacts,
			Epoch: 1, Key: store.WrappedKey{Version: 1, Wrapper: 1}}, 2)
		switch i {
		case 100:
			rw, next = rewrapTo(wrongWrapper, 4)
		case 900:
			rw, next = rewrapTo(replaced, 4)
		default:
			many = append(many, rw)
			continue
		}
		many = append(many, rw)
		want = append(want, next)
	}
	if n := rt.rewrap(many...); n != len(want) {
		t.Fatalf("RewrapDataKeys of %d = %d applied, want %d", len(many), n, len(want))
	}
	for _, k := range want {
		rt.wantStored("key rewrapped in a large call", k)
	}
}

func testDeleteKEK(t *testing.T, r store.Region) {
	rt := with(t, r)
	k1 := store.WrappedKey{Version: 1, Wrapper: 1, Wrapped: randBytes(72), Created: testTime}
	k2 := store.WrappedKey{Version: 2, Wrapper: 1, Wrapped: randBytes(72), Created: testTime}
	must(t, r.PutKEK(rt.ctx, k1))
	must(t, r.PutKEK(rt.ctx, k2))
	a := rt.newAccount()
	old := rt.wrappedKey(a, candor.Contacts, 1)
	rt.wrappedKey(a, candor.Notes, 2)
	wantVersions := func(what string, want ...int64) {
		t.Helper()
		ks, err := r.KEKs(rt.ctx)
		must(t, err)
		var got []int64
		for _, k := range ks {
			got = append(got, k.Version)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s: KEK versions %v, want %v", what, got, want)
		}
	}

	wantKind(t, r.DeleteKEK(rt.ctx, 1), candor.Conflict)
	wantKind(t, r.DeleteKEK(rt.ctx, 2), candor.Conflict)
	wantVersions("after refused deletions", 1, 2)
	must(t, r.DeleteKEK(rt.ctx, 3)) // absent: not an error
	wantVersions("after deleting an absent version", 1, 2)

	rw, _ := rewrapTo(old, 2)
	if n := rt.rewrap(rw); n != 1 {
		t.Fatalf("RewrapDataKeys = %d, want 1", n)
	}
	must(t, r.DeleteKEK(rt.ctx, 1))
	wantVersions("after deleting version 1", 2)
	must(t, r.DeleteKEK(rt.ctx, 1))
	wantKind(t, r.DeleteKEK(rt.ctx, 2), candor.Conflict)

	// Destroyed keys need no KEK.
	rt.consent(a, candor.Contacts, false)
	rt.consent(a, candor.Notes, false)
	must(t, r.DeleteKEK(rt.ctx, 2))
	wantVersions("after the keys were destroyed")
}

// testDataKeyUnderRetiredKEK checks that a data key can be created only
// under a stored KEK version: an instance whose cache still names a
// version another instance retired is refused (ErrNoKEK), and nothing is
// written.
func testDataKeyUnderRetiredKEK(t *testing.T, r store.Region) {
	rt := with(t, r)
	rt.haveKEK(1)
	rt.haveKEK(2)
	must(t, r.DeleteKEK(rt.ctx, 1)) // retired: no key used it
	a := rt.newAccount()
	epoch := rt.enable(a, candor.Contacts)
	for _, v := range []int64{1, 3} { // retired, never stored
		_, err := r.CreateDataKey(rt.ctx, store.DataKey{Account: a, Category: candor.Contacts, Epoch: epoch,
			Key: store.WrappedKey{Version: 1, Wrapper: v, Wrapped: randBytes(60)}})
		wantKind(t, err, candor.Conflict)
		if !errors.Is(err, store.ErrNoKEK) {
			t.Fatalf("CreateDataKey under KEK version %d: %v, want ErrNoKEK", v, err)
		}
		rt.wantNoDataKey(a, candor.Contacts)
	}
	if n := rt.counts(); len(n) != 0 {
		t.Fatalf("data keys after refused creates: %v", n)
	}
	k := rt.dataKeyUnder(a, candor.Contacts, epoch, 2)
	if k.Key.Wrapper != 2 {
		t.Fatalf("data key wrapped by %d, want 2", k.Key.Wrapper)
	}
	wantKind(t, r.DeleteKEK(rt.ctx, 2), candor.Conflict)
}

// dataKeyUnder creates the data key of (a, c) for epoch wrapped by KEK
// version wrapper, which must be stored.
func (rt regionT) dataKeyUnder(a candor.AccountID, c candor.Category, epoch, wrapper int64) store.DataKey {
	rt.Helper()
	k, err := rt.r.CreateDataKey(rt.ctx, store.DataKey{Account: a, Category: c, Epoch: epoch,
		Key: store.WrappedKey{Version: 1, Wrapper: wrapper, Wrapped: randBytes(60)}})
	must(rt.T, err)
	return k
}

// testConcurrentRetireKEK races data keys created under a KEK version
// against the deletion of that version: either the deletion fails
// (Conflict) or every create does, so no key is ever left wrapped by a
// version that is gone.
func testConcurrentRetireKEK(t *testing.T, r store.Region) {
	rt := with(t, r)
	const rounds, creators = 8, 4
	for round := range rounds {
		v := int64(100 + round)
		rt.haveKEK(v)
		accounts := make([]candor.AccountID, creators)
		epochs := make([]int64, creators)
		for i := range accounts {
			accounts[i] = rt.newAccount()
			epochs[i] = rt.enable(accounts[i], candor.Notes)
		}
		var wg sync.WaitGroup
		created := make([]error, creators)
		var deleted error
		start := make(chan struct{})
		for i := range accounts {
			wg.Go(func() {
				<-start
				_, created[i] = r.CreateDataKey(rt.ctx, store.DataKey{Account: accounts[i], Category: candor.Notes,
					Epoch: epochs[i], Key: store.WrappedKey{Version: 1, Wrapper: v, Wrapped: randBytes(60)}})
			})
		}
		wg.Go(func() {
			<-start
			deleted = r.DeleteKEK(rt.ctx, v)
		})
		close(start)
		wg.Wait()
		ok := 0
		for i, err := range created {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, store.ErrNoKEK):
				t.Fatalf("round %d: CreateDataKey %d: %v, want nil or ErrNoKEK", round, i, err)
			}
		}
		stored := rt.counts()[v]
		switch {
		case deleted == nil && (ok > 0 || stored > 0):
			t.Fatalf("round %d: KEK version %d deleted while %d keys were created under it (%d stored)", round, v, ok, stored)
		case deleted != nil && !candor.Is(deleted, candor.Conflict):
			t.Fatalf("round %d: DeleteKEK: %v, want nil or Conflict", round, deleted)
		case deleted != nil && stored == 0:
			t.Fatalf("round %d: DeleteKEK refused with no key under the version", round)
		case stored != ok:
			t.Fatalf("round %d: %d keys stored under version %d, %d creates succeeded", round, stored, v, ok)
		}
	}
}

// testRotation runs a rotation as the layers above do: page through the
// keys wrapped before the new version, rewrap each page, then delete the
// old versions.
func testRotation(t *testing.T, r store.Region) {
	rt := with(t, r)
	for v := int64(1); v <= 3; v++ {
		must(t, r.PutKEK(rt.ctx, store.WrappedKey{Version: v, Wrapper: 1, Wrapped: randBytes(72)}))
	}
	want := map[string]store.DataKey{}
	for i := range 9 {
		a := rt.newAccount()
		for j, c := range []candor.Category{candor.Contacts, candor.Photos} {
			k := rt.wrappedKey(a, c, int64((i+j)%3+1))
			want[string(a)+"/"+string(c)] = k
		}
	}
	rt.wantCounts("before rotation", map[int64]int{1: 6, 2: 6, 3: 6})

	const page = 4
	calls := 0
	rewrapped := map[string]bool{}
	for {
		calls++
		if calls > 10 {
			t.Fatal("rotation does not end")
		}
		ks, err := r.DataKeysWrappedBefore(rt.ctx, 3, page)
		must(t, err)
		if len(ks) == 0 {
			break
		}
		if len(ks) > page {
			t.Fatalf("DataKeysWrappedBefore returned %d keys, limit %d", len(ks), page)
		}
		var rws []store.Rewrap
		for _, k := range ks {
			id := string(k.Account) + "/" + string(k.Category)
			if rewrapped[id] {
				t.Fatalf("key %s listed again after it was rewrapped", id)
			}
			rewrapped[id] = true
			rw, next := rewrapTo(k, 3)
			rws = append(rws, rw)
			want[id] = next
		}
		if n := rt.rewrap(rws...); n != len(rws) {
			t.Fatalf("RewrapDataKeys = %d applied, want %d", n, len(rws))
		}
	}
	if len(rewrapped) != 12 || calls != 4 {
		t.Fatalf("rotation rewrapped %d keys in %d calls, want 12 in 4", len(rewrapped), calls)
	}
	rt.wantCounts("after rotation", map[int64]int{3: 18})
	for _, k := range want {
		rt.wantStored("key after rotation", k)
	}
	must(t, r.DeleteKEK(rt.ctx, 1))
	must(t, r.DeleteKEK(rt.ctx, 2))
	wantKind(t, r.DeleteKEK(rt.ctx, 3), candor.Conflict)
}

// testConcurrentRewrap rotates keys while other calls destroy some of
// them: every call must succeed (no deadlock surfaces as an error), no
// destroyed key may come back, and every surviving key ends rewrapped.
func testConcurrentRewrap(t *testing.T, r store.Region) {
	rt := with(t, r)
	const accounts = 24
	var as []candor.AccountID
	for range accounts {
		a := rt.newAccount()
		rt.wrappedKey(a, candor.Contacts, 1)
		rt.wrappedKey(a, candor.Notes, 1)
		as = append(as, a)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			ks, err := r.DataKeysWrappedBefore(rt.ctx, 2, 5)
			if err != nil {
				t.Errorf("DataKeysWrappedBefore: %v", err)
				return
			}
			if len(ks) == 0 {
				return
			}
			var rws []store.Rewrap
			for _, k := range ks {
				rw, _ := rewrapTo(k, 2)
				rws = append(rws, rw)
			}
			if _, err := r.RewrapDataKeys(rt.ctx, rws); err != nil {
				t.Errorf("RewrapDataKeys: %v", err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i, a := range as {
			var err error
			switch i % 3 {
			case 0:
				_, err = r.AppendConsent(rt.ctx, logged(), store.ConsentEvent{Account: a, Category: candor.Notes, On: false,
					Device: candor.DeviceID(newID("dev")), PolicyVersion: candor.PolicyVersion})
			case 1:
				err = r.DeleteAccount(rt.ctx, logged(), a)
			}
			if err != nil {
				t.Errorf("destroying keys of account %d: %v", i, err)
				return
			}
		}
	}()
	wg.Wait()
	if t.Failed() {
		return
	}
	left := 0
	for i, a := range as {
		for _, c := range []candor.Category{candor.Contacts, candor.Notes} {
			destroyed := i%3 == 1 || i%3 == 0 && c == candor.Notes
			k, err := r.DataKey(rt.ctx, a, c)
			switch {
			case destroyed:
				wantKind(t, err, candor.NotFound)
			case err != nil:
				t.Fatalf("DataKey of a key not destroyed: %v", err)
			case k.Key.Wrapper != 2:
				t.Fatalf("key left wrapped by %d after the rotation", k.Key.Wrapper)
			default:
				left++
			}
		}
	}
	rt.wantCounts("after the rotation", map[int64]int{2: left})
}
