package staff

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/store"
)

// PasskeyStore is what passkeys and console sessions need of the directory.
type PasskeyStore interface {
	store.StaffPasskeys
}

// PasskeyConfig tunes Passkeys.
type PasskeyConfig struct {
	// Origin is the web origin of the staff console, such as
	// "https://candor.example.org" or "http://127.0.0.1:8080"; the relying
	// party id is its host.
	Origin string
	// SessionTTL is how long a console session lasts (default 8 h; it is
	// not renewed).
	SessionTTL time.Duration
	// ChallengeTTL is how long a challenge may be answered (default 5 min).
	ChallengeTTL time.Duration
	// MaxPerStaff bounds the registration and approval challenges waiting
	// for one staff member (default 16). Sign-in challenges are not kept
	// while they wait, and need no bound.
	MaxPerStaff int
	// Secrets is the keyring: its system secret keyring.SecretStaffSignIn
	// seals the sign-in challenges, the same on every instance sharing the
	// directory (required).
	Secrets Secrets
	Now     func() time.Time
}

// Passkeys registers staff passkeys (WebAuthn credentials) and signs staff
// in to the console with them, and checks the fresh assertion an approval
// from the console needs. Passkeys of a revoked identity stop working at
// once, and so do its console sessions: each use reads the identity.
type Passkeys struct {
	wa   *webauthn.WebAuthn
	st   PasskeyStore
	logs *audit.Logs
	cfg  PasskeyConfig
	ch   *challenges
	in   *signIns
}

// NewPasskeys returns Passkeys for the console at cfg.Origin.
func NewPasskeys(st PasskeyStore, logs *audit.Logs, cfg PasskeyConfig) (*Passkeys, error) {
	u, err := url.Parse(cfg.Origin)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" || u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("web origin %q: give a scheme and a host, such as https://candor.example.org", cfg.Origin)
	}
	if net.ParseIP(u.Hostname()) != nil {
		return nil, fmt.Errorf("web origin %q: passkeys need a host name, not an IP address (browsers refuse one): use localhost or a name", cfg.Origin)
	}
	origin := u.Scheme + "://" + u.Host
	wa, err := webauthn.New(&webauthn.Config{RPID: u.Hostname(), RPDisplayName: "Candor staff console", RPOrigins: []string{origin}})
	if err != nil {
		return nil, fmt.Errorf("web origin %q: %v", cfg.Origin, err)
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 8 * time.Hour
	}
	if cfg.ChallengeTTL <= 0 {
		cfg.ChallengeTTL = 5 * time.Minute
	}
	if cfg.MaxPerStaff <= 0 {
		cfg.MaxPerStaff = 16
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Secrets == nil {
		return nil, fmt.Errorf("passkeys need the keyring's secrets (to seal sign-in challenges)")
	}
	cfg.Origin = origin
	return &Passkeys{wa: wa, st: st, logs: logs, cfg: cfg,
		ch: &challenges{st: st, ttl: cfg.ChallengeTTL, perStaff: cfg.MaxPerStaff, now: cfg.Now},
		in: &signIns{secrets: cfg.Secrets, spent: st, ttl: cfg.ChallengeTTL, now: cfg.Now}}, nil
}

// Origin is the console's web origin, as configured.
func (p *Passkeys) Origin() string { return p.cfg.Origin }

// user is a staff member as go-webauthn sees one: the user handle is the
// staff id (no personal data), the names the staff member's own.
type user struct {
	st    store.Staff
	creds []webauthn.Credential
}

func (u user) WebAuthnID() []byte                         { return []byte(u.st.ID) }
func (u user) WebAuthnName() string                       { return u.st.Name }
func (u user) WebAuthnDisplayName() string                { return u.st.Name }
func (u user) WebAuthnCredentials() []webauthn.Credential { return u.creds }

func credential(pk store.Passkey) webauthn.Credential {
	c := webauthn.Credential{ID: pk.ID, PublicKey: pk.PublicKey, Flags: webauthn.CredentialFlagsFromMsgpByte(pk.Flags),
		Authenticator: webauthn.Authenticator{AAGUID: pk.AAGUID, SignCount: pk.SignCount}}
	for _, t := range pk.Transports {
		c.Transport = append(c.Transport, protocol.AuthenticatorTransport(t))
	}
	return c
}

var errRevoked = candor.E(candor.Unauthenticated, "this staff identity was revoked")

