package client

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/candorcloud/candor/api"
)

func seqIDs() func() string {
	n := 0
	return func() string { n++; return fmt.Sprintf("copy%d", n) }
}

func TestResolve(t *testing.T) {
	const id = "rec_a"
	a, b := []byte("A"), []byte("B")
	for _, tc := range []struct {
		name   string
		local  record
		remote api.Record
		want   resolution
	}{
		{
			name:   "clean local takes the server's edit",
			local:  record{ID: id, Version: 1, Data: a},
			remote: api.Record{ID: id, Version: 2, Data: b},
			want:   resolution{Keep: &record{ID: id, Version: 2, Data: b}},
		},
		{
			name:   "clean local takes the server's deletion",
			local:  record{ID: id, Version: 1, Data: a},
			remote: api.Record{ID: id, Version: 2, Deleted: true},
			want:   resolution{},
		},
		{
			name:   "both edited to the same data is no conflict",
			local:  record{ID: id, Version: 1, Dirty: true, Data: b},
			remote: api.Record{ID: id, Version: 2, Data: b},
			want:   resolution{Keep: &record{ID: id, Version: 2, Data: b}},
		},
		{
			name:   "both edited differently: the server wins the id, the local edit becomes a copy",
			local:  record{ID: id, Version: 1, Dirty: true, Data: a},
			remote: api.Record{ID: id, Version: 2, Data: b},
			want: resolution{
				Keep: &record{ID: id, Version: 2, Data: b},
				Copy: &record{ID: "copy1", Version: 0, Dirty: true, Data: a},
			},
		},
		{
			name:   "new local record colliding with a server record becomes a copy",
			local:  record{ID: id, Version: 0, Dirty: true, Data: a},
			remote: api.Record{ID: id, Version: 1, Data: b},
			want: resolution{
				Keep: &record{ID: id, Version: 1, Data: b},
				Copy: &record{ID: "copy1", Version: 0, Dirty: true, Data: a},
			},
		},
		{
			name:   "local deletion loses to the server's edit: restored",
			local:  record{ID: id, Version: 1, Dirty: true, Deleted: true},
			remote: api.Record{ID: id, Version: 2, Data: b},
			want:   resolution{Keep: &record{ID: id, Version: 2, Data: b}},
		},
		{
			name:   "local edit beats the server's deletion: pushed again on the tombstone",
			local:  record{ID: id, Version: 1, Dirty: true, Data: a},
			remote: api.Record{ID: id, Version: 2, Deleted: true},
			want:   resolution{Keep: &record{ID: id, Version: 2, Dirty: true, Data: a}},
		},
		{
			name:   "local edit of a record the server no longer has: pushed as new",
			local:  record{ID: id, Version: 3, Dirty: true, Data: a},
			remote: api.Record{ID: id, Version: 0, Deleted: true},
			want:   resolution{Keep: &record{ID: id, Version: 0, Dirty: true, Data: a}},
		},
		{
			name:   "deleted on both sides is gone",
			local:  record{ID: id, Version: 1, Dirty: true, Deleted: true},
			remote: api.Record{ID: id, Version: 2, Deleted: true},
			want:   resolution{},
		},
		{
			name:   "own unanswered edit, edited again since: the new edit goes on top",
			local:  record{ID: id, Version: 1, Dirty: true, Data: b, Sent: []sent{sentOf(2, a)}},
			remote: api.Record{ID: id, Version: 2, Data: a},
			want:   resolution{Keep: &record{ID: id, Version: 2, Dirty: true, Data: b}},
		},
		{
			name:   "own unanswered edit, deleted since: the deletion goes on top",
			local:  record{ID: id, Version: 1, Dirty: true, Deleted: true, Sent: []sent{sentOf(2, a)}},
			remote: api.Record{ID: id, Version: 2, Data: a},
			want:   resolution{Keep: &record{ID: id, Version: 2, Dirty: true, Deleted: true}},
		},
		{
			name:   "own unanswered creation, unchanged since: confirmed",
			local:  record{ID: id, Version: 0, Dirty: true, Data: a, Sent: []sent{sentOf(1, a)}},
			remote: api.Record{ID: id, Version: 1, Data: a},
			want:   resolution{Keep: &record{ID: id, Version: 1, Data: a}},
		},
		{
			name:   "the earlier of two unanswered edits was committed",
			local:  record{ID: id, Version: 1, Dirty: true, Data: []byte("C"), Sent: []sent{sentOf(2, a), sentOf(2, b)}},
			remote: api.Record{ID: id, Version: 2, Data: a},
			want:   resolution{Keep: &record{ID: id, Version: 2, Dirty: true, Data: []byte("C")}},
		},
		{
			name:   "own unanswered deletion: gone",
			local:  record{ID: id, Version: 1, Dirty: true, Deleted: true, Sent: []sent{{Version: 2, Deleted: true}}},
			remote: api.Record{ID: id, Version: 2, Deleted: true},
			want:   resolution{},
		},
		{
			name:   "the same version with other data is another phone's: a conflict",
			local:  record{ID: id, Version: 1, Dirty: true, Data: []byte("C"), Sent: []sent{sentOf(2, a)}},
			remote: api.Record{ID: id, Version: 2, Data: b},
			want: resolution{
				Keep: &record{ID: id, Version: 2, Data: b},
				Copy: &record{ID: "copy1", Version: 0, Dirty: true, Data: []byte("C")},
			},
		},
		{
			name:   "a later version cannot be told from another phone's: a conflict",
			local:  record{ID: id, Version: 1, Dirty: true, Data: []byte("C"), Sent: []sent{sentOf(2, a)}},
			remote: api.Record{ID: id, Version: 3, Data: a},
			want: resolution{
				Keep: &record{ID: id, Version: 3, Data: a},
				Copy: &record{ID: "copy1", Version: 0, Dirty: true, Data: []byte("C")},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := resolve(tc.local, tc.remote, seqIDs())
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("resolve =\n keep %+v copy %+v\nwant\n keep %+v copy %+v", got.Keep, got.Copy, tc.want.Keep, tc.want.Copy)
			}
			// No edit is ever lost: a dirty local edit's data survives
			// somewhere, unless the server holds the same data.
			if tc.local.Dirty && !tc.local.Deleted {
				kept := (got.Keep != nil && string(got.Keep.Data) == string(tc.local.Data)) ||
					(got.Copy != nil && string(got.Copy.Data) == string(tc.local.Data))
				if !kept {
					t.Error("the local edit was dropped")
				}
			}
		})
	}
}

