package records

import (
	"bytes"
	"testing"

	"github.com/candorcloud/candor"
)

func TestValidate(t *testing.T) {
	id := candor.NewRecordID()
	ok := Change{ID: id, Data: []byte("x")}
	many := make([]Change, MaxChanges+1)
	for i := range many {
		many[i] = Change{ID: candor.NewRecordID(), Data: []byte("x")}
	}
	cases := []struct {
		name    string
		changes []Change
		kind    candor.Kind
	}{
		{"one new record", []Change{ok}, 0},
		{"an update and a deletion", []Change{{ID: id, BaseVersion: 2, Data: []byte("y")}, {ID: candor.NewRecordID(), BaseVersion: 1, Deleted: true}}, 0},
		{"empty", nil, candor.Invalid},
		{"too many", many, candor.TooLarge},
		{"not a record id", []Change{{ID: "acc_aaaaaaaaaaaaaaaaaaaaaaaaaa", Data: []byte("x")}}, candor.Invalid},
		{"junk id", []Change{{ID: "../../etc/passwd", Data: []byte("x")}}, candor.Invalid},
		{"twice", []Change{ok, ok}, candor.Invalid},
		{"negative base", []Change{{ID: id, BaseVersion: -1, Data: []byte("x")}}, candor.Invalid},
		{"deletion with data", []Change{{ID: id, BaseVersion: 1, Deleted: true, Data: []byte("x")}}, candor.Invalid},
		{"no data", []Change{{ID: id}}, candor.Invalid},
		{"deleting what was never stored", []Change{{ID: id, Deleted: true}}, candor.Invalid},
		{"too big", []Change{{ID: id, Data: bytes.Repeat([]byte("x"), MaxRecordBytes+1)}}, candor.TooLarge},
		{"biggest allowed", []Change{{ID: id, Data: bytes.Repeat([]byte("x"), MaxRecordBytes)}}, 0},
	}
	for _, tc := range cases {
		err := validate(tc.changes)
		if (tc.kind == 0) != (err == nil) || (err != nil && !candor.Is(err, tc.kind)) {
			t.Errorf("%s: %v, want kind %v", tc.name, err, tc.kind)
		}
	}
}
