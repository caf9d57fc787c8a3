// Package messaging is Candor's cloud messaging (promise P5): free texts
// between phones over IP, opt-in only, end-to-end encrypted.
//
// What the server learns, and what it does not:
//   - Nothing before the person turns messaging on: activation is the
//     first time the phone's number reaches the server (to send it a code),
//     and the server keeps it only as a discovery token — an OPRF output
//     under its own key — never in the clear or as an unkeyed hash.
//   - Contacts: the phone blinds each number, the server evaluates blindly
//     (rate-limited per account), the phone unblinds and asks for every
//     registered token in a few 2-byte buckets, and matches locally. The
//     numbers of people not on the service never reach the server in a
//     recoverable form.
//   - Messages: the phone seals one HPKE ciphertext per recipient device
//     (ML-KEM-768 + X25519) and signs each with its Ed25519 key; the server
//     queues opaque envelopes in the recipient's home region, pushes a
//     notice to connected devices, and deletes each envelope once its
//     device acknowledges it. Undelivered envelopes expire.
package messaging

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"time"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/oprf"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/bus"
	"github.com/candorcloud/candor/internal/consent"
	"github.com/candorcloud/candor/internal/keyring"
	"github.com/candorcloud/candor/internal/quota"
	"github.com/candorcloud/candor/internal/store"
)

// Directory is what messaging needs of the directory store.
type Directory interface {
	store.Numbers
	store.Quotas
	store.Verifications
	Entry(ctx context.Context, account candor.AccountID) (store.Entry, error)
}

// Stores resolves a region's messaging store.
type Stores interface {
	Messages(region candor.RegionID) (store.Messages, error)
}

// Consent turns messaging on once a phone is activated (consent.Ledger).
type Consent interface {
	Activate(ctx context.Context, rec store.AuditRecord, p candor.Principal) (store.ConsentEvent, error)
}

// Secrets gives the keyring's system secrets.
type Secrets interface {
	Secret(name string) ([]byte, error)
}

// Config tunes messaging.
type Config struct {
	// Expiry is how long an undelivered envelope waits (default 30 days);
	// ExpiryIn, when set, gives it per recipient region instead.
	Expiry   time.Duration
	ExpiryIn func(candor.RegionID) time.Duration
	// EvaluationsPerDay bounds what one account can learn by discovery in a
	// day (default 2,000): that many numbers evaluated, that many 2-byte
	// buckets matched, and that many recipients looked up, each counted
	// on its own. Listing every bucket (65,536) takes an account over a
	// month.
	EvaluationsPerDay int
	Now               func() time.Time
}

// Service runs messaging.
type Service struct {
	dir     Directory
	stores  Stores
	consent Consent
	secrets Secrets
	gateway Gateway
	bus     bus.Bus
	logs    *audit.Logs
	cfg     Config
	quotas  *quota.Counter // in the directory: every instance counts alike
}

// Codes sent within an hour: per account (which also bounds the guesses at
// one account's code) and per number, whichever accounts ask. The number's
// limit leaves room for a person setting up several phones, or two
// accounts, in one hour; it stops a crowd of accounts texting one number.
const (
	codesPerAccount = 3
	CodesPerNumber  = 10
	wrongCodes      = 5
)

// The allowances messaging spends, counted across every instance.
var (
	accountCodes = quota.Allowance{Name: "messaging/codes-per-account", Window: time.Hour, Limit: codesPerAccount}
	numberCodes  = quota.Allowance{Name: "messaging/codes-per-number", Window: time.Hour, Limit: CodesPerNumber}
	wrongTries   = quota.Allowance{Name: "messaging/wrong-codes", Window: time.Hour, Limit: wrongCodes}
)

// spend counts n uses of an account's daily discovery quota of kind, or
// refuses them all (RateLimited) if they would pass EvaluationsPerDay.
func (s *Service) spend(ctx context.Context, account candor.AccountID, kind string, n int) error {
	a := quota.Allowance{Name: "messaging/discovery/" + kind, Window: 24 * time.Hour, Limit: s.cfg.EvaluationsPerDay}
	now := s.cfg.Now()
	q, ok, err := s.quotas.Spend(ctx, a, []byte(account), now, n)
	if err != nil {
		return err
	}
	if !ok {
		return &candor.Error{Kind: candor.RateLimited, RetryAfter: a.Wait(q, now),
			Message: fmt.Sprintf("contact discovery is limited to %d %s a day per account", s.cfg.EvaluationsPerDay, kind)}
	}
	return nil
}

