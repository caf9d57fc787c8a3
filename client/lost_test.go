package client

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/server/servertest"
	"github.com/candorcloud/candor/internal/store/pgtest"
)

// Lost answers: the server commits a push and the phone never hears back
// (the server killed after its commit, the phone losing signal). Whatever
// the person does next must come out as they did it.

// cutter is an HTTP proxy on 127.0.0.1 between phones and a server. Armed,
// it forwards the next pushes of records, waits for the server's whole
// answer (so the push is committed), and then closes the phone's
// connection without a byte of that answer.
type cutter struct {
	t     *testing.T
	URL   string
	proxy *httputil.ReverseProxy

	mu     sync.Mutex
	armed  int    // pushes still to cut
	before bool   // cut before forwarding: the server never sees the push
	seen   []bool // for each push cut after forwarding: whether the server applied all of it
}

func startCutter(t *testing.T, target string) *cutter {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{t: t, proxy: httputil.NewSingleHostReverseProxy(u)}
	ts := httptest.NewServer(c)
	t.Cleanup(ts.Close)
	c.URL = ts.URL
	return c
}

// cut arms c to cut the answers of the next n pushes.
func (c *cutter) cut(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed, c.before = n, false
}

// drop arms c to drop the next n pushes before they reach the server.
func (c *cutter) drop(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed, c.before = n, true
}

func (c *cutter) take() (cut, before bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.armed == 0 {
		return false, false
	}
	c.armed--
	return true, c.before
}

func (c *cutter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	push := r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, api.Version+"/records/")
	cut, before := false, false
	if push {
		cut, before = c.take()
	}
	if !cut {
		c.proxy.ServeHTTP(w, r)
		return
	}
	if !before {
		answer := httptest.NewRecorder()
		c.proxy.ServeHTTP(answer, r) // returns once the server has answered: committed
		var resp api.PushResponse
		applied := answer.Code == http.StatusOK && json.Unmarshal(answer.Body.Bytes(), &resp) == nil && len(resp.Results) > 0
		for _, res := range resp.Results {
			applied = applied && res.Status == api.Applied
		}
		c.mu.Lock()
		c.seen = append(c.seen, applied)
		c.mu.Unlock()
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		c.t.Errorf("cannot cut the answer: %v", err)
		return
	}
	conn.Close()
}

// committed reports whether every push cut after forwarding was applied by
// the server.
func (c *cutter) committed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen) > 0 && !slices.Contains(c.seen, false)
}

func newPhoneAt(t *testing.T, serverURL, imei string) *phone {
	t.Helper()
	rec := &recorder{}
	cfg := Config{Server: serverURL, IMEI: imei, Phone: canaryPhone, Country: "IN"}
	c, err := Init(filepath.Join(t.TempDir(), "phone"), cfg, WithHTTPClient(rec.client()), WithKDF(testKDF), WithKDFFloor(testFloor))
	if err != nil {
		t.Fatal(err)
	}
	return &phone{c, rec}
}

// lostPush syncs p's notes through a cutter armed to lose the answer: the
// sync must fail, and the server must have committed the push.
func lostPush(t *testing.T, p *phone, cut *cutter) {
	t.Helper()
	cut.cut(1)
	if _, err := p.Sync(t.Context(), nil, candor.Notes); err == nil {
		t.Fatal("a sync whose push answer was cut succeeded")
	}
	if !cut.committed() {
		t.Fatal("the server did not apply the push whose answer was cut")
	}
}

