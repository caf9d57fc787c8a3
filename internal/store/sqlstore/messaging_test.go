package sqlstore

import (
	"crypto/rand"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
	"github.com/candorcloud/candor/internal/store/pgtest"
)

// BenchmarkEnqueueAck measures the message queue under load: 16 goroutines
// each enqueue one envelope per message (a 512-byte sealed message for one
// device of one of 16 accounts) and ack it, as a sender and a recipient
// would. It reports messages per second through both.
func BenchmarkEnqueueAck(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		r, err := OpenSQLiteRegion(filepath.Join(b.TempDir(), "candor.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		benchEnqueueAck(b, r)
	})
	b.Run("postgres", func(b *testing.B) {
		r, err := OpenPostgresRegion(b.Context(), pgtest.Schema(b))
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		benchEnqueueAck(b, r)
	})
}

func benchEnqueueAck(b *testing.B, r *RegionStore) {
	const workers = 16
	ctx := b.Context()
	accounts := make([]candor.AccountID, workers)
	for i := range accounts {
		accounts[i] = candor.AccountID(fmt.Sprintf("acc_bench%02d", i))
		if err := r.CreateAccount(ctx, store.Account{ID: accounts[i], Country: "IN"}); err != nil {
			b.Fatal(err)
		}
	}
	data := make([]byte, 512)
	rand.Read(data)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range workers {
		wg.Go(func() {
			to, from := accounts[w], accounts[(w+1)%workers]
			device := candor.DeviceID(fmt.Sprintf("dev_bench%02d", w))
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				id := fmt.Sprintf("msg_%d", i)
				env := store.Envelope{ID: id, Account: to, Device: device, From: from, Data: data,
					Expires: time.Now().Add(time.Hour)}
				if err := r.Enqueue(ctx, []store.Envelope{env}); err != nil {
					b.Error(err)
					return
				}
				acked, err := r.Ack(ctx, to, device, []string{id})
				if err != nil || len(acked) != 1 {
					b.Errorf("Ack = %d envelopes, %v", len(acked), err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
