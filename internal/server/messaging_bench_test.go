package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/server/servertest"
)

var codePattern = regexp.MustCompile(`\b[0-9]{6}\b`)

// activate turns messaging on for a raw account: verification code from
// the emulated carrier, then activation with throwaway keys (the server
// only stores public keys; this benchmark never opens envelopes).
func activate(tb testing.TB, r *raw, phone string) api.Session {
	tb.Helper()
	r.must("POST", "/v1/messaging/verification", api.VerificationRequest{Phone: phone}, nil)
	var in api.CarrierInbox
	r.must("GET", "/v1/carrier/sms?to="+strings.ReplaceAll(phone, "+", "%2B"), nil, &in)
	if len(in.Messages) == 0 {
		tb.Fatal("no code from the carrier")
	}
	code := codePattern.FindString(in.Messages[0].Text)
	r.must("POST", "/v1/messaging/activation", api.Activation{Phone: phone, Code: code,
		Keys: api.DeviceKeys{HPKE: randomBytes(1216), Sign: randomBytes(32)}}, nil)
	var acct api.Account
	r.must("GET", "/v1/account", nil, &acct)
	return api.Session{Account: acct.Account, Device: acct.Devices[0].ID}
}

// BenchmarkMessaging measures durable messages per second and delivery
// latency with many devices connected over WebSocket to one SQLite
// server: b.N messages are sent by 32 concurrent senders, each to a
// recipient with no message in flight; a message counts as delivered when
// the recipient's WebSocket receives the push notice (the envelope is
// committed before the notice is sent). CANDOR_BENCH_DEVICES sets the
// number of connected devices (default 1,000).
func BenchmarkMessaging(b *testing.B) {
	devices := 1000
	if n, err := fmt.Sscan(os.Getenv("CANDOR_BENCH_DEVICES"), &devices); n == 0 || err != nil {
		devices = 1000
	}
	env := servertest.Start(b)
	type peer struct {
		r    *raw
		s    api.Session
		sent time.Time
	}
	peers := make([]*peer, devices)
	var wg sync.WaitGroup
	for i := range peers {
		r, _ := signup(b, env, "IN")
		peers[i] = &peer{r: r, s: activate(b, r, fmt.Sprintf("+9190%08d", i))}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	free := make(chan *peer, devices)
	var mu sync.Mutex
	var latencies []time.Duration
	for _, p := range peers {
		h := http.Header{"Authorization": {"Bearer " + p.r.token}}
		conn, _, err := websocket.Dial(ctx, strings.Replace(env.URL, "http", "ws", 1)+"/v1/messages/ws", &websocket.DialOptions{HTTPHeader: h})
		if err != nil {
			b.Fatal(err)
		}
		conn.SetReadLimit(1 << 10)
		if _, _, err := conn.Read(ctx); err != nil { // the greeting notice
			b.Fatal(err)
		}
		wg.Add(1)
		go func(p *peer) {
			defer wg.Done()
			for {
				if _, _, err := conn.Read(ctx); err != nil {
					return
				}
				mu.Lock()
				if !p.sent.IsZero() {
					latencies = append(latencies, time.Since(p.sent))
					p.sent = time.Time{}
				}
				mu.Unlock()
				free <- p
			}
		}(p)
		free <- p
	}
	send := func(from, to *peer) {
		id := candor.NewID("msg")
		body, _ := json.Marshal(api.Send{To: to.s.Account, Envelopes: []api.Envelope{{ID: id, FromDevice: from.s.Device,
			ToDevice: to.s.Device, Sent: time.Now(), Sealed: randomBytes(300), Signature: randomBytes(64)}}})
		mu.Lock()
		to.sent = time.Now()
		mu.Unlock()
		if a := from.r.send("POST", "/v1/messages", "application/json", body); a.status != 201 {
			b.Errorf("send: %d %s", a.status, a.body)
		}
	}
	jobs := make(chan struct{})
	var senders sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := range 32 {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for range jobs {
				to := <-free
				send(peers[w%len(peers)], to)
			}
		}()
	}
	for range b.N {
		jobs <- struct{}{}
	}
	close(jobs)
	senders.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(latencies)
		mu.Unlock()
		if n >= b.N || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	mu.Lock()
	slices.Sort(latencies)
	if len(latencies) > 0 {
		b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
	}
	b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "delivered-msgs/s")
	b.ReportMetric(float64(devices), "devices")
	mu.Unlock()
}
