package keyring

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/erasure"
	"github.com/candorcloud/candor/internal/store/pgtest"
	"github.com/candorcloud/candor/internal/store/sqlstore"
)

// benchKeys is how many data keys BenchmarkRotateRegionKey re-wraps
// (CANDOR_BENCH_KEYS overrides it).
func benchKeys() int {
	if n, err := strconv.Atoi(os.Getenv("CANDOR_BENCH_KEYS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// seedDataKeys writes n accounts and one data key each, wrapped by the
// region's current KEK, straight into the region database (one
// transaction), as a region with n keys would hold them.
func seedDataKeys(b *testing.B, k *Keyring, db *sql.DB, region candor.RegionID, n int, placeholder func(int) string) {
	b.Helper()
	kek, version, _, err := k.kek(context.Background(), region, 0)
	if err != nil {
		b.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	q := func(s string, args int) string {
		out := s
		for i := 1; i <= args; i++ {
			out = strings.Replace(out, "?", placeholder(i), 1)
		}
		return out
	}
	acc, err := tx.Prepare(q(`INSERT INTO accounts (id, country, salt, kdf_time, kdf_memory_kib, kdf_threads, auth_hash, created_us) VALUES (?, 'IN', ?, 2, 19456, 1, 'x', 0)`, 2))
	if err != nil {
		b.Fatal(err)
	}
	dk, err := tx.Prepare(q(`INSERT INTO data_keys (account, category, epoch, version, wrapper, wrapped, created_us) VALUES (?, 'contacts', 1, 1, ?, ?, 0)`, 3))
	if err != nil {
		b.Fatal(err)
	}
	for range n {
		a := candor.NewAccountID()
		if _, err := acc.Exec(string(a), make([]byte, 16)); err != nil {
			b.Fatal(err)
		}
		if _, err := dk.Exec(string(a), version, kek.Seal(randomKey(), dekAD(region, a, candor.Contacts, 1, version))); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRotateRegionKey rotates the key of a region holding
// benchKeys() data keys and re-wraps all of them in batches of 1,000, as
// the server's background worker does. It reports data keys re-wrapped per
// second.
func BenchmarkRotateRegionKey(b *testing.B) {
	n := benchKeys()
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			var elapsed time.Duration
			for range b.N {
				b.StopTimer()
				ctx := context.Background()
				d := b.TempDir()
				dir, err := sqlstore.OpenSQLiteDirectory(filepath.Join(d, "directory.db"))
				if err != nil {
					b.Fatal(err)
				}
				var reg *sqlstore.RegionStore
				var raw *sql.DB
				placeholder := func(int) string { return "?" }
				if backend == "sqlite" {
					path := filepath.Join(d, "in.db")
					if reg, err = sqlstore.OpenSQLiteRegion(path); err != nil {
						b.Fatal(err)
					}
					raw, err = sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
				} else {
					dsn := pgtest.Schema(b)
					if reg, err = sqlstore.OpenPostgresRegion(ctx, dsn); err != nil {
						b.Fatal(err)
					}
					raw, err = sql.Open("pgx", dsn)
					placeholder = func(i int) string { return fmt.Sprintf("$%d", i) }
				}
				if err != nil {
					b.Fatal(err)
				}
				k := New(dir, map[candor.RegionID]RegionKeys{"in": reg}, Erasure{Keys: erasure.Folder(b.TempDir())})
				if err := k.Unseal(ctx, randomKey()); err != nil {
					b.Fatal(err)
				}
				seedDataKeys(b, k, raw, "in", n, placeholder)
				raw.Close()

				b.StartTimer()
				start := time.Now()
				if _, err := k.StartRotation(ctx, "in"); err != nil {
					b.Fatal(err)
				}
				total := 0
				for {
					done, left, err := k.RewrapBatch(ctx, "in", 1000)
					if err != nil {
						b.Fatal(err)
					}
					total += done
					if left == 0 {
						break
					}
				}
				elapsed += time.Since(start)
				b.StopTimer()
				if total != n {
					b.Fatalf("re-wrapped %d of %d", total, n)
				}
				reg.Close()
				dir.Close()
			}
			b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "keys/s")
		})
	}
}

// BenchmarkAdvanceErasure advances the erasure ratchet of a directory
// holding benchKeys() shred secrets, one period later, as the upkeep does
// once a period: every secret re-wrapped under the next period's key in
// batches of 1,000, then the stored key replaced. It reports secrets
// re-wrapped per second.
func BenchmarkAdvanceErasure(b *testing.B) {
	n := benchKeys()
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			var elapsed time.Duration
			for range b.N {
				b.StopTimer()
				ctx := context.Background()
				d := b.TempDir()
				var dir *sqlstore.DirectoryStore
				var raw *sql.DB
				var err error
				placeholder := func(int) string { return "?" }
				if backend == "sqlite" {
					path := filepath.Join(d, "directory.db")
					if dir, err = sqlstore.OpenSQLiteDirectory(path); err != nil {
						b.Fatal(err)
					}
					raw, err = sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
				} else {
					dsn := pgtest.Schema(b)
					if dir, err = sqlstore.OpenPostgresDirectory(ctx, dsn); err != nil {
						b.Fatal(err)
					}
					raw, err = sql.Open("pgx", dsn)
					placeholder = func(i int) string { return fmt.Sprintf("$%d", i) }
				}
				if err != nil {
					b.Fatal(err)
				}
				var later time.Duration
				k := New(dir, nil, Erasure{Keys: erasure.Folder(b.TempDir()),
					Clock: erasure.Clock{Length: DefaultPeriod, Now: func() time.Time { return time.Now().Add(later) }}})
				if err := k.Unseal(ctx, randomKey()); err != nil {
					b.Fatal(err)
				}
				tx, err := raw.Begin()
				if err != nil {
					b.Fatal(err)
				}
				ins, err := tx.Prepare(`INSERT INTO shred_secrets (account, category, epoch, version, wrapper, wrapped, created_us) VALUES (` +
					placeholder(1) + `, 'contacts', 1, 2, ` + placeholder(2) + `, ` + placeholder(3) + `, 0)`)
				if err != nil {
					b.Fatal(err)
				}
				for range n {
					a := candor.NewAccountID()
					w, err := k.wrapShredSecret(a, candor.Contacts, 1, randomKey(), time.Now())
					if err != nil {
						b.Fatal(err)
					}
					if _, err := ins.Exec(string(a), w.Wrapper, w.Wrapped); err != nil {
						b.Fatal(err)
					}
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
				raw.Close()
				later = DefaultPeriod

				b.StartTimer()
				start := time.Now()
				done, _, err := k.AdvanceErasure(ctx, 1000)
				elapsed += time.Since(start)
				b.StopTimer()
				if err != nil || done != n {
					b.Fatalf("re-wrapped %d of %d: %v", done, n, err)
				}
				dir.Close()
			}
			b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "secrets/s")
		})
	}
}
