package server_test

import (
	"testing"

	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// Nobody can flood a number with codes or guess a code: at most three
// codes an hour per account, five wrong tries, then even the right code is
// refused. Messaging cannot be turned on without activation.
func TestActivationLimits(t *testing.T) {
	env := servertest.Start(t)
	r, _ := signup(t, env, "IN")
	if a := r.call("PUT", "/v1/consents/messaging", api.ConsentRequest{On: true}, nil); a.status != 400 {
		t.Fatalf("messaging on without activation: %d %s", a.status, a.body)
	}
	if a := r.call("POST", "/v1/messaging/verification", api.VerificationRequest{Phone: "98765"}, nil); a.status != 400 {
		t.Fatalf("a malformed number: %d", a.status)
	}
	for range 3 {
		r.must("POST", "/v1/messaging/verification", api.VerificationRequest{Phone: "+919833334444"}, nil)
	}
	if a := r.call("POST", "/v1/messaging/verification", api.VerificationRequest{Phone: "+919833334444"}, nil); a.status != 429 {
		t.Fatalf("a fourth code within the hour: %d %s", a.status, a.body)
	}
	var in api.CarrierInbox
	r.must("GET", "/v1/carrier/sms?to=%2B919833334444", nil, &in)
	code := codePattern.FindString(in.Messages[len(in.Messages)-1].Text)
	keys := api.DeviceKeys{HPKE: randomBytes(1216), Sign: randomBytes(32)}
	for range 5 {
		if a := r.call("POST", "/v1/messaging/activation", api.Activation{Phone: "+919833334444", Code: "000000", Keys: keys}, nil); a.status != 403 {
			t.Fatalf("a wrong code: %d", a.status)
		}
	}
	if a := r.call("POST", "/v1/messaging/activation", api.Activation{Phone: "+919833334444", Code: code, Keys: keys}, nil); a.status != 403 {
		t.Fatalf("the right code after five wrong ones: %d %s", a.status, a.body)
	}
	var c api.Consents
	r.must("GET", "/v1/consents", nil, &c)
	for _, x := range c.Consents {
		if x.Category == "messaging" && x.On {
			t.Fatal("messaging is on")
		}
	}
}
