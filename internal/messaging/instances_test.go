package messaging_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/consent/gate"
	"github.com/candorcloud/candor/internal/messaging"
)

// other returns a second instance of the messaging service over the same
// directory and stores, as a second server behind the balancer has: it
// shares nothing with the first but the databases.
func (e *env) other(cfg messaging.Config) *gate.Messaging {
	cfg.Now = func() time.Time { return e.now }
	return gate.NewMessaging(e.ledger, messaging.New(e.dir, e, e.ledger, e.keys, e.gateway, e.bus, e.logs, cfg))
}

// Every limit holds however a client spreads its requests over instances,
// and a code sent by one instance is typed at another.
func TestLimitsHoldAcrossInstances(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, messaging.Config{EvaluationsPerDay: 4})
	b := e.other(messaging.Config{EvaluationsPerDay: 4})
	instances := []*gate.Messaging{e.msgs, b}

	// A code asked for at one instance is typed at the other, once.
	p := e.account(t, "in")
	code := e.code(t, p, phoneA)
	if _, err := b.Activate(ctx, p, api.Activation{Phone: phoneA, Code: code, Keys: keysOf(p)}); err != nil {
		t.Fatalf("a code sent by one instance, typed at another: %v", err)
	}
	_, err := e.msgs.Activate(ctx, device(p), api.Activation{Phone: phoneA, Code: code, Keys: keysOf(p)})
	wantKind(t, "a code typed twice, at two instances", err, candor.Forbidden)

	// Three codes an hour per account, wherever asked.
	q := e.account(t, "in")
	for i := range 3 {
		if err := instances[i%2].RequestVerification(ctx, q, phoneB); err != nil {
			t.Fatalf("code %d: %v", i+1, err)
		}
	}
	for i, in := range instances {
		wantKind(t, fmt.Sprintf("a fourth code at instance %d", i), in.RequestVerification(ctx, q, phoneB), candor.RateLimited)
	}
	e.carrier.Take(phoneB)

	// Five wrong codes an hour per account, wherever typed.
	r := e.account(t, "in")
	code = e.code(t, r, phoneB)
	wrong := fmt.Sprintf("%06d", (atoi(code)+1)%1_000_000)
	for i := range 5 {
		_, err := instances[i%2].Activate(ctx, r, api.Activation{Phone: phoneB, Code: wrong, Keys: keysOf(r)})
		wantKind(t, "a wrong code", err, candor.Forbidden)
	}
	_, err = b.Activate(ctx, r, api.Activation{Phone: phoneB, Code: code, Keys: keysOf(r)})
	wantKind(t, "the right code after five wrong ones at two instances", err, candor.Forbidden)

	// Ten codes an hour per number, whichever accounts ask at whichever
	// instance.
	const number = "+6598765432"
	var refused error
	for i := range messaging.CodesPerNumber + 2 {
		if err := instances[i%2].RequestVerification(ctx, e.account(t, "in"), number); err != nil {
			refused = err
		}
	}
	if sms := e.carrier.Take(number); len(sms) != messaging.CodesPerNumber {
		t.Fatalf("%d codes reached one number through two instances, want %d", len(sms), messaging.CodesPerNumber)
	}
	wantKind(t, "a code over the number's limit", refused, candor.RateLimited)

	// The daily discovery quota is one, however spread.
	if _, err := e.msgs.Match(ctx, p, [][]byte{{0, 0}, {0, 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Match(ctx, p, [][]byte{{0, 2}, {0, 3}}); err != nil {
		t.Fatal(err)
	}
	for i, in := range instances {
		_, err := in.Match(ctx, p, [][]byte{{0, 4}})
		wantKind(t, fmt.Sprintf("a bucket beyond the day's quota at instance %d", i), err, candor.RateLimited)
	}
}

// The directory, copied while a code waits, holds neither the number nor
// the code: a code waits as a keyed MAC, allowances under keyed hashes.
func TestWaitingCodeIsNotInTheDirectory(t *testing.T) {
	e := newEnv(t, messaging.Config{})
	p := e.account(t, "in")
	code := e.code(t, p, phoneA)
	for _, name := range []string{"directory.db", "directory.db-wal"} {
		b, err := os.ReadFile(filepath.Join(e.data, name))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{phoneA, phoneA[1:], phoneA[3:], code} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s holds %q while a code waits", name, secret)
			}
		}
	}
}