// load reads an active staff member and their passkeys.
func (p *Passkeys) load(ctx context.Context, id string) (user, error) {
	st, err := p.st.StaffByID(ctx, id)
	if candor.Is(err, candor.NotFound) {
		return user{}, candor.E(candor.Unauthenticated, "no such staff identity")
	} else if err != nil {
		return user{}, err
	}
	if !st.Revoked.IsZero() {
		return user{}, errRevoked
	}
	keys, err := p.st.PasskeysOf(ctx, id)
	if err != nil {
		return user{}, err
	}
	u := user{st: st}
	for _, k := range keys {
		u.creds = append(u.creds, credential(k))
	}
	return u, nil
}

func identity(st store.Staff) Identity {
	id := Identity{ID: st.ID, Name: st.Name}
	for _, r := range st.Roles {
		id.Roles = append(id.Roles, Role(r))
	}
	return id
}

// RegistrationOptions starts adding a passkey for who, a staff member
// signed in with their staff token: a discoverable credential (resident
// key required), user verification preferred, none of their passkeys
// again.
func (p *Passkeys) RegistrationOptions(ctx context.Context, who Identity) (*protocol.CredentialCreation, error) {
	u, err := p.load(ctx, who.ID)
	if err != nil {
		return nil, err
	}
	var exclude []protocol.CredentialDescriptor
	for _, c := range u.creds {
		exclude = append(exclude, c.Descriptor())
	}
	opts, sd, err := p.wa.BeginRegistration(u,
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{ResidentKey: protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(), UserVerification: protocol.VerificationRequired}),
		webauthn.WithExclusions(exclude), webauthn.WithConveyancePreference(protocol.PreferNoAttestation))
	if err != nil {
		return nil, candor.Wrap(candor.Internal, "passkey options", err)
	}
	if err := p.ch.put(ctx, pending{ceremony: ceremonyRegister, staff: who.ID, session: *sd}); err != nil {
		return nil, err
	}
	opts.Response.Timeout = int(p.cfg.ChallengeTTL / time.Millisecond)
	return opts, nil
}

// errAnswer is the refusal of an answer to no challenge of this kind.
var errAnswer = candor.E(candor.Forbidden, "this passkey answer is to no challenge waiting here: it was used, it expired or it was for something else; start again")

// Register finishes adding a passkey for who from the browser's answer
// (the JSON of navigator.credentials.create's result). The passkey's
// registration is in the directory's audit log, in the same transaction.
func (p *Passkeys) Register(ctx context.Context, who Identity, answer []byte) (store.Passkey, error) {
	parsed, err := protocol.ParseCredentialCreationResponseBytes(answer)
	if err != nil {
		return store.Passkey{}, candor.E(candor.Invalid, "the passkey answer is not a credential the browser made (navigator.credentials.create)")
	}
	pend, ok, err := p.ch.take(ctx, parsed.Response.CollectedClientData.Challenge)
	if err != nil {
		return store.Passkey{}, err
	}
	if !ok || pend.ceremony != ceremonyRegister || pend.staff != who.ID {
		return store.Passkey{}, errAnswer
	}
	u, err := p.load(ctx, who.ID)
	if err != nil {
		return store.Passkey{}, err
	}
	cred, err := p.wa.CreateCredential(u, pend.session, parsed)
	if err != nil {
		return store.Passkey{}, candor.Wrap(candor.Forbidden, "the passkey did not verify: "+protocolReason(err), err)
	}
	pk := store.Passkey{ID: cred.ID, Staff: who.ID, PublicKey: cred.PublicKey, SignCount: cred.Authenticator.SignCount,
		AAGUID: cred.Authenticator.AAGUID, Flags: cred.Flags.MsgpByte(), Created: p.cfg.Now().UTC()}
	for _, t := range cred.Transport {
		if s := strings.ToLower(string(t)); len(pk.Transports) < 8 && validTransport(s) {
			pk.Transports = append(pk.Transports, s)
		}
	}
	ev := audit.StaffEvent(who.ID, audit.ActionPasskeyAdd)
	ev.Subject = who.ID
	if err := p.st.AddPasskey(ctx, p.logs.Record(ev), pk); err != nil {
		return store.Passkey{}, err
	}
	return pk, nil
}