// New returns a Service. gateway may be nil: then nobody can activate.
func New(dir Directory, stores Stores, consent Consent, secrets Secrets, gateway Gateway, b bus.Bus, logs *audit.Logs, cfg Config) *Service {
	if cfg.Expiry <= 0 {
		cfg.Expiry = 30 * 24 * time.Hour
	}
	if cfg.EvaluationsPerDay <= 0 {
		cfg.EvaluationsPerDay = 2000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{dir: dir, stores: stores, consent: consent, secrets: secrets, gateway: gateway, bus: b, logs: logs, cfg: cfg,
		quotas: quota.New(dir, secrets)}
}

var phonePattern = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

func checkPhone(phone string) error {
	if !phonePattern.MatchString(phone) {
		return candor.E(candor.Invalid, "the phone number must be in E.164 form, like +919812345678")
	}
	return nil
}

var suite = oprf.SuiteRistretto255

func (s *Service) oprfServer() (oprf.Server, error) {
	seed, err := s.secrets.Secret(keyring.SecretDiscoveryOPRF)
	if err != nil {
		return oprf.Server{}, err
	}
	key, err := oprf.DeriveKey(suite, oprf.BaseMode, seed, []byte("candor/discovery/v1"))
	if err != nil {
		return oprf.Server{}, err
	}
	return oprf.NewServer(suite, key), nil
}

// Token is a number's discovery token: the OPRF output the phone computes
// blindly, computed here directly. Only the server's key makes it.
func (s *Service) token(phone string) ([]byte, error) {
	srv, err := s.oprfServer()
	if err != nil {
		return nil, err
	}
	return srv.FullEvaluate([]byte("candor/discovery/v1\x00" + phone))
}

// RequestVerification sends a code to the phone's number through the
// gateway. It is the first time the number reaches the server, and it is
// never stored: the code waits in the directory as a MAC binding it to the
// account and the number's token, for ten minutes.
func (s *Service) RequestVerification(ctx context.Context, p candor.Principal, phone string) error {
	if err := checkPhone(phone); err != nil {
		return err
	}
	if s.gateway == nil {
		return candor.E(candor.Unavailable, "this server has no SMS gateway: messaging cannot be turned on")
	}
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return err
	}
	code := fmt.Sprintf("%06d", n.Int64())
	// The number's count is kept under its discovery token, not the number.
	tok, err := s.token(phone)
	if err != nil {
		return err
	}
	mac, err := s.codeMAC(p.Account, tok, code)
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	// Within the hour, new codes do not reset the wrong tries, and at most
	// a few are sent: nobody can flood a number with texts or guess a
	// code by asking again and again, at one instance or at many.
	if q, err := s.quotas.Used(ctx, wrongTries, []byte(p.Account), now); err != nil {
		return err
	} else if q.Used >= wrongTries.Limit {
		return tooManyCodes(wrongTries.Wait(q, now))
	}
	if q, ok, err := s.quotas.Spend(ctx, accountCodes, []byte(p.Account), now, 1); err != nil {
		return err
	} else if !ok {
		return tooManyCodes(accountCodes.Wait(q, now))
	}
	if q, ok, err := s.quotas.Spend(ctx, numberCodes, tok, now, 1); err != nil || !ok {
		s.giveBack(ctx, accountCodes, []byte(p.Account), now)
		if err != nil {
			return err
		}
		return &candor.Error{Kind: candor.RateLimited, RetryAfter: numberCodes.Wait(q, now),
			Message: "too many verification codes were sent to this number: wait an hour"}
	}
	prev, err := s.dir.Verification(ctx, p.Account)
	if err != nil && !candor.Is(err, candor.NotFound) {
		return err
	}
	hadPrev := err == nil
	if err := s.dir.PutVerification(ctx, store.Verification{Account: p.Account, MAC: mac, Expires: now.Add(10 * time.Minute)}); err != nil {
		return err
	}
	if err := s.gateway.SendSMS(ctx, phone, "Your Candor messaging code is "+code+". It expires in 10 minutes."); err != nil {
		// The gateway did not take the text: it costs the account and the
		// number nothing, and a code sent before stays the one to type.
		s.giveBack(ctx, accountCodes, []byte(p.Account), now)
		s.giveBack(ctx, numberCodes, tok, now)
		restore := s.dir.DeleteVerification(ctx, p.Account)
		if hadPrev {
			restore = s.dir.PutVerification(ctx, prev)
		}
		return errors.Join(err, restore)
	}
	return nil
}

