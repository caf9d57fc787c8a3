package sqlstore

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/candorcloud/candor/internal/store/pgtest"
)

func TestRebind(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`a = ? AND b = ?`, `a = $1 AND b = $2`},
		{`x = '?' AND y = ? AND "we?ird" = ?`, `x = '?' AND y = $1 AND "we?ird" = $2`},
	} {
		if got := postgresDialect.rebind(tc.in); got != tc.want {
			t.Errorf("rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := sqliteDialect.rebind(tc.in); got != tc.in {
			t.Errorf("sqlite rebind(%q) = %q, want it unchanged", tc.in, got)
		}
	}
}

func TestMigrationFiles(t *testing.T) {
	for _, d := range []string{"sqlite", "postgres"} {
		for _, c := range []string{regionSchema, directorySchema} {
			ms, err := migrations(d, c)
			if err != nil {
				t.Fatalf("%s/%s: %v", d, c, err)
			}
			if len(ms) == 0 {
				t.Fatalf("%s/%s: no migrations", d, c)
			}
			for i, m := range ms {
				if m.version != int64(i+1) {
					t.Fatalf("%s/%s: migration %s out of sequence", d, c, m.name)
				}
			}
		}
	}
}

// TestSQLiteReopen opens the region and directory schemas in one file again
// and again: each migration is applied once, and a schema newer than the
// binary is refused.
func TestSQLiteReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "candor.db")
	for range 3 {
		r, err := OpenSQLiteRegion(path)
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		d, err := OpenSQLiteDirectory(path)
		if err != nil {
			t.Fatal(err)
		}
		d.Close()
	}
	r := newSQLiteRegion(t, path)
	wantMigrations(t, r.db)
	if _, err := r.db.writer().exec(t.Context(), `INSERT INTO schema_migrations (component, version, name, applied_us) VALUES ('region', 999, 'future', 0)`); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenSQLiteRegion(path); err == nil {
		t.Fatal("opened a schema newer than the binary")
	}
}

// TestPostgresConcurrentOpen opens one fresh schema from several goroutines
// at once, as several servers starting together would: all succeed and each
// migration is applied once.
func TestPostgresConcurrentOpen(t *testing.T) {
	dsn := pgtest.Schema(t)
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if i%2 == 0 {
				var r *RegionStore
				if r, err = OpenPostgresRegion(t.Context(), dsn); err == nil {
					r.Close()
				}
			} else {
				var d *DirectoryStore
				if d, err = OpenPostgresDirectory(t.Context(), dsn); err == nil {
					d.Close()
				}
			}
			if err != nil {
				t.Errorf("open %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	wantMigrations(t, newPostgresRegion(t, dsn).db)
}

func wantMigrations(t *testing.T, d *db) {
	t.Helper()
	for _, c := range []string{regionSchema, directorySchema} {
		ms, err := migrations(d.dialect.name, c)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := d.reader().row(t.Context(), `SELECT COUNT(*) FROM schema_migrations WHERE component = ?`, c).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != len(ms) {
			t.Fatalf("%s: %d migrations recorded, want %d", c, n, len(ms))
		}
	}
}
