package client

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client/internal/transport"
)

// Config is a phone's identity, given once at Init. None of it is sent to
// the server: the IMEI only as a keyed pseudonym, the country as the
// account's country at signup.
type Config struct {
	// Server is the base URL of the Candor server, e.g. http://127.0.0.1:8080.
	Server string
	// IMEI is the phone's 15-digit IMEI.
	IMEI string
	// Phone is the phone's number in E.164 form, e.g. +919812345678.
	Phone string
	// Country is the ISO 3166-1 alpha-2 country the phone is sold in; it
	// chooses the account's home region at signup.
	Country string
}

// Option adjusts a Client.
type Option func(*options)

type options struct {
	hc    *http.Client
	kdf   api.KDF
	floor api.KDF
	now   func() time.Time
}

// WithHTTPClient makes the client send its requests through hc.
func WithHTTPClient(hc *http.Client) Option { return func(o *options) { o.hc = hc } }

// WithKDF sets the Argon2id cost used at signup (default DefaultKDF).
func WithKDF(k api.KDF) Option { return func(o *options) { o.kdf = k } }

// WithKDFFloor sets the weakest Argon2id cost the phone accepts at signup
// and login (default MinimumKDF). Lower it only in tests.
func WithKDFFloor(k api.KDF) Option { return func(o *options) { o.floor = k } }

// Client is one phone: its state folder and its connection to the server.
//
// A Client's methods are safe for concurrent use; they are serialized. Two
// Clients (or two processes) must not use the same state folder at once.
type Client struct {
	dir  string
	opts options

	mu       sync.Mutex
	dev      deviceState
	sess     *sessionState
	consents consentState
	cats     map[candor.Category]*categoryState
}

// egressLeak is nil in every normal build. Only a build with the
// egressleak tag (leak_egressleak.go, used by the tests of `candor
// verify-egress`) sets it, to make the phone leak personal data on purpose
// and show that the egress proof catches it. Open calls it when set.
var egressLeak func(c *Client)

var (
	imeiPattern    = regexp.MustCompile(`^[0-9]{15}$`)
	phonePattern   = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	countryPattern = regexp.MustCompile(`^[A-Z]{2}$`)
)

// Init makes dir the storage of a new phone with the identity cfg and opens
// it. It makes no network request. It fails with Conflict if dir already
// holds a phone, and with Invalid if cfg is malformed.
func Init(dir string, cfg Config, opts ...Option) (*Client, error) {
	cfg.Server = strings.TrimRight(strings.TrimSpace(cfg.Server), "/")
	cfg.Country = strings.ToUpper(strings.TrimSpace(cfg.Country))
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, deviceFile)); err == nil {
		return nil, candor.E(candor.Conflict, "this state folder already holds a phone")
	}
	if err := os.MkdirAll(filepath.Join(dir, recordsDir), 0o700); err != nil {
		return nil, candor.Wrap(candor.Internal, "cannot create the state folder", err)
	}
	os.Chmod(dir, 0o700)
	dev := deviceState{
		Version: stateVersion,
		Server:  cfg.Server,
		IMEI:    cfg.IMEI,
		Phone:   cfg.Phone,
		Country: cfg.Country,
		Created: time.Now().UTC(),
	}
	if err := writeJSON(filepath.Join(dir, consentsFile), consentState{Categories: map[candor.Category]consentEntry{}}); err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(dir, deviceFile), dev); err != nil {
		return nil, err
	}
	return Open(dir, opts...)
}

func (cfg Config) validate() error {
	u, err := url.Parse(cfg.Server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return candor.E(candor.Invalid, "the server must be an http:// or https:// URL")
	}
	if u.Scheme == "http" && !transport.Loopback(u.Hostname()) {
		return candor.E(candor.Invalid, "the server must use https:// (plain http:// is accepted only for this machine: localhost, 127.0.0.1, ::1)")
	}
	if !imeiPattern.MatchString(cfg.IMEI) {
		return candor.E(candor.Invalid, "the IMEI must be 15 digits")
	}
	if !phonePattern.MatchString(cfg.Phone) {
		return candor.E(candor.Invalid, "the phone number must be in E.164 form, like +919812345678")
	}
	if !countryPattern.MatchString(cfg.Country) {
		return candor.E(candor.Invalid, "the country must be a two-letter ISO 3166 code, like IN")
	}
	return nil
}

