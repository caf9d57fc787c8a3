package relay_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/relay"
)

// A relayed request reaches the region's process with the addresses it
// came through: the X-Forwarded-For the balancer in front of this process
// wrote, then the balancer's own address. The region's process limits
// sign-ins by the nearest untrusted one of them (httpapi's clientAddr); if
// the relay dropped the inbound header, every relayed sign-in would be
// counted as coming from the balancer.
func TestForwardKeepsForwardedFor(t *testing.T) {
	var got []string
	region := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Values("X-Forwarded-For")
		if r.Header.Get(relay.Relayed) == "" {
			t.Error("the relayed request is not marked relayed")
		}
	}))
	defer region.Close()
	rl, err := relay.New([]candor.RegionID{"in"}, []relay.Region{{ID: "sg", URL: region.URL}})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/v1/accounts", nil)
	req.RemoteAddr = "10.0.0.2:41000" // the balancer in front of this process
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	w := httptest.NewRecorder()
	rl.Forward(w, req, "sg", func(w http.ResponseWriter, r *http.Request, err error) { t.Errorf("not relayed: %v", err) })
	if w.Code != http.StatusOK {
		t.Fatalf("relayed: %d", w.Code)
	}
	if len(got) != 1 || got[0] != "203.0.113.7, 10.0.0.2" {
		t.Errorf("the region's process got X-Forwarded-For %q, want [\"203.0.113.7, 10.0.0.2\"]", got)
	}
}
