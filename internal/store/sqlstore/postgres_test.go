package sqlstore

import (
	"os"
	"testing"

	"github.com/candorcloud/candor/internal/store"
	"github.com/candorcloud/candor/internal/store/pgtest"
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
	if os.Getenv(pgtest.Env) == "" {
		t.Skip("PostgreSQL tests skipped: set CANDOR_TEST_POSTGRES, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	return t
}

func openPostgresRegion(t *testing.T) store.Region { return newPostgresRegion(t, pgtest.Schema(t)) }

func openPostgresDirectory(t *testing.T) store.Directory {
	d, err := OpenPostgresDirectory(t.Context(), pgtest.Schema(t))
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

func TestPostgresContent(t *testing.T) {
	storetest.TestContent(needPostgres(t), func(t *testing.T) store.Content { return openPostgresDirectory(t).(store.Content) })
}
