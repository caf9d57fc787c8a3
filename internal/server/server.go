// Package server composes Candor's services into one HTTP server. This is
// the one place where policy wrappers are put around the services: a handler
// never holds a records service that is not behind the consent gate.
package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/account"
	"github.com/candorcloud/candor/internal/approval"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/blobs"
	"github.com/candorcloud/candor/internal/blobs/disk"
	"github.com/candorcloud/candor/internal/blobs/s3"
	"github.com/candorcloud/candor/internal/bus"
	"github.com/candorcloud/candor/internal/bus/membus"
	"github.com/candorcloud/candor/internal/bus/natsbus"
	"github.com/candorcloud/candor/internal/consent"
	"github.com/candorcloud/candor/internal/consent/gate"
	"github.com/candorcloud/candor/internal/content"
	"github.com/candorcloud/candor/internal/custody"
	"github.com/candorcloud/candor/internal/httpapi"
	"github.com/candorcloud/candor/internal/keyring"
	"github.com/candorcloud/candor/internal/messaging"
	"github.com/candorcloud/candor/internal/photos"
	"github.com/candorcloud/candor/internal/records"
	"github.com/candorcloud/candor/internal/region"
	"github.com/candorcloud/candor/internal/staff"
	"github.com/candorcloud/candor/internal/store"
	"github.com/candorcloud/candor/internal/store/sqlstore"
)

// Server is a composed Candor server.
type Server struct {
	cfg        Config
	dir        store.Directory
	regions    map[candor.RegionID]store.Region
	keys       *keyring.Keyring
	ceremony   *custody.Ceremony
	logs       *audit.Logs
	blobs      map[candor.RegionID]blobs.Store
	photos     *photos.Service
	bus        bus.Bus
	carrier    *messaging.Carrier // the emulated carrier of --dev
	msgs       *messaging.Service
	handler    http.Handler
	wake       chan struct{} // starts background work at once
	signed     time.Time     // when checkpoints were last signed (Background only)
	purged     time.Time     // when retention last ran (Background only)
	migrations *migrations   // migration jobs, in memory
	renewed    time.Time     // when update metadata were last checked for expiry (Background only)

	greetings *content.Greetings // public greetings catalog
	ota       *content.OTA       // signed update metadata (TUF)
}

