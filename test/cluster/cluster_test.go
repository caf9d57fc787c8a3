package cluster

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client"
)

// envInt reads a positive whole number from the environment, or def.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive whole number", name, v)
	}
	return n
}

// messagingPhones is how many phones turn messaging on: each needs its
// code read from the carrier, and sends to the others.
const messagingPhones = 50

// samplePhones is how many phones a second device checks at the end.
const samplePhones = 50

// TestCluster runs the multi-region deployment as real processes behind
// HAProxy, with CANDOR_CLUSTER_PHONES phones (default 1000) through the
// public frontend, and three load phases of CANDOR_CLUSTER_SECONDS each
// (default 30): two processes per region, one per region, and two per
// region while one of each region is killed with SIGKILL, restarted and
// unsealed. See the package documentation.
func TestCluster(t *testing.T) {
	enabled(t)
	n := envInt(t, "CANDOR_CLUSTER_PHONES", 1000)
	d := time.Duration(envInt(t, "CANDOR_CLUSTER_SECONDS", 30)) * time.Second
	if n < 4 {
		t.Fatal("CANDOR_CLUSTER_PHONES: at least 4")
	}
	ctx := context.Background()
	began := time.Now()
	c := startCluster(t)
	t.Logf("environment: 4 instances, HAProxy, Kannel up, ceremony held and every instance unsealed in %s", time.Since(began).Round(time.Millisecond))

	// The phones sign up through the public frontend, half in India and
	// half in Singapore, turn contacts on and sync two contacts.
	suffix := strings.ToLower(candor.NewID("t")[2:10])
	f := &fleet{lb: c.lb}
	for i := range n {
		f.phones = append(f.phones, f.newPhone(t, i, []string{"IN", "SG"}[i%2], suffix))
	}
	step := time.Now()
	parallel(t, f.phones, concurrency, func(p *phone) error {
		if _, err := p.c.Signup(ctx, p.email, password); err != nil {
			return fmt.Errorf("signup: %w", err)
		}
		if _, err := p.c.SetConsent(ctx, candor.Contacts, true); err != nil {
			return fmt.Errorf("consent: %w", err)
		}
		for range 2 {
			if _, err := p.addContact(); err != nil {
				return err
			}
		}
		return p.sync(ctx)
	})
	t.Logf("%d phones signed up, turned contacts on and synced in %s", n, time.Since(step).Round(time.Millisecond))
	for _, p := range f.phones {
		if st, _ := p.c.Status(); st.Region != map[string]candor.RegionID{"IN": "in", "SG": "sg"}[p.country] {
			t.Fatalf("phone %d of %s is in region %q", p.i, p.country, st.Region)
		}
	}

	// Messaging for a subset, with the codes the carrier got from Kannel.
	step = time.Now()
	msg := f.phones[:min(messagingPhones, n)]
	parallel(t, msg, concurrency, func(p *phone) error {
		if _, err := p.c.ActivateMessaging(ctx, ""); !candor.Is(err, candor.Invalid) {
			return fmt.Errorf("asking for a code: %v, want the SDK to ask for the code from the SMS", err)
		}
		return nil
	})
	var numbers []string
	for _, p := range msg {
		numbers = append(numbers, p.number)
	}
	codes := c.kannel.codes(t, numbers)
	parallel(t, msg, concurrency, func(p *phone) error {
		if _, err := p.c.ActivateMessaging(ctx, codes[p.number]); err != nil {
			return fmt.Errorf("activation: %w", err)
		}
		p.msg = true
		return nil
	})
	t.Logf("%d phones turned messaging on with the codes fakesmsc got, in %s", len(msg), time.Since(step).Round(time.Millisecond))

	// The limit on codes holds across the instances: one phone asks
	// again and again through the public frontend.
	quotaCheck(t, c, f, n, suffix)

	// (b) Two processes per region.
	two, wait := f.run(ctx, d)
	wait()
	t.Logf("(b) 2 instances per region: %s", two)
	// (a) One per region: an operator stops the second of each.
	for _, name := range []string{"in2", "sg2"} {
		c.instances[name].proc.stop(10 * time.Second)
		c.lb.wait(t, 10*time.Second, name+" out of the pools", outOfPools(name))
	}
	one, wait := f.run(ctx, d)
	wait()
	t.Logf("(a) 1 instance per region: %s", one)
	for _, name := range []string{"in2", "sg2"} {
		in := c.instances[name]
		in.start(t, c.bin)
		c.unseal(in)
		c.lb.wait(t, 30*time.Second, name+" back in the pools", inPools(name))
	}

	// Two per region again, and one of each region killed a third of the
	// way in, restarted from its configuration file and unsealed.
	killed, wait := f.run(ctx, d)
	time.Sleep(d / 3)
	kill := time.Now()
	for _, name := range []string{"in2", "sg2"} {
		c.instances[name].proc.kill()
	}
	var out, ready, back time.Duration
	for _, name := range []string{"in2", "sg2"} {
		c.lb.wait(t, 10*time.Second, name+" out of the pools", outOfPools(name))
	}
	out = time.Since(kill)
	for _, name := range []string{"in2", "sg2"} {
		in := c.instances[name]
		t0 := time.Now()
		in.start(t, c.bin)
		t1 := time.Now()
		c.unseal(in)
		t2 := time.Now()
		in.waitReady(t)
		t.Logf("%s restarted: listening after %s, unsealed by two custodians %s later, ready %s after that",
			name, t1.Sub(t0).Round(time.Millisecond), t2.Sub(t1).Round(time.Millisecond), time.Since(t2).Round(time.Millisecond))
		if t1.Sub(t0) > 2*time.Second {
			t.Logf("%s's log while it started:\n%s", name, in.startLog())
		}
	}
	ready = time.Since(kill)
	for _, name := range []string{"in2", "sg2"} {
		c.lb.wait(t, 30*time.Second, name+" back in the pools", inPools(name))
	}
	back = time.Since(kill)
	wait()
	t.Logf("(b) with in2 and sg2 killed at +%s: %s", kill.Sub(killed.start).Round(time.Millisecond), killed)
	// A phone whose last try failed tries again until it succeeds.
	last, hit, stuck := killed.recovery(kill)
	for _, p := range stuck {
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			err := p.sync(ctx)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("phone %d still fails 30s after the phase: %v", p.i, err)
			}
		}
		last = time.Now()
	}
	var recovered time.Duration
	if hit > 0 {
		recovered = last.Sub(kill)
	}

	// Figures.
	s2, s1 := two.figures("sync"), one.figures("sync")
	m2, m1 := two.figures("send"), one.figures("send")
	ratio := func(b, a float64) float64 {
		if a == 0 {
			return 0
		}
		return b / a
	}
	t.Logf("load, %d phones (%d with messaging), %s a phase, at most %d syncs and %d messaging phones' operations in flight:", n, len(msg), d, concurrency, msgConcurrency)
	t.Logf("  (a) 1 instance per region:  %s", one)
	t.Logf("  (b) 2 instances per region: %s", two)
	t.Logf("  scaling b/a: sync %.2f, send %.2f, HTTP requests %.2f", ratio(s2.perSec, s1.perSec), ratio(m2.perSec, m1.perSec), ratio(two.rate(), one.rate()))
	t.Logf("  (b) with in2 and sg2 killed at +%s: %s", kill.Sub(killed.start).Round(time.Millisecond), killed)
	t.Logf("kill: out of HAProxy's pools %s after SIGKILL, restarted and unsealed (ready) %s, back in the pools %s; %d phones saw an error after the kill, the last of them succeeded again %s after it",
		out.Round(time.Millisecond), ready.Round(time.Millisecond), back.Round(time.Millisecond), hit, recovered.Round(time.Millisecond))

	// Every error a phone saw is one it may retry.
	fatal := 0
	for _, phase := range []struct {
		name string
		l    *load
	}{{"two per region", two}, {"one per region", one}, {"kill", killed}} {
		all, bad, seen, first := phase.l.errors()
		t.Logf("errors, %s: %d, of which not retryable: %d %v", phase.name, all, bad, seen)
		for _, err := range first {
			t.Errorf("a phone saw an error it cannot retry: %v", err)
		}
		fatal += bad
	}

	// Nothing acknowledged is lost: for a sample, a second device signs
	// in and pulls everything; it must hold every contact the first
	// phone's syncs acknowledged, and exactly what the first phone holds.
	step = time.Now()
	var sample []*phone
	for i := 0; i < n; i += max(1, n/samplePhones) {
		sample = append(sample, f.phones[i])
	}
	dirs := map[*phone]string{}
	for _, p := range sample {
		dirs[p] = t.TempDir()
	}
	parallel(t, sample, concurrency, func(p *phone) error {
		p.mu.Lock()
		acked := slices.Clone(p.acked)
		p.mu.Unlock()
		if err := p.sync(ctx); err != nil {
			return fmt.Errorf("the last sync: %w", err)
		}
		second, err := f.newSecond(dirs[p], p, n)
		if err != nil {
			return err
		}
		if _, err := second.Login(ctx, p.email, password); err != nil {
			return fmt.Errorf("a second device's login: %w", err)
		}
		if _, err := second.Sync(ctx, nil, candor.Contacts); err != nil {
			return fmt.Errorf("a second device's sync: %w", err)
		}
		got, want := names(second), names(p.c)
		for _, a := range acked {
			if !slices.Contains(got, a) {
				return fmt.Errorf("%q was acknowledged and is not in the cloud", a)
			}
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("the second device has %d contacts, the first %d", len(got), len(want))
		}
		return nil
	})
	// Every message a sender was told was queued reached its recipient.
	inbox := map[*phone][]string{}
	for _, p := range msg {
		ids, err := p.received(ctx)
		if err != nil {
			t.Fatalf("phone %d's inbox: %v", p.i, err)
		}
		inbox[p] = ids
	}
	sends := 0
	for _, p := range msg {
		for _, s := range p.sent {
			sends++
			if _, found := slices.BinarySearch(inbox[s.to], s.id); !found {
				t.Errorf("message %s from phone %d to phone %d was acknowledged and never arrived", s.id, p.i, s.to.i)
			}
		}
	}
	t.Logf("checked: %d phones' contacts on a second device, %d acknowledged messages delivered, in %s", len(sample), sends, time.Since(step).Round(time.Millisecond))

	// A migration of country IN to sg, started on in1, which is killed
	// with SIGKILL in the middle of it: another instance takes the job
	// over once its lease expires, and finishes it.
	mig := migrateUnderKill(t, c, n)
	step = time.Now()
	parallel(t, sample, concurrency, func(p *phone) error {
		before := names(p.c)
		if err := p.sync(ctx); err != nil {
			return fmt.Errorf("a sync after the migration: %w", err)
		}
		st, _ := p.c.Status()
		if want := map[string]candor.RegionID{"IN": "sg", "SG": "sg"}[p.country]; st.Region != want {
			return fmt.Errorf("phone %d of %s is in region %q after the migration, want %s", p.i, p.country, st.Region, want)
		}
		second, err := f.newSecond(t.TempDir(), p, n)
		if err != nil {
			return err
		}
		if _, err := second.Login(ctx, p.email, password); err != nil {
			return fmt.Errorf("a second device's login after the migration: %w", err)
		}
		if _, err := second.Sync(ctx, nil, candor.Contacts); err != nil {
			return fmt.Errorf("a second device's sync after the migration: %w", err)
		}
		if got := names(second); !slices.Equal(got, before) {
			return fmt.Errorf("after the migration a second device has %d contacts, the phone had %d", len(got), len(before))
		}
		return nil
	})
	t.Logf("checked after the migration: %d phones in region sg with every contact, in %s", len(sample), time.Since(step).Round(time.Millisecond))

	// Every instance is unsealed, under the one root key of the ceremony
	// (asked as staff, with the helper later tests start migrations with).
	roots := map[int64][]string{}
	for _, name := range []string{"in1", "in2", "sg1", "sg2"} {
		var st api.OperatorStatus
		if err := c.operator(c.instances[name], "GET", "/v1/operator/status", nil, &st); err != nil || st.Sealed {
			t.Errorf("%s: sealed %v, %v", name, st.Sealed, err)
		}
		roots[st.RootVersion] = append(roots[st.RootVersion], name)
	}
	if len(roots) != 1 {
		t.Errorf("the instances hold different root key versions: %v", roots)
	}

	t.Logf("migration: %s", mig)
	t.Logf("SUMMARY phones=%d seconds=%d sync/s 1:%.1f 2:%.1f (x%.2f) sync-p99 1:%s 2:%s send/s 1:%.1f 2:%.1f (x%.2f) send-p99 1:%s 2:%s out-of-pool=%s ready=%s back-in-pool=%s phones-recovered=%s phones-hit=%d not-retryable=%d total=%s",
		n, int(d.Seconds()), s1.perSec, s2.perSec, ratio(s2.perSec, s1.perSec), s1.p99.Round(time.Millisecond), s2.p99.Round(time.Millisecond),
		m1.perSec, m2.perSec, ratio(m2.perSec, m1.perSec), m1.p99.Round(time.Millisecond), m2.p99.Round(time.Millisecond),
		out.Round(time.Millisecond), ready.Round(time.Millisecond), back.Round(time.Millisecond), recovered.Round(time.Millisecond), hit, fatal,
		time.Since(began).Round(time.Second))
}

