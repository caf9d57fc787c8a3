package sqlstore

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
	"github.com/candorcloud/candor/internal/store/pgtest"
)

// BenchmarkRewrapDataKeys times the rotation of a region's KEK over
// rotationKeys data keys, as the layers above run it: list a page of keys
// wrapped before the new version, rewrap the page, until none is left. One
// op is a whole rotation; keys/s is the figure that matters.
//
//	go test -run '^$' -bench RewrapDataKeys ./internal/store/sqlstore
//
// With CANDOR_TEST_POSTGRES set it runs against PostgreSQL too.
func BenchmarkRewrapDataKeys(b *testing.B) {
	b.Run("SQLite", func(b *testing.B) {
		r, err := OpenSQLiteRegion(filepath.Join(b.TempDir(), "candor.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		benchmarkRewrap(b, r)
	})
	b.Run("Postgres", func(b *testing.B) {
		r, err := OpenPostgresRegion(b.Context(), pgtest.Schema(b))
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		benchmarkRewrap(b, r)
	})
}

const (
	rotationKeys = 100_000
	rotationPage = 1_000
)

// rotationCategories are the categories of each account's keys: the
// benchmark's accounts hold len(rotationCategories) keys each.
var rotationCategories = []candor.Category{candor.Contacts, candor.Notes, candor.SMS, candor.Photos}

func benchmarkRewrap(b *testing.B, r *RegionStore) {
	ctx := b.Context()
	fillDataKeys(b, r, rotationKeys)
	// A wrapped data key is a 32-byte key sealed with AES-GCM: 60 bytes.
	wrapped := make([]byte, 60)
	rand.Read(wrapped)
	kek := int64(1)
	rotations := 0
	b.ResetTimer()
	for b.Loop() {
		kek++
		rotations++
		done := 0
		for {
			ks, err := r.DataKeysWrappedBefore(ctx, kek, rotationPage)
			if err != nil {
				b.Fatal(err)
			}
			if len(ks) == 0 {
				break
			}
			rws := make([]store.Rewrap, len(ks))
			for i, k := range ks {
				rws[i] = store.Rewrap{Account: k.Account, Category: k.Category, Epoch: k.Epoch, OldWrapper: k.Key.Wrapper,
					Key: store.WrappedKey{Version: k.Key.Version, Wrapper: kek, Wrapped: wrapped, Created: k.Key.Created}}
			}
			n, err := r.RewrapDataKeys(ctx, rws)
			if err != nil {
				b.Fatal(err)
			}
			if n != len(rws) {
				b.Fatalf("RewrapDataKeys applied %d of %d", n, len(rws))
			}
			done += n
		}
		if done != rotationKeys {
			b.Fatalf("rotation %d rewrapped %d keys, want %d", rotations, done, rotationKeys)
		}
	}
	b.ReportMetric(float64(rotationKeys*rotations)/b.Elapsed().Seconds(), "keys/s")
}

// fillDataKeys stores n data keys wrapped by KEK version 1, for n /
// len(rotationCategories) accounts, with multi-row inserts in one
// transaction: the accounts first (for the foreign key), then the keys.
func fillDataKeys(tb testing.TB, r *RegionStore, n int) {
	tb.Helper()
	ctx := context.Background()
	accounts := n / len(rotationCategories)
	created := micros(time.Now())
	salt := make([]byte, 16)
	wrapped := make([]byte, 60)
	rand.Read(salt)
	rand.Read(wrapped)
	id := func(i int) string { return fmt.Sprintf("acc_%026d", i) }
	err := r.db.inTx(ctx, func(rn runner) error {
		const width = 8
		for i := 0; i < accounts; i += batchRows {
			m := min(batchRows, accounts-i)
			args := make([]any, 0, width*m)
			for j := i; j < i+m; j++ {
				args = append(args, id(j), "IN", salt, 3, 65536, 4, "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", created)
			}
			if _, err := rn.exec(ctx, `INSERT INTO accounts
				(id, country, salt, kdf_time, kdf_memory_kib, kdf_threads, auth_hash, created_us) VALUES `+
				placeholders(m, width), args...); err != nil {
				return err
			}
		}
		const keyWidth = 7
		keys := accounts * len(rotationCategories)
		for i := 0; i < keys; i += batchRows {
			m := min(batchRows, keys-i)
			args := make([]any, 0, keyWidth*m)
			for j := i; j < i+m; j++ {
				args = append(args, id(j/len(rotationCategories)), string(rotationCategories[j%len(rotationCategories)]),
					int64(j%7+1), int64(1), int64(1), wrapped, created)
			}
			if _, err := rn.exec(ctx, `INSERT INTO data_keys
				(account, category, epoch, version, wrapper, wrapped, created_us) VALUES `+
				placeholders(m, keyWidth), args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	if r.db.dialect == postgresDialect {
		if _, err := r.db.writer().exec(ctx, `ANALYZE accounts, data_keys`); err != nil {
			tb.Fatal(err)
		}
	}
	got, err := r.CountDataKeys(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	if got[1] != n {
		tb.Fatalf("filled %d data keys, want %d", got[1], n)
	}
}
