package account

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/store"
)

// App passwords let a program that only speaks HTTP Basic (a CardDAV
// client) reach one category of an account without the account password,
// which never leaves the phone (P7).
//
// An app password is a device of kind store.DeviceApp: it is listed with
// the phones, revoked as one is (RevokeDevice ends its session), and its
// accesses are logged under its own device pseudonym. Its secret is 32
// random bytes behind the prefix "cap_", stored as the SHA-256 of the
// whole string in the sessions table, as a phone's session token is; a
// hash that fast is safe for a secret of 256 bits, and it bounds the cost
// of checking HTTP Basic on every request. It does not expire; only a
// revocation ends it. Authenticate (the JSON API) refuses it by its prefix,
// and AuthenticateApp refuses a phone's session token: one works only where
// the other does not.

// AppPassword is a new app password: Password is shown to its owner once
// and kept nowhere in the clear. Username is the id of its device.
type AppPassword struct {
	Device   store.Device
	Username string
	Password string
}

const (
	appPrefix = "cap_"
	// MaxAppName is the longest label an app password may have, in bytes.
	MaxAppName = 64
	// appLifetime stands for "until revoked": sessions need an expiry.
	appLifetime = 100 * 365 * 24 * time.Hour
)

var errAppAuth = candor.E(candor.Unauthenticated, "wrong username or app password: make one on a phone with candor device app-password create")

func checkAppName(name string) error {
	if name == "" || len(name) > MaxAppName || !utf8.ValidString(name) || strings.TrimSpace(name) != name {
		return candor.Errorf(candor.Invalid, "an app password needs a name of 1 to %d bytes, without leading or trailing spaces", MaxAppName)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return candor.E(candor.Invalid, "an app password's name holds only printable characters")
		}
	}
	return nil
}

// CreateAppPassword makes an app password for p's account, named name: a
// device of kind store.DeviceApp, registered with the creation in the
// owner's log (action device.app-password, the new device as subject) in
// the same transaction, and its session. Only a phone may make one: p is
// a phone's session (app passwords reach only the CardDAV endpoint).
func (s *Service) CreateAppPassword(ctx context.Context, p candor.Principal, name string) (AppPassword, error) {
	if err := checkAppName(name); err != nil {
		return AppPassword{}, err
	}
	accts, err := s.regions.Accounts(p.Region)
	if err != nil {
		return AppPassword{}, err
	}
	now := s.cfg.Now().UTC()
	d := store.Device{ID: candor.NewDeviceID(), Account: p.Account, Pseudonym: make([]byte, PseudonymSize), Created: now,
		Kind: store.DeviceApp, Name: name}
	rand.Read(d.Pseudonym) // no phone behind it: a random pseudonym, unique per account
	ev, err := s.logs.DeviceEvent(p, audit.ActionAppPassword, candor.Contacts)
	if err != nil {
		return AppPassword{}, err
	}
	if ev.Subject, err = s.logs.Device(d.ID); err != nil {
		return AppPassword{}, err
	}
	dev, err := accts.RegisterDevice(ctx, s.logs.Record(ev), d)
	if err != nil {
		return AppPassword{}, s.logs.Outcome(ctx, ev, err)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	secret := appPrefix + base64.RawURLEncoding.EncodeToString(raw)
	sess := store.Session{TokenHash: hashToken(secret), Account: p.Account, Device: dev.ID, Created: now, Expires: now.Add(appLifetime)}
	if err := s.dir.CreateSession(ctx, sess); err != nil {
		return AppPassword{}, err
	}
	return AppPassword{Device: dev, Username: string(dev.ID), Password: secret}, nil
}

// AuthenticateApp returns the principal of an app password: its account,
// its own device and the account's home region. A wrong username, an
// unknown, malformed or revoked password, and a phone's session token all
// fail alike with candor.Unauthenticated, after the same work: one hash
// and one read; the username is compared in constant time. An account
// being moved between regions is candor.ErrMoving.
func (s *Service) AuthenticateApp(ctx context.Context, username, password string) (candor.Principal, error) {
	sess, err := s.dir.Session(ctx, hashToken(password))
	if candor.Is(err, candor.NotFound) {
		return candor.Principal{}, errAppAuth
	} else if err != nil {
		return candor.Principal{}, err
	}
	wellFormed := strings.HasPrefix(password, appPrefix) && len(password) == len(appPrefix)+43
	same := subtle.ConstantTimeCompare([]byte(username), []byte(sess.Device)) == 1
	if !wellFormed || !same || !s.cfg.Now().Before(sess.Expires) {
		return candor.Principal{}, errAppAuth
	}
	entry, err := s.dir.Entry(ctx, sess.Account)
	if candor.Is(err, candor.NotFound) {
		return candor.Principal{}, errAppAuth
	} else if err != nil {
		return candor.Principal{}, err
	}
	if entry.Moving != "" {
		return candor.Principal{}, candor.ErrMoving
	}
	return candor.Principal{Account: sess.Account, Device: sess.Device, Region: entry.Region}, nil
}