// validTransport accepts the transport names browsers report (usb, nfc,
// ble, internal, hybrid, smart-card): a lowercase word.
func validTransport(s string) bool {
	if s == "" || len(s) > 32 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// protocolReason is go-webauthn's short description of a failed check
// (never personal data: it names the check).
func protocolReason(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Details != "" {
		return strings.ToLower(strings.TrimSuffix(pe.Details, "."))
	}
	return "check the passkey and the console's address"
}

// SignInOptions starts a sign-in to the console with any passkey
// (discoverable credentials: no list of allowed credentials). Nobody is
// authenticated yet, so the API limits it per address; and the challenge
// is sealed by the server rather than stored (see signIns), so that no
// number of them refuses a real staff member's. ErrSealed while sealed.
func (p *Passkeys) SignInOptions(ctx context.Context) (*protocol.CredentialAssertion, error) {
	challenge, _, err := p.in.issue()
	if err != nil {
		return nil, err
	}
	opts, _, err := p.wa.BeginDiscoverableLogin(webauthn.WithChallenge(challenge), webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, candor.Wrap(candor.Internal, "passkey options", err)
	}
	opts.Response.Timeout = int(p.cfg.ChallengeTTL / time.Millisecond)
	return opts, nil
}

// Session is a console session: its identity, its token (shown once, at
// sign-in) and when it ends.
type Session struct {
	Identity Identity
	Token    string
	Started  time.Time
	Expires  time.Time
}

const sessionTokenLen = len(tokenPrefix) + 43

var errSession = candor.E(candor.Unauthenticated, "not signed in to the staff console, or the session ended: sign in with your passkey")

// SignIn finishes a sign-in from the browser's answer (the JSON of
// navigator.credentials.get's result) and starts a session of
// SessionTTL. A challenge this server did not seal, or that expired, or
// was answered already, an unknown passkey, a revoked identity, a bad
// signature and a counter that did not go up (a cloned authenticator)
// are Unauthenticated. The challenge is recorded as answered only once
// the assertion verified. The sign-in is in the directory's audit log, in
// the same transaction as the session.
func (p *Passkeys) SignIn(ctx context.Context, answer []byte) (Session, error) {
	parsed, err := protocol.ParseCredentialRequestResponseBytes(answer)
	if err != nil {
		return Session{}, candor.E(candor.Invalid, "the passkey answer is not an assertion the browser made (navigator.credentials.get)")
	}
	challenge := parsed.Response.CollectedClientData.Challenge
	expires, err := p.in.check(challenge)
	if err != nil {
		return Session{}, err
	}
	// The session go-webauthn would have kept, rebuilt from the challenge
	// (its expiry is checked above, on the server's clock).
	session := webauthn.SessionData{Challenge: challenge, RelyingPartyID: p.wa.Config.RPID,
		UserVerification: protocol.VerificationRequired}
	var who user
	var loadErr error
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		pk, err := p.st.Passkey(ctx, rawID)
		if err != nil {
			loadErr = candor.E(candor.Unauthenticated, "this passkey is not registered here")
			return nil, loadErr
		}
		if subtle.ConstantTimeCompare([]byte(pk.Staff), userHandle) != 1 {
			loadErr = candor.E(candor.Unauthenticated, "this passkey is not registered here")
			return nil, loadErr
		}
		who, loadErr = p.load(ctx, pk.Staff)
		if loadErr != nil {
			return nil, loadErr
		}
		return who, nil
	}
	_, cred, err := p.wa.ValidatePasskeyLogin(handler, session, parsed)
	if loadErr != nil {
		return Session{}, loadErr
	}
	if err != nil {
		return Session{}, candor.Wrap(candor.Unauthenticated, "the passkey did not verify: "+protocolReason(err), err)
	}
	if err := p.in.spend(ctx, challenge, expires); err != nil {
		return Session{}, err
	}
	if err := p.used(ctx, cred); err != nil {
		return Session{}, err
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	now := p.cfg.Now().UTC()
	s := Session{Identity: identity(who.st), Token: token, Started: now, Expires: now.Add(p.cfg.SessionTTL)}
	ev := audit.StaffEvent(who.st.ID, audit.ActionStaffSignIn)
	ev.Method = store.ApprovedByPasskey
	err = p.st.CreateStaffSession(ctx, p.logs.Record(ev), store.StaffSession{TokenHash: hashToken(token), Staff: who.st.ID,
		Created: now, Expires: s.Expires})
	if err != nil {
		return Session{}, err
	}
	return s, nil
}

var errCloned = candor.E(candor.Unauthenticated, "this passkey's counter did not go up: it may have been copied; register a new one")

// used records a verified use of a passkey, or refuses a counter that did
// not go up (a cloned authenticator): go-webauthn flags one against the
// counter it was given (CloneWarning, leaving the counter as it was), and
// the directory refuses to store a counter not above the one it holds
// now (another use may have stored a later one since it was read).
func (p *Passkeys) used(ctx context.Context, cred *webauthn.Credential) error {
	if cred.Authenticator.CloneWarning {
		return errCloned
	}
	err := p.st.UsePasskey(ctx, cred.ID, cred.Authenticator.SignCount, p.cfg.Now().UTC())
	if candor.Is(err, candor.Conflict) {
		return errCloned
	}
	return err
}

// Authenticate returns the identity and end of a console session. Unknown,
// malformed and expired sessions, and those of revoked identities, are
// Unauthenticated.
func (p *Passkeys) Authenticate(ctx context.Context, token string) (Identity, time.Time, error) {
	if !strings.HasPrefix(token, tokenPrefix) || len(token) != sessionTokenLen {
		return Identity{}, time.Time{}, errSession
	}
	s, err := p.st.StaffSession(ctx, hashToken(token))
	if candor.Is(err, candor.NotFound) {
		return Identity{}, time.Time{}, errSession
	} else if err != nil {
		return Identity{}, time.Time{}, err
	}
	if !p.cfg.Now().Before(s.Expires) {
		return Identity{}, time.Time{}, errSession
	}
	u, err := p.load(ctx, s.Staff)
	if err != nil {
		return Identity{}, time.Time{}, err
	}
	id := identity(u.st)
	id.Console = true
	return id, s.Expires, nil
}

// SignOut ends a console session; ending an unknown one is not an error.
func (p *Passkeys) SignOut(ctx context.Context, token string) error {
	if !strings.HasPrefix(token, tokenPrefix) || len(token) != sessionTokenLen {
		return nil
	}
	return p.st.DeleteStaffSession(ctx, hashToken(token))
}

// ApprovalOptions starts the fresh assertion who needs to approve request
// from the console: any of their own passkeys, the challenge bound to
// them and to that request alone.
func (p *Passkeys) ApprovalOptions(ctx context.Context, who Identity, request string) (*protocol.CredentialAssertion, error) {
	u, err := p.load(ctx, who.ID)
	if err != nil {
		return nil, err
	}
	if len(u.creds) == 0 {
		return nil, candor.E(candor.Forbidden, "you have no passkey: register one with your staff token first")
	}
	opts, sd, err := p.wa.BeginLogin(u, webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, candor.Wrap(candor.Internal, "passkey options", err)
	}
	if err := p.ch.put(ctx, pending{ceremony: ceremonyApprove, staff: who.ID, request: request, session: *sd}); err != nil {
		return nil, err
	}
	opts.Response.Timeout = int(p.cfg.ChallengeTTL / time.Millisecond)
	return opts, nil
}

// VerifyApproval checks a fresh assertion for who's approval of request:
// its challenge was issued by ApprovalOptions for this staff member and
// this request, is answered once, and is signed by one of their passkeys.
// Anything else is Forbidden.
func (p *Passkeys) VerifyApproval(ctx context.Context, who Identity, request string, answer []byte) error {
	parsed, err := protocol.ParseCredentialRequestResponseBytes(answer)
	if err != nil {
		return candor.E(candor.Invalid, "the assertion is not one the browser made (navigator.credentials.get)")
	}
	pend, ok, err := p.ch.take(ctx, parsed.Response.CollectedClientData.Challenge)
	if err != nil {
		return err
	}
	if !ok || pend.ceremony != ceremonyApprove || pend.staff != who.ID || pend.request != request {
		return errAnswer
	}
	u, err := p.load(ctx, who.ID)
	if err != nil {
		return err
	}
	cred, err := p.wa.ValidateLogin(u, pend.session, parsed)
	if err != nil {
		return candor.Wrap(candor.Forbidden, "the passkey assertion did not verify: "+protocolReason(err), err)
	}
	if err := p.used(ctx, cred); err != nil {
		return candor.E(candor.Forbidden, candor.Message(err))
	}
	return nil
}
