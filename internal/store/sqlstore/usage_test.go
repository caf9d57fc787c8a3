package sqlstore

import (
	"path/filepath"
	"strings"
	"testing"
)

// The summary's sums cost one index range per category, whatever else
// the region holds: SQLite plans each as a search of an index on
// (account, category), never a scan of the table.
func TestUsageQueriesSearchAnIndex(t *testing.T) {
	r := newSQLiteRegion(t, filepath.Join(t.TempDir(), "candor.db"))
	for name, query := range map[string]string{"records": usageOfRecords, "uploads": usageOfUploads} {
		args := []any{"acc_x", "contacts", true}[:strings.Count(query, "?")]
		rows, err := r.db.reader().query(t.Context(), `EXPLAIN QUERY PLAN `+query, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		all := strings.Join(plan, "; ")
		if !strings.Contains(all, "SEARCH "+name+" USING") || strings.Contains(all, "SCAN "+name) || !strings.Contains(all, "account=? AND category=?") {
			t.Errorf("%s: plan %q, want a search of an index on (account, category)", name, all)
		}
	}
}
