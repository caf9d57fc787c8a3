package upkeep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/store"
)

// Rewrapper re-wraps a region's data keys under its current key version
// (keyring.Keyring).
type Rewrapper interface {
	Sealed() bool
	RewrapBatch(ctx context.Context, region candor.RegionID, n int) (done, left int, err error)
}

// rewrapBatch is how many data keys one transaction re-wraps.
const rewrapBatch = 1000

// Rewrap re-wraps, batch after batch, the data keys of every region that
// has a key rotation pending, until none is left, the keyring is sealed or
// ctx is cancelled; it logs each region whose rotation it finishes. It
// runs at every pass, so a rotation interrupted by a crash or by sealing
// resumes by itself. A region that fails does not hold up the others.
func Rewrap(keys Rewrapper, regions []candor.RegionID, log *slog.Logger) Task {
	return Task{Name: "region key rotation: re-wrapping", Run: func(ctx context.Context) error {
		return eachRegion(regions, func(id candor.RegionID) error {
			total := 0
			for ctx.Err() == nil && !keys.Sealed() {
				done, left, err := keys.RewrapBatch(ctx, id, rewrapBatch)
				if err != nil {
					return err
				}
				total += done
				if left == 0 {
					if total > 0 {
						log.Warn("region key rotation done: old key versions retired", "region", id, "rewrapped", total)
					}
					return nil
				}
			}
			return nil
		})
	}}
}

// Reloader re-reads every region's key versions from the stores
// (keyring.Keyring).
type Reloader interface {
	ReloadKEKs(ctx context.Context) error
}

// ReloadKeys re-reads every region's key versions once a minute, so that
// an instance drops from its cache the versions another instance retired
// at the end of a rotation and takes the new current one. New data keys do
// not depend on it (the store refuses a key wrapped by a retired version,
// and the keyring then reloads and wraps again): it bounds how long a
// stale cache lives.
func ReloadKeys(keys Reloader) Task {
	return Task{Name: "reloading region key versions", Every: time.Minute, Run: keys.ReloadKEKs}
}

// Eraser advances the erasure ratchet (keyring.Keyring).
type Eraser interface {
	Sealed() bool
	AdvanceErasure(ctx context.Context, batch int) (rewrapped int, stored int64, err error)
}

// AdvanceErasure re-wraps the shred secrets under the next erasure period
// and erases the keys of the periods before the current one, at every
// pass (finding nothing to do costs one indexed query); it logs each
// advance that re-wrapped secrets. While it fails the ratchet stays where
// it is: secrets are never left under an erased key, and the horizon
// stretches until it runs again.
func AdvanceErasure(keys Eraser, log *slog.Logger) Task {
	return Task{Name: "erasure keys: re-wrapping and advancing", Run: func(ctx context.Context) error {
		if keys.Sealed() {
			return nil
		}
		n, stored, err := keys.AdvanceErasure(ctx, rewrapBatch)
		if n > 0 {
			log.Info("erasure keys advanced: earlier periods erased", "period", stored, "rewrapped", n)
		}
		return err
	}}
}

// Erasures finishes the erasure of deleted accounts outside their region's
// database (account.Service).
type Erasures interface {
	FinishErasures(ctx context.Context, region candor.RegionID, limit int) (int, error)
}

// erasureBatch is how many deleted accounts one pass finishes per region.
const erasureBatch = 100

// FinishErasures erases, at every pass, what deleted accounts left outside
// their region's database because a blob store or the directory could not
// be reached when they were deleted (their phones are signed out and
// cannot ask again), and logs how many it finished.
func FinishErasures(accounts Erasures, regions []candor.RegionID, log *slog.Logger) Task {
	return Task{Name: "erasing what deleted accounts left outside the database", Run: func(ctx context.Context) error {
		return eachRegion(regions, func(id candor.RegionID) error {
			n, err := accounts.FinishErasures(ctx, id, erasureBatch)
			if n > 0 {
				log.Info("deleted accounts erased outside the database", "region", id, "accounts", n)
			}
			return err
		})
	}}
}

// Verifier recomputes the audit logs (audit.Logs).
type Verifier interface {
	Names() []string
	Verify(ctx context.Context, log string) (audit.Report, error)
}

// VerifyLogs recomputes every audit log once after each unseal and reports
// a log that fails, loudly: someone edited the database outside Candor. A
// tampered log is a finding, not a failure of the task; a log that could
// not be read is a failure, and every log is verified again at the next
// pass.
func VerifyLogs(logs Verifier, log *slog.Logger) Task {
	return Task{Name: "audit log verification", When: OnceUnsealed, Run: func(ctx context.Context) error {
		var errs []error
		for _, name := range logs.Names() {
			rep, err := logs.Verify(ctx, name)
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("log %s: %w", name, err))
			case !rep.OK:
				log.Error("AUDIT LOG TAMPERED: verification failed; the database was edited outside Candor",
					"log", name, "bad_entry", rep.BadEntry, "problem", rep.Problem)
			}
		}
		return errors.Join(errs...)
	}}
}

// Moving lists the accounts marked moving between regions (the
// directory).
type Moving interface {
	MovingAccounts(ctx context.Context) ([]store.Entry, error)
}

// Migrating tells whether a migration job is unfinished, on any instance
// (region.Migrations).
type Migrating interface {
	Running(ctx context.Context) (bool, error)
}

