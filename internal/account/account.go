package account

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/oprf"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/keyring"
	"github.com/candorcloud/candor/internal/store"
)

// Directory is what the service needs of the directory store.
type Directory interface {
	CreateEntry(ctx context.Context, e store.Entry) error
	EntryByHandle(ctx context.Context, handle []byte) (store.Entry, error)
	Entry(ctx context.Context, account candor.AccountID) (store.Entry, error)
	DeleteEntry(ctx context.Context, rec store.AuditRecord, account candor.AccountID) error
	CreateSession(ctx context.Context, s store.Session) error
	Session(ctx context.Context, tokenHash []byte) (store.Session, error)
	DeleteSession(ctx context.Context, tokenHash []byte) error
	DeleteDeviceSessions(ctx context.Context, account candor.AccountID, device candor.DeviceID) error
	SignedInDevices(ctx context.Context, account candor.AccountID, now time.Time) ([]candor.DeviceID, error)
	LoginFailed(ctx context.Context, handle []byte, now time.Time, window time.Duration) (store.Attempts, error)
	LoginAttempts(ctx context.Context, handle []byte) (store.Attempts, error)
	LoginSucceeded(ctx context.Context, handle []byte) error
}

// Accounts is what the service needs of a region store.
type Accounts interface {
	CreateAccount(ctx context.Context, a store.Account) error
	Account(ctx context.Context, id candor.AccountID) (store.Account, error)
	DeleteAccount(ctx context.Context, rec store.AuditRecord, id candor.AccountID) error
	RegisterDevice(ctx context.Context, rec store.AuditRecord, d store.Device) (store.Device, error)
	Devices(ctx context.Context, account candor.AccountID) ([]store.Device, error)
	DeleteDevices(ctx context.Context, account candor.AccountID, kind string, ids []candor.DeviceID) (int, error)
	DeleteDeviceMessaging(ctx context.Context, rec store.AuditRecord, account candor.AccountID, device candor.DeviceID) error
	PendingErasures(ctx context.Context, limit int) ([]candor.AccountID, error)
	ErasureDone(ctx context.Context, id candor.AccountID) error
	Usage(ctx context.Context, account candor.AccountID, c candor.Category) (store.Usage, error)
	UploadUsage(ctx context.Context, account candor.AccountID, c candor.Category) (store.Usage, error)
}

// Regions resolves the home region of a country and the store of a region.
type Regions interface {
	HomeFor(country string) candor.RegionID
	Accounts(id candor.RegionID) (Accounts, error)
}

// Secrets gives the keyring's system secrets; it fails with candor.ErrSealed
// while the server is sealed.
type Secrets interface {
	Secret(name string) ([]byte, error)
}

// Config sets the service's costs and limits. Zero fields take defaults.
type Config struct {
	// Hash is the server-side Argon2id cost (default OWASP).
	Hash Argon2
	// MinKDF is the weakest device-side Argon2id a signup may use (default:
	// the OWASP minimum).
	MinKDF store.KDF
	// SessionTTL is how long a session lasts (default 30 days).
	SessionTTL time.Duration
	// BrowserTTL is how long a browser's session lasts from its sign-in,
	// never renewed (default BrowserTTL).
	BrowserTTL time.Duration
	// MaxFailures failed logins within Window lock the handle (defaults 5, 15 min).
	MaxFailures int
	Window      time.Duration
	// MaxHashing bounds the Argon2id hashes computed at once, across every
	// request (default 4): each holds Hash.MemoryKiB of memory. A request
	// that finds every slot taken waits up to HashWait (default 2s), then
	// is refused as unavailable with a Retry-After.
	MaxHashing int
	HashWait   time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Erase, when set, deletes what an account keeps outside its region's
	// database: its blobs and its messaging registration in the directory.
	// Delete calls it last.
	Erase func(ctx context.Context, p candor.Principal) error
}