// quotaCheck has one new phone ask for verification codes through the
// public frontend again and again: the per-account limit (3 an hour) must
// hold whichever instance answers, and no more codes reach the carrier.
func quotaCheck(t *testing.T, c *cluster, f *fleet, n int, suffix string) {
	t.Helper()
	ctx := context.Background()
	p := f.newPhone(t, n+samplePhones, "SG", suffix)
	if _, err := p.c.Signup(ctx, p.email, password); err != nil {
		t.Fatal(err)
	}
	const asks = 8
	var limited int
	for range asks {
		_, err := p.c.ActivateMessaging(ctx, "")
		switch {
		case candor.Is(err, candor.RateLimited):
			limited++
		case !candor.Is(err, candor.Invalid):
			t.Fatalf("asking for a code: %v", err)
		}
	}
	var got int
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if got = len(c.kannel.texts()[p.number]); got >= asks-limited || time.Now().After(deadline) {
			break
		}
	}
	time.Sleep(time.Second) // any late one would show now
	got = len(c.kannel.texts()[p.number])
	t.Logf("quota: %d asks for a code through the public frontend, %d refused, %d codes reached the carrier", asks, limited, got)
	if got != 3 || limited != asks-3 {
		t.Errorf("the carrier got %d codes for one account and %d asks of %d were refused; want 3 and %d", got, limited, asks, asks-3)
	}
}

