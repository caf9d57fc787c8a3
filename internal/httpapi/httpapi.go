// Package httpapi is Candor's versioned JSON API over HTTP. It decodes
// requests, authenticates devices, calls the services the server composed
// (already wrapped by their policy layers) and maps errors to HTTP statuses
// in one place (writeError, by the one table in api/status.go, which
// clients read back). It holds no business rules.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/account"
	"github.com/candorcloud/candor/internal/records"
	"github.com/candorcloud/candor/internal/slots"
	"github.com/candorcloud/candor/internal/staff"
	"github.com/candorcloud/candor/internal/store"
)

// Accounts is what the API needs of the account service.
type Accounts interface {
	EvaluateHandle(ctx context.Context, blinded []byte) ([]byte, error)
	Salt(ctx context.Context, handle []byte) ([]byte, store.KDF, error)
	Signup(ctx context.Context, in account.Signup) (account.Grant, error)
	Login(ctx context.Context, handle, authKey, pseudonym []byte) (account.Grant, error)
	LoginBrowser(ctx context.Context, handle, authKey []byte) (account.Grant, error)
	Authenticate(ctx context.Context, token string) (candor.Principal, error)
	AuthenticateBrowser(ctx context.Context, token string) (candor.Principal, error)
	AuthenticateApp(ctx context.Context, username, password string) (candor.Principal, error)
	Session(ctx context.Context, token string) (account.Grant, error)
	Logout(ctx context.Context, token string) error
	Devices(ctx context.Context, p candor.Principal) ([]store.Device, error)
	SignedIn(ctx context.Context, p candor.Principal) (map[candor.DeviceID]bool, error)
	RevokeDevice(ctx context.Context, p candor.Principal, device candor.DeviceID) error
	CreateAppPassword(ctx context.Context, p candor.Principal, name string) (account.AppPassword, error)
	Created(ctx context.Context, p candor.Principal) (time.Time, error)
	Delete(ctx context.Context, p candor.Principal) error
	DeleteConfirmed(ctx context.Context, p candor.Principal, authKey []byte) error
	Usage(ctx context.Context, p candor.Principal) (map[candor.Category]store.Usage, error)
}

// Consent is what the API needs of the consent ledger.
type Consent interface {
	Set(ctx context.Context, p candor.Principal, c candor.Category, on bool, policy string) (store.ConsentEvent, error)
	State(ctx context.Context, p candor.Principal) (map[candor.Category]store.ConsentEvent, error)
	Events(ctx context.Context, p candor.Principal) ([]store.ConsentEvent, error)
}

// Records is the records service as the API holds it: behind the consent
// gate.
type Records interface {
	Push(ctx context.Context, p candor.Principal, c candor.Category, epoch int64, changes []records.Change) (records.Pushed, error)
	Pull(ctx context.Context, p candor.Principal, c candor.Category, since int64, limit int) (records.Feed, error)
}

// Health tells whether the server can serve personal data.
type Health interface {
	Sealed() bool
	Ready(ctx context.Context) error
}

// Services are what the handler serves.
type Services struct {
	Accounts   Accounts
	Consent    Consent
	Records    Records
	Health     Health
	Custody    Custody
	Staff      Staff
	StaffAdmin StaffAdmin
	Access     Access
	Audit      Audit
	// StaffSessions are staff passkeys and console sessions; nil turns
	// the console's sign-in off (staff tokens still work).
	StaffSessions StaffSessions
	// Console is what the console's overview reads of the audit logs.
	Console    Console
	Photos     Photos
	Messaging  Messaging
	Migrations Migrations
	Retention  Retention
	// Carrier is the emulated carrier; set only by --dev.
	Carrier Carrier
	Regions Regions
	Content Content
	// Exports logs account exports in the owner's access log.
	Exports ExportLog
	// CardDAV serves contacts to app passwords (package carddav), at
	// api.CardDAVPath and /.well-known/carddav; it authenticates them
	// itself (HTTP Basic) and answers in WebDAV's terms.
	CardDAV http.Handler
	// Web serves the pages (package web): the privacy center at /, the
	// staff console at /staff and their files under /assets/, sealed or not.
	Web http.Handler
	// Homes relays requests for accounts of regions this process does
	// not serve to their processes; nil when it serves every region.
	Homes Homes
	// Allowances counts the sign-in limit per address across instances
	// (quota.Counter over the directory); nil counts in this instance only.
	Allowances Allowances

	// DeliveryReports takes the SMS gateway's delivery reports; nil when
	// the gateway gives none.
	DeliveryReports DeliveryReports
}