func sentOf(version int64, data []byte) sent {
	return sentChange(&record{Data: data}, version-1)
}

// A pushed change is remembered once however often its answer is lost,
// and a deletion of a record whose creation went unanswered is based on
// the version the creation asked for.
func TestSentBookkeeping(t *testing.T) {
	r := &record{ID: "rec_a", Dirty: true, Data: []byte("a")}
	for range 3 {
		r.remember(sentChange(r, r.base()))
	}
	if len(r.Sent) != 1 || r.Sent[0].Version != 1 {
		t.Fatalf("sent = %+v, want one change asking for version 1", r.Sent)
	}
	if !r.wrote(api.Record{ID: "rec_a", Version: 1, Data: []byte("a")}) || r.wrote(api.Record{ID: "rec_a", Version: 1, Data: []byte("b")}) {
		t.Error("own write not told from another")
	}
	r.Deleted, r.Data = true, nil
	if got := r.base(); got != 1 {
		t.Errorf("deletion based on %d, want 1", got)
	}
	r.remember(sentChange(r, r.base()))
	if len(r.Sent) != 2 || !r.Sent[1].Deleted || r.Sent[1].Version != 2 {
		t.Errorf("sent = %+v", r.Sent)
	}
	s := stateOf(r)
	s.applyResult(api.ChangeResult{ID: "rec_a", Status: api.Conflict, Current: &api.Record{}}, seqIDs())
	if s.get("rec_a") != nil {
		t.Error("a deletion of a record the server never got is still pending")
	}
	e := &record{ID: "rec_e", Version: 4, Dirty: true, Data: []byte("e"), Sent: []sent{sentOf(5, []byte("e"))}}
	s = stateOf(e)
	s.applyResult(api.ChangeResult{ID: "rec_e", Status: api.Applied, Version: 5}, seqIDs())
	if e.Dirty || e.Version != 5 || e.Sent != nil {
		t.Errorf("after an answer: %+v", e)
	}
	e.Dirty, e.Sent = true, []sent{sentOf(6, []byte("e"))}
	s.reset()
	if e.Sent != nil {
		t.Error("a reset kept unanswered pushes of the gone cloud copy")
	}
}

func stateOf(rs ...*record) *categoryState {
	s := &categoryState{Records: rs}
	s.reindex()
	return s
}