// Open loads the phone stored in dir. It makes no network request. It fails
// with NotFound if dir holds no phone (see Init).
func Open(dir string, opts ...Option) (*Client, error) {
	c := &Client{
		dir: dir,
		opts: options{
			hc:    &http.Client{Timeout: 2 * time.Minute},
			kdf:   DefaultKDF,
			floor: MinimumKDF,
			now:   time.Now,
		},
		cats: make(map[candor.Category]*categoryState),
	}
	for _, o := range opts {
		o(&c.opts)
	}
	if err := readJSON(filepath.Join(dir, deviceFile), &c.dev); err != nil {
		if candor.Is(err, candor.NotFound) {
			return nil, candor.E(candor.NotFound, "no phone in this state folder: run 'init' first")
		}
		return nil, err
	}
	if c.dev.Version != stateVersion {
		return nil, candor.Errorf(candor.Invalid, "the state folder has format version %d; this client reads version %d", c.dev.Version, stateVersion)
	}
	var sess sessionState
	switch err := readJSON(filepath.Join(dir, sessionFile), &sess); {
	case err == nil:
		c.sess = &sess
	case !candor.Is(err, candor.NotFound):
		return nil, err
	}
	if err := readJSON(filepath.Join(dir, consentsFile), &c.consents); err != nil && !candor.Is(err, candor.NotFound) {
		return nil, err
	}
	if egressLeak != nil {
		egressLeak(c) // test builds only: see egressLeak
	}
	return c, nil
}

// Dir returns the state folder.
func (c *Client) Dir() string { return c.dir }

// remote is the phone's server, in the phone's session when it has one.
func (c *Client) remote() *transport.API {
	token := ""
	if c.sess != nil {
		token = c.sess.Token
	}
	return transport.New(c.dev.Server, c.opts.hc, token)
}

var (
	errNotSignedIn  = candor.E(candor.Unauthenticated, "this phone is not signed in: run 'signup' or 'login' first")
	errSessionEnded = candor.E(candor.Unauthenticated, "this phone's session has ended (expired or revoked): sign in again with 'login'")
)

// call makes a request in the phone's session. If the server no longer
// accepts the session token, the session is forgotten (it cannot be used
// again) so that the person can sign in anew.
func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	err := c.remote().Do(ctx, method, path, in, out)
	if candor.Is(err, candor.Unauthenticated) && c.sess != nil {
		c.forgetSession()
		return errSessionEnded
	}
	return err
}