// Options tune the handler.
type Options struct {
	// AuthPerMinute and AuthBurst limit the unauthenticated sign-in
	// endpoints per client address (defaults 60 and 30; negative disables).
	AuthPerMinute, AuthBurst int
	// SocketRecheck is how often an open message socket's session is
	// checked again (default SocketRecheck).
	SocketRecheck time.Duration
	// ExportStall is how long an export's download may make no progress
	// before it is cut (default ExportStall).
	ExportStall time.Duration
	// ExportMemory is the most record data an export holds at once, one
	// category's (default MaxExportMemory).
	ExportMemory int64
	// TrustedProxies are the addresses of the load balancers in front of
	// the server: a request from one of them is limited by the client
	// address its X-Forwarded-For names (clientAddr); from anywhere else,
	// X-Forwarded-For is ignored.
	TrustedProxies []netip.Prefix
}

// Handler is the HTTP API.
type Handler struct {
	proxies []netip.Prefix // Options.TrustedProxies
	svc     Services
	log     *slog.Logger
	metrics *metrics
	limit   *limiter
	mux     *http.ServeMux
	sockets *slots.Counter[candor.DeviceID]  // open message sockets
	exports *slots.Counter[candor.AccountID] // exports under way
	// exportStall is how long an export may wait on its client (ExportStall).
	exportStall time.Duration
	// exportMemory bounds the record data an export holds (MaxExportMemory).
	exportMemory int64
	// socketRecheck is how often a message socket's session is checked
	// again (SocketRecheck; tests shorten it).
	socketRecheck time.Duration
}

