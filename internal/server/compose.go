package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/account"
	"github.com/candorcloud/candor/internal/approval"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/bus/natsbus"
	"github.com/candorcloud/candor/internal/carddav"
	"github.com/candorcloud/candor/internal/consent"
	"github.com/candorcloud/candor/internal/consent/gate"
	"github.com/candorcloud/candor/internal/content"
	"github.com/candorcloud/candor/internal/custody"
	"github.com/candorcloud/candor/internal/erasure"
	"github.com/candorcloud/candor/internal/health"
	"github.com/candorcloud/candor/internal/httpapi"
	"github.com/candorcloud/candor/internal/keyring"
	"github.com/candorcloud/candor/internal/messaging"
	"github.com/candorcloud/candor/internal/metrics"
	"github.com/candorcloud/candor/internal/photos"
	"github.com/candorcloud/candor/internal/quota"
	"github.com/candorcloud/candor/internal/records"
	"github.com/candorcloud/candor/internal/region"
	"github.com/candorcloud/candor/internal/retention"
	"github.com/candorcloud/candor/internal/rotation"
	"github.com/candorcloud/candor/internal/staff"
	"github.com/candorcloud/candor/internal/store"
	"github.com/candorcloud/candor/internal/upkeep"
	"github.com/candorcloud/candor/internal/web"
)