func (c *Config) defaults() {
	if c.Hash == (Argon2{}) {
		c.Hash = OWASP
	}
	if c.MinKDF == (store.KDF{}) {
		c.MinKDF = store.KDF{Time: 2, MemoryKiB: 19 * 1024, Threads: 1}
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = 30 * 24 * time.Hour
	}
	if c.BrowserTTL <= 0 {
		c.BrowserTTL = BrowserTTL
	}
	if c.MaxFailures == 0 {
		c.MaxFailures = 5
	}
	if c.Window == 0 {
		c.Window = 15 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxHashing <= 0 {
		c.MaxHashing = 4
	}
	if c.HashWait <= 0 {
		c.HashWait = 2 * time.Second
	}
}

// Service manages accounts, devices and sessions.
type Service struct {
	dir     Directory
	regions Regions
	secrets Secrets
	logs    *audit.Logs
	cfg     Config
	dummy   string // a hash to verify against for unknown handles, to equalise timing
	hashing chan struct{}
}

// New returns a Service that logs sign-ins, revocations and deletions to
// the owner's logs.
func New(dir Directory, regions Regions, secrets Secrets, logs *audit.Logs, cfg Config) *Service {
	cfg.defaults()
	return &Service{dir: dir, regions: regions, secrets: secrets, logs: logs, cfg: cfg, dummy: cfg.Hash.hash(make([]byte, 32)),
		hashing: make(chan struct{}, cfg.MaxHashing)}
}

var errBusy = &candor.Error{Kind: candor.Unavailable, RetryAfter: time.Second,
	Message: "the server is busy signing other people in: try again in a moment"}

// hashSlot waits for one of the MaxHashing slots for an Argon2id hash and
// returns its release. Past HashWait, or when ctx ends, it is refused with
// a retryable Unavailable error, so that no number of sign-ins at once can
// hold more than MaxHashing hashes' memory.
func (s *Service) hashSlot(ctx context.Context) (release func(), err error) {
	select {
	case s.hashing <- struct{}{}:
		return func() { <-s.hashing }, nil
	default:
	}
	wait := time.NewTimer(s.cfg.HashWait)
	defer wait.Stop()
	select {
	case s.hashing <- struct{}{}:
		return func() { <-s.hashing }, nil
	case <-wait.C:
		return nil, errBusy
	case <-ctx.Done():
		return nil, errBusy
	}
}

// hash is Argon2 hash within a hashing slot.
func (s *Service) hash(ctx context.Context, secret []byte) (string, error) {
	release, err := s.hashSlot(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return s.cfg.Hash.hash(secret), nil
}

// verify is verify within a hashing slot.
func (s *Service) verify(ctx context.Context, phc string, secret []byte) (bool, error) {
	release, err := s.hashSlot(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	return verify(phc, secret), nil
}

// Sizes of what devices send.
const (
	HandleSize    = 64 // an OPRF output (SHA-512)
	AuthKeySize   = 32
	PseudonymSize = 32 // an HMAC-SHA256
	minSalt       = 16
	maxSalt       = 64
	fakeSaltSize  = 16
)

var suite = oprf.SuiteRistretto255

// EvaluateHandle evaluates the login-handle OPRF on a blinded element. It
// learns nothing about the email behind it.
func (s *Service) EvaluateHandle(ctx context.Context, blinded []byte) ([]byte, error) {
	seed, err := s.secrets.Secret(keyring.SecretHandleOPRF)
	if err != nil {
		return nil, err
	}
	key, err := oprf.DeriveKey(suite, oprf.BaseMode, seed, []byte("candor/login-handle/v1"))
	if err != nil {
		return nil, fmt.Errorf("derive handle key: %w", err)
	}
	elem := suite.Group().NewElement()
	if len(blinded) == 0 || len(blinded) > 64 || elem.UnmarshalBinary(blinded) != nil || elem.IsIdentity() {
		return nil, candor.E(candor.Invalid, "the blinded handle is not a valid group element")
	}
	ev, err := oprf.NewServer(suite, key).Evaluate(&oprf.EvaluationRequest{Elements: []group.Element{elem}})
	if err != nil || len(ev.Elements) != 1 {
		return nil, candor.E(candor.Invalid, "the blinded handle could not be evaluated")
	}
	return ev.Elements[0].MarshalBinaryCompress()
}

func checkHandle(h []byte) error {
	if len(h) != HandleSize {
		return candor.Errorf(candor.Invalid, "a login handle is %d bytes", HandleSize)
	}
	return nil
}

// Salt returns the salt and device-side cost of the account with this
// handle. An unknown handle gets a stable fake salt and the default cost, so
// the answer does not tell whether an account exists.
func (s *Service) Salt(ctx context.Context, handle []byte) ([]byte, store.KDF, error) {
	if err := checkHandle(handle); err != nil {
		return nil, store.KDF{}, err
	}
	fakeKey, err := s.secrets.Secret(keyring.SecretFakeSalt)
	if err != nil {
		return nil, store.KDF{}, err
	}
	_, acc, err := s.lookup(ctx, handle)
	if err != nil && !candor.Is(err, candor.NotFound) {
		return nil, store.KDF{}, err
	}
	// The fake salt is computed for every handle, so that a known one
	// costs what an unknown one does.
	m := hmac.New(sha256.New, fakeKey)
	m.Write(handle)
	fake := m.Sum(nil)[:fakeSaltSize]
	if err != nil {
		return fake, DefaultKDF, nil
	}
	return acc.Salt, acc.KDF, nil
}

// noAccount is an account id no account has: an unknown handle reads it,
// so that it costs the same two reads a known one does.
const noAccount candor.AccountID = "acc_aaaaaaaaaaaaaaaaaaaaaaaaaa"

// lookup returns the directory entry and the account of a login handle,
// with NotFound if there is none. Known and unknown handles do the same
// reads — the directory, then a region — so that the time of an answer
// does not tell whether an account exists.
func (s *Service) lookup(ctx context.Context, handle []byte) (store.Entry, store.Account, error) {
	entry, err := s.dir.EntryByHandle(ctx, handle)
	if candor.Is(err, candor.NotFound) {
		entry = store.Entry{Account: noAccount, Region: s.regions.HomeFor("")}
	} else if err != nil {
		return store.Entry{}, store.Account{}, err
	}
	acc, aerr := s.account(ctx, entry)
	if err != nil {
		return store.Entry{}, store.Account{}, err
	}
	return entry, acc, aerr
}

// DefaultKDF is the device-side Argon2id cost devices use by default
// (RFC 9106's second recommended option), and the one fake salts advertise.
var DefaultKDF = store.KDF{Time: 3, MemoryKiB: 64 * 1024, Threads: 4}

func (s *Service) account(ctx context.Context, e store.Entry) (store.Account, error) {
	accts, err := s.regions.Accounts(e.Region)
	if err != nil {
		return store.Account{}, err
	}
	return accts.Account(ctx, e.Account)
}

// Signup is what a device sends to create an account.
type Signup struct {
	Handle, Salt, AuthKey, Pseudonym []byte
	KDF                              store.KDF
	Country                          string
}

// Grant is an opened session: the token is shown to the device once.
// Browser tells a browser's session (store.DeviceBrowser) from a phone's.
type Grant struct {
	Principal candor.Principal
	Token     string
	Issued    time.Time
	Expires   time.Time
	Browser   bool
}

var countryPattern = regexp.MustCompile(`^[A-Z]{2}$`)

func (s *Service) checkSignup(in Signup) error {
	if err := checkHandle(in.Handle); err != nil {
		return err
	}
	switch {
	case len(in.Salt) < minSalt || len(in.Salt) > maxSalt:
		return candor.Errorf(candor.Invalid, "the salt must be %d to %d bytes", minSalt, maxSalt)
	case len(in.AuthKey) != AuthKeySize:
		return candor.Errorf(candor.Invalid, "the auth key must be %d bytes", AuthKeySize)
	case len(in.Pseudonym) != PseudonymSize:
		return candor.Errorf(candor.Invalid, "the device pseudonym must be %d bytes", PseudonymSize)
	case !countryPattern.MatchString(in.Country):
		return candor.E(candor.Invalid, "the country must be an ISO 3166 two-letter code such as IN")
	case in.KDF.Time < s.cfg.MinKDF.Time || in.KDF.MemoryKiB < s.cfg.MinKDF.MemoryKiB || in.KDF.Threads < max(1, s.cfg.MinKDF.Threads):
		return candor.Errorf(candor.Invalid, "the password derivation is too weak: Argon2id needs at least t=%d, m=%d KiB",
			s.cfg.MinKDF.Time, s.cfg.MinKDF.MemoryKiB)
	case in.KDF.Time > 64 || in.KDF.MemoryKiB > 4<<20 || in.KDF.Threads > 64:
		return candor.E(candor.Invalid, "the password derivation cost is out of range")
	}
	return nil
}

// Signup creates an account homed in the region serving its country,
// registers the device and opens a session for it. It fails with
// candor.Conflict when the handle is taken.
func (s *Service) Signup(ctx context.Context, in Signup) (Grant, error) {
	if err := s.checkSignup(in); err != nil {
		return Grant{}, err
	}
	if _, err := s.secrets.Secret(keyring.SecretHandleOPRF); err != nil {
		return Grant{}, err
	}
	if _, err := s.dir.EntryByHandle(ctx, in.Handle); err == nil {
		return Grant{}, errTaken
	} else if !candor.Is(err, candor.NotFound) {
		return Grant{}, err
	}
	region := s.regions.HomeFor(in.Country)
	accts, err := s.regions.Accounts(region)
	if err != nil {
		return Grant{}, err
	}
	now := s.cfg.Now().UTC()
	authHash, err := s.hash(ctx, in.AuthKey)
	if err != nil {
		return Grant{}, err
	}
	acc := store.Account{
		ID: candor.NewAccountID(), Country: in.Country, Salt: in.Salt, KDF: in.KDF,
		AuthHash: authHash, Created: now,
	}
	if err := accts.CreateAccount(ctx, acc); err != nil {
		return Grant{}, err
	}
	// The region row comes first; the directory entry makes the account
	// reachable. If the handle was taken in between, undo the region row.
	if err := s.dir.CreateEntry(ctx, store.Entry{Account: acc.ID, Handle: in.Handle, Region: region, Created: now}); err != nil {
		if derr := s.undoSignup(ctx, accts, acc.ID, region); derr != nil {
			err = fmt.Errorf("%w (and undoing the account failed: %v)", err, derr)
		}
		if candor.Is(err, candor.Conflict) {
			return Grant{}, errTaken
		}
		return Grant{}, err
	}
	return s.open(ctx, accts, acc.ID, region, in.Pseudonym)
}

// undoSignup deletes the region row of an account whose directory entry
// could not be made; the deletion is on record as the system's.
func (s *Service) undoSignup(ctx context.Context, accts Accounts, account candor.AccountID, region candor.RegionID) error {
	ev, err := s.logs.AccountEvent(audit.ActorSystem, audit.ActionDeleteAccount, account, region, "")
	if err != nil {
		return err
	}
	return accts.DeleteAccount(ctx, s.logs.Record(ev), account)
}

var errTaken = candor.E(candor.Conflict, "an account already exists for this email: log in instead")

var errLogin = candor.E(candor.Unauthenticated, "wrong email or password")

// Login opens a session for a device after checking its auth key. Failures
// are counted per handle; too many within the window are refused with
// candor.RateLimited without checking the key.
func (s *Service) Login(ctx context.Context, handle, authKey, pseudonym []byte) (Grant, error) {
	if err := checkHandle(handle); err != nil {
		return Grant{}, err
	}
	if len(authKey) != AuthKeySize || len(pseudonym) != PseudonymSize {
		return Grant{}, candor.E(candor.Invalid, "the auth key and device pseudonym must be 32 bytes each")
	}
	entry, accts, err := s.checkLogin(ctx, handle, authKey)
	if err != nil {
		return Grant{}, err
	}
	return s.open(ctx, accts, entry.Account, entry.Region, pseudonym)
}

// checkLogin checks a sign-in's auth key against the account of handle
// and returns its directory entry and its region's store. Failures are
// counted per handle; too many within the window are refused with
// candor.RateLimited without checking the key. Unknown handles cost the
// same work as known ones.
func (s *Service) checkLogin(ctx context.Context, handle, authKey []byte) (store.Entry, Accounts, error) {
	if err := checkHandle(handle); err != nil {
		return store.Entry{}, nil, err
	}
	if len(authKey) != AuthKeySize {
		return store.Entry{}, nil, candor.Errorf(candor.Invalid, "the auth key must be %d bytes", AuthKeySize)
	}
	if _, err := s.secrets.Secret(keyring.SecretHandleOPRF); err != nil {
		return store.Entry{}, nil, err
	}
	if err := s.notLockedOut(ctx, handle); err != nil {
		return store.Entry{}, nil, err
	}
	entry, acc, err := s.lookup(ctx, handle)
	if err != nil && !candor.Is(err, candor.NotFound) {
		return store.Entry{}, nil, err
	}
	known := err == nil
	phc := s.dummy // the same work for unknown handles
	if known {
		phc = acc.AuthHash
	}
	if err := s.checkKey(ctx, handle, phc, authKey, known, errLogin); err != nil {
		return store.Entry{}, nil, err
	}
	if entry.Moving != "" {
		// A device registered in the source now would not be copied.
		return store.Entry{}, nil, candor.ErrMoving
	}
	accts, err := s.regions.Accounts(entry.Region)
	if err != nil {
		return store.Entry{}, nil, err
	}
	return entry, accts, nil
}

// notLockedOut refuses with candor.RateLimited a handle that failed too
// many times within the window.
func (s *Service) notLockedOut(ctx context.Context, handle []byte) error {
	att, err := s.dir.LoginAttempts(ctx, handle)
	if err != nil {
		return err
	}
	if wait := s.lockout(att, s.cfg.Now()); wait > 0 {
		return &candor.Error{Kind: candor.RateLimited, RetryAfter: wait,
			Message: fmt.Sprintf("too many failed logins: try again in %s", wait.Round(time.Second))}
	}
	return nil
}

// checkKey verifies authKey against phc within a hashing slot. A mismatch
// (or known false) is counted as a failed login of handle and answered
// wrong; a match clears the handle's failures.
func (s *Service) checkKey(ctx context.Context, handle []byte, phc string, authKey []byte, known bool, wrong error) error {
	ok, err := s.verify(ctx, phc, authKey)
	if err != nil {
		return err
	}
	if !ok || !known {
		if _, err := s.dir.LoginFailed(ctx, handle, s.cfg.Now().UTC(), s.cfg.Window); err != nil {
			return err
		}
		return wrong
	}
	return s.dir.LoginSucceeded(ctx, handle)
}

// lockout returns how long a handle must wait: nothing below MaxFailures
// failures in the window, then one minute doubling with each further
// failure, at most the window.
func (s *Service) lockout(a store.Attempts, now time.Time) time.Duration {
	if a.Failures < s.cfg.MaxFailures || now.Sub(a.First) > s.cfg.Window {
		return 0
	}
	d := time.Minute << min(a.Failures-s.cfg.MaxFailures, 10)
	d = min(d, s.cfg.Window)
	return a.Last.Add(d).Sub(now)
}

// open signs a device in: it registers the device (or finds it registered
// under its pseudonym), with the sign-in in the owner's log in the same
// transaction, and opens a session for it.
func (s *Service) open(ctx context.Context, accts Accounts, account candor.AccountID, region candor.RegionID, pseudonym []byte) (Grant, error) {
	now := s.cfg.Now().UTC()
	id, err := s.deviceID(ctx, accts, account, pseudonym)
	if err != nil {
		return Grant{}, err
	}
	p := candor.Principal{Account: account, Device: id, Region: region}
	ev, err := s.logs.DeviceEvent(p, audit.ActionLogin, "")
	if err != nil {
		return Grant{}, err
	}
	dev, err := accts.RegisterDevice(ctx, s.logs.Record(ev), store.Device{ID: id, Account: account, Pseudonym: pseudonym, Created: now})
	if err != nil {
		return Grant{}, err
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	sess := store.Session{TokenHash: hashToken(token), Account: account, Device: dev.ID, Created: now, Expires: now.Add(s.cfg.SessionTTL)}
	if err := s.dir.CreateSession(ctx, sess); err != nil {
		return Grant{}, err
	}
	return Grant{Principal: candor.Principal{Account: account, Device: dev.ID, Region: region}, Token: token, Issued: now, Expires: sess.Expires}, nil
}

// deviceID is the id of the device registered under pseudonym, or a new
// one: the id the sign-in's record names. (Two first sign-ins of one phone
// racing each other both register it once; the record of the one that
// loses names the id it tried.)
func (s *Service) deviceID(ctx context.Context, accts Accounts, account candor.AccountID, pseudonym []byte) (candor.DeviceID, error) {
	devs, err := accts.Devices(ctx, account)
	if err != nil {
		return "", err
	}
	for _, d := range devs {
		if subtle.ConstantTimeCompare(d.Pseudonym, pseudonym) == 1 {
			return d.ID, nil
		}
	}
	return candor.NewDeviceID(), nil
}

const tokenPrefix = "cdt_"

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

var errToken = candor.E(candor.Unauthenticated, "the session token is not valid: log in again")

// Authenticate returns the principal of a phone's session token.
// Unknown, malformed, revoked and expired tokens, and a browser's token
// (which only the cookie carries), are candor.Unauthenticated.
func (s *Service) Authenticate(ctx context.Context, token string) (candor.Principal, error) {
	g, err := s.authenticate(ctx, token, tokenPrefix)
	return g.Principal, err
}

// authenticate returns the session of token, which must carry prefix: its
// principal and expiry (no token).
func (s *Service) authenticate(ctx context.Context, token, prefix string) (Grant, error) {
	if !strings.HasPrefix(token, prefix) || len(token) != len(prefix)+43 {
		return Grant{}, errToken
	}
	sess, err := s.dir.Session(ctx, hashToken(token))
	if candor.Is(err, candor.NotFound) {
		return Grant{}, errToken
	} else if err != nil {
		return Grant{}, err
	}
	if !s.cfg.Now().Before(sess.Expires) {
		return Grant{}, candor.E(candor.Unauthenticated, "the session has expired: log in again")
	}
	entry, err := s.dir.Entry(ctx, sess.Account)
	if candor.Is(err, candor.NotFound) {
		return Grant{}, errToken
	} else if err != nil {
		return Grant{}, err
	}
	if entry.Moving != "" {
		return Grant{}, candor.ErrMoving
	}
	return Grant{Principal: candor.Principal{Account: sess.Account, Device: sess.Device, Region: entry.Region},
		Expires: sess.Expires, Browser: prefix == browserPrefix}, nil
}

// Logout revokes the session of token; a browser's device goes with it
// (see forgetBrowsers).
func (s *Service) Logout(ctx context.Context, token string) error {
	if IsBrowserToken(token) {
		return s.logoutBrowser(ctx, token)
	}
	return s.dir.DeleteSession(ctx, hashToken(token))
}

// Devices lists the devices of p's account.
func (s *Service) Devices(ctx context.Context, p candor.Principal) ([]store.Device, error) {
	accts, err := s.regions.Accounts(p.Region)
	if err != nil {
		return nil, err
	}
	return accts.Devices(ctx, p.Account)
}

// SignedIn tells which of p's account's devices hold a live session: a
// revoked phone, an app password revoked, a browser signed out do not.
func (s *Service) SignedIn(ctx context.Context, p candor.Principal) (map[candor.DeviceID]bool, error) {
	ids, err := s.dir.SignedInDevices(ctx, p.Account, s.cfg.Now())
	if err != nil {
		return nil, err
	}
	out := make(map[candor.DeviceID]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// RevokeDevice ends every session of one of p's devices and removes its
// messaging keys, queued messages and receipts. A device of another
// account is candor.NotFound.
func (s *Service) RevokeDevice(ctx context.Context, p candor.Principal, device candor.DeviceID) error {
	devs, err := s.Devices(ctx, p)
	if err != nil {
		return err
	}
	for _, d := range devs {
		if d.ID == device {
			if err := s.dir.DeleteDeviceSessions(ctx, p.Account, device); err != nil {
				return err
			}
			// Its messaging keys go too, so that senders stop sealing
			// messages to it, and what waits for it is dropped; the
			// revocation is in the owner's log in the same transaction.
			accts, err := s.regions.Accounts(p.Region)
			if err != nil {
				return err
			}
			ev, err := s.logs.DeviceEvent(p, audit.ActionRevokeDevice, "")
			if err != nil {
				return err
			}
			ev.Subject, err = s.logs.Device(device)
			if err != nil {
				return err
			}
			if err := accts.DeleteDeviceMessaging(ctx, s.logs.Record(ev), p.Account, device); err != nil {
				return err
			}
			return s.forgetBrowsers(ctx, accts, p.Account, d)
		}
	}
	return candor.E(candor.NotFound, "no such device on this account")
}

// Created returns when p's account was created.
func (s *Service) Created(ctx context.Context, p candor.Principal) (time.Time, error) {
	accts, err := s.regions.Accounts(p.Region)
	if err != nil {
		return time.Time{}, err
	}
	a, err := accts.Account(ctx, p.Account)
	return a.Created, err
}

// Delete deletes p's account and everything of it: first the directory
// entry with every session and every shred secret (from then on no copy of
// the account's data, backups included, can be opened, and nobody can log
// in), then the account, its devices, consent ledger, data keys and records
// in its home region.
//
// The deletion is in the directory's log and the region's, each in its
// deleting transaction; a refusal or failure is logged on its own.
func (s *Service) Delete(ctx context.Context, p candor.Principal) error {
	ev, err := s.logs.DeviceEvent(p, audit.ActionDeleteAccount, "")
	if err != nil {
		return err
	}
	notWiped, err := s.delete(ctx, p, s.logs.Record(ev))
	if err != nil {
		return s.logs.Outcome(ctx, ev, err)
	}
	return notWiped
}

// delete deletes the account, and reports apart (notWiped) a deletion that
// committed but is not yet wiped from the files: it is done and on record.
func (s *Service) delete(ctx context.Context, p candor.Principal, rec store.AuditRecord) (notWiped, err error) {
	accts, err := s.regions.Accounts(p.Region)
	if err != nil {
		return nil, err
	}
	// A deletion that committed but whose wipe could not finish (retryable)
	// goes on to the next step: the account's sessions are gone, so the
	// phone could not ask again, and the next wipe of those files wipes it
	// too. The retryable error is returned at the end, and is not logged
	// as a failure: the deletion is on record, and done.
	if err := s.dir.DeleteEntry(ctx, rec, p.Account); candor.Is(err, candor.Unavailable) {
		notWiped = err
	} else if err != nil {
		return nil, err
	}
	if err := accts.DeleteAccount(ctx, rec, p.Account); candor.Is(err, candor.Unavailable) {
		notWiped = err
	} else if err != nil {
		return nil, fmt.Errorf("account unreachable and shredded, but its region rows remain: %w", err)
	}
	// What the account keeps outside the region's database (blobs, the
	// messaging registration) is erased now; if that fails, the account
	// stays among the region's pending erasures, which DeleteAccount added
	// in its transaction, and FinishErasures retries it.
	if s.cfg.Erase != nil {
		if err := s.cfg.Erase(ctx, p); candor.Is(err, candor.Unavailable) {
			return err, nil
		} else if err != nil {
			return nil, fmt.Errorf("account deleted and shredded, but its blobs remain until the upkeep erases them: %w", err)
		}
	}
	if err := accts.ErasureDone(ctx, p.Account); err != nil && notWiped == nil {
		notWiped = err // erased; the next FinishErasures pass finds nothing left and clears it
	}
	return notWiped, nil
}

// FinishErasures erases, outside the region's database, what up to limit
// accounts deleted in region left there because the erasure failed when
// they were deleted (a blob store or directory that could not be reached),
// and reports how many it finished. An account that still exists was not
// deleted but moved away (a migration deletes it from its old region after
// erasing its blobs there): it is only cleared, and left for later while
// it is moving.
func (s *Service) FinishErasures(ctx context.Context, region candor.RegionID, limit int) (int, error) {
	if s.cfg.Erase == nil {
		return 0, nil
	}
	accts, err := s.regions.Accounts(region)
	if err != nil {
		return 0, err
	}
	pending, err := accts.PendingErasures(ctx, limit)
	if err != nil {
		return 0, err
	}
	done := 0
	for _, a := range pending {
		entry, err := s.dir.Entry(ctx, a)
		switch {
		case err == nil && entry.Moving != "":
			continue
		case err == nil:
		case candor.Is(err, candor.NotFound):
			if err := s.cfg.Erase(ctx, candor.Principal{Account: a, Region: region}); err != nil {
				return done, err
			}
		default:
			return done, err
		}
		if err := accts.ErasureDone(ctx, a); err != nil {
			return done, err
		}
		done++
	}
	return done, nil
}
