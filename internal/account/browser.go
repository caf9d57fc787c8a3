package account

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/store"
)

// Browser sessions let an account's owner use the privacy center in a
// web browser. The browser signs in as a phone does — it derives the auth
// key from the password itself, so the password never reaches the server
// (P7) — but it has no IMEI: each sign-in registers a new device of kind
// store.DeviceBrowser under a random pseudonym, listed with the phones and
// revoked as one is. Its token, behind the prefix "cbt_", travels only in
// an HttpOnly cookie (package httpapi); Authenticate refuses it and
// AuthenticateBrowser refuses a phone's token, so a token stolen from one
// channel does not work in the other. A browser session lasts BrowserTTL
// from its sign-in and is never renewed.

// BrowserTTL is how long a browser's session lasts by default.
const BrowserTTL = 12 * time.Hour

const browserPrefix = "cbt_"

// IsBrowserToken tells whether token has the form of a browser's session
// token (it says nothing of whether it is valid).
func IsBrowserToken(token string) bool { return strings.HasPrefix(token, browserPrefix) }

// LoginBrowser opens a browser's session after checking its auth key, as
// Login does (the same failure counting, lockout and hashing bound): it
// registers a new device of kind store.DeviceBrowser under a random
// pseudonym, with the sign-in in the owner's log (action login) in the
// same transaction, and opens a session of BrowserTTL.
func (s *Service) LoginBrowser(ctx context.Context, handle, authKey []byte) (Grant, error) {
	entry, accts, err := s.checkLogin(ctx, handle, authKey)
	if err != nil {
		return Grant{}, err
	}
	now := s.cfg.Now().UTC().Truncate(time.Microsecond) // as the stores keep it
	if err := s.pruneBrowsers(ctx, accts, entry.Account, now); err != nil {
		return Grant{}, err
	}
	d := store.Device{ID: candor.NewDeviceID(), Account: entry.Account, Pseudonym: make([]byte, PseudonymSize), Created: now,
		Kind: store.DeviceBrowser}
	rand.Read(d.Pseudonym) // no phone behind it: a random pseudonym, unique per account
	p := candor.Principal{Account: entry.Account, Device: d.ID, Region: entry.Region}
	ev, err := s.logs.DeviceEvent(p, audit.ActionLogin, "")
	if err != nil {
		return Grant{}, err
	}
	dev, err := accts.RegisterDevice(ctx, s.logs.Record(ev), d)
	if err != nil {
		return Grant{}, err
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	token := browserPrefix + base64.RawURLEncoding.EncodeToString(raw)
	sess := store.Session{TokenHash: hashToken(token), Account: entry.Account, Device: dev.ID, Created: now, Expires: now.Add(s.cfg.BrowserTTL)}
	if err := s.dir.CreateSession(ctx, sess); err != nil {
		return Grant{}, err
	}
	p.Device = dev.ID
	return Grant{Principal: p, Token: token, Issued: now, Expires: sess.Expires, Browser: true}, nil
}

// AuthenticateBrowser returns the principal of a browser's session token.
// Unknown, malformed, revoked and expired tokens, and a phone's or an app
// password's, are candor.Unauthenticated.
func (s *Service) AuthenticateBrowser(ctx context.Context, token string) (candor.Principal, error) {
	g, err := s.authenticate(ctx, token, browserPrefix)
	return g.Principal, err
}

// Session returns the session of a phone's or a browser's token: its
// principal, its expiry and whether it is a browser's (Token is empty).
// Invalid tokens are candor.Unauthenticated.
func (s *Service) Session(ctx context.Context, token string) (Grant, error) {
	if IsBrowserToken(token) {
		return s.authenticate(ctx, token, browserPrefix)
	}
	return s.authenticate(ctx, token, tokenPrefix)
}

var errWrongPassword = candor.E(candor.Unauthenticated, "wrong password")

// DeleteConfirmed deletes p's account as Delete does, once authKey — the
// auth key the owner's browser derived again from the password typed
// again — matches the account's. It guards the deletion against someone
// who finds a browser left signed in. The check is Login's: within the
// global bound on hashes at once, refused with candor.RateLimited while the
// handle is locked out, and a wrong key counts as a failed login of the
// account's handle, so that it cannot be used to guess the password any
// faster than signing in. A wrong key is candor.Unauthenticated ("wrong
// password"), and the refused deletion is in the owner's log.
func (s *Service) DeleteConfirmed(ctx context.Context, p candor.Principal, authKey []byte) error {
	if len(authKey) != AuthKeySize {
		return candor.Errorf(candor.Invalid, "deleting the account from a browser needs the password again: auth_key, %d bytes", AuthKeySize)
	}
	entry, err := s.dir.Entry(ctx, p.Account)
	if err != nil {
		return err
	}
	if err := s.notLockedOut(ctx, entry.Handle); err != nil {
		return err
	}
	accts, err := s.regions.Accounts(p.Region)
	if err != nil {
		return err
	}
	acc, err := accts.Account(ctx, p.Account)
	if err != nil {
		return err
	}
	if err := s.checkKey(ctx, entry.Handle, acc.AuthHash, authKey, true, errWrongPassword); err != nil {
		if err != errWrongPassword {
			return err
		}
		ev, lerr := s.logs.DeviceEvent(p, audit.ActionDeleteAccount, "")
		if lerr != nil {
			return lerr
		}
		return s.logs.Outcome(ctx, ev, err)
	}
	return s.Delete(ctx, p)
}

// A browser's device exists for its one session: when the session ends —
// signed out, revoked, or past BrowserTTL — the device leaves the account's
// device list, so that the list shows the browsers that may still be
// signed in, and does not grow with every sign-in. (Its sign-in and its
// revocation stay in the owner's log.)

// forgetBrowsers deletes the devices among devs that are browsers (their
// sessions have ended).
func (s *Service) forgetBrowsers(ctx context.Context, accts Accounts, account candor.AccountID, devs ...store.Device) error {
	var ids []candor.DeviceID
	for _, d := range devs {
		if d.Kind == store.DeviceBrowser && len(ids) < store.MaxDeleteDevices {
			ids = append(ids, d.ID)
		}
	}
	_, err := accts.DeleteDevices(ctx, account, store.DeviceBrowser, ids)
	return err
}

// pruneBrowsers ends and forgets the account's browsers signed in
// BrowserTTL or longer before now (at most store.MaxDeleteDevices at a
// time): their sessions have expired, or would have under the lifetime
// now configured.
func (s *Service) pruneBrowsers(ctx context.Context, accts Accounts, account candor.AccountID, now time.Time) error {
	devs, err := accts.Devices(ctx, account)
	if err != nil {
		return err
	}
	var old []store.Device
	for _, d := range devs {
		if d.Kind == store.DeviceBrowser && !d.Created.After(now.Add(-s.cfg.BrowserTTL)) && len(old) < store.MaxDeleteDevices {
			if err := s.dir.DeleteDeviceSessions(ctx, account, d.ID); err != nil {
				return err
			}
			old = append(old, d)
		}
	}
	return s.forgetBrowsers(ctx, accts, account, old...)
}

// logoutBrowser ends a browser's session and forgets its device. An
// unknown token is not an error (the session is gone either way).
func (s *Service) logoutBrowser(ctx context.Context, token string) error {
	g, err := s.authenticate(ctx, token, browserPrefix)
	if candor.Is(err, candor.Unauthenticated) {
		return s.dir.DeleteSession(ctx, hashToken(token))
	} else if err != nil {
		return err
	}
	if err := s.dir.DeleteSession(ctx, hashToken(token)); err != nil {
		return err
	}
	accts, err := s.regions.Accounts(g.Principal.Region)
	if err != nil {
		return err
	}
	return s.forgetBrowsers(ctx, accts, g.Principal.Account, store.Device{ID: g.Principal.Device, Kind: store.DeviceBrowser})
}