func tooManyCodes(wait time.Duration) error {
	return &candor.Error{Kind: candor.RateLimited, RetryAfter: wait,
		Message: "too many verification codes asked for or tried: wait an hour"}
}

// giveBack returns one use of an allowance for a text that was not sent;
// a failure to is only an allowance spent too early, so it is not an error.
func (s *Service) giveBack(ctx context.Context, a quota.Allowance, subject []byte, now time.Time) {
	_ = s.quotas.GiveBack(context.WithoutCancel(ctx), a, subject, now, 1)
}

// codeMAC binds a code to the account it was sent for and the number it
// was sent to (by its token), under a system secret: the directory holds
// this, never the code or the number.
func (s *Service) codeMAC(account candor.AccountID, tok []byte, code string) ([]byte, error) {
	secret, err := s.secrets.Secret(keyring.SecretVerificationCodes)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("candor/verification/v1\x00" + string(account) + "\x00"))
	m.Write(tok)
	m.Write([]byte("\x00" + code))
	return m.Sum(nil), nil
}

// Activate checks the code, registers the number (as its token only),
// publishes the device's keys and turns messaging on for the account.
func (s *Service) Activate(ctx context.Context, p candor.Principal, a api.Activation) (store.ConsentEvent, error) {
	if err := checkPhone(a.Phone); err != nil {
		return store.ConsentEvent{}, err
	}
	if len(a.Keys.HPKE) == 0 || len(a.Keys.HPKE) > 4096 || len(a.Keys.Sign) != 32 {
		return store.ConsentEvent{}, candor.E(candor.Invalid, "the device's keys are malformed: an HPKE public key and a 32-byte Ed25519 key")
	}
	tok, err := s.token(a.Phone)
	if err != nil {
		return store.ConsentEvent{}, err
	}
	if err := s.checkCode(ctx, p.Account, tok, a.Code); err != nil {
		return store.ConsentEvent{}, err
	}
	st, err := s.stores.Messages(p.Region)
	if err != nil {
		return store.ConsentEvent{}, err
	}
	now := s.cfg.Now().UTC()
	if err := st.PutMessagingKeys(ctx, store.MessagingKeys{Account: p.Account, Device: p.Device, HPKE: a.Keys.HPKE, Sign: a.Keys.Sign, Created: now}); err != nil {
		return store.ConsentEvent{}, err
	}
	if err := s.dir.RegisterNumber(ctx, store.Number{Token: tok, Account: p.Account, Region: p.Region, Created: now}); err != nil {
		return store.ConsentEvent{}, err
	}
	ev, err := s.logs.ConsentEvent(p, candor.Messaging, true)
	if err != nil {
		return store.ConsentEvent{}, err
	}
	on, err := s.consent.Activate(ctx, s.logs.Record(ev), p)
	return on, s.logs.Outcome(ctx, ev, err)
}