// New returns the API handler. Metrics are registered with reg; logs go to
// log. Neither ever holds personal data: routes are logged by pattern, never
// by path, and no client address is recorded.
func New(svc Services, opts Options, log *slog.Logger, reg prometheus.Registerer, gatherer prometheus.Gatherer) *Handler {
	if opts.AuthPerMinute == 0 {
		opts.AuthPerMinute = 60
	}
	if opts.AuthBurst == 0 {
		opts.AuthBurst = 30
	}
	if opts.SocketRecheck <= 0 {
		opts.SocketRecheck = SocketRecheck
	}
	if opts.ExportStall <= 0 {
		opts.ExportStall = ExportStall
	}
	if opts.ExportMemory <= 0 {
		opts.ExportMemory = MaxExportMemory
	}
	h := &Handler{proxies: opts.TrustedProxies, svc: svc, log: log, metrics: newMetrics(reg), limit: newLimiter(opts.AuthPerMinute, opts.AuthBurst), mux: http.NewServeMux(),
		socketRecheck: opts.SocketRecheck, sockets: slots.New[candor.DeviceID](MaxSocketsPerDevice, MaxSockets, errSockets, errAllSockets),
		exports: slots.New[candor.AccountID](MaxExportsPerAccount, MaxExports, errExportBusy, errExportsFull), exportStall: opts.ExportStall, exportMemory: opts.ExportMemory}
	m := h.mux
	m.HandleFunc("GET /healthz", h.healthz)
	m.HandleFunc("GET /readyz", h.readyz)
	m.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))

	m.HandleFunc("GET /v1/operator/status", h.operatorStatus)
	m.HandleFunc("POST /v1/operator/init", h.limited(h.operatorInit))
	m.HandleFunc("POST /v1/operator/unseal", h.limited(h.operatorUnseal))
	m.HandleFunc("POST /v1/operator/seal", h.staffOnly(h.operatorSeal, staff.Bootstrap, staff.Admin, staff.Custodian))
	m.HandleFunc("POST /v1/operator/rotate", h.unsealed(h.staffOnly(h.operatorRotate, staff.Bootstrap, staff.Admin, staff.Custodian)))
	m.HandleFunc("POST /v1/operator/retention", h.unsealed(h.staffOnly(h.retentionRun, staff.Bootstrap, staff.Admin)))
	m.HandleFunc("GET /v1/account/retention", h.device(h.retentionRules))
	m.HandleFunc("POST /v1/operator/migrations", h.unsealed(h.staffOnly(h.migrateStart, staff.Bootstrap, staff.Admin)))
	m.HandleFunc("GET /v1/operator/migrations/{id}", h.unsealed(h.staffOnly(h.migrateStatus, staff.Bootstrap, staff.Admin)))
	m.HandleFunc("POST /v1/operator/rekey", h.unsealed(h.staffOnly(h.operatorRekey, staff.Bootstrap, staff.Admin, staff.Custodian)))
	m.HandleFunc("DELETE /v1/operator/rekey", h.staffOnly(h.operatorCancelRekey, staff.Bootstrap, staff.Admin, staff.Custodian))
	m.HandleFunc("POST /v1/operator/rekey/share", h.limited(h.unsealed(h.operatorRekeyShare)))

	// Public content: no credentials, no identifier, served while sealed.
	m.HandleFunc("GET /v1/public/greetings", h.publicGreetings)
	m.HandleFunc("GET /v1/public/ota/{file}", h.publicOTAMetadata)
	m.HandleFunc("GET /v1/public/ota/targets/{path...}", h.publicOTATarget)
	m.HandleFunc("POST /v1/operator/greetings", h.unsealed(h.staffOnly(h.greetingsPublish, staff.Bootstrap, staff.Admin)))
	m.HandleFunc("POST /v1/operator/ota", h.unsealed(h.staffOnly(h.otaPublish, staff.Bootstrap, staff.Admin)))

	m.HandleFunc("POST /v1/staff", h.unsealed(h.staffOnly(h.staffAdd)))
	m.HandleFunc("GET /v1/staff", h.unsealed(h.staffOnly(h.staffList)))
	m.HandleFunc("DELETE /v1/staff/{id}", h.unsealed(h.staffOnly(h.staffRevoke)))
	m.HandleFunc("POST /v1/staff/passkeys/options", h.staffOnly(h.passkeyOptions))
	m.HandleFunc("POST /v1/staff/passkeys", h.staffOnly(h.passkeyAdd))
	m.HandleFunc("POST /v1/staff/sessions/options", h.limited(h.staffSignInOptions))
	m.HandleFunc("POST /v1/staff/sessions", h.limited(h.staffSignIn))
	m.HandleFunc("GET /v1/staff/sessions/current", h.staffSessionCurrent)
	m.HandleFunc("DELETE /v1/staff/sessions/current", h.staffSignOut)
	m.HandleFunc("GET /v1/operator/console", h.staffOnly(h.operatorConsole))
	m.HandleFunc("GET /v1/access-requests", h.unsealed(h.staffOnly(h.accessList)))
	m.HandleFunc("POST /v1/access-requests/{id}/approve/options", h.unsealed(h.staffOnly(h.approveOptions)))
	m.HandleFunc("POST /v1/access-requests", h.unsealed(h.staffOnly(h.accessRequest)))
	m.HandleFunc("GET /v1/access-requests/{id}", h.unsealed(h.staffOnly(h.accessStatus)))
	m.HandleFunc("POST /v1/access-requests/{id}/approve", h.unsealed(h.staffOnly(h.accessApprove)))
	m.HandleFunc("POST /v1/access-requests/{id}/revoke", h.unsealed(h.staffOnly(h.accessRevoke)))
	m.HandleFunc("POST /v1/access-requests/{id}/read", h.unsealed(h.staffOnly(h.accessRead)))
	m.HandleFunc("POST /v1/audit/verify", h.unsealed(h.staffOnly(h.auditVerify, staff.Bootstrap, staff.Admin, staff.Auditor)))
	m.HandleFunc("GET /v1/audit/key", h.unsealed(h.auditKey))
	m.HandleFunc("GET /v1/audit/{log}/checkpoint", h.unsealed(h.auditCheckpoint))
	m.HandleFunc("GET /v1/audit/{log}/consistency", h.unsealed(h.auditConsistency))
	m.HandleFunc("GET /v1/audit/{log}/inclusion", h.unsealed(h.auditInclusion))
	m.HandleFunc("GET /v1/account/access-log", h.device(h.accessLog))
	m.HandleFunc("GET /v1/account/access-requests", h.device(h.ownerRequests))
	m.HandleFunc("POST /v1/account/access-requests/{id}/approve", h.device(h.ownerApprove))
	m.HandleFunc("POST /v1/account/access-requests/{id}/refuse", h.device(h.ownerRefuse))
	m.HandleFunc("GET /v1/account/staff-access", h.device(h.ownerSettingGet))
	m.HandleFunc("PUT /v1/account/staff-access", h.device(h.ownerSetting))
	m.HandleFunc("GET /v1/account/export", h.device(h.export))

	m.HandleFunc("POST /v1/auth/handle", h.limited(h.unsealed(h.evaluateHandle)))
	m.HandleFunc("POST /v1/auth/salt", h.bucketed(h.unsealed(h.signInRegion(h.counted(h.salt)))))
	m.HandleFunc("POST /v1/accounts", h.bucketed(h.unsealed(h.signInRegion(h.counted(h.signup)))))
	m.HandleFunc("POST /v1/sessions", h.bucketed(h.unsealed(h.signInRegion(h.counted(h.login)))))
	m.HandleFunc("GET /v1/sessions/current", h.device(h.session))
	m.HandleFunc("DELETE /v1/sessions/current", h.device(h.logout))
	m.HandleFunc("GET /v1/account", h.device(h.account))
	m.HandleFunc("GET /v1/account/summary", h.device(h.summary))
	m.HandleFunc("DELETE /v1/account", h.device(h.deleteAccount))
	m.HandleFunc("GET /v1/devices", h.device(h.devices))
	m.HandleFunc("DELETE /v1/devices/{id}", h.device(h.revokeDevice))
	m.HandleFunc("POST /v1/app-passwords", h.device(h.createAppPassword))
	m.HandleFunc("GET /v1/consents", h.device(h.consents))
	m.HandleFunc("GET /v1/consents/ledger", h.device(h.ledger))
	m.HandleFunc("PUT /v1/consents/{category}", h.device(h.setConsent))
	m.HandleFunc("POST /v1/photos/uploads", h.device(h.photoCreate))
	m.HandleFunc("GET /v1/photos/uploads/{id}", h.device(h.photoStatus))
	m.HandleFunc("PUT /v1/photos/uploads/{id}/parts/{n}", h.device(h.photoPart))
	m.HandleFunc("POST /v1/photos/uploads/{id}/complete", h.device(h.photoComplete))
	m.HandleFunc("GET /v1/photos/blobs/{id}", h.device(h.photoGet))
	m.HandleFunc("DELETE /v1/photos/blobs/{id}", h.device(h.photoDelete))
	m.HandleFunc("POST /v1/messaging/verification", h.bucketed(h.device(h.countedDevice(h.msgVerify))))
	m.HandleFunc("POST /v1/messaging/activation", h.device(h.msgActivate))
	m.HandleFunc("POST /v1/messaging/discovery/evaluate", h.device(h.msgEvaluate))
	m.HandleFunc("POST /v1/messaging/discovery/match", h.device(h.msgMatch))
	m.HandleFunc("GET /v1/messaging/recipients/{token}", h.device(h.msgRecipient))
	m.HandleFunc("POST /v1/messages", h.device(h.msgSend))
	m.HandleFunc("GET /v1/messages", h.device(h.msgInbox))
	m.HandleFunc("POST /v1/messages/ack", h.device(h.msgAck))
	m.HandleFunc("GET /v1/messages/ws", h.device(h.msgSocket))
	if svc.Carrier != nil {
		m.HandleFunc("POST /v1/carrier/sms", h.device(h.carrierSend))
		m.HandleFunc("GET /v1/carrier/sms", h.device(h.carrierInbox))
	}
	if svc.DeliveryReports != nil {
		m.HandleFunc("GET /v1/sms/delivery-reports/{id}", h.smsReport)
	}
	if svc.Web != nil {
		m.Handle("GET /{$}", svc.Web)
		m.Handle("GET /staff", svc.Web)
		m.Handle("GET /assets/{file...}", svc.Web)
	}
	m.HandleFunc("POST /v1/records/{category}", h.device(h.push))
	m.HandleFunc("GET /v1/records/{category}", h.device(h.pull))
	return h
}

