// Package servertest starts real Candor servers for tests: the full
// composition of package server, embedded SQLite in a temporary data folder,
// served over HTTP on 127.0.0.1 by httptest, stopped when the test ends.
//
// Hashing costs are lowered so tests run quickly; everything else is what
// `candor serve --dev` runs. Every request and answer is checked against
// docs/openapi.yaml (CheckAPI): a test fails when the server and its
// description disagree.
package servertest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/account"
	"github.com/candorcloud/candor/internal/region"
	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/store"
	"github.com/candorcloud/candor/internal/store/pgtest"
)

// Env is a running test server.
type Env struct {
	URL    string // base URL, http://127.0.0.1:PORT
	Addr   string // 127.0.0.1:PORT
	Data   string // the server's data folder
	Server *server.Server
	Logs   *Logs // everything the server logged

	once sync.Once
	stop func()
}

// FastAccounts are account settings for tests: cheap server-side hashing
// and a low floor for the device-side cost.
var FastAccounts = account.Config{
	Hash:   account.Argon2{Time: 1, MemoryKiB: 64, Threads: 1},
	MinKDF: store.KDF{Time: 1, MemoryKiB: 8, Threads: 1},
}

// Start starts a dev server in a fresh temporary data folder.
func Start(t testing.TB) *Env {
	t.Helper()
	return StartWith(t, server.Config{})
}

// StartWith starts a dev server with cfg, filling in the data folder, the
// fast account settings and a capturing logger where cfg leaves them empty.
func StartWith(t testing.TB, cfg server.Config) *Env {
	t.Helper()
	cfg.Dev = true
	return start(t, cfg)
}

// StartProduction starts a server with production defaults (no --dev): it
// holds no key until the key ceremony, and starts sealed on every later
// start. Pass the Data of a stopped Env to restart it, and its Addr to keep
// its address.
func StartProduction(t testing.TB, cfg server.Config) *Env {
	t.Helper()
	cfg.Dev = false
	return start(t, cfg)
}

func start(t testing.TB, cfg server.Config) *Env {
	t.Helper()
	if cfg.Data == "" {
		cfg.Data = t.TempDir()
	}
	if cfg.Account.Hash == (account.Argon2{}) {
		cfg.Account.Hash, cfg.Account.MinKDF = FastAccounts.Hash, FastAccounts.MinKDF
	}
	if cfg.HTTP.AuthPerMinute == 0 {
		cfg.HTTP.AuthPerMinute = -1 // tests sign many phones up from one address
	}
	logs := &Logs{}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(io.MultiWriter(logs), nil))
	}
	s, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	handler, stopChecks := CheckAPI(t, s.Handler())
	ts := httptest.NewUnstartedServer(handler)
	if cfg.Addr != "" { // a restart keeps the address the phones know
		ln, err := net.Listen("tcp", cfg.Addr)
		if err != nil {
			t.Fatalf("listen on %s: %v", cfg.Addr, err)
		}
		ts.Listener.Close()
		ts.Listener = ln
	}
	ts.Start()
	bg, stopBackground := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Background(bg); close(done) }()
	env := &Env{URL: ts.URL, Addr: ts.Listener.Addr().String(), Data: cfg.Data, Server: s, Logs: logs}
	env.stop = func() {
		stopBackground()
		<-done
		ts.Close()
		s.Close()
		stopChecks()
	}
	t.Cleanup(env.Stop)
	return env
}

// Stop stops the server now (it is stopped at the end of the test anyway).
func (e *Env) Stop() {
	e.once.Do(e.stop)
}

// Postgres returns a configuration that keeps the directory and every
// default region in fresh PostgreSQL schemas, or skips the test when
// CANDOR_TEST_POSTGRES is unset.
func Postgres(t testing.TB) *server.Postgres {
	t.Helper()
	pg := &server.Postgres{Directory: pgtest.Schema(t), Regions: map[candor.RegionID]string{}}
	for _, id := range region.Defaults().IDs() {
		pg.Regions[id] = pgtest.Schema(t)
	}
	return pg
}
