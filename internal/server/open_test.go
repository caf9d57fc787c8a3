package server_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/server/servertest"
	"github.com/candorcloud/candor/internal/store/pgtest"
)

// A configured PostgreSQL database that cannot be opened stops the server
// with an error naming it and saying why, instead of a panic in Close.
func TestPostgresOpenErrors(t *testing.T) {
	base := os.Getenv(pgtest.Env)
	if base == "" {
		t.Skip("PostgreSQL tests skipped: set " + pgtest.Env)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	missing := *u
	missing.Path = "/candor_no_such_database"
	good := servertest.Postgres(t)

	for name, pg := range map[string]*server.Postgres{
		"directory": {Directory: missing.String(), Regions: good.Regions},
		"region":    {Directory: good.Directory, Regions: withRegion(good.Regions, "sg", missing.String())},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := server.New(context.Background(), server.Config{Data: t.TempDir(), Postgres: pg, Logger: quiet()})
			if err == nil {
				s.Close()
				t.Fatal("the server started")
			}
			msg := err.Error()
			for _, want := range []string{name, "candor_no_such_database", "does not exist"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not say %q", msg, want)
				}
			}
		})
	}
}

// A schema named by search_path that does not exist yet is created when
// the server opens the store, quoted as the name is written.
func TestPostgresCreatesSchema(t *testing.T) {
	base := os.Getenv(pgtest.Env)
	if base == "" {
		t.Skip("PostgreSQL tests skipped: set " + pgtest.Env)
	}
	b := make([]byte, 6)
	rand.Read(b)
	plain := "candor_new_" + hex.EncodeToString(b)
	odd := "Candor New-" + hex.EncodeToString(b) // needs quoting
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, s := range []string{`"` + plain + `"`, `"` + odd + `"`} {
			if _, err := admin.Exec("DROP SCHEMA IF EXISTS " + s + " CASCADE"); err != nil {
				t.Errorf("drop schema %s: %v", s, err)
			}
		}
		admin.Close()
	})
	dsn := func(searchPath string) string {
		u, _ := url.Parse(base)
		q := u.Query()
		q.Del("search_path")
		u.RawQuery = q.Encode()
		if u.RawQuery != "" {
			u.RawQuery += "&"
		}
		u.RawQuery += "search_path=" + url.PathEscape(searchPath) // a space as %20: pgx reads + as itself
		return u.String()
	}
	pg := servertest.Postgres(t)
	pg.Directory = dsn(strings.ToUpper(plain)) // unquoted: folded to lower case, as PostgreSQL does
	pg.Regions = withRegion(pg.Regions, "in", dsn(`"`+odd+`"`))
	env := servertest.StartWith(t, server.Config{Postgres: pg})
	signup(t, env, "IN")
	for _, s := range []string{plain, odd} {
		var tables int
		if err := admin.QueryRow(`SELECT count(*) FROM information_schema.tables WHERE table_schema = $1`, s).Scan(&tables); err != nil {
			t.Fatal(err)
		}
		if tables == 0 {
			t.Errorf("schema %q was not created and migrated", s)
		}
	}
}

// Names like host names are accepted, and names that would not make a
// note key name or NATS subject tokens are refused at start.
func TestConfigName(t *testing.T) {
	for name, ok := range map[string]bool{
		"candor":                       true,
		"candor.example.org":           true,
		"Candor-EU_1.example":          true,
		"a." + strings.Repeat("b", 62): true,
		"a." + strings.Repeat("b", 63): false,
		".candor":                      false,
		"candor.":                      false,
		"candor..org":                  false,
		"candor example":               false,
		"candor+1":                     false,
		"candor.*":                     false,
		"candor.>":                     false,
	} {
		s, err := server.New(context.Background(), server.Config{Data: t.TempDir(), Name: name, Logger: quiet()})
		if err == nil {
			s.Close()
		}
		if (err == nil) != ok {
			t.Errorf("name %q: %v, want accepted %v", name, err, ok)
		}
	}
}

func withRegion(m map[candor.RegionID]string, id candor.RegionID, dsn string) map[candor.RegionID]string {
	out := map[candor.RegionID]string{}
	for k, v := range m {
		out[k] = v
	}
	out[id] = dsn
	return out
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
