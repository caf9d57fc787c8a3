package client

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

// Operator speaks the staff side of the API: the key ceremony, unsealing
// and sealing. It holds no personal data and never sees any.
type Operator struct{ r remote }

// NewOperator returns an Operator for the server at base, authenticating
// with a staff token where one is needed (empty for init, unseal, status).
func NewOperator(base, token string, hc *http.Client) (*Operator, error) {
	base = strings.TrimRight(strings.TrimSpace(base), "/")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, candor.E(candor.Invalid, "the server must be an http:// or https:// URL")
	}
	if u.Scheme == "http" && !loopback(u.Hostname()) {
		return nil, candor.E(candor.Invalid, "the server must use https:// (plain http:// is accepted only for this machine)")
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Operator{r: remote{base: base, hc: hc, token: token}}, nil
}

// Status reports whether the server is initialised and sealed, unseal
// progress and the regions' key versions.
func (o *Operator) Status(ctx context.Context) (api.OperatorStatus, error) {
	var st api.OperatorStatus
	return st, o.r.do(ctx, http.MethodGet, "/operator/status", nil, &st)
}

// Init holds the key ceremony: n shares, k to unseal, optionally each
// encrypted to one custodian's age public key.
func (o *Operator) Init(ctx context.Context, n, k int, custodianKeys []string) (api.InitResponse, error) {
	var out api.InitResponse
	return out, o.r.do(ctx, http.MethodPost, "/operator/init", api.InitRequest{Shares: n, Threshold: k, CustodianKeys: custodianKeys}, &out)
}

// Unseal offers one share.
func (o *Operator) Unseal(ctx context.Context, share string) (api.OperatorStatus, error) {
	var st api.OperatorStatus
	return st, o.r.do(ctx, http.MethodPost, "/operator/unseal", api.UnsealRequest{Share: strings.TrimSpace(share)}, &st)
}

// Seal re-seals the server at once (a staff token is needed).
func (o *Operator) Seal(ctx context.Context) (api.OperatorStatus, error) {
	var st api.OperatorStatus
	return st, o.r.do(ctx, http.MethodPost, "/operator/seal", nil, &st)
}

// Rotate starts rotating a region's key-encryption key; the server
// re-wraps the region's data keys in the background (see Status).
func (o *Operator) Rotate(ctx context.Context, region string) (api.OperatorStatus, error) {
	var st api.OperatorStatus
	return st, o.r.do(ctx, http.MethodPost, "/operator/rotate", api.RotateRequest{Region: region}, &st)
}

// StartRekey asks for a new root key split into n shares of which k
// unseal; the current custodians then authorise it with RekeyShare.
func (o *Operator) StartRekey(ctx context.Context, n, k int, custodianKeys []string) (api.OperatorStatus, error) {
	var st api.OperatorStatus
	return st, o.r.do(ctx, http.MethodPost, "/operator/rekey", api.RekeyRequest{Shares: n, Threshold: k, CustodianKeys: custodianKeys}, &st)
}

// CancelRekey drops a waiting rekey.
func (o *Operator) CancelRekey(ctx context.Context) (api.OperatorStatus, error) {
	var st api.OperatorStatus
	return st, o.r.do(ctx, http.MethodDelete, "/operator/rekey", nil, &st)
}

// RekeyShare offers one current share towards the waiting rekey. The
// answer that completes it carries the new shares.
func (o *Operator) RekeyShare(ctx context.Context, share string) (api.RekeyShareResponse, error) {
	var out api.RekeyShareResponse
	return out, o.r.do(ctx, http.MethodPost, "/operator/rekey/share", api.UnsealRequest{Share: strings.TrimSpace(share)}, &out)
}

// AddStaff creates a staff identity (administrators and the bootstrap
// identity only); the answer's token is shown once.
func (o *Operator) AddStaff(ctx context.Context, name string, roles []string) (api.StaffAdded, error) {
	var out api.StaffAdded
	return out, o.r.do(ctx, http.MethodPost, "/staff", api.StaffAddRequest{Name: name, Roles: roles}, &out)
}

// ListStaff lists staff identities.
func (o *Operator) ListStaff(ctx context.Context) (api.StaffList, error) {
	var out api.StaffList
	return out, o.r.do(ctx, http.MethodGet, "/staff", nil, &out)
}

// RevokeStaff revokes a staff identity at once.
func (o *Operator) RevokeStaff(ctx context.Context, id string) error {
	return o.r.do(ctx, http.MethodDelete, "/staff/"+url.PathEscape(id), nil, nil)
}

// RequestAccess asks for access to an account's categories (engineers).
func (o *Operator) RequestAccess(ctx context.Context, req api.AccessRequestCreate) (api.AccessRequest, error) {
	var out api.AccessRequest
	return out, o.r.do(ctx, http.MethodPost, "/access-requests", req, &out)
}

// AccessRequest shows a request and whether it is a usable grant now.
func (o *Operator) AccessRequest(ctx context.Context, id string) (api.AccessRequest, error) {
	var out api.AccessRequest
	return out, o.r.do(ctx, http.MethodGet, "/access-requests/"+url.PathEscape(id), nil, &out)
}

// ApproveAccess approves a request (approvers other than the requester).
func (o *Operator) ApproveAccess(ctx context.Context, id string) (api.AccessRequest, error) {
	var out api.AccessRequest
	return out, o.r.do(ctx, http.MethodPost, "/access-requests/"+url.PathEscape(id)+"/approve", nil, &out)
}

// RevokeAccess revokes a request or grant.
func (o *Operator) RevokeAccess(ctx context.Context, id string) (api.AccessRequest, error) {
	var out api.AccessRequest
	return out, o.r.do(ctx, http.MethodPost, "/access-requests/"+url.PathEscape(id)+"/revoke", nil, &out)
}

// ReadAccess reads one category under a grant (its requester only).
func (o *Operator) ReadAccess(ctx context.Context, id, category string) (api.StaffRead, error) {
	var out api.StaffRead
	return out, o.r.do(ctx, http.MethodPost, "/access-requests/"+url.PathEscape(id)+"/read", api.StaffReadRequest{Category: category}, &out)
}

// VerifyAudit asks the server to recompute and check every audit log.
func (o *Operator) VerifyAudit(ctx context.Context) (api.AuditVerify, error) {
	var out api.AuditVerify
	return out, o.r.do(ctx, http.MethodPost, "/audit/verify", nil, &out)
}

// StartMigration starts moving one account or a country's accounts to a
// region; follow it with Migration.
func (o *Operator) StartMigration(ctx context.Context, req api.MigrateRequest) (api.Migration, error) {
	var out api.Migration
	return out, o.r.do(ctx, http.MethodPost, "/operator/migrations", req, &out)
}

// Migration reports a migration's progress.
func (o *Operator) Migration(ctx context.Context, id string) (api.Migration, error) {
	var out api.Migration
	return out, o.r.do(ctx, http.MethodGet, "/operator/migrations/"+url.PathEscape(id), nil, &out)
}

// RunRetention applies every region's retention rules now.
func (o *Operator) RunRetention(ctx context.Context) (api.RetentionRun, error) {
	var out api.RetentionRun
	return out, o.r.do(ctx, http.MethodPost, "/operator/retention", nil, &out)
}