// compose builds the services over the opened stores in the order a
// request meets them (docs/architecture.md, "The path of a request"), puts
// each behind its policy wrappers, and hands the HTTP handler only the
// wrapped ones; then the upkeep loop that works in the background. It
// reads no key: the keyring it makes is sealed.
func (s *Server) compose() error {
	stores := regionStores{s}
	ids := s.cfg.regions().IDs()

	// The operator's metrics (GET /metrics): the wrappers and collectors
	// of package metrics count what the services do, with no personal data
	// in any label; httpapi counts the requests.
	registry := prometheus.NewRegistry()

	// The key hierarchy, sealed until the key ceremony (or --dev) unseals
	// it, and the audit logs, whose pseudonyms and checkpoints need its
	// secrets. Routes that serve personal data first ask the health probe
	// whether the keyring is sealed.
	// A process that serves some regions (Config.Serve) holds only their
	// keys: the keyring knows no other region's store.
	served := s.servedStores()
	s.keys = keyring.New(s.dir, byRegion(served, func(st store.Region) keyring.RegionKeys { return st }),
		keyring.Erasure{Keys: erasure.Folder(s.cfg.Erasure.Folder),
															Clock: erasure.Clock{Length: time.Duration(s.cfg.Erasure.Period), Now: s.cfg.Erasure.Now}}).
		WithOtherRegions(byRegion(s.otherStores(), func(st store.Region) keyring.RegionKeys { return st })) // migrations only
	logs := audit.New(s.dir, byRegion(served, func(st store.Region) store.AuditLog { return st }), s.keys, s.cfg.Name)
	s.ceremony = custody.New(s.dir, s.keys, logs)
	var folders []health.Folder // readiness also needs room where the server writes
	if s.cfg.Data != "" {
		folders = append(folders, health.Folder{Path: s.cfg.Data})
	}
	buckets := map[candor.RegionID]health.Bucket{} // and the blob stores on another server (S3)
	for id, b := range s.blobs {
		if b, ok := b.(health.Bucket); ok && s.cfg.serves(id) {
			buckets[id] = b
		}
	}
	probe := health.New(s.keys, s.dir, byRegion(served, func(st store.Region) health.Region { return st }), buckets, folders...)

	// Who is asking: devices by their session (the account service logs
	// each sign-in, revocation and deletion in the owner's log, in the
	// transaction that makes it), staff by their token.
	acfg := s.cfg.Account
	acfg.Erase = s.eraseOutsideRegion
	accounts := account.New(s.dir, stores, s.keys, logs, acfg) // logs its sign-ins, revocations and deletions itself
	staffIDs := staff.New(s.dir, logs)

	// Consent: the ledger, changed only through the audit log.
	ledger := consent.NewLedger(stores, shredder{s}, nil)
	consents := audit.WrapConsent(ledger, logs)

	// The device path: devices reach records only through the audit log
	// and the consent gate; staff (below) only through the audit log and
	// an approved grant.
	recs := records.New(stores, s.keys, s.cfg.codec)
	deviceRecords := metrics.NewRecords(audit.WrapRecords(gate.NewRecords(ledger, recs), logs), ids, registry)

	// The photo path: behind the consent gate (below, where the handler
	// gets it), which hands every method a grant; each part, upload,
	// download and deletion in the owner's log with its index change;
	// sealed parts in the region's blob store.
	pcfg := s.cfg.Photos
	if pcfg.UploadTTL == 0 {
		pcfg.UploadTTLIn = func(id candor.RegionID) time.Duration {
			return time.Duration(s.cfg.regions().Rules(id).AbandonedUploads)
		}
	}
	photoUploads := photos.New(stores, s.keys, logs, pcfg)

	// The messaging path: behind the consent gate (below); activation turns
	// messaging on through the ledger (Activate), logged like any consent
	// change; messages themselves are not logged.
	gateway := s.cfg.Gateway       // Kannel (config "sms"), or one given in code
	var carrier *messaging.Carrier // the emulated carrier of --dev
	if gateway == nil && s.cfg.Dev {
		carrier = messaging.NewCarrier()
		gateway = carrier
	}
	mcfg := s.cfg.Messaging
	if mcfg.Expiry == 0 {
		mcfg.ExpiryIn = func(id candor.RegionID) time.Duration {
			return time.Duration(s.cfg.regions().Rules(id).UndeliveredMessages)
		}
	}
	messages := metrics.NewMessages(ids, registry) // envelopes queued, delivered and expired, counted at the store
	s.msgs = messaging.New(s.dir, messages.Stores(stores), ledger, s.keys, gateway, metrics.NewBus(s.bus, registry), logs, mcfg)

	// The staff path: records read only under an approved grant.
	// Staff passkeys, for the console, when the server knows its web
	// origin: an approval from the console needs a fresh assertion.
	var passkeys *staff.Passkeys
	approvals := approval.Config{Quorum: s.cfg.Quorum}
	if s.cfg.Web.Origin != "" {
		var err error
		kcfg := s.cfg.Web.Passkeys
		kcfg.Origin = s.cfg.Web.Origin
		kcfg.Secrets = s.keys
		if passkeys, err = staff.NewPasskeys(s.dir, logs, kcfg); err != nil {
			return err
		}
		approvals.Presence = passkeys
	}
	staffAccess := approval.New(s.dir, ledger, recs, logs, approvals)

	// Regions: migrations between them and the retention rules of each.
	migrations := region.NewMigrations(region.NewMigrator(s.dir, s.regions, s.blobs, s.keys, logs), s.dir, s.cfg.Logger, s.cfg.Migrations)
	s.migrations = migrations // Close stops its jobs before the stores close
	retentions := metrics.NewRetention(retention.New(servedRegions{&s.cfg}, byRegion(served, func(st store.Region) retention.Store { return st }),
		photoUploads, s.dir, logs), ids, messages, registry)
	metrics.NewMigration(migrations, registry)

	// Public content: greetings and update notices for anyone, published
	// by staff through the audit log.
	published, err := content.NewService(s.files, s.cfg.OTA.Expiry, s.cfg.OTA.Now, s.keys, logs, s.cfg.Logger)
	if err != nil {
		return err
	}
	s.content = published

	// Upkeep, in the background: woken when a rotation starts and when the
	// ceremony unseals the keyring.
	checkpoints := metrics.NewAudit(logs, registry) // appends, checkpoint age and verification, read at scrape
	own := s.cfg.served()                           // upkeep works on this process's regions only
	s.upkeep = upkeep.New(s.keys, s.cfg.Logger,
		upkeep.Rewrap(s.keys, own, s.cfg.Logger),
		upkeep.ReloadKeys(s.keys),
		upkeep.AdvanceErasure(s.keys, s.cfg.Logger),
		upkeep.FinishErasures(accounts, own, s.cfg.Logger),
		upkeep.LockUpdates(published),
		upkeep.VerifyLogs(logs, s.cfg.Logger),
		upkeep.WarnMoving(s.dir, migrations, s.cfg.Logger),
		upkeep.TakeOverMigrations(migrations),
		upkeep.ExpireUploads(photoUploads, own, s.cfg.Logger),
		upkeep.ExpireMessages(s.msgs, own),
		upkeep.Retention(retentions),
		upkeep.SignCheckpoints(checkpoints), // remembers when each log was signed
		upkeep.RenewUpdates(published),
		upkeep.ForgetAllowances(s.dir),
	)

	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		probe.SealedGauge())
	if nb, ok := s.bus.(*natsbus.Bus); ok { // its outages logged and counted
		nb.SetLogger(s.cfg.Logger)
		registry.MustRegister(nb.Collectors()...)
	}
	registry.MustRegister(gatewayCollectors(gateway)...) // Kannel's sends and delivery reports
	var console httpapi.StaffSessions
	if passkeys != nil {
		console = passkeys
	}
	homes, err := s.homes()
	if err != nil {
		return err
	}
	s.handler = httpapi.New(httpapi.Services{
		Homes:         homes,
		StaffSessions: console,
		Health:        probe,
		Accounts:      accounts,
		Staff:         staffIDs,
		Custody:       content.NewCeremony(s.ceremony, published, s.upkeep),
		StaffAdmin:    staff.NewManager(s.dir, logs),
		Consent:       consents,
		Records:       deviceRecords,
		Photos:        gate.NewPhotos(ledger, photoUploads),
		Messaging:     gate.NewMessaging(ledger, s.msgs),
		Carrier:       carrierOrNil(carrier),
		Access:        staffAccess,
		Audit:         logs,
		Console:       logs,
		Migrations:    migrations,
		Retention:     retentions,
		Regions:       rotation.New(s.cfg.regions(), s.keys, logs, s.upkeep),
		Content:       published,
		Exports:       logs, // each export in the owner's log
		// CardDAV: app passwords reach contacts through the same audit
		// wrapper and consent gate as the phones' records path.
		CardDAV:    carddav.New(accounts, deviceRecords, consents),
		Web:        web.New(),
		Allowances: quota.New(s.dir, s.keys),

		// The SMS gateway's delivery reports (Kannel's dlr-url), if it takes any.
		DeliveryReports: deliveryReports(gateway),
	}, s.cfg.HTTP, s.cfg.Logger, registry, registry)
	return nil
}