// checkCode takes the account's waiting code if code is it, for this
// number, and in time; else it counts a wrong try. After five wrong tries
// in an hour no code is taken, the right one neither.
func (s *Service) checkCode(ctx context.Context, account candor.AccountID, tok []byte, code string) error {
	wrong := candor.E(candor.Forbidden, "that code is wrong or expired: ask for a new one")
	now := s.cfg.Now()
	q, err := s.quotas.Used(ctx, wrongTries, []byte(account), now)
	if err != nil {
		return err
	}
	if q.Used >= wrongTries.Limit {
		return wrong
	}
	mac, err := s.codeMAC(account, tok, code)
	if err != nil {
		return err
	}
	taken, err := s.dir.TakeVerification(ctx, account, mac, now)
	if err != nil {
		return err
	}
	if taken {
		// A number verified starts the account's hour afresh, as for a
		// person setting up one phone after another; the number's own
		// limit still bounds what reaches it.
		_ = s.quotas.GiveBack(ctx, accountCodes, []byte(account), now, accountCodes.Limit)
		_ = s.quotas.GiveBack(ctx, wrongTries, []byte(account), now, wrongTries.Limit)
		return nil
	}
	if _, _, err := s.quotas.Spend(ctx, wrongTries, []byte(account), now, 1); err != nil {
		return err
	}
	return wrong
}

// Deactivate removes an account's number, keys and queues (messaging
// turned off, account deleted).
func (s *Service) Deactivate(ctx context.Context, p candor.Principal) error {
	if err := s.dir.UnregisterAccount(ctx, p.Account); err != nil {
		return err
	}
	st, err := s.stores.Messages(p.Region)
	if err != nil {
		return err
	}
	return st.DeleteMessaging(ctx, p.Account)
}

// granted returns the principal of a grant of messaging, or refuses a grant
// of anything else.
func granted(g consent.Grant) (candor.Principal, error) {
	return g.Principal(), g.For(candor.Messaging)
}