func TestApplyRemote(t *testing.T) {
	s := stateOf(
		&record{ID: "rec_clean", Version: 1, Data: []byte("x")},
		&record{ID: "rec_dirty", Version: 1, Dirty: true, Data: []byte("mine")},
	)
	ids := seqIDs()
	if s.applyRemote(api.Record{ID: "rec_new", Version: 1, Data: []byte("n")}, ids) {
		t.Error("a new record made a copy")
	}
	s.applyRemote(api.Record{ID: "rec_gone", Version: 2, Deleted: true}, ids) // unknown tombstone: ignored
	s.applyRemote(api.Record{ID: "rec_clean", Version: 1, Data: []byte("echo")}, ids)
	if got := string(s.get("rec_clean").Data); got != "x" {
		t.Errorf("a stale version overwrote the record: %q", got)
	}
	if !s.applyRemote(api.Record{ID: "rec_dirty", Version: 2, Data: []byte("theirs")}, ids) {
		t.Error("a concurrent edit made no copy")
	}
	s.applyRemote(api.Record{ID: "rec_clean", Version: 2, Deleted: true}, ids)
	var got []string
	for _, r := range s.Records {
		got = append(got, fmt.Sprintf("%s v%d dirty=%v %s", r.ID, r.Version, r.Dirty, r.Data))
	}
	want := []string{
		"rec_dirty v2 dirty=false theirs",
		"rec_new v1 dirty=false n",
		"copy1 v0 dirty=true mine",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("records =\n%q\nwant\n%q", got, want)
	}
}

func TestApplyResult(t *testing.T) {
	s := stateOf(
		&record{ID: "rec_a", Version: 0, Dirty: true, Data: []byte("a")},
		&record{ID: "rec_del", Version: 3, Dirty: true, Deleted: true},
		&record{ID: "rec_c", Version: 1, Dirty: true, Data: []byte("mine")},
		&record{ID: "rec_d", Version: 4, Dirty: true, Data: []byte("d")},
	)
	ids := seqIDs()
	s.applyResult(api.ChangeResult{ID: "rec_a", Status: api.Applied, Version: 1}, ids)
	s.applyResult(api.ChangeResult{ID: "rec_del", Status: api.Applied, Version: 4}, ids)
	if !s.applyResult(api.ChangeResult{ID: "rec_c", Status: api.Conflict, Current: &api.Record{ID: "rec_c", Version: 2, Data: []byte("theirs")}}, ids) {
		t.Error("conflict made no copy")
	}
	// A conflict whose current record has version 0 means the server has
	// no such record: the edit is pushed again as new.
	s.applyResult(api.ChangeResult{ID: "rec_d", Status: api.Conflict, Current: &api.Record{}}, ids)
	var got []string
	for _, r := range s.Records {
		got = append(got, fmt.Sprintf("%s v%d dirty=%v %s", r.ID, r.Version, r.Dirty, r.Data))
	}
	want := []string{
		"rec_a v1 dirty=false a",
		"rec_c v2 dirty=false theirs",
		"rec_d v0 dirty=true d",
		"copy1 v0 dirty=true mine",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("records =\n%q\nwant\n%q", got, want)
	}
}

func TestReset(t *testing.T) {
	s := stateOf(
		&record{ID: "rec_a", Version: 5, Data: []byte("a")},
		&record{ID: "rec_b", Version: 2, Dirty: true, Deleted: true},
		&record{ID: "rec_c", Version: 0, Dirty: true, Data: []byte("c")},
		&record{ID: "rec_d", Version: 7, Dirty: true, Data: []byte("d")},
	)
	s.Epoch, s.Cursor = 3, 99
	s.reset()
	if s.Cursor != 0 {
		t.Errorf("cursor = %d, want 0", s.Cursor)
	}
	var got []string
	for _, r := range s.Records {
		got = append(got, fmt.Sprintf("%s v%d dirty=%v %s", r.ID, r.Version, r.Dirty, r.Data))
	}
	want := []string{"rec_a v0 dirty=true a", "rec_c v0 dirty=true c", "rec_d v0 dirty=true d"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("records after reset =\n%q\nwant\n%q", got, want)
	}
	if s.get("rec_b") != nil || s.get("rec_d") == nil {
		t.Error("index not rebuilt")
	}
}

func TestAdoptEpoch(t *testing.T) {
	c := &Client{}
	s := stateOf(&record{ID: "rec_a", Version: 5, Data: []byte("a")})
	if c.adoptEpoch(s, 0) {
		t.Error("an unknown epoch reset the state")
	}
	if c.adoptEpoch(s, 7) || s.Epoch != 7 {
		t.Errorf("first epoch: reset or not adopted (epoch %d)", s.Epoch)
	}
	if c.adoptEpoch(s, 7) {
		t.Error("the same epoch reset the state")
	}
	s.Cursor = 10
	if !c.adoptEpoch(s, 9) || s.Epoch != 9 || s.Cursor != 0 || s.Records[0].Version != 0 || !s.Records[0].Dirty {
		t.Errorf("new epoch: state not reset: %+v %+v", s, s.Records[0])
	}
}
