// Package server composes Candor's services into one HTTP server. This is
// the one place where policy wrappers are put around the services: a handler
// never holds a records service that is not behind the consent gate.
//
// compose.go is the composition, in the order a request meets the
// services; open.go opens the stores it is built on; adapters.go fits them
// to the interfaces the services declare. This file starts and stops it.
package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/blobs"
	"github.com/candorcloud/candor/internal/bus"
	"github.com/candorcloud/candor/internal/content"
	"github.com/candorcloud/candor/internal/custody"
	"github.com/candorcloud/candor/internal/keyring"
	"github.com/candorcloud/candor/internal/messaging"
	"github.com/candorcloud/candor/internal/region"
	"github.com/candorcloud/candor/internal/store"
	"github.com/candorcloud/candor/internal/upkeep"
)

// Server is a composed Candor server.
type Server struct {
	cfg Config

	// Opened by open (open.go).
	dir     store.Directory
	regions map[candor.RegionID]store.Region
	blobs   map[candor.RegionID]blobs.Store
	bus     bus.Bus
	files   content.Files // where public content is kept

	// Made by compose (compose.go).
	keys     *keyring.Keyring
	ceremony *custody.Ceremony
	msgs     *messaging.Service
	content  *content.Service
	upkeep   *upkeep.Loop
	handler  http.Handler
	// migrations runs the region migration jobs this instance holds.
	migrations *region.Migrations
}

// New opens the stores, composes the services and, in dev mode, unseals the
// keyring with the development root key; a production server starts sealed
// and logs what it waits for. Close releases the stores.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg}
	if err := s.start(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) start(ctx context.Context) error {
	if err := s.open(ctx); err != nil {
		return err
	}
	if err := s.compose(); err != nil {
		return err
	}
	if s.cfg.Dev {
		if err := s.unsealDev(ctx); err != nil {
			return err
		}
	} else if err := s.announceSealed(ctx); err != nil {
		return err
	}
	return s.content.UnlockOTA()
}

// announceSealed logs what a production server that starts sealed waits for.
func (s *Server) announceSealed(ctx context.Context) error {
	st, err := s.ceremony.Status(ctx)
	if err != nil {
		return err
	}
	if !st.Initialized {
		s.cfg.Logger.Warn("not initialised: no root key exists yet; run 'candor operator init --shares N --threshold K' to hold the key ceremony")
		return nil
	}
	s.cfg.Logger.Warn("sealed: no personal data is served until custodians unseal the server ('candor operator unseal')",
		"threshold", st.Threshold, "shares", st.Shares)
	return nil
}

func (s *Server) unsealDev(ctx context.Context) error {
	if s.cfg.Data == "" {
		return errors.New("--dev needs a data folder for its development root key")
	}
	if err := os.MkdirAll(s.cfg.Data, 0o700); err != nil {
		return err
	}
	path := filepath.Join(s.cfg.Data, keyring.DevRootFile)
	root, err := keyring.DevRoot(path)
	if err != nil {
		return err
	}
	defer clear(root)
	s.cfg.Logger.Warn("DEVELOPMENT MODE: the root key is kept in the data folder and the server unseals itself; " +
		"anyone who can read the folder can read every account's data. Never use --dev in production.")
	return s.keys.Unseal(ctx, root)
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Background runs the server's upkeep (package upkeep: key rotation,
// audit log verification and checkpoints, expiry, retention, update
// metadata) until ctx is cancelled. Serve runs it; whoever serves Handler
// another way runs it once, beside.
func (s *Server) Background(ctx context.Context) { s.upkeep.Run(ctx) }

// Close stops the migration job this instance runs, if any (another
// instance takes it over once its lease expires), and closes every store.
func (s *Server) Close() error {
	if s.migrations != nil {
		s.migrations.Stop()
	}
	var errs []error
	if s.bus != nil {
		errs = append(errs, s.bus.Close())
	}
	if s.dir != nil {
		errs = append(errs, s.dir.Close())
	}
	for _, st := range s.regions {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// Serve serves HTTP on ln until ctx is cancelled, then shuts down
// gracefully: it stops accepting, lets requests in flight finish within
// ShutdownTimeout, and returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	bg, stopBackground := context.WithCancel(ctx)
	defer stopBackground()
	go s.Background(bg)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-errc
	return err
}

// Run starts a server from cfg, listens on cfg.Addr, calls started with the
// address it listens on, and serves until ctx is cancelled.
func Run(ctx context.Context, cfg Config, started func(addr string)) error {
	s, err := New(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	if started != nil {
		started(ln.Addr().String())
	}
	return s.Serve(ctx, ln)
}
