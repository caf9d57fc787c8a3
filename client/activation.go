package client

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client/internal/envelope"
)

// Turning messaging on (the person's number verified, the device's keys
// made and published) and off, and the check every messaging request makes
// first: nothing about messaging leaves the phone before it is on.

// messagingKeys are this device's private messaging keys. They never leave
// the phone; their public halves are published at activation.
type messagingKeys struct {
	Account string    `json:"account"`
	Device  string    `json:"device"`
	HPKE    []byte    `json:"hpke_private"` // the KEM's serialized private key (a seed)
	Sign    []byte    `json:"sign_private"` // the Ed25519 seed
	Created time.Time `json:"created"`
	// Activated is when the server accepted the keys; nil before.
	Activated *time.Time `json:"activated,omitempty"`
}

func newMessagingKeys(account, device string, now time.Time) (*messagingKeys, error) {
	kem, sign, err := envelope.GenerateKeys()
	if err != nil {
		return nil, err
	}
	return &messagingKeys{Account: account, Device: device, HPKE: kem, Sign: sign, Created: now.UTC().Truncate(time.Second)}, nil
}

// identity loads the keys; damaged keys are an Integrity error.
func (k *messagingKeys) identity() (*envelope.Identity, error) {
	return envelope.NewIdentity(k.HPKE, k.Sign)
}

// public returns the keys to publish.
func (k *messagingKeys) public() (api.DeviceKeys, error) {
	id, err := k.identity()
	if err != nil {
		return api.DeviceKeys{}, err
	}
	kem, sign := id.PublicKeys()
	return api.DeviceKeys{Device: k.Device, HPKE: kem, Sign: sign, Created: k.Created}, nil
}

// of reports whether the keys are this session's account's and device's.
func (k *messagingKeys) of(s *sessionState) bool {
	return k != nil && k.Account == s.Account && k.Device == s.Device
}

func (c *Client) loadMessagingKeys() (*messagingKeys, error) {
	var k messagingKeys
	if err := readJSON(filepath.Join(c.dir, msgKeysFile), &k); err != nil {
		if candor.Is(err, candor.NotFound) {
			return nil, nil
		}
		return nil, err
	}
	return &k, nil
}

func (c *Client) saveMessagingKeys(k *messagingKeys) error {
	return writeJSON(filepath.Join(c.dir, msgKeysFile), k)
}

// forgetMessagingKeys deletes the device's messaging keys: messaging is off,
// and the server has deleted their public halves.
func (c *Client) forgetMessagingKeys() error {
	if err := os.Remove(filepath.Join(c.dir, msgKeysFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return candor.Wrap(candor.Internal, "cannot delete the messaging keys", err)
	}
	return nil
}

// codeInput is what a person may type as a verification code.
var codeInput = regexp.MustCompile(`^[0-9]{4,10}$`)

// errNeedCode asks the person for the verification code.
var errNeedCode = candor.E(candor.Invalid, "a verification code was sent by SMS to this phone's number, and this server has no emulated carrier to read it from: run 'consent messaging on --code CODE' with the code from the SMS")

// ActivateMessaging turns messaging on for this phone, the person having
// opted in: it verifies the phone's own number and publishes this device's
// messaging keys.
//
// With code empty, it asks the server to text a code to the number and
// reads it from the emulated carrier of a development server; against a
// server without one it fails with Invalid, asking for the code: call
// again with the code from the SMS (no new code is requested then).
//
// The keys are generated on first activation and kept while messaging
// stays on for this account and device; turning messaging off deletes
// them, and the next activation makes new ones.
func (c *Client) ActivateMessaging(ctx context.Context, code string) (Consent, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return Consent{}, errNotSignedIn
	}
	code = strings.TrimSpace(code)
	if code != "" && !codeInput.MatchString(code) {
		return Consent{}, candor.E(candor.Invalid, "the verification code is the digits of the SMS, like 123456")
	}
	keys, err := c.deviceMessagingKeys()
	if err != nil {
		return Consent{}, err
	}
	pub, err := keys.public()
	if err != nil {
		return Consent{}, err
	}
	if code == "" {
		if code, err = c.requestCode(ctx); err != nil {
			return Consent{}, err
		}
	}
	var got api.Consent
	if err := c.call(ctx, http.MethodPost, "/messaging/activation", api.Activation{Phone: c.dev.Phone, Code: code, Keys: pub}, &got); err != nil {
		return Consent{}, err
	}
	return c.activated(got, keys)
}