// New opens the stores, composes the services and, in dev mode, unseals the
// keyring with the development root key. Close releases the stores.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, regions: map[candor.RegionID]store.Region{}, wake: make(chan struct{}, 1)}
	if err := s.open(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.openContent(); err != nil {
		s.Close()
		return nil, err
	}
	regionKeys := map[candor.RegionID]keyring.RegionKeys{}
	for id, st := range s.regions {
		regionKeys[id] = st
	}
	s.keys = keyring.New(s.dir, regionKeys)
	regionLogs := map[candor.RegionID]store.AuditLog{}
	for id, st := range s.regions {
		regionLogs[id] = st
	}
	s.logs = audit.New(s.dir, regionLogs, s.keys, cfg.Name)
	s.ceremony = custody.New(s.dir, s.keys, s.logs)
	if cfg.Dev {
		if err := s.unsealDev(ctx); err != nil {
			s.Close()
			return nil, err
		}
	} else if err := s.announceSealed(ctx); err != nil {
		s.Close()
		return nil, err
	}
	s.compose()
	if err := s.unlockOTA(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
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

func (s *Server) open(ctx context.Context) error {
	if err := s.openMetadata(ctx); err != nil {
		return err
	}
	if err := s.openBlobs(ctx); err != nil {
		return err
	}
	return s.openBus(ctx)
}

// openBus connects to NATS when configured, else makes an in-process bus.
func (s *Server) openBus(ctx context.Context) error {
	if s.cfg.NATS == "" {
		s.bus = membus.New()
		return nil
	}
	b, err := natsbus.Dial(ctx, s.cfg.NATS, strings.ToLower(s.cfg.Name))
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	s.bus = b
	return nil
}

// openBlobs opens each region's blob store: its S3 bucket if configured,
// else a folder under the data folder.
func (s *Server) openBlobs(ctx context.Context) error {
	s.blobs = map[candor.RegionID]blobs.Store{}
	if c := s.cfg.S3; c != nil {
		for _, id := range s.cfg.regions().IDs() {
			b, err := s3.New(ctx, s3.Config{Endpoint: c.Endpoint, AccessKey: c.AccessKey, SecretKey: c.SecretKey,
				UseSSL: c.UseSSL, Region: c.Region, Bucket: c.Buckets[id]})
			if err != nil {
				return fmt.Errorf("region %s blobs: %w", id, err)
			}
			s.blobs[id] = b
		}
		return nil
	}
	if s.cfg.Data == "" {
		return errors.New("blobs: no data folder for the regions' blob stores")
	}
	for _, id := range s.cfg.regions().IDs() {
		b, err := disk.New(filepath.Join(s.cfg.Data, "regions", string(id), "blobs"))
		if err != nil {
			return fmt.Errorf("region %s blobs: %w", id, err)
		}
		s.blobs[id] = b
	}
	return nil
}

func (s *Server) openMetadata(ctx context.Context) error {
	var err error
	if pg := s.cfg.Postgres; pg != nil {
		if s.dir, err = sqlstore.OpenPostgresDirectory(ctx, pg.Directory); err != nil {
			return fmt.Errorf("directory: %w", err)
		}
		for _, id := range s.cfg.regions().IDs() {
			if s.regions[id], err = sqlstore.OpenPostgresRegion(ctx, pg.Regions[id]); err != nil {
				return fmt.Errorf("region %s: %w", id, err)
			}
		}
		return nil
	}
	if err := os.MkdirAll(s.cfg.Data, 0o700); err != nil {
		return err
	}
	if s.dir, err = sqlstore.OpenSQLiteDirectory(filepath.Join(s.cfg.Data, "directory.db")); err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	for _, id := range s.cfg.regions().IDs() {
		dir := filepath.Join(s.cfg.Data, "regions", string(id))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		if s.regions[id], err = sqlstore.OpenSQLiteRegion(filepath.Join(dir, "candor.db")); err != nil {
			return fmt.Errorf("region %s: %w", id, err)
		}
	}
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

// compose puts the services together, each behind its policy wrappers.
func (s *Server) compose() {
	s.migrations = &migrations{s: s}
	stores := regionStores{s}
	ledger := consent.NewLedger(stores, shredder{s}, nil)
	recs := records.New(stores, s.keys, s.cfg.codec)
	// Devices reach records only through the audit log and the consent
	// gate; staff only through the audit log and an approved grant.
	deviceRecords := audit.WrapRecords(gate.NewRecords(ledger, recs), s.logs)
	staffAccess := approval.New(s.dir, ledger, recs, s.logs, approval.Config{Quorum: s.cfg.Quorum})
	acfg := s.cfg.Account
	acfg.Erase = s.eraseBlobs
	accounts := account.New(s.dir, stores, s.keys, s.logs, acfg)
	pcfg := s.cfg.Photos
	if pcfg.UploadTTL == 0 {
		pcfg.UploadTTLIn = func(id candor.RegionID) time.Duration {
			return time.Duration(s.cfg.regions().Rules(id).AbandonedUploads)
		}
	}
	s.photos = photos.New(stores, s.keys, s.logs, pcfg)
	var gateway messaging.Gateway
	if s.cfg.Dev {
		s.carrier = messaging.NewCarrier()
		gateway = s.carrier
	}
	mcfg := s.cfg.Messaging
	if mcfg.Expiry == 0 {
		mcfg.ExpiryIn = func(id candor.RegionID) time.Duration {
			return time.Duration(s.cfg.regions().Rules(id).UndeliveredMessages)
		}
	}
	s.cfg.Messaging = mcfg
	s.msgs = messaging.New(s.dir, stores, ledger, s.keys, gateway, s.bus, s.logs, s.cfg.Messaging)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "candor_sealed", Help: "1 while the server is sealed and serves no personal data.",
	}, func() float64 {
		if s.keys.Sealed() {
			return 1
		}
		return 0
	}))
	s.handler = httpapi.New(httpapi.Services{
		Accounts:   accounts,
		Consent:    audit.WrapConsent(ledger, s.logs),
		Records:    deviceRecords,
		Health:     s,
		Custody:    sealer{s.ceremony, s},
		Staff:      staff.New(s.dir, s.logs),
		StaffAdmin: staff.NewManager(s.dir, s.logs),
		Access:     staffAccess,
		Audit:      s.logs,
		Photos:     gate.NewPhotos(ledger, s.photos),
		Messaging:  gate.NewMessaging(ledger, s.msgs),
		Migrations: s.migrations,
		Retention:  s,
		Carrier:    carrierOrNil(s.carrier),
		Regions:    s,
		Content:    s,
	}, s.cfg.HTTP, s.cfg.Logger, reg, reg)
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Sealed reports whether the server holds no keys.
func (s *Server) Sealed() bool { return s.keys.Sealed() }

// Ready checks that every store answers.
func (s *Server) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := s.dir.SystemKey(ctx, "root-check"); err != nil && !candor.Is(err, candor.NotFound) {
		return fmt.Errorf("directory: %w", err)
	}
	for id, st := range s.regions {
		if _, err := st.KEKs(ctx); err != nil {
			return fmt.Errorf("region %s: %w", id, err)
		}
	}
	return nil
}

