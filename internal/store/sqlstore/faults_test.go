package sqlstore

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// A database that can grow no more (SQLite's own answer, SQLITE_FULL:
// max_page_count reached, as on a full disk) fails writes with
// Unavailable, a sentence saying the disk is full and a Retry-After; a
// closed connection fails them with Unavailable too, never Internal.
func TestSQLiteFullIsUnavailable(t *testing.T) {
	ctx := context.Background()
	r := newSQLiteRegion(t, filepath.Join(t.TempDir(), "candor.db"))
	var pages int
	if err := r.db.write.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := r.db.write.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages)); err != nil {
		t.Fatal(err)
	}
	var err error
	for v := int64(1); v < 1000 && err == nil; v++ {
		err = r.PutKEK(ctx, store.WrappedKey{Version: v, Wrapper: 1, Wrapped: make([]byte, 4096), Created: time.Now()})
	}
	var ce *candor.Error
	if !candor.Is(err, candor.Unavailable) || !strings.Contains(candor.Message(err), "disk is full") {
		t.Fatalf("a write to a full database: %v (kind %s)", err, candor.KindOf(err))
	}
	if ce, _ = err.(*candor.Error); ce == nil || ce.RetryAfter <= 0 {
		t.Errorf("no Retry-After: %#v", err)
	}
}

// A store call that passes its deadline is Unavailable: the database did
// not answer in time.
func TestDeadlineIsUnavailable(t *testing.T) {
	r := newSQLiteRegion(t, filepath.Join(t.TempDir(), "candor.db"))
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err := r.KEKs(ctx)
	if !candor.Is(err, candor.Unavailable) || !strings.Contains(candor.Message(err), "in time") {
		t.Fatalf("a call past its deadline: %v (kind %s)", err, candor.KindOf(err))
	}
}
