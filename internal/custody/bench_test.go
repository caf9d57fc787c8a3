package custody_test

import (
	"context"
	"testing"
	"time"
)

// BenchmarkUnseal measures unseal latency: from the threshold-th share
// arriving to an unsealed server (combine, check value, master key, system
// secrets, every region's keys), on SQLite.
func BenchmarkUnseal(b *testing.B) {
	ctx := context.Background()
	d := b.TempDir()
	s := open(b, d)
	c, _ := s.ceremony()
	shares, err := c.Init(ctx, 3, 2, nil)
	if err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	for range b.N {
		c.Seal(ctx, "test")
		if _, err := c.Submit(ctx, shares[0]); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		st, err := c.Submit(ctx, shares[1])
		total += time.Since(start)
		if err != nil || st.Sealed {
			b.Fatalf("unseal: %+v %v", st, err)
		}
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N), "µs/unseal")
}
