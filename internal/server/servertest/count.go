package servertest

import (
	"database/sql"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite" // the embedded stores' driver, read-only here
)

// CountRows runs a count query, read-only, against the SQLite store of
// region in the data folder data (candor serve's layout), and returns the
// count. Tests use it to see what the store holds, not what the API says.
func CountRows(t testing.TB, data, region, query string, args ...any) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "regions", region, "candor.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