// forgetSession drops the session and the device key, and what the phone
// knew of the account's consents; the phone's own data stays.
func (c *Client) forgetSession() error {
	if err := os.Remove(filepath.Join(c.dir, sessionFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return candor.Wrap(candor.Internal, "cannot forget the session", err)
	}
	c.sess = nil
	c.consents = consentState{Account: c.consents.Account, Categories: map[candor.Category]consentEntry{}}
	return c.saveConsents()
}

// Session describes the account signed in on this phone.
type Session struct {
	Account   candor.AccountID
	Device    candor.DeviceID
	Region    candor.RegionID
	ExpiresAt time.Time
}

// handle computes the login handle of email with the server's blind help.
func (c *Client) handle(ctx context.Context, email string) ([]byte, error) {
	h, blinded, err := blindHandle(email)
	if err != nil {
		return nil, err
	}
	var resp api.HandleResponse
	if err := c.remote().Do(ctx, http.MethodPost, "/auth/handle", api.HandleRequest{Blinded: blinded}, &resp); err != nil {
		return nil, err
	}
	return h.finish(resp.Evaluated)
}

func checkCredentials(email, password string) error {
	e := NormalizeEmail(email)
	if e == "" || !strings.Contains(e, "@") || strings.ContainsAny(e, " \t\r\n") {
		return candor.E(candor.Invalid, "the email address is not valid")
	}
	if password == "" {
		return candor.E(candor.Invalid, "the password is empty")
	}
	return nil
}

// Signup creates an account for email and password and signs this phone in.
// The email and the password never leave the phone: the server gets an OPRF
// login handle, a salt, the Argon2id cost, an auth key derived from the
// password, the country and the phone's keyed IMEI pseudonym. Every
// category starts off. It fails with Conflict if the phone is signed in, or
// if the account exists.
func (c *Client) Signup(ctx context.Context, email, password string) (Session, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess != nil {
		return Session{}, candor.E(candor.Conflict, "this phone is already signed in: log out first")
	}
	if err := checkCredentials(email, password); err != nil {
		return Session{}, err
	}
	if err := checkKDF(c.opts.kdf, c.opts.floor); err != nil {
		return Session{}, err
	}
	handle, err := c.handle(ctx, email)
	if err != nil {
		return Session{}, err
	}
	salt := make([]byte, saltBytes)
	rand.Read(salt)
	sec, err := deriveSecrets(password, salt, c.opts.kdf)
	if err != nil {
		return Session{}, err
	}
	pseudo := devicePseudonym(sec.DeviceKey, c.dev.IMEI)
	req := api.SignupRequest{
		Handle:  handle,
		Salt:    salt,
		KDF:     c.opts.kdf,
		AuthKey: sec.AuthKey,
		Country: c.dev.Country,
		Device:  api.DeviceInfo{Pseudonym: pseudo},
	}
	var s api.Session
	if err := c.remote().Do(ctx, http.MethodPost, "/accounts", req, &s); err != nil {
		return Session{}, err
	}
	return c.signedIn(ctx, s, sec, pseudo)
}

// Login signs this phone in to the account of email. The server names the
// salt and Argon2id cost; a cost below the floor (MinimumKDF, see
// WithKDFFloor) is refused before the password is used. A wrong email or
// password fails with Unauthenticated; a phone already signed in with
// Conflict.
func (c *Client) Login(ctx context.Context, email, password string) (Session, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess != nil {
		return Session{}, candor.E(candor.Conflict, "this phone is already signed in: log out first")
	}
	if err := checkCredentials(email, password); err != nil {
		return Session{}, err
	}
	handle, err := c.handle(ctx, email)
	if err != nil {
		return Session{}, err
	}
	var salt api.SaltResponse
	if err := c.remote().Do(ctx, http.MethodPost, "/auth/salt", api.SaltRequest{Handle: handle}, &salt); err != nil {
		return Session{}, err
	}
	if err := checkKDF(salt.KDF, c.opts.floor); err != nil {
		return Session{}, err
	}
	sec, err := deriveSecrets(password, salt.Salt, salt.KDF)
	if err != nil {
		return Session{}, err
	}
	pseudo := devicePseudonym(sec.DeviceKey, c.dev.IMEI)
	req := api.LoginRequest{Handle: handle, AuthKey: sec.AuthKey, Device: api.DeviceInfo{Pseudonym: pseudo}}
	var s api.Session
	if err := c.remote().Do(ctx, http.MethodPost, "/sessions", req, &s); err != nil {
		return Session{}, err
	}
	return c.signedIn(ctx, s, sec, pseudo)
}

// signedIn stores a new session and learns the account's consents.
func (c *Client) signedIn(ctx context.Context, s api.Session, sec secrets, pseudo []byte) (Session, error) {
	if s.Token == "" || s.Account == "" {
		return Session{}, candor.E(candor.Internal, "the server's session answer is incomplete")
	}
	c.sess = &sessionState{
		Account:   s.Account,
		Device:    s.Device,
		Region:    s.Region,
		Token:     s.Token,
		ExpiresAt: s.ExpiresAt,
		DeviceKey: sec.DeviceKey,
		Pseudonym: pseudo,
	}
	if err := writeJSON(filepath.Join(c.dir, sessionFile), c.sess); err != nil {
		c.sess = nil
		return Session{}, err
	}
	if c.consents.Account != s.Account {
		// Another account's consents say nothing about this one.
		c.consents = consentState{Account: s.Account, Categories: map[candor.Category]consentEntry{}}
		if err := c.saveConsents(); err != nil {
			return Session{}, err
		}
	}
	// Consent state is not personal: learn it now so that status is right.
	// A failure here is not a failure to sign in.
	_ = c.refreshConsents(ctx)
	if c.sess == nil {
		return Session{}, errSessionEnded
	}
	return c.session(), nil
}

func (c *Client) session() Session {
	return Session{
		Account:   candor.AccountID(c.sess.Account),
		Device:    candor.DeviceID(c.sess.Device),
		Region:    candor.RegionID(c.sess.Region),
		ExpiresAt: c.sess.ExpiresAt,
	}
}

// Logout ends this phone's session on the server and forgets the session
// token, the device key and the account's consents. The phone's local data
// stays. Logging out a phone
// that is not signed in does nothing.
func (c *Client) Logout(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return nil
	}
	err := c.remote().Do(ctx, http.MethodDelete, "/sessions/current", nil, nil)
	if err != nil && !candor.Is(err, candor.Unauthenticated) {
		return err
	}
	return c.forgetSession()
}

