package upkeep

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
	"github.com/candorcloud/candor/internal/store/sqlstore"
)

// ForgetAllowances forgets what is over and keeps what still counts.
func TestForgetAllowances(t *testing.T) {
	ctx := context.Background()
	dir, err := sqlstore.OpenSQLiteDirectory(filepath.Join(t.TempDir(), "directory.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	now := time.Now()
	live := []byte("live")
	for key, at := range map[string]time.Time{"old": now.Add(-25 * time.Hour), "live": now.Add(-time.Hour)} {
		if _, _, err := dir.Spend(ctx, []byte(key), at, 24*time.Hour, 1, 5); err != nil {
			t.Fatal(err)
		}
	}
	expired, waiting := candor.NewAccountID(), candor.NewAccountID()
	for a, exp := range map[candor.AccountID]time.Time{expired: now.Add(-time.Minute), waiting: now.Add(time.Minute)} {
		if err := dir.PutVerification(ctx, store.Verification{Account: a, MAC: []byte("mac"), Expires: exp}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ForgetAllowances(dir).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if q, _, _ := dir.Spend(ctx, live, now, 24*time.Hour, 0, 5); q.Used != 1 {
		t.Errorf("a live allowance was forgotten: %+v", q)
	}
	if n, _ := dir.DeleteEndedQuotas(ctx, now); n != 0 {
		t.Errorf("%d old allowances were left", n)
	}
	if _, err := dir.Verification(ctx, expired); !candor.Is(err, candor.NotFound) {
		t.Errorf("an expired code was kept: %v", err)
	}
	if _, err := dir.Verification(ctx, waiting); err != nil {
		t.Errorf("a waiting code was forgotten: %v", err)
	}
}
