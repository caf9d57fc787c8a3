package sqlstore

import (
	"crypto/rand"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/candorcloud/candor/internal/store"
	"github.com/candorcloud/candor/internal/store/pgtest"
)

// BenchmarkAuditAppend times appends to a region's audit log from
// auditWorkers goroutines at once, each append one record in a transaction
// of its own, on a log that holds auditPrefill records already. appends/s
// is the figure that matters.
//
//	go test -run '^$' -bench AuditAppend ./internal/store/sqlstore
//
// With CANDOR_TEST_POSTGRES set it runs against PostgreSQL too.
func BenchmarkAuditAppend(b *testing.B) {
	b.Run("SQLite", func(b *testing.B) {
		r, err := OpenSQLiteRegion(filepath.Join(b.TempDir(), "candor.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		benchmarkAuditAppend(b, r)
	})
	b.Run("Postgres", func(b *testing.B) {
		r, err := OpenPostgresRegion(b.Context(), pgtest.Schema(b))
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		benchmarkAuditAppend(b, r)
	})
}

const (
	auditWorkers = 8
	auditPrefill = 10_000
)

func benchmarkAuditAppend(b *testing.B, l store.AuditLog) {
	ctx := b.Context()
	// An event is a few hundred bytes; the account pseudonym 16.
	rec := store.AuditRecord{Account: make([]byte, 16), Data: make([]byte, 300)}
	rand.Read(rec.Account)
	rand.Read(rec.Data)
	batch := make([]store.AuditRecord, batchRows)
	for i := range batch {
		batch[i] = rec
	}
	for n := 0; n < auditPrefill; n += len(batch) {
		if _, err := l.AppendAudit(ctx, batch...); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range auditWorkers {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if _, err := l.AppendAudit(ctx, rec); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
	size, err := l.AuditSize(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if want := int64(auditPrefill + b.N); size != want {
		b.Fatalf("log size %d after the benchmark, want %d", size, want)
	}
}
