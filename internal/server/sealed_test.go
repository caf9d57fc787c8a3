package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/server/servertest"
)

func (r *raw) status() api.OperatorStatus {
	r.t.Helper()
	var st api.OperatorStatus
	r.must("GET", "/v1/operator/status", nil, &st)
	return st
}

func ready(r *raw) bool { return r.send("GET", "/readyz", "", nil).status == 200 }

// A production server holds no key until the ceremony, starts sealed on
// every later start, serves no personal data while sealed, and unseals only
// with K valid shares; shares are never on its disk.
func TestSealedLifecycle(t *testing.T) {
	ctx := context.Background()
	env := servertest.StartProduction(t, server.Config{})
	op := &raw{t: t, url: env.URL}
	if st := op.status(); st.Initialized || !st.Sealed || ready(op) {
		t.Fatalf("new server: %+v, ready %v", st, ready(op))
	}
	// Nothing personal is served before the ceremony either.
	if a := op.call("POST", "/v1/auth/salt", api.SaltRequest{Handle: randomBytes(64)}, nil); a.status != 503 || a.error().Code != "sealed" {
		t.Fatalf("salt before init: %d %s", a.status, a.body)
	}
	for _, bad := range []api.InitRequest{{Shares: 3, Threshold: 1}, {Shares: 2, Threshold: 3}, {Shares: 33, Threshold: 2},
		{Shares: 2, Threshold: 2, CustodianKeys: []string{"age1nope"}}} {
		if a := op.call("POST", "/v1/operator/init", bad, nil); a.status != 400 {
			t.Fatalf("init %+v: %d %s", bad, a.status, a.body)
		}
	}
	var init api.InitResponse
	op.must("POST", "/v1/operator/init", api.InitRequest{Shares: 3, Threshold: 2}, &init)
	if len(init.Shares) != 3 || !strings.HasPrefix(init.StaffToken, "cst_") {
		t.Fatalf("init: %+v", init)
	}
	if a := op.call("POST", "/v1/operator/init", api.InitRequest{Shares: 3, Threshold: 2}, nil); a.status != 409 {
		t.Fatalf("second init: %d %s", a.status, a.body)
	}
	if st := op.status(); !st.Initialized || st.Sealed || !ready(op) || st.Threshold != 2 || st.Regions[0].KeyVersion != 1 {
		t.Fatalf("after init: %+v", st)
	}

	// A phone syncs.
	a := newPhone(t, env, canaryIMEI)
	a.Contacts().Add("Brisk "+canaryName, canaryPhone)
	if _, err := a.Signup(ctx, canaryEmail, canaryPassword); err != nil {
		t.Fatal(err)
	}
	a.SetConsent(ctx, candor.Contacts, true)
	mustSync(t, a)

	// Restart: sealed, nothing served.
	env.Stop()
	env = servertest.StartProduction(t, server.Config{Data: env.Data})
	op = &raw{t: t, url: env.URL}
	if st := op.status(); !st.Initialized || !st.Sealed || ready(op) || st.Regions[0].KeyVersion != 0 {
		t.Fatalf("restarted: %+v", st)
	}
	b := newPhone(t, env, "356938035643817")
	if _, err := b.Login(ctx, canaryEmail, canaryPassword); !candor.Is(err, candor.Sealed) {
		t.Fatalf("login while sealed: %v", err)
	}

	unseal := func(share string) answer {
		return op.call("POST", "/v1/operator/unseal", api.UnsealRequest{Share: share}, nil)
	}
	if r := unseal("not-a-share-AAAAAAAAAAAAAAAAAAAAAAAA"); r.status != 400 || !strings.Contains(r.error().Message, "not a Candor key share") {
		t.Fatalf("garbage share: %d %s", r.status, r.body)
	}
	if r := unseal(init.Shares[0][:len(init.Shares[0])-4]); r.status != 400 {
		t.Fatalf("truncated share: %d %s", r.status, r.body)
	}
	other := servertest.StartProduction(t, server.Config{})
	var otherInit api.InitResponse
	(&raw{t: t, url: other.URL}).must("POST", "/v1/operator/init", api.InitRequest{Shares: 2, Threshold: 2}, &otherInit)
	if r := unseal(otherInit.Shares[0]); r.status != 403 {
		t.Fatalf("another server's share: %d %s", r.status, r.body)
	}
	var st api.OperatorStatus
	if r := op.call("POST", "/v1/operator/unseal", api.UnsealRequest{Share: init.Shares[2]}, &st); r.status != 200 || !st.Sealed || st.Submitted != 1 {
		t.Fatalf("one share: %d %s", r.status, r.body)
	}
	if ready(op) {
		t.Fatal("ready with one share of two")
	}
	if r := unseal(init.Shares[2]); r.status != 409 {
		t.Fatalf("the same share twice: %d %s", r.status, r.body)
	}
	if r := op.call("POST", "/v1/operator/unseal", api.UnsealRequest{Share: init.Shares[0]}, &st); r.status != 200 || st.Sealed || !st.Initialized || st.Threshold != 2 {
		t.Fatalf("second share: %d %s", r.status, r.body)
	}
	if !ready(op) {
		t.Fatal("not ready after 2 of 3 shares")
	}
	if _, err := b.Login(ctx, canaryEmail, canaryPassword); err != nil {
		t.Fatal(err)
	}
	mustSync(t, b)
	if got, _ := b.Contacts().List(); len(got) != 1 {
		t.Fatalf("after unseal phone B has %d contacts", len(got))
	}

	// Seal on demand needs a staff token; then nothing is served again.
	if r := op.call("POST", "/v1/operator/seal", nil, nil); r.status != 401 {
		t.Fatalf("seal without token: %d", r.status)
	}
	staff := &raw{t: t, url: env.URL, token: init.StaffToken}
	if r := staff.call("POST", "/v1/operator/seal", nil, &st); r.status != 200 || !st.Sealed {
		t.Fatalf("seal: %d %s", r.status, r.body)
	}
	if _, err := b.Sync(ctx, nil); !candor.Is(err, candor.Sealed) {
		t.Fatalf("sync after seal: %v", err)
	}
	// No share is on disk, in any encoding, and no personal data either.
	scanFolder(t, env.Data, append(init.Shares, canaryIMEI, canaryPassword, canaryEmail, canaryName, canaryPhone)...)
	for _, s := range init.Shares {
		raw := strings.TrimPrefix(s, "candor-share-v1-")
		scanFolder(t, env.Data, raw)
	}
}