// DeleteAccount deletes the signed-in account and everything of it in the
// cloud: every category's data and keys, every device's session, the
// consent ledger. The phone keeps its own contacts and notes, signed out.
func (c *Client) DeleteAccount(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return errNotSignedIn
	}
	if err := c.remote().Do(ctx, http.MethodDelete, "/account", nil, nil); err != nil {
		return err
	}
	return c.forgetSession()
}

// Consent is the state of one category as this phone knows it.
type Consent struct {
	Category candor.Category
	On       bool
	// Epoch identifies the period the category has been on (see
	// api.Consent.Epoch); 0 when off.
	Epoch int64
	Since *time.Time
}

// Consents fetches the account's consents from the server (a request that
// carries nothing personal), remembers them and returns all five categories
// in the order of candor.Categories.
func (c *Client) Consents(ctx context.Context) ([]Consent, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return nil, errNotSignedIn
	}
	if err := c.refreshConsents(ctx); err != nil {
		return nil, err
	}
	return c.consentList(), nil
}

func (c *Client) consentList() []Consent {
	var out []Consent
	for _, cat := range candor.Categories() {
		e := c.consents.Categories[cat]
		out = append(out, Consent{Category: cat, On: e.On, Epoch: e.Epoch, Since: e.Since})
	}
	return out
}

// refreshConsents replaces the phone's copy of the consents with the
// server's. Categories the server does not list are off.
func (c *Client) refreshConsents(ctx context.Context) error {
	var cs api.Consents
	if err := c.call(ctx, http.MethodGet, "/consents", nil, &cs); err != nil {
		return err
	}
	next := consentState{Account: c.sess.Account, Categories: map[candor.Category]consentEntry{}, Checked: c.opts.now().UTC()}
	for _, s := range cs.Consents {
		cat := candor.Category(s.Category)
		if !cat.Valid() {
			continue
		}
		next.set(cat, entryOf(s))
	}
	c.consents = next
	if cs.Region != "" && cs.Region != c.sess.Region {
		// The account was migrated to another region.
		c.sess.Region = cs.Region
		if err := writeJSON(filepath.Join(c.dir, sessionFile), c.sess); err != nil {
			return err
		}
	}
	return c.saveConsents()
}

func entryOf(s api.Consent) consentEntry {
	if !s.On {
		return consentEntry{Since: s.Since}
	}
	return consentEntry{On: true, Epoch: s.Epoch, Since: s.Since}
}

func (c *Client) saveConsents() error {
	return writeJSON(filepath.Join(c.dir, consentsFile), c.consents)
}

// markOff records that the server refused a category for lack of consent.
func (c *Client) markOff(cat candor.Category) {
	c.consents.set(cat, consentEntry{})
	c.saveConsents()
}