// deviceMessagingKeys returns this account's and device's messaging keys,
// making them if there are none. New keys are stored before anything is
// published, so that the private half of any key the server holds is on
// the phone.
func (c *Client) deviceMessagingKeys() (*messagingKeys, error) {
	keys, err := c.loadMessagingKeys()
	if err != nil || keys.of(c.sess) {
		return keys, err
	}
	if keys, err = newMessagingKeys(c.sess.Account, c.sess.Device, c.opts.now()); err != nil {
		return nil, err
	}
	return keys, c.saveMessagingKeys(keys)
}

// requestCode asks the server to text a verification code to the phone's
// number and reads it from the emulated carrier (see codeFromCarrier).
func (c *Client) requestCode(ctx context.Context) (string, error) {
	if err := c.call(ctx, http.MethodPost, "/messaging/verification", api.VerificationRequest{Phone: c.dev.Phone}, nil); err != nil {
		return "", err
	}
	return c.codeFromCarrier(ctx)
}

// activated records the server's answer to an activation: messaging on,
// and the keys published.
func (c *Client) activated(got api.Consent, keys *messagingKeys) (Consent, error) {
	if got.Category != "" && got.Category != string(candor.Messaging) {
		return Consent{}, candor.E(candor.Internal, "the server answered for another category")
	}
	if !got.On {
		return Consent{}, candor.E(candor.Internal, "the server did not turn messaging on")
	}
	now := c.opts.now().UTC()
	keys.Activated = &now
	if err := c.saveMessagingKeys(keys); err != nil {
		return Consent{}, err
	}
	e := entryOf(got)
	c.consents.set(candor.Messaging, e)
	if err := c.saveConsents(); err != nil {
		return Consent{}, err
	}
	return Consent{Category: candor.Messaging, On: e.On, Epoch: e.Epoch, Since: e.Since}, nil
}

// DeactivateMessaging turns messaging off for the account (every device):
// the server deletes the registered number, every device's keys and every
// queued message. This phone deletes its private messaging keys and keeps
// the messages it holds.
func (c *Client) DeactivateMessaging(ctx context.Context) (Consent, error) {
	s, err := c.setConsent(ctx, candor.Messaging, false)
	if err != nil {
		return s, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return s, c.forgetMessagingKeys()
}

// messagingReady checks, before anything about messaging is sent, that the
// phone is signed in, that messaging is on for the account (asking the
// server: a request with nothing personal) and that this device activated
// it. It returns the device's keys.
func (c *Client) messagingReady(ctx context.Context) (*messagingKeys, error) {
	if c.sess == nil {
		if !c.consents.on(candor.Messaging) {
			return nil, candor.ErrConsent(candor.Messaging)
		}
		return nil, errNotSignedIn
	}
	if err := c.refreshConsents(ctx); err != nil {
		return nil, err
	}
	keys, err := c.loadMessagingKeys()
	if err != nil {
		return nil, err
	}
	if !c.consents.on(candor.Messaging) {
		if keys != nil { // turned off, here or elsewhere: the server has deleted them
			if err := c.forgetMessagingKeys(); err != nil {
				return nil, err
			}
		}
		return nil, candor.ErrConsent(candor.Messaging)
	}
	if keys == nil || keys.Activated == nil || !keys.of(c.sess) {
		return nil, &candor.Error{Kind: candor.ConsentRequired, Category: candor.Messaging,
			Message: "messaging is on for this account but not yet on this phone: nothing was sent; turn it on here with 'consent messaging on'"}
	}
	return keys, nil
}

// messagingSession is what sending and receiving work with: the device's
// keys, checked by messagingReady, loaded, and the phone's store of
// messages.
func (c *Client) messagingSession(ctx context.Context) (*messagingKeys, *envelope.Identity, *messagesState, error) {
	keys, err := c.messagingReady(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	id, err := keys.identity()
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := c.loadMessages()
	if err != nil {
		return nil, nil, nil, err
	}
	return keys, id, st, nil
}
