// Package pgtest gives tests a fresh PostgreSQL schema in the database named
// by CANDOR_TEST_POSTGRES, and skips them with a clear message when the
// variable is unset.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// Env is the variable that names the test database.
const Env = "CANDOR_TEST_POSTGRES"

// Schema creates a fresh schema, drops it (with everything in it) when the
// test ends, and returns a DSN whose search_path selects it. It skips the
// test when CANDOR_TEST_POSTGRES is unset.
func Schema(t testing.TB) string {
	t.Helper()
	base := os.Getenv(Env)
	if base == "" {
		t.Skip("PostgreSQL tests skipped: set " + Env + ", e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	b := make([]byte, 8)
	rand.Read(b)
	schema := "candor_t_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ExecContext(context.Background(), "CREATE SCHEMA "+schema); err != nil {
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
		t.Fatalf("%s must be a postgres:// URL: %v", Env, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