// RegionStatus lists the regions with their key versions and data keys.
func (s *Server) RegionStatus(ctx context.Context) []api.RegionStatus {
	var out []api.RegionStatus
	for _, r := range s.cfg.Regions {
		st := api.RegionStatus{ID: string(r.ID), Name: r.Name}
		if rot, err := s.keys.RotationStatus(ctx, r.ID); err == nil {
			st.KeyVersion, st.DataKeys, st.Pending = rot.Version, rot.Total, rot.Pending
		}
		out = append(out, st)
	}
	return out
}

// StartRotation makes a new key version current in a region, logs it, and
// wakes the background re-wrapping of its data keys.
func (s *Server) StartRotation(ctx context.Context, region candor.RegionID, by string) error {
	if _, ok := s.regions[region]; !ok {
		return candor.Errorf(candor.NotFound, "no region %q", region)
	}
	r, err := s.keys.StartRotation(ctx, region)
	if err != nil {
		return err
	}
	if err := s.logs.Append(ctx, audit.Directory, audit.Event{Actor: by, Action: audit.ActionRotate, Outcome: audit.OK,
		Region: string(region), Count: r.Pending}); err != nil {
		return err
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// Background re-wraps the data keys of every region with a key rotation
// pending, in batches, until ctx is cancelled. It checks at start, when a
// rotation starts, and every few seconds, so a rotation interrupted by a
// crash or by sealing resumes by itself.
func (s *Server) Background(ctx context.Context) {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	verified := false
	for {
		for _, id := range s.cfg.regions().IDs() {
			s.rewrap(ctx, id)
		}
		switch {
		case s.keys.Sealed():
			verified = false
			s.ota.Lock()
		case !verified:
			s.verifyLogs(ctx)
			s.warnMoving(ctx)
			verified = true
		}
		if !s.keys.Sealed() {
			s.expireUploads(ctx)
			s.expireMessages(ctx)
			if time.Since(s.purged) > time.Hour {
				if _, err := s.RunRetention(ctx, "system"); err != nil && ctx.Err() == nil {
					s.cfg.Logger.Error("retention run failed; will retry", "err", err)
				} else {
					s.purged = time.Now()
				}
			}
			if time.Since(s.signed) > time.Minute {
				s.signCheckpoints(ctx)
			}
			if time.Since(s.renewed) > time.Minute {
				s.renewOTA()
				s.renewed = time.Now()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-tick.C:
		}
	}
}

// signCheckpoints signs a checkpoint of every log that grew, so that a log
// cannot be rewritten or truncated below a signed size without the
// signing key, even when nobody has asked for a proof.
func (s *Server) signCheckpoints(ctx context.Context) {
	for _, name := range s.logs.Names() {
		if _, err := s.logs.Checkpoint(ctx, name); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Error("signing an audit checkpoint failed; will retry", "log", name, "err", err)
			return
		}
	}
	s.signed = time.Now()
}

// expireMessages deletes envelopes nobody fetched before their expiry.
func (s *Server) expireMessages(ctx context.Context) {
	for _, id := range s.cfg.regions().IDs() {
		if _, err := s.msgs.Expire(ctx, id); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Error("expiring undelivered messages failed; will retry", "region", id, "err", err)
		}
	}
}

// expireUploads deletes photo uploads abandoned before completing.
func (s *Server) expireUploads(ctx context.Context) {
	for _, id := range s.cfg.regions().IDs() {
		if n, err := s.photos.Expire(ctx, id); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Error("expiring abandoned uploads failed; will retry", "region", id, "err", err)
		} else if n > 0 {
			s.cfg.Logger.Info("abandoned uploads deleted", "region", id, "count", n)
		}
	}
}

