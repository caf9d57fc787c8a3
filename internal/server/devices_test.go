package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// twoDevices signs an account up from one device and in from a second, and
// returns each with its session.
func twoDevices(t *testing.T, env *servertest.Env, email string) (first *device, s1 api.Session, second *raw, s2 api.Session) {
	t.Helper()
	first = &device{raw: &raw{t: t, url: env.URL}}
	first.handle, first.key = handleOf(t, first.raw, email), randomBytes(32)
	first.must("POST", "/v1/accounts", api.SignupRequest{Handle: first.handle, Salt: randomBytes(16), KDF: testKDF,
		AuthKey: first.key, Country: "IN", Device: api.DeviceInfo{Pseudonym: randomBytes(32)}}, &s1)
	first.token = s1.Token
	second = &raw{t: t, url: env.URL}
	second.must("POST", "/v1/sessions", api.LoginRequest{Handle: first.handle, AuthKey: first.key, Device: api.DeviceInfo{Pseudonym: randomBytes(32)}}, &s2)
	second.token = s2.Token
	return first, s1, second, s2
}

// device is a raw client with the credentials it signed up with.
type device struct {
	*raw
	handle, key []byte
}

// Revoking a device removes its messaging keys, so senders stop sealing
// messages to it, and drops what was queued for it; the account's other
// device keeps its keys and its queue.
func TestRevokedDeviceLeavesMessaging(t *testing.T) {
	env := servertest.Start(t)
	a, _ := signup(t, env, "IN")
	sa := activate(t, a, "+919811112222")
	b, s1, b2, s2 := twoDevices(t, env, "b-phone@example.invalid")
	activate(t, b.raw, "+919833334444")
	activate(t, b2, "+919833334444")

	// Activation is a consent change: it is in the account's access log.
	var log api.AccessLog
	b.must("GET", "/v1/account/access-log", nil, &log)
	activated := false
	for _, e := range log.Entries {
		activated = activated || (strings.Contains(e.Event, "consent.set") && strings.Contains(e.Event, "messaging"))
	}
	if !activated {
		t.Errorf("messaging's activation is not in the access log: %+v", log.Entries)
	}

	var rcpt api.Recipient
	tok := discoveryToken(t, a, "+919833334444")
	a.must("GET", "/v1/messaging/recipients/"+tok, nil, &rcpt)
	if len(rcpt.Devices) != 2 {
		t.Fatalf("recipient devices before: %d, want 2", len(rcpt.Devices))
	}
	id := candor.NewID("msg")
	var envs []api.Envelope
	for _, d := range rcpt.Devices {
		envs = append(envs, api.Envelope{ID: id, FromDevice: string(sa.Device), ToDevice: d.Device, Sent: time.Now(),
			Sealed: randomBytes(200), Signature: randomBytes(64)})
	}
	a.must("POST", "/v1/messages", api.Send{To: rcpt.Account, Envelopes: envs}, nil)
	if n := servertest.CountRows(t, env.Data, "in", "SELECT count(*) FROM envelopes WHERE account = ?", rcpt.Account); n != 2 {
		t.Fatalf("%d envelopes queued, want 2", n)
	}

	b.must("DELETE", "/v1/devices/"+s2.Device, nil, nil)
	rcpt = api.Recipient{}
	a.must("GET", "/v1/messaging/recipients/"+tok, nil, &rcpt)
	var ids []string
	for _, d := range rcpt.Devices {
		ids = append(ids, d.Device)
	}
	if len(ids) != 1 || ids[0] != s1.Device {
		t.Fatalf("recipient devices after the revocation: %v, want only %s", ids, s1.Device)
	}
	if n := servertest.CountRows(t, env.Data, "in", "SELECT count(*) FROM envelopes WHERE account = ? AND device = ?", rcpt.Account, s2.Device); n != 0 {
		t.Errorf("%d envelopes still queued for the revoked device", n)
	}
	if n := servertest.CountRows(t, env.Data, "in", "SELECT count(*) FROM envelopes WHERE account = ? AND device = ?", rcpt.Account, s1.Device); n != 1 {
		t.Errorf("%d envelopes for the device that stays, want 1", n)
	}
	if got := b2.call("GET", "/v1/messages", nil, nil); got.status != 401 {
		t.Errorf("the revoked device still reads its inbox: %d", got.status)
	}
}

// A device that signs in to an account, and its revocation, are in the
// owner's access log: a new phone on an account cannot go unseen by the
// account's other phones.
func TestSignInAndRevocationAreInTheAccessLog(t *testing.T) {
	env := servertest.Start(t)
	a, _, b, s2 := twoDevices(t, env, "owner@example.invalid")

	count := func(action string) int {
		var log api.AccessLog
		a.must("GET", "/v1/account/access-log", nil, &log)
		n := 0
		for _, e := range log.Entries {
			if strings.Contains(e.Event, `"action":"`+action+`"`) {
				n++
			}
		}
		return n
	}
	if n := count("device.login"); n != 2 {
		t.Fatalf("%d sign-ins in the access log, want 2 (the sign-up's and the new phone's)", n)
	}
	if n := count("device.revoke"); n != 0 {
		t.Fatalf("%d revocations before any", n)
	}
	a.must("DELETE", "/v1/devices/"+s2.Device, nil, nil)
	if n := count("device.revoke"); n != 1 {
		t.Fatalf("%d revocations in the access log after one, want 1", n)
	}
	// A failed sign-in names no account it could be logged under: it is
	// counted against the handle instead, and logs nothing here.
	if got := b.call("POST", "/v1/sessions", api.LoginRequest{Handle: a.handle, AuthKey: randomBytes(32), Device: api.DeviceInfo{Pseudonym: randomBytes(32)}}, nil); got.status != 401 {
		t.Fatalf("a wrong key signed in: %d", got.status)
	}
	if n := count("device.login"); n != 2 {
		t.Fatalf("%d sign-ins after a failed one, want 2", n)
	}
}
