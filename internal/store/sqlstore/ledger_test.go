package sqlstore

import (
	"path/filepath"
	"testing"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
	"github.com/candorcloud/candor/internal/store/pgtest"
)

// The consent ledger is append-only in the database itself: not even raw
// SQL on the store's own connection may rewrite or remove its rows, except
// by deleting the account.

func TestSQLiteLedgerAppendOnly(t *testing.T) {
	testLedgerAppendOnly(t, newSQLiteRegion(t, filepath.Join(t.TempDir(), "candor.db")))
}

func TestPostgresLedgerAppendOnly(t *testing.T) {
	testLedgerAppendOnly(t, newPostgresRegion(t, pgtest.Schema(t)))
}

func testLedgerAppendOnly(t *testing.T, r *RegionStore) {
	ctx := t.Context()
	a, b := candor.AccountID("acc_a"), candor.AccountID("acc_b")
	for _, id := range []candor.AccountID{a, b} {
		if err := r.CreateAccount(ctx, store.Account{ID: id}); err != nil {
			t.Fatal(err)
		}
		for _, on := range []bool{true, false} {
			if _, err := r.AppendConsent(ctx, logged(), store.ConsentEvent{Account: id, Category: candor.SMS, On: on}); err != nil {
				t.Fatal(err)
			}
		}
	}
	raw := r.db.writer()
	for _, q := range []string{
		`UPDATE consent_events SET turned_on = NOT turned_on WHERE account = ?`,
		`UPDATE consent_events SET time_us = 0 WHERE account = ?`,
		`DELETE FROM consent_events WHERE account = ?`,
	} {
		if _, err := raw.exec(ctx, q, string(a)); err == nil {
			t.Fatalf("%s: succeeded on the ledger", q)
		}
	}
	if r.db.dialect == postgresDialect {
		if _, err := raw.exec(ctx, `TRUNCATE consent_events CASCADE`); err == nil {
			t.Fatal("TRUNCATE succeeded on the ledger")
		}
	}
	if n := ledgerRows(t, r, a); n != 2 {
		t.Fatalf("ledger has %d rows after refused edits, want 2", n)
	}

	if err := r.DeleteAccount(ctx, logged(), a); err != nil {
		t.Fatal(err)
	}
	if n := ledgerRows(t, r, a); n != 0 {
		t.Fatalf("ledger keeps %d rows of a deleted account", n)
	}
	if n := ledgerRows(t, r, b); n != 2 {
		t.Fatalf("deleting one account took %d of another's ledger rows", 2-n)
	}
}

func ledgerRows(t *testing.T, r *RegionStore, a candor.AccountID) int {
	t.Helper()
	var n int
	if err := r.db.reader().row(t.Context(), `SELECT COUNT(*) FROM consent_events WHERE account = ?`, string(a)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