// verifyLogs recomputes every audit log once the server is unsealed, and
// reports a log that fails loudly: someone edited the database.
func (s *Server) verifyLogs(ctx context.Context) {
	for _, name := range s.logs.Names() {
		rep, err := s.logs.Verify(ctx, name)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				s.cfg.Logger.Error("audit log verification could not run", "log", name, "err", err)
			}
		case !rep.OK:
			s.cfg.Logger.Error("AUDIT LOG TAMPERED: verification failed; the database was edited outside Candor",
				"log", name, "bad_entry", rep.BadEntry, "problem", rep.Problem)
		}
	}
}

// rewrapBatch is how many data keys one transaction re-wraps.
const rewrapBatch = 1000

func (s *Server) rewrap(ctx context.Context, region candor.RegionID) {
	total := 0
	for ctx.Err() == nil && !s.keys.Sealed() {
		done, left, err := s.keys.RewrapBatch(ctx, region, rewrapBatch)
		if err != nil {
			if !candor.Is(err, candor.Sealed) && ctx.Err() == nil {
				s.cfg.Logger.Error("region key rotation: re-wrapping failed; will retry", "region", region, "err", err)
			}
			return
		}
		total += done
		if left == 0 {
			if total > 0 {
				s.cfg.Logger.Warn("region key rotation done: old key versions retired", "region", region, "rewrapped", total)
			}
			return
		}
	}
}

// Regions returns the region configuration.
func (s *Server) Regions() region.Config { return s.cfg.regions() }

// Close closes every store.
func (s *Server) Close() error {
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

// regionStores resolves a region's store for each service, as the narrow
// interface that service owns.
type regionStores struct{ s *Server }

func (r regionStores) store(id candor.RegionID) (store.Region, error) {
	st, ok := r.s.regions[id]
	if !ok {
		return nil, candor.Errorf(candor.WrongRegion, "region %s is not served by this server", id)
	}
	return st, nil
}

func (r regionStores) HomeFor(country string) candor.RegionID {
	return r.s.cfg.regions().HomeFor(country)
}

func (r regionStores) Accounts(id candor.RegionID) (account.Accounts, error) { return r.store(id) }
func (r regionStores) Consent(id candor.RegionID) (consent.Store, error)     { return r.store(id) }
func (r regionStores) Records(id candor.RegionID) (records.Store, error)     { return r.store(id) }
func (r regionStores) Uploads(id candor.RegionID) (store.Uploads, error)     { return r.store(id) }
func (r regionStores) Messages(id candor.RegionID) (store.Messages, error)   { return r.store(id) }

// carrierOrNil keeps a nil *Carrier from becoming a non-nil interface.
func carrierOrNil(c *messaging.Carrier) httpapi.Carrier {
	if c == nil {
		return nil
	}
	return c
}

func (r regionStores) Blobs(id candor.RegionID) (blobs.Store, error) {
	b, ok := r.s.blobs[id]
	if !ok {
		return nil, candor.Errorf(candor.WrongRegion, "region %s is not served by this server", id)
	}
	return b, nil
}

// shredder destroys what a withdrawn category leaves outside the region's
// database: the directory's half of its data key, and its blobs.
type shredder struct{ s *Server }

func (x shredder) Shred(ctx context.Context, p candor.Principal, c candor.Category) error {
	if c == candor.Messaging {
		return x.s.msgs.Deactivate(ctx, p)
	}
	if err := x.s.keys.Shred(ctx, p.Account, c); err != nil {
		return err
	}
	if b, ok := x.s.blobs[p.Region]; ok {
		if _, err := b.DeletePrefix(ctx, blobs.CategoryPrefix(p.Account, c)); err != nil {
			return err
		}
	}
	return nil
}

// eraseBlobs deletes every blob and the messaging state of a deleted
// account.
func (s *Server) eraseBlobs(ctx context.Context, p candor.Principal) error {
	if err := s.msgs.Deactivate(ctx, p); err != nil {
		return err
	}
	b, ok := s.blobs[p.Region]
	if !ok {
		return nil
	}
	_, err := b.DeletePrefix(ctx, blobs.AccountPrefix(p.Account))
	return err
}
