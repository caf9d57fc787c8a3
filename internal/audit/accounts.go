package audit

import (
	"context"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/account"
	"github.com/candorcloud/candor/internal/store"
)

// AccountsAPI is the account service as the API holds it.
type AccountsAPI interface {
	EvaluateHandle(ctx context.Context, blinded []byte) ([]byte, error)
	Salt(ctx context.Context, handle []byte) ([]byte, store.KDF, error)
	Signup(ctx context.Context, in account.Signup) (account.Grant, error)
	Login(ctx context.Context, handle, authKey, pseudonym []byte) (account.Grant, error)
	Authenticate(ctx context.Context, token string) (candor.Principal, error)
	Logout(ctx context.Context, token string) error
	Devices(ctx context.Context, p candor.Principal) ([]store.Device, error)
	RevokeDevice(ctx context.Context, p candor.Principal, device candor.DeviceID) error
	Created(ctx context.Context, p candor.Principal) (time.Time, error)
	Delete(ctx context.Context, p candor.Principal) error
}

// Accounts logs account deletion, in the same transactions as the deletion
// (the directory's and the region's). Every other method is forwarded as
// is: none of them reads or writes personal data.
type Accounts struct {
	next AccountsAPI
	logs *Logs
}

// WrapAccounts returns next, audited.
func WrapAccounts(next AccountsAPI, logs *Logs) *Accounts { return &Accounts{next: next, logs: logs} }

var _ AccountsAPI = (*Accounts)(nil)

func (a *Accounts) EvaluateHandle(ctx context.Context, blinded []byte) ([]byte, error) {
	return a.next.EvaluateHandle(ctx, blinded)
}

func (a *Accounts) Salt(ctx context.Context, handle []byte) ([]byte, store.KDF, error) {
	return a.next.Salt(ctx, handle)
}

func (a *Accounts) Signup(ctx context.Context, in account.Signup) (account.Grant, error) {
	return a.next.Signup(ctx, in)
}

func (a *Accounts) Login(ctx context.Context, handle, authKey, pseudonym []byte) (account.Grant, error) {
	return a.next.Login(ctx, handle, authKey, pseudonym)
}

func (a *Accounts) Authenticate(ctx context.Context, token string) (candor.Principal, error) {
	return a.next.Authenticate(ctx, token)
}

func (a *Accounts) Logout(ctx context.Context, token string) error { return a.next.Logout(ctx, token) }

func (a *Accounts) Devices(ctx context.Context, p candor.Principal) ([]store.Device, error) {
	return a.next.Devices(ctx, p)
}

func (a *Accounts) RevokeDevice(ctx context.Context, p candor.Principal, device candor.DeviceID) error {
	return a.next.RevokeDevice(ctx, p, device)
}

func (a *Accounts) Created(ctx context.Context, p candor.Principal) (time.Time, error) {
	return a.next.Created(ctx, p)
}

// Delete forwards an account deletion with its audit event attached: it is
// appended to the directory's log and the region's, each in the deleting
// transaction.
func (a *Accounts) Delete(ctx context.Context, p candor.Principal) error {
	ev, err := a.logs.deviceEvent(p, ActionDeleteAccount, "")
	if err != nil {
		return err
	}
	return a.logs.outcome(ctx, ev, a.next.Delete(a.logs.Attach(ctx, ev), p))
}
