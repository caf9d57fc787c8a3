package davclients

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// candorPassword is the account password of the Candor target's phone.
const candorPassword = "Orchid-Lantern-7731!"

// phoneKDF is a cheap Argon2id cost for the test phone's signup.
var phoneKDF = api.KDF{Time: 1, MemoryKiB: 8, Threads: 1}

// candorTarget starts a Candor dev server in the test process on
// 127.0.0.1 (servertest: the full composition, checked against the API
// description), signs an account up from a client SDK phone, turns
// contacts on and makes an app password from that phone. Its URL is the
// server's root, what a person gives vdirsyncer: discovery goes through
// /.well-known/carddav. Its Book is the phone; its Revoke revokes the app
// password from the phone.
func candorTarget(t testing.TB) target {
	t.Helper()
	env := servertest.Start(t)
	ctx := context.Background()
	phone, err := client.Init(filepath.Join(t.TempDir(), "phone"),
		client.Config{Server: env.URL, IMEI: "356938035643809", Phone: "+919812345678", Country: "IN"},
		client.WithKDF(phoneKDF), client.WithKDFFloor(phoneKDF))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := phone.Signup(ctx, "carddav@example.invalid", candorPassword); err != nil {
		t.Fatalf("signup: %v", err)
	}
	if _, err := phone.SetConsent(ctx, candor.Contacts, true); err != nil {
		t.Fatalf("consent contacts on: %v", err)
	}
	ap, err := phone.CreateAppPassword(ctx, "vdirsyncer")
	if err != nil {
		t.Fatalf("app password: %v", err)
	}
	return target{
		Name:     "candor",
		URL:      env.URL + "/",
		Username: ap.Username,
		Password: ap.Password,
		Book:     candorBook{phone},
		Revoke: func(t testing.TB) {
			if err := phone.RevokeDevice(context.Background(), ap.ID); err != nil {
				t.Fatalf("revoke the app password: %v", err)
			}
		},
	}
}

// candorBook is the account's address book as a `candor device` phone
// holds it: it syncs contacts before each read and after each write.
type candorBook struct{ phone *client.Client }

func (b candorBook) sync(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := b.phone.Sync(ctx, nil, candor.Contacts); err != nil {
		t.Fatalf("phone sync: %v", err)
	}
}

// ids returns the phone's contacts by UID: record id and FN.
func (b candorBook) list(t testing.TB) map[string][2]string {
	t.Helper()
	cs, err := b.phone.Contacts().List()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string][2]string, len(cs))
	for _, c := range cs {
		uid, fn := cardFields(c.VCard)
		if uid == "" {
			t.Fatalf("phone: contact %s has no UID", c.ID)
		}
		out[uid] = [2]string{c.ID, fn}
	}
	return out
}

func (b candorBook) Cards(t testing.TB) map[string]string {
	t.Helper()
	b.sync(t)
	out := make(map[string]string)
	for uid, c := range b.list(t) {
		out[uid] = c[1]
	}
	return out
}

func (b candorBook) Put(t testing.TB, uid string, card []byte) {
	t.Helper()
	b.sync(t)
	if c, ok := b.list(t)[uid]; ok {
		if err := b.phone.Contacts().Update(c[0], card); err != nil {
			t.Fatalf("phone: update %s: %v", uid, err)
		}
	} else if _, err := b.phone.Contacts().ImportVCard(bytes.NewReader(card)); err != nil {
		t.Fatalf("phone: import %s: %v", uid, err)
	}
	b.sync(t)
}

func (b candorBook) Delete(t testing.TB, uid string) {
	t.Helper()
	b.sync(t)
	c, ok := b.list(t)[uid]
	if !ok {
		t.Fatalf("phone: no contact %s", uid)
	}
	if err := b.phone.Contacts().Delete(c[0]); err != nil {
		t.Fatalf("phone: delete %s: %v", uid, err)
	}
	b.sync(t)
}

// TestCandorDiscovery runs vdirsyncer discover from each URL a person may
// be given for Candor (docs/carddav.md): the server's root, the CardDAV
// URL and the principal. Each finds the account's one address book.
func TestCandorDiscovery(t *testing.T) {
	tl := needTools(t)
	tg := candorTarget(t)
	root := strings.TrimSuffix(tg.URL, "/")
	for _, u := range []string{root, root + "/", root + "/dav/", root + "/dav", root + "/dav/me/"} {
		s := newSyncer(t, tl, u, tg.Username, tg.Password)
		s.discover(t) // fails unless it finds exactly one book
		if got := filepath.Base(s.book); got != "contacts" {
			t.Errorf("discover from %s: the book's folder is %q, want contacts", u, got)
		}
	}
}
