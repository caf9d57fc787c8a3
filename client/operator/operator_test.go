package operator

import (
	"net/http"
	"testing"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/server/servertest"
)

func TestNewRefusesPlainHTTPToOtherHosts(t *testing.T) {
	for _, base := range []string{"http://example.com", "ftp://127.0.0.1", "127.0.0.1:8080", "https://", " "} {
		if _, err := New(base, "tok", nil); !candor.Is(err, candor.Invalid) {
			t.Errorf("New(%q): %v, want Invalid", base, err)
		}
	}
	for _, base := range []string{"https://candor.example.com/", "http://127.0.0.1:8080", "http://localhost:1/prefix", "http://[::1]:80"} {
		if _, err := New(base, "tok", nil); err != nil {
			t.Errorf("New(%q): %v", base, err)
		}
	}
}

// The key ceremony against a production server: initialised, sealed with
// the bootstrap token, unsealed with the threshold of shares; staff added
// and revoked.
func TestCeremony(t *testing.T) {
	env := servertest.StartProduction(t, server.Config{})
	ctx := t.Context()
	anon := must(New(env.URL, "", nil))(t)
	st := must(anon.Status(ctx))(t)
	if st.Initialized || !st.Sealed {
		t.Fatalf("a new server: %+v", st)
	}
	init := must(anon.Init(ctx, 3, 2, nil))(t)
	if len(init.Shares) != 3 || init.StaffToken == "" {
		t.Fatalf("init gave %d shares, token %v", len(init.Shares), init.StaffToken != "")
	}
	if _, err := anon.Init(ctx, 3, 2, nil); err == nil {
		t.Error("a second init succeeded")
	}
	boot := must(New(env.URL, init.StaffToken, http.DefaultClient))(t)
	if st = must(boot.Seal(ctx))(t); !st.Sealed {
		t.Fatalf("after seal: %+v", st)
	}
	if _, err := anon.Unseal(ctx, "not a share"); !candor.Is(err, candor.Invalid) {
		t.Errorf("a malformed share: %v, want Invalid", err)
	}
	st = must(anon.Unseal(ctx, " "+init.Shares[2]+"\n"))(t)
	if !st.Sealed || st.Submitted != 1 {
		t.Errorf("after one share: %+v", st)
	}
	if st = must(anon.Unseal(ctx, init.Shares[0]))(t); st.Sealed {
		t.Fatalf("still sealed after the threshold: %+v", st)
	}

	if _, err := anon.AddStaff(ctx, "nobody", []string{"admin"}); !candor.Is(err, candor.Unauthenticated) {
		t.Errorf("adding staff without a token: %v, want Unauthenticated", err)
	}
	added := must(boot.AddStaff(ctx, "Ada", []string{"engineer"}))(t)
	if added.ID == "" || added.Token == "" {
		t.Fatalf("staff added: %+v", added)
	}
	eng := must(New(env.URL, added.Token, nil))(t)
	if _, err := eng.AccessRequest(ctx, "req_does_not_exist"); !candor.Is(err, candor.NotFound) {
		t.Errorf("an unknown access request: %v, want NotFound", err)
	}
	if err := boot.RevokeStaff(ctx, added.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.AccessRequest(ctx, "req_does_not_exist"); !candor.Is(err, candor.Unauthenticated) {
		t.Errorf("a revoked token: %v, want Unauthenticated", err)
	}
}

func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