// With custodian keys, each share is encrypted to one custodian: only their
// identity opens it, and the opened share unseals.
func TestSharesEncryptedToCustodians(t *testing.T) {
	var ids []*age.X25519Identity
	var pubs []string
	for range 3 {
		id, _ := age.GenerateX25519Identity()
		ids = append(ids, id)
		pubs = append(pubs, "# custodian\n"+id.Recipient().String()+"\n")
	}
	env := servertest.StartProduction(t, server.Config{})
	op := &raw{t: t, url: env.URL}
	var init api.InitResponse
	op.must("POST", "/v1/operator/init", api.InitRequest{Shares: 3, Threshold: 2, CustodianKeys: pubs}, &init)
	open := func(i int, id *age.X25519Identity) (string, error) {
		r, err := age.Decrypt(armor.NewReader(strings.NewReader(init.Shares[i])), id)
		if err != nil {
			return "", err
		}
		var b bytes.Buffer
		b.ReadFrom(r)
		return strings.TrimSpace(b.String()), nil
	}
	if _, err := open(0, ids[1]); err == nil {
		t.Fatal("custodian 2 opened custodian 1's share")
	}
	s0, err := open(0, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	s2, err := open(2, ids[2])
	if err != nil {
		t.Fatal(err)
	}
	env.Stop()
	env = servertest.StartProduction(t, server.Config{Data: env.Data})
	op = &raw{t: t, url: env.URL}
	for _, s := range []string{s0, s2} {
		b, _ := json.Marshal(api.UnsealRequest{Share: s})
		if a := op.send("POST", "/v1/operator/unseal", "application/json", b); a.status != 200 {
			t.Fatalf("unseal: %d %s", a.status, a.body)
		}
	}
	if !ready(op) {
		t.Fatal("not unsealed by two custodians' shares")
	}
	scanFolder(t, env.Data, s0, s2)
}
