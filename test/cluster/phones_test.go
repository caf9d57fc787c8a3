package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client"
)

// testKDF is the phones' Argon2id cost: cheap, and at the floor the
// testcosts build accepts.
var testKDF = api.KDF{Time: 1, MemoryKiB: 8, Threads: 1}

// retryable says whether a phone may simply try again after err: the
// kinds the SDK and the server use for "not now" (internal/server's tests
// use the same rule).
func retryable(err error) bool {
	return candor.Is(err, candor.Unavailable) || candor.Is(err, candor.Conflict) || candor.Is(err, candor.Sealed)
}

// phone is one emulated phone of the load.
type phone struct {
	i       int
	c       *client.Client
	email   string
	number  string
	country string
	local   net.IP // the address its connections leave from
	msg     bool   // messaging activated

	mu      sync.Mutex
	added   int      // contacts added so far
	acked   []string // contacts a successful sync acknowledged
	sent    []sent   // messages acknowledged as queued via Candor
	lastErr time.Time
}

const password = "correct horse battery staple"

// sent is a message a phone was told was queued for its recipient.
type sent struct {
	id string
	to *phone
}

// counter counts the HTTP requests phones send.
type counter struct {
	base http.RoundTripper
	n    *atomic.Int64
}

func (c counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(r)
}

// fleet is the phones, and the count of their HTTP requests.
type fleet struct {
	lb       *balancer
	phones   []*phone
	requests atomic.Int64
}

// localAddr is phone i's own loopback address, 127.1.x.y: never
// 127.0.0.1, which the instances trust as their balancer.
func localAddr(i int) net.IP { return net.IPv4(127, 1, byte(i/250), byte(i%250+1)) }

// newPhone makes phone i of country IN or SG, reaching the public
// frontend.
func (f *fleet) newPhone(t *testing.T, i int, country string, suffix string) *phone {
	t.Helper()
	p := &phone{i: i, country: country, local: localAddr(i),
		email: fmt.Sprintf("phone%05d-%s@example.org", i, suffix)}
	switch country {
	case "IN":
		p.number = fmt.Sprintf("+9198%08d", i)
	default:
		p.number = fmt.Sprintf("+658%07d", i)
	}
	hc := f.lb.client(p.local)
	hc.Transport = counter{base: hc.Transport, n: &f.requests}
	c, err := client.Init(t.TempDir(), client.Config{Server: f.lb.URL, IMEI: fmt.Sprintf("35%013d", i), Phone: p.number, Country: country},
		client.WithHTTPClient(hc), client.WithKDF(testKDF), client.WithKDFFloor(testKDF))
	if err != nil {
		t.Fatal(err)
	}
	p.c = c
	return p
}

// addContact adds the phone's next contact and returns its name.
func (p *phone) addContact() (string, error) {
	p.mu.Lock()
	p.added++
	name := fmt.Sprintf("Contact %d of phone %d", p.added, p.i)
	p.mu.Unlock()
	_, err := p.c.Contacts().Add(name, fmt.Sprintf("+9199%08d", p.i*1000+p.added%1000))
	return name, err
}

// sync syncs contacts; on success every contact the phone held before
// is acknowledged.
func (p *phone) sync(ctx context.Context) error {
	held, err := p.c.Contacts().List()
	if err != nil {
		return err
	}
	if _, err := p.c.Sync(ctx, nil, candor.Contacts); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.acked = p.acked[:0]
	for _, c := range held {
		p.acked = append(p.acked, c.Name)
	}
	return nil
}

