package audit

import (
	"context"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/records"
	"github.com/candorcloud/candor/internal/store"
)

// RecordsAPI is the device records service as the API holds it (behind the
// consent gate).
type RecordsAPI interface {
	Push(ctx context.Context, p candor.Principal, c candor.Category, epoch int64, changes []records.Change) (records.Pushed, error)
	Pull(ctx context.Context, p candor.Principal, c candor.Category, epoch, since int64, limit int) (records.Feed, error)
}

// Records logs every device push and pull: in the same transaction as the
// access when it happens, on its own when it is refused or fails.
type Records struct {
	next RecordsAPI
	logs *Logs
}

// WrapRecords returns next, audited.
func WrapRecords(next RecordsAPI, logs *Logs) *Records { return &Records{next: next, logs: logs} }

var _ RecordsAPI = (*Records)(nil)

// deviceEvent is an event by p's device about its own account.
func (l *Logs) deviceEvent(p candor.Principal, action string, c candor.Category) (Event, error) {
	actor, err := l.Device(p.Device)
	if err != nil {
		return Event{}, err
	}
	account, err := l.Account(p.Account)
	if err != nil {
		return Event{}, err
	}
	return Event{Actor: actor, Action: action, Outcome: OK, Region: string(p.Region), Account: account, Category: string(c)}, nil
}

// outcome logs a refused or failed access on its own and returns err.
func (l *Logs) outcome(ctx context.Context, ev Event, err error) error {
	if err == nil {
		return nil
	}
	ev.Outcome, ev.Code = Failed, candor.KindOf(err).Code()
	switch candor.KindOf(err) {
	case candor.ConsentRequired, candor.Forbidden, candor.Invalid, candor.TooLarge, candor.Conflict, candor.NotFound:
		ev.Outcome = Denied
	case candor.Sealed:
		return err // nothing can be logged or read while sealed
	}
	if lerr := l.Append(ctx, ev.Region, ev); lerr != nil {
		return lerr
	}
	return err
}

// Push forwards a device's push with its audit event attached.
func (r *Records) Push(ctx context.Context, p candor.Principal, c candor.Category, epoch int64, changes []records.Change) (records.Pushed, error) {
	ev, err := r.logs.deviceEvent(p, ActionPush, c)
	if err != nil {
		return records.Pushed{}, err
	}
	ev.Count = len(changes)
	res, err := r.next.Push(r.logs.Attach(ctx, ev), p, c, epoch, changes)
	return res, r.logs.outcome(ctx, ev, err)
}

// Pull forwards a device's pull with its audit event attached.
func (r *Records) Pull(ctx context.Context, p candor.Principal, c candor.Category, epoch, since int64, limit int) (records.Feed, error) {
	ev, err := r.logs.deviceEvent(p, ActionPull, c)
	if err != nil {
		return records.Feed{}, err
	}
	feed, err := r.next.Pull(r.logs.Attach(ctx, ev), p, c, epoch, since, limit)
	return feed, r.logs.outcome(ctx, ev, err)
}

// ConsentAPI is the consent ledger as the API holds it.
type ConsentAPI interface {
	Set(ctx context.Context, p candor.Principal, c candor.Category, on bool, policy string) (store.ConsentEvent, error)
	State(ctx context.Context, p candor.Principal) (map[candor.Category]store.ConsentEvent, error)
	Events(ctx context.Context, p candor.Principal) ([]store.ConsentEvent, error)
}

// Consent logs every consent change and every read of the ledger.
type Consent struct {
	next ConsentAPI
	logs *Logs
}

// WrapConsent returns next, audited.
func WrapConsent(next ConsentAPI, logs *Logs) *Consent { return &Consent{next: next, logs: logs} }

var _ ConsentAPI = (*Consent)(nil)

// Set forwards a consent change with its audit event attached.
func (w *Consent) Set(ctx context.Context, p candor.Principal, c candor.Category, on bool, policy string) (store.ConsentEvent, error) {
	ev, err := w.logs.deviceEvent(p, ActionConsent, c)
	if err != nil {
		return store.ConsentEvent{}, err
	}
	ev.Code = "off"
	if on {
		ev.Code = "on"
	}
	res, err := w.next.Set(w.logs.Attach(ctx, ev), p, c, on, policy)
	return res, w.logs.outcome(ctx, ev, err)
}

// State forwards: the consent state is not personal data and is read on
// every sync, so it is not logged.
func (w *Consent) State(ctx context.Context, p candor.Principal) (map[candor.Category]store.ConsentEvent, error) {
	return w.next.State(ctx, p)
}

// Events forwards a read of the whole ledger with its audit event attached.
func (w *Consent) Events(ctx context.Context, p candor.Principal) ([]store.ConsentEvent, error) {
	ev, err := w.logs.deviceEvent(p, ActionLedger, "")
	if err != nil {
		return nil, err
	}
	res, err := w.next.Events(w.logs.Attach(ctx, ev), p)
	return res, w.logs.outcome(ctx, ev, err)
}