// ServeHTTP serves the API with recovery, logging and metrics around every
// route, and JSON answers for unknown routes and methods.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	_, pattern := h.mux.Handler(r)
	route := pattern
	dav := h.svc.CardDAV != nil && isDAV(r.URL.Path)
	switch {
	case dav:
		route = "carddav" // WebDAV's methods (PROPFIND, REPORT) are no mux pattern's
	case route == "":
		route = "unmatched"
	}
	defer func() {
		v := recover()
		if v == http.ErrAbortHandler { // a cut answer: logged below, then the connection is cut
			defer panic(v)
		} else if v != nil {
			h.log.Error("panic in handler", "route", route, "panic", v)
			if !rec.wrote {
				h.writeError(rec, r, candor.E(candor.Internal, "panic"))
			}
		}
		d := time.Since(start)
		h.metrics.observe(route, r.Method, rec.status, d)
		h.log.Info("request", "method", r.Method, "route", route, "status", rec.status, "ms", d.Milliseconds(), "bytes", rec.bytes)
	}()
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if dav {
		h.unsealed(h.davRegion(h.svc.CardDAV.ServeHTTP))(rec, r)
		return
	}
	if pattern == "" {
		h.unmatched(rec, r)
		return
	}
	h.mux.ServeHTTP(rec, r)
}