// parallel runs do for every phone, n at a time, and fails t on the
// first error.
func parallel(t *testing.T, phones []*phone, n int, do func(*phone) error) {
	t.Helper()
	sem := make(chan struct{}, n)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, p := range phones {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := do(p); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("phone %d (%s): %w", p.i, p.country, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d phones failed, the first: %v", len(errs), errors.Join(errs[:min(len(errs), 8)]...))
	}
}

// event is one operation of the load: what, when, how long, and its
// error.
type event struct {
	phone *phone
	kind  string // "sync" or "send"
	at    time.Time
	took  time.Duration
	err   error
}

// load is what one load phase saw.
type load struct {
	start, end time.Time
	events     []event
	requests   int64 // HTTP requests the phones sent
}

// concurrency bounds the phones' syncs in flight at once, and
// msgConcurrency the messaging phones' operations: the test process
// shares the machine's CPUs with the servers.
const (
	concurrency    = 32
	msgConcurrency = 16
)

// run drives every phone for d: each adds a contact and syncs, at most
// concurrency at once; a phone with messaging on, one of at most
// msgConcurrency at once, sends every other time a message to another
// such phone (and reads its own inbox). It returns at once; wait waits
// for the end of the phase.
func (f *fleet) run(ctx context.Context, d time.Duration) (l *load, wait func()) {
	var msg []*phone
	for _, p := range f.phones {
		if p.msg {
			msg = append(msg, p)
		}
	}
	l = &load{start: time.Now()}
	deadline := l.start.Add(d)
	before := f.requests.Load()
	var mu sync.Mutex
	record := func(e event) {
		mu.Lock()
		l.events = append(l.events, e)
		mu.Unlock()
	}
	syncs, sends := make(chan struct{}, concurrency), make(chan struct{}, msgConcurrency)
	var wg sync.WaitGroup
	for _, p := range f.phones {
		wg.Add(1)
		sem := syncs
		if p.msg {
			sem = sends
		}
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(p.i), uint64(l.start.UnixNano())))
			for n := 0; time.Now().Before(deadline); n++ {
				sem <- struct{}{}
				if !time.Now().Before(deadline) {
					<-sem
					return
				}
				e := event{phone: p, at: time.Now()}
				if p.msg && n%2 == 1 {
					to := msg[rnd.IntN(len(msg))]
					for to == p {
						to = msg[rnd.IntN(len(msg))]
					}
					e.kind = "send"
					var res client.SendResult
					res, e.err = p.c.SendMessage(ctx, to.number, fmt.Sprintf("message %d from phone %d", n, p.i))
					e.took = time.Since(e.at)
					if e.err == nil && res.Via == client.ViaCandor {
						p.mu.Lock()
						p.sent = append(p.sent, sent{id: res.ID, to: to})
						p.mu.Unlock()
					} else if e.err == nil {
						e.err = fmt.Errorf("sent via %s, not Candor", res.Via)
					}
					if e.err == nil {
						_, e.err = p.c.Inbox(ctx) // not timed: the recipient's side
					}
				} else {
					e.kind = "sync"
					if _, e.err = p.addContact(); e.err == nil {
						e.err = p.sync(ctx)
					}
					e.took = time.Since(e.at)
				}
				<-sem
				record(e)
				if e.err != nil {
					p.mu.Lock()
					p.lastErr = time.Now()
					p.mu.Unlock()
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	return l, func() {
		wg.Wait()
		l.end = time.Now()
		l.requests = f.requests.Load() - before
	}
}

// figures are one kind of operation's rate and latency within a window.
type figures struct {
	ok       int
	perSec   float64
	p50, p99 time.Duration
}

// figures of kind over the whole phase.
func (l *load) figures(kind string) figures {
	var took []time.Duration
	for _, e := range l.events {
		if e.kind == kind && e.err == nil && !e.at.Add(e.took).After(l.end) {
			took = append(took, e.took)
		}
	}
	f := figures{ok: len(took)}
	if len(took) == 0 {
		return f
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	f.perSec = float64(len(took)) / l.end.Sub(l.start).Seconds()
	f.p50 = took[len(took)/2]
	f.p99 = took[min(len(took)-1, len(took)*99/100)]
	return f
}

// rate is the phones' HTTP requests a second.
func (l *load) rate() float64 { return float64(l.requests) / l.end.Sub(l.start).Seconds() }

func (l *load) String() string {
	return fmt.Sprintf("sync %s; send %s; %.0f HTTP requests/s", l.figures("sync"), l.figures("send"), l.rate())
}

func (f figures) String() string {
	return fmt.Sprintf("%.1f/s (%d), p50 %s, p99 %s", f.perSec, f.ok, f.p50.Round(time.Millisecond), f.p99.Round(time.Millisecond))
}

// errors counts the errors of the phase, and the ones no phone may retry;
// it lists the first few of each.
func (l *load) errors() (all, fatal int, seen, bad []error) {
	for _, e := range l.events {
		if e.err == nil {
			continue
		}
		all++
		err := fmt.Errorf("phone %d %s at +%s: %w", e.phone.i, e.kind, e.at.Sub(l.start).Round(time.Millisecond), e.err)
		if len(seen) < 3 {
			seen = append(seen, err)
		}
		if !retryable(e.err) {
			fatal++
			if len(bad) < 5 {
				bad = append(bad, err)
			}
		}
	}
	return all, fatal, seen, bad
}

// recovery is, for the phones that saw an error from since on, when the
// last of them succeeded again after its last error (zero time when none
// saw one), and how many saw one. A phone still failing when the phase
// ended counts as not recovered.
func (l *load) recovery(since time.Time) (last time.Time, phones int, stuck []*phone) {
	lastErr := map[*phone]time.Time{}
	for _, e := range l.events {
		if e.err != nil && !e.at.Before(since) {
			if end := e.at.Add(e.took); end.After(lastErr[e.phone]) {
				lastErr[e.phone] = end
			}
		}
	}
	for p, failed := range lastErr {
		var ok time.Time
		for _, e := range l.events {
			if e.phone == p && e.err == nil && e.at.After(failed) && (ok.IsZero() || e.at.Add(e.took).Before(ok)) {
				ok = e.at.Add(e.took)
			}
		}
		if ok.IsZero() {
			stuck = append(stuck, p)
			continue
		}
		if ok.After(last) {
			last = ok
		}
	}
	return last, len(lastErr), stuck
}

// received lists the ids of the messages phone p received, after reading
// its inbox until nothing more comes.
func (p *phone) received(ctx context.Context) ([]string, error) {
	for range 10 {
		res, err := p.c.Inbox(ctx)
		if err != nil {
			return nil, err
		}
		if len(res.Received) == 0 {
			break
		}
	}
	msgs, err := p.c.Messages()
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, m := range msgs {
		if m.Direction == "in" {
			ids = append(ids, m.ID)
		}
	}
	slices.Sort(ids)
	return ids, nil
}