// newSecond is a second device of p's account (another IMEI, its own
// address).
func (f *fleet) newSecond(dir string, p *phone, n int) (*client.Client, error) {
	hc := f.lb.client(localAddr(n + samplePhones + 1 + p.i))
	return client.Init(dir, client.Config{Server: f.lb.URL, IMEI: fmt.Sprintf("86%013d", p.i), Phone: p.number, Country: p.country},
		client.WithHTTPClient(hc), client.WithKDF(testKDF), client.WithKDFFloor(testKDF))
}

// names lists a phone's contacts' names, sorted.
func names(c *client.Client) []string {
	cs, _ := c.Contacts().List()
	var out []string
	for _, x := range cs {
		out = append(out, x.Name)
	}
	slices.Sort(out)
	return out
}

// migrateUnderKill starts moving country IN to region sg on in1 through
// the staff API, kills in1 with SIGKILL once the job has moved some
// accounts, follows the job through sg1 until another instance has taken
// it over and finished it, then restarts and unseals in1. It returns the
// figures.
func migrateUnderKill(t *testing.T, c *cluster, n int) string {
	t.Helper()
	in1, sg1 := c.instances["in1"], c.instances["sg1"]
	start := time.Now()
	var job api.Migration
	if err := c.operator(in1, "POST", "/v1/operator/migrations", api.MigrateRequest{Country: "IN", To: "sg"}, &job); err != nil {
		t.Fatalf("starting the migration on in1: %v", err)
	}
	for job.Done == 0 && job.Finished == nil && time.Since(start) < time.Minute {
		time.Sleep(50 * time.Millisecond)
		if err := c.operator(sg1, "GET", "/v1/operator/migrations/"+job.ID, nil, &job); err != nil {
			t.Fatalf("following the migration: %v", err)
		}
	}
	if job.Finished != nil {
		t.Fatalf("the migration of %d accounts finished before in1 could be killed: %+v", job.Total, job)
	}
	holder, doneAtKill := job.Holder, job.Done
	in1.proc.kill()
	kill := time.Now()
	c.lb.wait(t, 10*time.Second, "in1 out of the pools", outOfPools("in1"))
	var takenOver time.Duration
	for deadline := time.Now().Add(3 * time.Minute); job.Finished == nil; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the migration was not finished 3 minutes after in1 was killed: %+v", job)
		}
		if err := c.operator(sg1, "GET", "/v1/operator/migrations/"+job.ID, nil, &job); err != nil {
			t.Fatalf("following the migration: %v", err)
		}
		if takenOver == 0 && job.Holder != "" && job.Holder != holder {
			takenOver = time.Since(kill)
		}
	}
	finished := time.Since(kill)
	if job.Error != "" || job.Total != n/2 || job.Done != job.Total {
		t.Fatalf("the migration taken over: %+v, want all %d accounts of IN moved", job, n/2)
	}
	if job.Holder == holder {
		t.Fatalf("the job was finished by its first holder %s, which was killed", holder)
	}
	in1.start(t, c.bin)
	c.unseal(in1)
	c.lb.wait(t, 30*time.Second, "in1 back in the pools", inPools("in1"))
	return fmt.Sprintf("%d accounts of IN to sg; in1 killed after %d, the job taken over %s later and finished %s after the kill (%s in all)",
		job.Total, doneAtKill, takenOver.Round(time.Millisecond), finished.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}
