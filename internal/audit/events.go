package audit

import (
	"context"

	"github.com/candorcloud/candor"
)

// The event builders: every event of the logs is made here, so that what an
// event of each kind holds is decided once.

// DeviceEvent is the event of an access by p's device to its own account:
// the device and the account by their pseudonyms, the region, and the
// category when there is one.
func (l *Logs) DeviceEvent(p candor.Principal, action string, c candor.Category) (Event, error) {
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

// AccountEvent is the event of the system's own work on an account (actor
// ActorSystem), such as deleting an abandoned upload.
func (l *Logs) AccountEvent(actor, action string, account candor.AccountID, region candor.RegionID, c candor.Category) (Event, error) {
	pseudonym, err := l.Account(account)
	if err != nil {
		return Event{}, err
	}
	return Event{Actor: actor, Action: action, Outcome: OK, Region: string(region), Account: pseudonym, Category: string(c)}, nil
}

// ActorEvent is the event of an action by actor that concerns no account.
func ActorEvent(actor, action string) Event {
	return Event{Actor: actor, Action: action, Outcome: OK}
}

// StaffEvent is the event of an action by a staff identity that concerns
// no account.
func StaffEvent(staffID, action string) Event { return ActorEvent(StaffActor(staffID), action) }

// KeyEvent is the event of a step of the key ceremony or of sealing, by
// actor, with the outcome of err: OK when nil, else as Refused says.
func KeyEvent(actor, action string, err error) Event {
	e := ActorEvent(actor, action)
	if err != nil {
		e = Refused(e, err)
	}
	return e
}

// Refused returns e as refused or failed by err: Denied for a refusal of
// the request (consent, permission, bad input, a conflict, nothing found),
// Failed otherwise, with err's code.
func Refused(e Event, err error) Event {
	e.Outcome, e.Code = Failed, candor.KindOf(err).Code()
	switch candor.KindOf(err) {
	case candor.ConsentRequired, candor.Forbidden, candor.Invalid, candor.TooLarge, candor.Conflict, candor.NotFound:
		e.Outcome = Denied
	}
	return e
}

// Outcome logs an access that was refused or failed, on its own (the
// access appended nothing), and returns err; nil stays nil. Nothing can be
// logged while the server is sealed, so a Sealed error is returned as is.
// An access that cannot be logged returns the logging error instead.
func (l *Logs) Outcome(ctx context.Context, e Event, err error) error {
	if err == nil {
		return nil
	}
	if candor.Is(err, candor.Sealed) {
		return err
	}
	if lerr := l.Append(ctx, e.Region, Refused(e, err)); lerr != nil {
		return lerr
	}
	return err
}