// isDAV tells whether path is CardDAV's: below api.CardDAVPath, or its
// well-known name.
func isDAV(path string) bool {
	return path == "/.well-known/carddav" || path == strings.TrimSuffix(api.CardDAVPath, "/") || strings.HasPrefix(path, api.CardDAVPath)
}

// unmatched answers a request no route takes: 405 when the path exists
// under another method, 404 otherwise.
func (h *Handler) unmatched(w http.ResponseWriter, r *http.Request) {
	probe := &recorder{ResponseWriter: discard{http.Header{}}, status: http.StatusOK}
	h.mux.ServeHTTP(probe, r)
	if probe.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", probe.Header().Get("Allow"))
		h.writeError(w, r, candor.Errorf(candor.MethodNotAllowed, "this endpoint does not take %s", r.Method))
		return
	}
	h.writeError(w, r, candor.E(candor.NotFound, "no such endpoint"))
}

// unsealed refuses with code sealed while the server holds no keys.
func (h *Handler) unsealed(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h.svc.Health.Sealed() {
			h.writeError(w, r, candor.ErrSealed)
			return
		}
		next(w, r)
	}
}

type principalHandler func(w http.ResponseWriter, r *http.Request, p candor.Principal)

// device authenticates a device request, on an unsealed server: a phone's
// session token (Authorization: Bearer) or a browser's session cookie,
// checked against cross-site forgery (see authenticate in browser.go).
func (h *Handler) device(next principalHandler) http.HandlerFunc {
	return h.unsealed(func(w http.ResponseWriter, r *http.Request) {
		p, cred, err := h.authenticate(r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if h.elsewhere(w, r, p.Region) {
			return
		}
		if cred.browser {
			w.Header().Set("Cache-Control", "no-store") // no cache keys on a cookie
		}
		next(w, r.WithContext(withCredential(r.Context(), cred)), p)
	})
}

func (h *Handler) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "sealed": h.svc.Health.Sealed()})
}

func (h *Handler) readyz(w http.ResponseWriter, r *http.Request) {
	if h.svc.Health.Sealed() {
		h.writeError(w, r, candor.ErrSealed)
		return
	}
	if err := h.svc.Health.Ready(r.Context()); err != nil {
		if !candor.Is(err, candor.Unavailable) {
			err = candor.Wrap(candor.Unavailable, "a store is not reachable", err)
		}
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
