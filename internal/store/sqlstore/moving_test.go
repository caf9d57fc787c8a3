package sqlstore

import (
	"crypto/rand"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
	"github.com/candorcloud/candor/internal/store/pgtest"
)

// BenchmarkMigrateAccount copies an account of migrateRecords records of
// migrateSize bytes from one region store to another, as a move does:
// ExportAccount from the source, ImportAccount into the target. "fresh"
// imports into a target that does not hold the account (it is deleted
// between ops, off the clock); "over" imports over the copy the previous op
// left, which deletes it first. It reports records/s through both calls
// and the milliseconds of each.
//
//	go test -run '^$' -bench MigrateAccount ./internal/store/sqlstore
//
// With CANDOR_TEST_POSTGRES set it runs against PostgreSQL too.
func BenchmarkMigrateAccount(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		dir := b.TempDir()
		src, err := OpenSQLiteRegion(filepath.Join(dir, "src.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer src.Close()
		dst, err := OpenSQLiteRegion(filepath.Join(dir, "dst.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer dst.Close()
		benchMigrate(b, src, dst)
	})
	b.Run("postgres", func(b *testing.B) {
		src, err := OpenPostgresRegion(b.Context(), pgtest.Schema(b))
		if err != nil {
			b.Fatal(err)
		}
		defer src.Close()
		dst, err := OpenPostgresRegion(b.Context(), pgtest.Schema(b))
		if err != nil {
			b.Fatal(err)
		}
		defer dst.Close()
		benchMigrate(b, src, dst)
	})
}

const (
	migrateRecords = 10_000
	migrateSize    = 300
)

func benchMigrate(b *testing.B, src, dst *RegionStore) {
	ctx := b.Context()
	a := candor.AccountID("acc_benchmigrate")
	if err := src.CreateAccount(ctx, store.Account{ID: a, Country: "IN", Salt: make([]byte, 16)}); err != nil {
		b.Fatal(err)
	}
	e, err := src.AppendConsent(ctx, logged(), store.ConsentEvent{Account: a, Category: candor.Notes, On: true, Device: "dev_bench"})
	if err != nil {
		b.Fatal(err)
	}
	if err := src.PutKEK(ctx, store.WrappedKey{Version: 1, Wrapper: 1, Wrapped: make([]byte, 60)}); err != nil && !candor.Is(err, candor.Conflict) {
		b.Fatal(err)
	}
	if _, err := src.CreateDataKey(ctx, store.DataKey{Account: a, Category: candor.Notes, Epoch: e.Seq,
		Key: store.WrappedKey{Version: 1, Wrapper: 1, Wrapped: make([]byte, 60)}}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < migrateRecords; i += batchRows {
		changes := make([]store.Change, 0, batchRows)
		for j := i; j < min(i+batchRows, migrateRecords); j++ {
			ct := make([]byte, migrateSize)
			rand.Read(ct)
			changes = append(changes, store.Change{ID: fmt.Sprintf("rec_%06d", j), Version: 1, Ciphertext: ct})
		}
		if _, err := src.ApplyChanges(ctx, logged(), a, candor.Notes, e.Seq, changes); err != nil {
			b.Fatal(err)
		}
	}
	for _, mode := range []string{"fresh", "over"} {
		b.Run(mode, func(b *testing.B) {
			var export, imp time.Duration
			for b.Loop() {
				if mode == "fresh" {
					b.StopTimer()
					if err := dst.DeleteAccount(ctx, logged(), a); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				t0 := time.Now()
				d, err := src.ExportAccount(ctx, a)
				if err != nil {
					b.Fatal(err)
				}
				if len(d.Records) != migrateRecords {
					b.Fatalf("exported %d records, want %d", len(d.Records), migrateRecords)
				}
				t1 := time.Now()
				if err := dst.ImportAccount(ctx, d); err != nil {
					b.Fatal(err)
				}
				export, imp = export+t1.Sub(t0), imp+time.Since(t1)
			}
			ms := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(b.N) }
			b.ReportMetric(float64(migrateRecords)/(export+imp).Seconds()*float64(b.N), "records/s")
			b.ReportMetric(ms(export), "export-ms/op")
			b.ReportMetric(ms(imp), "import-ms/op")
		})
	}
}

// TestImportInvalid: ImportAccount refuses data that would leave the
// account inconsistent, and writes nothing.
func TestImportInvalid(t *testing.T) {
	r := newSQLiteRegion(t, filepath.Join(t.TempDir(), "candor.db"))
	a := candor.AccountID("acc_import")
	valid := func() store.AccountData {
		return store.AccountData{
			Account: store.Account{ID: a, Country: "IN"}, FeedSeq: 2, ConsentSeq: 1,
			Consent: []store.ConsentEvent{{Seq: 1, Account: a, Category: candor.Notes, On: true}},
			Records: []store.Record{{Account: a, Category: candor.Notes, ID: "rec_1", Version: 1, Seq: 2, Ciphertext: []byte("x")}},
		}
	}
	for _, tc := range []struct {
		name   string
		change func(d *store.AccountData)
	}{
		{"no id", func(d *store.AccountData) { d.Account.ID = "" }},
		{"another account's record", func(d *store.AccountData) { d.Records[0].Account = "acc_other" }},
		{"another account's device", func(d *store.AccountData) {
			d.Devices = []store.Device{{ID: "dev_1", Account: "acc_other", Pseudonym: []byte("p")}}
		}},
		{"feed counter below a record", func(d *store.AccountData) { d.FeedSeq = 1 }},
		{"consent counter below an event", func(d *store.AccountData) { d.ConsentSeq = 0 }},
		{"deletion with ciphertext", func(d *store.AccountData) { d.Records[0].Deleted = true }},
	} {
		d := valid()
		tc.change(&d)
		if err := r.ImportAccount(t.Context(), d); !candor.Is(err, candor.Invalid) {
			t.Errorf("%s: ImportAccount = %v, want Invalid", tc.name, err)
		}
	}
	if _, err := r.Account(t.Context(), a); !candor.Is(err, candor.NotFound) {
		t.Fatalf("after refused imports, Account = %v, want NotFound", err)
	}
	if err := r.ImportAccount(t.Context(), valid()); err != nil {
		t.Fatal(err)
	}

	// A device id another account holds is a Conflict, and the earlier
	// copy stays as it was.
	if err := r.CreateAccount(t.Context(), store.Account{ID: "acc_other", Country: "IN"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.RegisterDevice(t.Context(), logged(), store.Device{ID: "dev_taken", Account: "acc_other", Pseudonym: []byte("p")}); err != nil {
		t.Fatal(err)
	}
	d := valid()
	d.Devices = []store.Device{{ID: "dev_taken", Account: a, Pseudonym: []byte("q")}}
	d.Records = nil
	if err := r.ImportAccount(t.Context(), d); !candor.Is(err, candor.Conflict) {
		t.Fatalf("import of a taken device id = %v, want Conflict", err)
	}
	if n, err := r.CountRecords(t.Context(), a, candor.Notes); err != nil || n != 1 {
		t.Fatalf("after a refused import, %d records (%v), want the earlier 1", n, err)
	}
}