// servedStores returns the stores of the regions this process serves.
func (s *Server) servedStores() map[candor.RegionID]store.Region {
	out := make(map[candor.RegionID]store.Region, len(s.regions))
	for id, st := range s.regions {
		if s.cfg.serves(id) {
			out[id] = st
		}
	}
	return out
}

// otherStores returns the stores of the regions this process does not
// serve (used for messages, and by migrations).
func (s *Server) otherStores() map[candor.RegionID]store.Region {
	out := map[candor.RegionID]store.Region{}
	for id, st := range s.regions {
		if !s.cfg.serves(id) {
			out[id] = st
		}
	}
	return out
}

// servedRegions is the region configuration as the regions this process
// serves see it: their ids, everyone's rules.
type servedRegions struct{ cfg *Config }

func (r servedRegions) IDs() []candor.RegionID                   { return r.cfg.served() }
func (r servedRegions) Rules(id candor.RegionID) retention.Rules { return r.cfg.regions().Rules(id) }

// byRegion gives every region's store as the narrow interface one service
// declares (a map of store.Region is not a map of that interface).
func byRegion[T any](stores map[candor.RegionID]store.Region, as func(store.Region) T) map[candor.RegionID]T {
	out := make(map[candor.RegionID]T, len(stores))
	for id, st := range stores {
		out[id] = as(st)
	}
	return out
}
