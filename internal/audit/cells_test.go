package audit_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"reflect"
	"testing"

	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/store"
)

// A writer on the database edits each cell of a log's tables, one at a
// time: every edit either leaves every owner's view of the log as it was,
// or makes Verify fail. (The attack this closes: the account column, which
// chooses whose access log shows an entry, was outside the hashed entry;
// zeroing it hid an owner's entries and Verify still said ok.)
func TestEveryCellIsCovered(t *testing.T) {
	onEachBackend(t, func(t *testing.T, open opener) {
		d := open(t, keys("deployment"))
		d.grow(t, region, 12, 4, 9, 12)
		// One entry of no account, so an edit can also give an entry to
		// an owner.
		if _, err := d.region.AppendAudit(t.Context(), d.logs.Record(audit.Event{Actor: audit.ActorSystem, Action: audit.ActionRetention, Outcome: audit.OK})); err != nil {
			t.Fatal(err)
		}
		if _, err := d.logs.Checkpoint(t.Context(), region); err != nil {
			t.Fatal(err)
		}
		owners := [][]byte{}
		for i := range 3 {
			b, _ := hex.DecodeString(fmt.Sprintf("%032x", 0xacc0+i))
			owners = append(owners, b)
		}
		view := func() [][]store.AuditEntry {
			var out [][]store.AuditEntry
			for _, o := range owners {
				es, err := d.region.AuditEntriesFor(t.Context(), o, -1, 100)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, es)
			}
			return out
		}
		before := view()
		if r, err := d.logs.Verify(t.Context(), region); err != nil || !r.OK {
			t.Fatalf("the untouched log: %+v %v", r, err)
		}
		tables := []struct{ name, key string }{
			{"audit_entries", "idx"}, {"audit_hashes", "idx"}, {"audit_checkpoints", "size"}, {"audit_head", "id"},
		}
		edits, hidden := 0, 0
		for _, tb := range tables {
			for _, cell := range cells(t, d, tb.name, tb.key) {
				for _, v := range cell.others() {
					if _, err := d.raw.ExecContext(t.Context(), d.rebind(`UPDATE `+tb.name+` SET `+cell.column+` = ? WHERE `+tb.key+` = ?`), v, cell.key); err != nil {
						continue // the schema refuses this edit (a key taken, a hash's length)
					}
					edits++
					changed := !reflect.DeepEqual(view(), before)
					r, err := d.logs.Verify(t.Context(), region)
					if err != nil {
						t.Fatalf("%s.%s of row %v set to %v: Verify: %v", tb.name, cell.column, cell.key, v, err)
					}
					if changed {
						hidden++
						if r.OK {
							t.Errorf("%s.%s of row %v set to %v changes an owner's view, and Verify says ok", tb.name, cell.column, cell.key, v)
						}
					}
					restoreKey := cell.key
					if cell.column == tb.key {
						restoreKey = v
					}
					d.exec(t, `UPDATE `+tb.name+` SET `+cell.column+` = ? WHERE `+tb.key+` = ?`, cell.value, restoreKey)
				}
			}
		}
		if r, err := d.logs.Verify(t.Context(), region); err != nil || !r.OK || !reflect.DeepEqual(view(), before) {
			t.Fatalf("the log after every edit was undone: %+v %v", r, err)
		}
		if edits < 100 || hidden == 0 {
			t.Fatalf("%d edits, %d changing a view: the test did not attack", edits, hidden)
		}
		t.Logf("%d single-cell edits, %d of them changing an owner's view; Verify failed on each of those", edits, hidden)
	})
}

// cell is one stored value of a table row.
type cell struct {
	key    any // the row's key
	column string
	value  any
}

// others are the values an attacker would write in place of the cell's:
// zeros, another owner, a flipped byte, a neighbouring number, NULL.
func (c cell) others() []any {
	switch v := c.value.(type) {
	case int64:
		return []any{v + 1, v - 1, int64(0)}
	case []byte:
		flipped := bytes.Clone(v)
		if len(flipped) > 0 {
			flipped[len(flipped)/2] ^= 0x01
		}
		other, _ := hex.DecodeString(fmt.Sprintf("%032x", 0xacc0))
		return []any{flipped, make([]byte, len(v)), other, nil}
	case nil:
		other, _ := hex.DecodeString(fmt.Sprintf("%032x", 0xacc1))
		return []any{other}
	}
	return nil
}

// cells reads every cell of a table.
func cells(t *testing.T, d *deployment, table, key string) []cell {
	t.Helper()
	rows, err := d.raw.QueryContext(t.Context(), `SELECT * FROM `+table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []cell
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var k any
		for i, c := range cols {
			if c == key {
				k = vals[i]
			}
		}
		for i, c := range cols {
			v := vals[i]
			if n, ok := v.(int32); ok {
				v = int64(n)
			}
			out = append(out, cell{key: k, column: c, value: v})
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