func testLostAnswer(t *testing.T, config func(t *testing.T) server.Config) {
	update := func(t *testing.T, p *phone, id, body string) {
		t.Helper()
		if err := p.Notes().Update(id, "n", body); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		// run acts on phone a (through the cutter) and phone b (straight to
		// the server), both synced and holding one note "X" of id x.
		run  func(t *testing.T, a, b *phone, cut *cutter, x string)
		want []string // note bodies on every phone at the end
	}{
		{
			name: "edit answer lost then delete",
			run: func(t *testing.T, a, b *phone, cut *cutter, x string) {
				update(t, a, x, "X2")
				lostPush(t, a, cut)
				if err := a.Notes().Delete(x); err != nil {
					t.Fatal(err)
				}
				a.sync(t, candor.Notes)
			},
			want: nil,
		},
		{
			name: "edit answer lost then edit",
			run: func(t *testing.T, a, b *phone, cut *cutter, x string) {
				update(t, a, x, "X2")
				lostPush(t, a, cut)
				update(t, a, x, "X3")
				a.sync(t, candor.Notes)
			},
			want: []string{"X3"},
		},
		{
			name: "add answer lost then delete",
			run: func(t *testing.T, a, b *phone, cut *cutter, x string) {
				y := must[Note](t)(a.Notes().Add("n", "Y"))
				lostPush(t, a, cut)
				if err := a.Notes().Delete(y.ID); err != nil {
					t.Fatal(err)
				}
				a.sync(t, candor.Notes)
			},
			want: []string{"X"},
		},
		{
			name: "add answer lost then edit",
			run: func(t *testing.T, a, b *phone, cut *cutter, x string) {
				y := must[Note](t)(a.Notes().Add("n", "Y"))
				lostPush(t, a, cut)
				update(t, a, y.ID, "Y2")
				a.sync(t, candor.Notes)
			},
			want: []string{"X", "Y2"},
		},
		{
			name: "add never arrived then delete",
			run: func(t *testing.T, a, b *phone, cut *cutter, x string) {
				y := must[Note](t)(a.Notes().Add("n", "Y"))
				cut.drop(1)
				if _, err := a.Sync(t.Context(), nil, candor.Notes); err == nil {
					t.Fatal("a sync whose push was dropped succeeded")
				}
				if err := a.Notes().Delete(y.ID); err != nil {
					t.Fatal(err)
				}
				a.sync(t, candor.Notes)
			},
			want: []string{"X"},
		},
		{
			// B's edit really conflicts with A's committed one and becomes
			// a conflict copy; A's own later edit does not.
			name: "two phones",
			run: func(t *testing.T, a, b *phone, cut *cutter, x string) {
				update(t, a, x, "X2")
				lostPush(t, a, cut)
				update(t, b, x, "XB")
				if res := b.sync(t, candor.Notes); res[0].Copies != 1 {
					t.Errorf("B made %d conflict copies of its edit against A's, want 1", res[0].Copies)
				}
				update(t, a, x, "X3")
				a.sync(t, candor.Notes)
			},
			want: []string{"X3", "XB"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := servertest.StartWith(t, config(t))
			cut := startCutter(t, env.URL)
			a := newPhoneAt(t, cut.URL, canaryIMEI)
			must[Session](t)(a.Signup(t.Context(), canaryEmail, canaryPassword))
			a.consent(t, candor.Notes, true)
			x := must[Note](t)(a.Notes().Add("n", "X"))
			a.sync(t, candor.Notes)
			b := newPhone(t, env, "356938035643817")
			must[Session](t)(b.Login(t.Context(), canaryEmail, canaryPassword))
			b.sync(t, candor.Notes)

			tc.run(t, a, b, cut, x.ID)

			if res := b.sync(t, candor.Notes); res[0].Copies != 0 {
				t.Errorf("B made %d conflict copies of A's writes", res[0].Copies)
			}
			if res := a.sync(t, candor.Notes); res[0].Copies != 0 || res[0].Pushed != 0 {
				t.Errorf("A's last sync = %+v, want nothing to do", res[0])
			}
			fresh := newPhone(t, env, "356938035643825")
			must[Session](t)(fresh.Login(t.Context(), canaryEmail, canaryPassword))
			fresh.sync(t, candor.Notes)
			for name, p := range map[string]*phone{"A": a, "B": b, "a new phone": fresh} {
				if got := p.noteBodies(t); !reflect.DeepEqual(got, tc.want) {
					t.Errorf("%s has notes %q, want %q", name, got, tc.want)
				}
				st := must[Status](t)(p.Status())
				for _, cs := range st.Categories {
					if cs.Pending != 0 {
						t.Errorf("%s still has %d pending %s changes", name, cs.Pending, cs.Category)
					}
				}
			}
			if !reflect.DeepEqual(a.snapshot(t, candor.Notes), b.snapshot(t, candor.Notes)) {
				t.Error("A and B hold different notes")
			}
			for _, r := range must[[]record](t)(a.liveRecords(candor.Notes)) {
				if len(r.Sent) > 0 {
					t.Errorf("A still remembers unanswered pushes of %s", r.ID)
				}
			}
		})
	}
}

func TestLostAnswer(t *testing.T) {
	testLostAnswer(t, func(*testing.T) server.Config { return server.Config{} })
}

func TestLostAnswerPostgres(t *testing.T) {
	if os.Getenv(pgtest.Env) == "" {
		t.Skip("PostgreSQL tests skipped: set " + pgtest.Env)
	}
	testLostAnswer(t, func(t *testing.T) server.Config { return server.Config{Postgres: servertest.Postgres(t)} })
}