// SetConsent turns a category on or off for the whole account (every
// device), under the current privacy policy (candor.PolicyVersion).
// Turning a category off makes the server destroy its cloud copy at once;
// this phone keeps its own data but stops syncing it. Turning it on again
// starts a new epoch with an empty cloud copy.
func (c *Client) SetConsent(ctx context.Context, cat candor.Category, on bool) (Consent, error) {
	if cat == candor.Messaging { // messaging has its own activation: the number verified, keys made
		if on {
			return c.ActivateMessaging(ctx, "")
		}
		return c.DeactivateMessaging(ctx)
	}
	return c.setConsent(ctx, cat, on)
}

// setConsent records a consent change on the server.
func (c *Client) setConsent(ctx context.Context, cat candor.Category, on bool) (Consent, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !cat.Valid() {
		_, err := candor.ParseCategory(string(cat))
		return Consent{}, err
	}
	if c.sess == nil {
		return Consent{}, errNotSignedIn
	}
	var got api.Consent
	req := api.ConsentRequest{On: on, PolicyVersion: candor.PolicyVersion}
	if err := c.call(ctx, http.MethodPut, "/consents/"+string(cat), req, &got); err != nil {
		return Consent{}, err
	}
	if got.Category != "" && got.Category != string(cat) {
		return Consent{}, candor.E(candor.Internal, "the server answered for another category")
	}
	e := entryOf(got)
	c.consents.set(cat, e)
	if err := c.saveConsents(); err != nil {
		return Consent{}, err
	}
	return Consent{Category: cat, On: e.On, Epoch: e.Epoch, Since: e.Since}, nil
}

// Status is what the phone knows locally; it is computed without any
// network request.
type Status struct {
	Server   string
	Country  string
	SignedIn bool
	Account  candor.AccountID
	Device   candor.DeviceID
	Region   candor.RegionID
	// ConsentsChecked is when consents were last fetched from the server.
	ConsentsChecked time.Time
	Categories      []CategoryStatus
}

// CategoryStatus is one category's state on the phone.
type CategoryStatus struct {
	Category candor.Category
	On       bool
	Items    int // records the phone holds (not counting pending deletions)
	Pending  int // local changes not yet synced
	LastSync time.Time
}

// Status reports the phone's state: its account, and for every category
// whether it is on and how many items the phone holds.
func (c *Client) Status() (Status, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := Status{Server: c.dev.Server, Country: c.dev.Country, ConsentsChecked: c.consents.Checked}
	if c.sess != nil {
		st.SignedIn = true
		st.Account = candor.AccountID(c.sess.Account)
		st.Device = candor.DeviceID(c.sess.Device)
		st.Region = candor.RegionID(c.sess.Region)
	}
	for _, cat := range candor.Categories() {
		cs := CategoryStatus{Category: cat, On: c.consents.on(cat)}
		if cat.Synced() {
			s, err := c.category(cat)
			if err != nil {
				return Status{}, err
			}
			cs.Items = len(s.live())
			cs.Pending = len(s.dirty())
			cs.LastSync = s.LastSync
		}
		st.Categories = append(st.Categories, cs)
	}
	return st, nil
}

// category returns the loaded state of cat, reading it on first use.
func (c *Client) category(cat candor.Category) (*categoryState, error) {
	if s, ok := c.cats[cat]; ok {
		return s, nil
	}
	s := &categoryState{}
	if err := readJSON(c.categoryPath(cat), s); err != nil && !candor.Is(err, candor.NotFound) {
		return nil, err
	}
	s.reindex()
	c.cats[cat] = s
	return s, nil
}

func (c *Client) categoryPath(cat candor.Category) string {
	return filepath.Join(c.dir, recordsDir, string(cat)+".json")
}

func (c *Client) saveCategory(cat candor.Category) error {
	s, ok := c.cats[cat]
	if !ok {
		return nil
	}
	if err := os.MkdirAll(filepath.Join(c.dir, recordsDir), 0o700); err != nil {
		return candor.Wrap(candor.Internal, "cannot write the phone's state", err)
	}
	return writeJSON(c.categoryPath(cat), s)
}

// String describes a consent without personal data.
func (s Consent) String() string {
	if s.On {
		return fmt.Sprintf("%s on", s.Category)
	}
	return fmt.Sprintf("%s off", s.Category)
}