// WarnMoving logs, once after each unseal, how many accounts are still
// marked moving while no migration runs: moves that stopped (a crash, a
// restart), whose accounts are unavailable until an operator resumes them.
func WarnMoving(dir Moving, jobs Migrating, log *slog.Logger) Task {
	return Task{Name: "looking for accounts left moving", When: OnceUnsealed, Run: func(ctx context.Context) error {
		if running, err := jobs.Running(ctx); err != nil || running {
			return err
		}
		list, err := dir.MovingAccounts(ctx)
		if err != nil {
			return err
		}
		if len(list) > 0 {
			log.Warn("accounts are marked moving but no migration is running: they are unavailable until it is resumed with `candor operator migrate --resume`",
				"accounts", len(list))
		}
		return nil
	}}
}

// TakingOver takes over a migration job whose instance stopped renewing
// its lease (region.Migrations).
type TakingOver interface {
	TakeOver(ctx context.Context) (bool, error)
}

// TakeOverMigrations looks, at every pass, for a migration job whose
// instance stopped (its lease expired) and, if this instance runs none,
// takes it over and carries on with it in the background. Of instances
// that look at once, one takes it.
func TakeOverMigrations(jobs TakingOver) Task {
	return Task{Name: "taking over a migration left by a stopped instance", Run: func(ctx context.Context) error {
		_, err := jobs.TakeOver(ctx)
		return err
	}}
}

// Expirer deletes what expired in a region and says how much
// (photos.Service for uploads, messaging.Service for envelopes).
type Expirer interface {
	Expire(ctx context.Context, region candor.RegionID) (int, error)
}

// ExpireUploads deletes, at every pass, the photo uploads of every region
// abandoned before they completed, and logs how many.
func ExpireUploads(uploads Expirer, regions []candor.RegionID, log *slog.Logger) Task {
	return Task{Name: "expiring abandoned uploads", Run: func(ctx context.Context) error {
		return eachRegion(regions, func(id candor.RegionID) error {
			n, err := uploads.Expire(ctx, id)
			if n > 0 {
				log.Info("abandoned uploads deleted", "region", id, "count", n)
			}
			return err
		})
	}}
}

// ExpireMessages deletes, at every pass, the envelopes of every region
// that nobody fetched before their expiry.
func ExpireMessages(messages Expirer, regions []candor.RegionID) Task {
	return Task{Name: "expiring undelivered messages", Run: func(ctx context.Context) error {
		return eachRegion(regions, func(id candor.RegionID) error {
			_, err := messages.Expire(ctx, id)
			return err
		})
	}}
}

// Purger applies every region's retention rules (retention.Service).
type Purger interface {
	RunRetention(ctx context.Context, by string) (api.RetentionRun, error)
}

// Retention applies every region's retention rules once an hour, as the
// actor "system" in the audit log.
func Retention(r Purger) Task {
	return Task{Name: "retention run", Every: time.Hour, Run: func(ctx context.Context) error {
		_, err := r.RunRetention(ctx, "system")
		return err
	}}
}

// Checkpointer signs audit log checkpoints (audit.Logs).
type Checkpointer interface {
	Names() []string
	Checkpoint(ctx context.Context, log string) (store.Checkpoint, error)
}

// SignCheckpoints signs, once a minute, a checkpoint of every audit log
// that grew, so that a log cannot be rewritten or truncated below a signed
// size without the signing key, even when nobody has asked for a proof. It
// stops at the first log that fails.
func SignCheckpoints(logs Checkpointer) Task {
	return Task{Name: "signing audit checkpoints", Every: time.Minute, Run: func(ctx context.Context) error {
		for _, name := range logs.Names() {
			if _, err := logs.Checkpoint(ctx, name); err != nil {
				return fmt.Errorf("log %s: %w", name, err)
			}
		}
		return nil
	}}
}

// Updates keeps the update metadata's signing keys in step with the
// keyring and the metadata from expiring (content.Service).
type Updates interface {
	LockOTA()
	RenewOTA() error
}

// LockUpdates takes the update repository's signing keys away at every
// pass while the keyring is sealed.
func LockUpdates(u Updates) Task {
	return Task{Name: "locking the update signing keys", When: WhileSealed, Run: func(context.Context) error {
		u.LockOTA()
		return nil
	}}
}

// RenewUpdates re-signs, once a minute, the update metadata close to
// expiry, so phones never see it expire while the server runs unsealed.
func RenewUpdates(u Updates) Task {
	return Task{Name: "re-signing update metadata", Every: time.Minute, Run: func(context.Context) error {
		return u.RenewOTA()
	}}
}

// eachRegion runs fn for every region, the ones after a failure too, and
// returns every failure, each naming its region.
func eachRegion(regions []candor.RegionID, fn func(candor.RegionID) error) error {
	var errs []error
	for _, id := range regions {
		if err := fn(id); err != nil {
			errs = append(errs, fmt.Errorf("region %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// Forgetter forgets the allowances and verification codes that are over
// (the directory).
type Forgetter interface {
	DeleteEndedQuotas(ctx context.Context, now time.Time) (int, error)
	DeleteExpiredVerifications(ctx context.Context, now time.Time) (int, error)
}

// ForgetAllowances deletes, every five minutes, the allowances whose
// window ended and the verification codes that expired: a crowd of
// addresses asking once each leaves rows for minutes, not days.
func ForgetAllowances(f Forgetter) Task {
	return Task{Name: "forgetting ended allowances", Every: 5 * time.Minute, Run: func(ctx context.Context) error {
		now := time.Now()
		_, err := f.DeleteEndedQuotas(ctx, now)
		_, verr := f.DeleteExpiredVerifications(ctx, now)
		return errors.Join(err, verr)
	}}
}