// Evaluate evaluates the discovery OPRF on blinded numbers, within the
// account's daily quota.
func (s *Service) Evaluate(ctx context.Context, g consent.Grant, blinded [][]byte) ([][]byte, error) {
	p, err := granted(g)
	if err != nil {
		return nil, err
	}
	if len(blinded) == 0 || len(blinded) > 1000 {
		return nil, candor.E(candor.Invalid, "send 1 to 1000 blinded numbers at a time")
	}
	if err := s.spend(ctx, p.Account, "numbers", len(blinded)); err != nil {
		return nil, err
	}
	elems := make([]group.Element, len(blinded))
	for i, b := range blinded {
		e := suite.Group().NewElement()
		if len(b) == 0 || len(b) > 64 || e.UnmarshalBinary(b) != nil || e.IsIdentity() {
			return nil, candor.Errorf(candor.Invalid, "blinded number %d is not a valid group element", i)
		}
		elems[i] = e
	}
	srv, err := s.oprfServer()
	if err != nil {
		return nil, err
	}
	ev, err := srv.Evaluate(&oprf.EvaluationRequest{Elements: elems})
	if err != nil {
		return nil, candor.E(candor.Invalid, "the blinded numbers could not be evaluated")
	}
	out := make([][]byte, len(ev.Elements))
	for i, e := range ev.Elements {
		if out[i], err = e.MarshalBinaryCompress(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Match returns every registered token in the 2-byte buckets asked for.
func (s *Service) Match(ctx context.Context, g consent.Grant, prefixes [][]byte) ([][]byte, error) {
	p, err := granted(g)
	if err != nil {
		return nil, err
	}
	if len(prefixes) == 0 || len(prefixes) > 1000 {
		return nil, candor.E(candor.Invalid, "ask for 1 to 1000 buckets at a time")
	}
	for _, pr := range prefixes {
		if len(pr) != 2 {
			return nil, candor.E(candor.Invalid, "a bucket is the first 2 bytes of a token")
		}
	}
	if err := s.spend(ctx, p.Account, "buckets", len(prefixes)); err != nil {
		return nil, err
	}
	return s.dir.TokensWithPrefixes(ctx, prefixes)
}

// Recipient returns the account and device keys registered for a token.
//
// It answers what a sender needs and no more: the account to address and
// each device's id and public keys; not when the number or any device was
// activated. Lookups count against the daily discovery quota.
func (s *Service) Recipient(ctx context.Context, g consent.Grant, token []byte) (api.Recipient, error) {
	p, err := granted(g)
	if err != nil {
		return api.Recipient{}, err
	}
	if err := s.spend(ctx, p.Account, "recipients", 1); err != nil {
		return api.Recipient{}, err
	}
	n, err := s.dir.NumberByToken(ctx, token)
	if candor.Is(err, candor.NotFound) {
		return api.Recipient{}, candor.E(candor.NotFound, "that number is not on Candor messaging")
	} else if err != nil {
		return api.Recipient{}, err
	}
	keys, err := s.keysOf(ctx, n.Account, n.Region)
	if err != nil {
		return api.Recipient{}, err
	}
	for i := range keys {
		keys[i].Created = time.Time{} // when a device was activated is not the sender's to know
	}
	return api.Recipient{Account: string(n.Account), Devices: keys}, nil
}

func (s *Service) keysOf(ctx context.Context, account candor.AccountID, region candor.RegionID) ([]api.DeviceKeys, error) {
	st, err := s.stores.Messages(region)
	if err != nil {
		return nil, err
	}
	keys, err := st.MessagingKeys(ctx, account)
	if err != nil {
		return nil, err
	}
	out := make([]api.DeviceKeys, len(keys))
	for i, k := range keys {
		out[i] = api.DeviceKeys{Device: string(k.Device), HPKE: k.HPKE, Sign: k.Sign, Created: k.Created}
	}
	return out, nil
}

// MaxEnvelope bounds one sealed envelope.
const MaxEnvelope = 64 << 10

// Send queues a message's envelopes for the recipient's devices in the
// recipient's home region and notifies them. Messaging must be on for the
// sender, and the recipient must have messaging on.
func (s *Service) Send(ctx context.Context, g consent.Grant, m api.Send) (api.Sent, error) {
	p, err := granted(g)
	if err != nil {
		return api.Sent{}, err
	}
	to := candor.AccountID(m.To)
	if !candor.ValidID(m.To) || len(m.Envelopes) == 0 || len(m.Envelopes) > 64 {
		return api.Sent{}, candor.E(candor.Invalid, "a message goes to one account with 1 to 64 envelopes")
	}
	entry, err := s.dir.Entry(ctx, to)
	if candor.Is(err, candor.NotFound) {
		return api.Sent{}, candor.E(candor.NotFound, "no such recipient")
	} else if err != nil {
		return api.Sent{}, err
	}
	if entry.Moving != "" {
		// Queued in the source now, it would be left behind: the phone
		// sends again in a moment.
		return api.Sent{}, candor.ErrMoving
	}
	keys, err := s.keysOf(ctx, to, entry.Region)
	if err != nil {
		return api.Sent{}, err
	}
	devices := map[string]bool{}
	for _, k := range keys {
		devices[k.Device] = true
	}
	id := m.Envelopes[0].ID
	now := s.cfg.Now().UTC()
	expiry := s.cfg.Expiry
	if s.cfg.ExpiryIn != nil {
		expiry = s.cfg.ExpiryIn(entry.Region)
	}
	out := api.Sent{ID: id, Expires: now.Add(expiry)}
	envs := make([]store.Envelope, len(m.Envelopes))
	seen := map[string]bool{}
	for i, e := range m.Envelopes {
		switch {
		case e.ID != id || !candor.ValidID(id):
			return api.Sent{}, candor.E(candor.Invalid, "every envelope of a message carries the same message id")
		case !devices[e.ToDevice] || seen[e.ToDevice]:
			return api.Sent{}, candor.E(candor.Invalid, "each envelope goes to a different device of the recipient")
		case e.FromDevice != string(p.Device):
			return api.Sent{}, candor.E(candor.Invalid, "an envelope names this device as its sender")
		case len(e.Sealed) == 0 || len(e.Sealed) > MaxEnvelope || len(e.Signature) != 64:
			return api.Sent{}, candor.Errorf(candor.Invalid, "an envelope holds 1 to %d sealed bytes and a 64-byte signature", MaxEnvelope)
		}
		seen[e.ToDevice] = true
		data, _ := json.Marshal(e)
		envs[i] = store.Envelope{ID: id, Account: to, Device: candor.DeviceID(e.ToDevice), From: p.Account, Data: data,
			Created: now, Expires: out.Expires}
	}
	st, err := s.stores.Messages(entry.Region)
	if err != nil {
		return api.Sent{}, err
	}
	// A send is idempotent by its message id: the same id queued for the
	// same devices already (a retry whose first answer was lost, or that a
	// balancer sent again) is answered as the first was, and queues
	// nothing more. Enqueue writes all of a message's envelopes or none.
	if err := st.Enqueue(ctx, envs); err != nil && !candor.Is(err, candor.Conflict) {
		return api.Sent{}, err
	}
	out.Queued = len(envs)
	for _, e := range envs {
		s.notify(ctx, e.Device)
	}
	return out, nil
}

// Subject is the bus subject of a device's notices.
func Subject(device candor.DeviceID) string { return "device." + strings.ToLower(string(device)) }

func (s *Service) notify(ctx context.Context, device candor.DeviceID) {
	if s.bus != nil {
		s.bus.Publish(ctx, Subject(device), []byte(`{"waiting":1}`))
	}
}

// Subscribe calls fn whenever something may wait for the device, until
// cancel is called.
func (s *Service) Subscribe(device candor.DeviceID, fn func()) (cancel func(), err error) {
	if s.bus == nil {
		return func() {}, nil
	}
	return s.bus.Subscribe(Subject(device), func([]byte) { fn() })
}

// Inbox returns what waits for p's device.
func (s *Service) Inbox(ctx context.Context, g consent.Grant) (api.Inbox, error) {
	p, err := granted(g)
	if err != nil {
		return api.Inbox{}, err
	}
	st, err := s.stores.Messages(p.Region)
	if err != nil {
		return api.Inbox{}, err
	}
	envs, err := st.Pending(ctx, p.Account, p.Device, s.cfg.Now(), 500)
	if err != nil {
		return api.Inbox{}, err
	}
	out := api.Inbox{Envelopes: []api.Envelope{}, Receipts: []api.Receipt{}}
	for _, e := range envs {
		var env api.Envelope
		if json.Unmarshal(e.Data, &env) == nil {
			out.Envelopes = append(out.Envelopes, env)
		}
	}
	rs, err := st.Receipts(ctx, p.Account, p.Device, 500)
	if err != nil {
		return api.Inbox{}, err
	}
	for _, r := range rs {
		out.Receipts = append(out.Receipts, api.Receipt{ID: r.ID, ToDevice: string(r.ToDevice), Time: r.Time})
	}
	return out, nil
}

// Ack deletes delivered envelopes from the server, queues delivery
// receipts for their senders' devices, and drops acknowledged receipts.
func (s *Service) Ack(ctx context.Context, p candor.Principal, a api.Ack) error {
	if len(a.Envelopes) > 1000 || len(a.Receipts) > 1000 {
		return candor.E(candor.Invalid, "acknowledge at most 1000 at a time")
	}
	st, err := s.stores.Messages(p.Region)
	if err != nil {
		return err
	}
	acked, err := st.Ack(ctx, p.Account, p.Device, a.Envelopes)
	if err != nil {
		return err
	}
	if err := st.AckReceipts(ctx, p.Account, p.Device, a.Receipts); err != nil {
		return err
	}
	now := s.cfg.Now().UTC()
	for _, e := range acked {
		from, err := s.dir.Entry(ctx, e.From)
		if err != nil {
			continue // the sender's account is gone: nobody to tell
		}
		fromStore, err := s.stores.Messages(from.Region)
		if err != nil {
			continue
		}
		var env api.Envelope
		json.Unmarshal(e.Data, &env)
		r := store.Receipt{ID: e.ID, Account: e.From, Device: candor.DeviceID(env.FromDevice), ToDevice: p.Device, Time: now}
		if err := fromStore.PutReceipts(ctx, []store.Receipt{r}); err == nil {
			s.notify(ctx, r.Device)
		}
	}
	return nil
}

// Expire deletes undelivered envelopes past their expiry in one region.
func (s *Service) Expire(ctx context.Context, region candor.RegionID) (int, error) {
	st, err := s.stores.Messages(region)
	if err != nil {
		return 0, err
	}
	return st.ExpireEnvelopes(ctx, s.cfg.Now())
}
