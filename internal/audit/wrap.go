package audit

import (
	"context"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/records"
	"github.com/candorcloud/candor/internal/store"
)

// RecordsAPI is the device records service as the API holds it.
type RecordsAPI interface {
	Push(ctx context.Context, p candor.Principal, c candor.Category, epoch int64, changes []records.Change) (records.Pushed, error)
	Pull(ctx context.Context, p candor.Principal, c candor.Category, since int64, limit int) (records.Feed, error)
}

// GatedRecords is the records service behind the consent gate, as this
// wrapper holds it: each call takes the audit record of its access, which
// the store appends in the same transaction.
type GatedRecords interface {
	Push(ctx context.Context, rec store.AuditRecord, p candor.Principal, c candor.Category, epoch int64, changes []records.Change) (records.Pushed, error)
	Pull(ctx context.Context, rec store.AuditRecord, p candor.Principal, c candor.Category, since int64, limit int) (records.Feed, error)
}

// Records logs every device push and pull: in the same transaction as the
// access when it happens, on its own when it is refused or fails.
type Records struct {
	next GatedRecords
	logs *Logs
}

// WrapRecords returns next, audited.
func WrapRecords(next GatedRecords, logs *Logs) *Records { return &Records{next: next, logs: logs} }

var _ RecordsAPI = (*Records)(nil)

// Push forwards a device's push with the record of its access.
func (r *Records) Push(ctx context.Context, p candor.Principal, c candor.Category, epoch int64, changes []records.Change) (records.Pushed, error) {
	ev, err := r.logs.DeviceEvent(p, ActionPush, c)
	if err != nil {
		return records.Pushed{}, err
	}
	ev.Count = len(changes)
	res, err := r.next.Push(ctx, r.logs.Record(ev), p, c, epoch, changes)
	return res, r.logs.Outcome(ctx, ev, err)
}

// Pull forwards a device's pull with the record of its access.
func (r *Records) Pull(ctx context.Context, p candor.Principal, c candor.Category, since int64, limit int) (records.Feed, error) {
	ev, err := r.logs.DeviceEvent(p, ActionPull, c)
	if err != nil {
		return records.Feed{}, err
	}
	feed, err := r.next.Pull(ctx, r.logs.Record(ev), p, c, since, limit)
	return feed, r.logs.Outcome(ctx, ev, err)
}

// ConsentAPI is the consent ledger as the API holds it.
type ConsentAPI interface {
	Set(ctx context.Context, p candor.Principal, c candor.Category, on bool, policy string) (store.ConsentEvent, error)
	State(ctx context.Context, p candor.Principal) (map[candor.Category]store.ConsentEvent, error)
	Events(ctx context.Context, p candor.Principal) ([]store.ConsentEvent, error)
}

// Ledger is the consent ledger as this wrapper holds it (package consent):
// its changes and its reads take their audit record.
type Ledger interface {
	Set(ctx context.Context, rec store.AuditRecord, p candor.Principal, c candor.Category, on bool, policy string) (store.ConsentEvent, error)
	State(ctx context.Context, p candor.Principal) (map[candor.Category]store.ConsentEvent, error)
	Events(ctx context.Context, rec store.AuditRecord, p candor.Principal) ([]store.ConsentEvent, error)
}

// Consent logs every consent change (also one that changed nothing) and
// every read of the ledger.
type Consent struct {
	next Ledger
	logs *Logs
}

// WrapConsent returns next, audited.
func WrapConsent(next Ledger, logs *Logs) *Consent { return &Consent{next: next, logs: logs} }

var _ ConsentAPI = (*Consent)(nil)

// ConsentEvent is the event of p's device setting c on or off.
func (l *Logs) ConsentEvent(p candor.Principal, c candor.Category, on bool) (Event, error) {
	ev, err := l.DeviceEvent(p, ActionConsent, c)
	ev.Code = "off"
	if on {
		ev.Code = "on"
	}
	return ev, err
}

// Set forwards a consent change with the record of its access.
func (w *Consent) Set(ctx context.Context, p candor.Principal, c candor.Category, on bool, policy string) (store.ConsentEvent, error) {
	ev, err := w.logs.ConsentEvent(p, c, on)
	if err != nil {
		return store.ConsentEvent{}, err
	}
	res, err := w.next.Set(ctx, w.logs.Record(ev), p, c, on, policy)
	return res, w.logs.Outcome(ctx, ev, err)
}

// State forwards: the consent state is not personal data and is read on
// every sync, so it is not logged.
func (w *Consent) State(ctx context.Context, p candor.Principal) (map[candor.Category]store.ConsentEvent, error) {
	return w.next.State(ctx, p)
}

// Events forwards a read of the whole ledger with the record of its access.
func (w *Consent) Events(ctx context.Context, p candor.Principal) ([]store.ConsentEvent, error) {
	ev, err := w.logs.DeviceEvent(p, ActionLedger, "")
	if err != nil {
		return nil, err
	}
	res, err := w.next.Events(ctx, w.logs.Record(ev), p)
	return res, w.logs.Outcome(ctx, ev, err)
}
