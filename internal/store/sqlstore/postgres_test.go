package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/candorcloud/candor/internal/store"
	"github.com/candorcloud/candor/internal/store/storetest"
)

func TestPostgresRegion(t *testing.T) { storetest.TestRegion(needPostgres(t), openPostgresRegion) }

func TestPostgresDirectory(t *testing.T) {
	storetest.TestDirectory(needPostgres(t), openPostgresDirectory)
}

// needPostgres skips t unless CANDOR_TEST_POSTGRES names a database to test
// against, and returns t.
func needPostgres(t *testing.T) *testing.T {
	t.Helper()
	if os.Getenv("CANDOR_TEST_POSTGRES") == "" {
		t.Skip("PostgreSQL tests skipped: set CANDOR_TEST_POSTGRES, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	return t
}

func openPostgresRegion(t *testing.T) store.Region { return newPostgresRegion(t, postgresSchema(t)) }

func openPostgresDirectory(t *testing.T) store.Directory {
	d, err := OpenPostgresDirectory(t.Context(), postgresSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func newPostgresRegion(t *testing.T, dsn string) *RegionStore {
	t.Helper()
	r, err := OpenPostgresRegion(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// postgresSchema creates a fresh schema in the database named by
// CANDOR_TEST_POSTGRES, drops it when the test ends, and returns a DSN whose
// search_path selects it. It skips the test when the variable is unset.
func postgresSchema(t *testing.T) string {
	t.Helper()
	needPostgres(t)
	base := os.Getenv("CANDOR_TEST_POSTGRES")
	b := make([]byte, 8)
	rand.Read(b)
	schema := "candor_t_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	// Registered first, so it runs after the store's own cleanup closes it.
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("CANDOR_TEST_POSTGRES must be a postgres:// URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
