package operator

import (
	"context"
	"net/http"

	"github.com/candorcloud/candor/api"
)

// Staff identities, and staff access to an account's data: asked for by an
// engineer, approved by someone else, audited.

// AddStaff creates a staff identity (administrators and the bootstrap
// identity only); the answer's token is shown once.
func (c *Client) AddStaff(ctx context.Context, name string, roles []string) (api.StaffAdded, error) {
	return call[api.StaffAdded](ctx, c, http.MethodPost, "/staff", api.StaffAddRequest{Name: name, Roles: roles})
}

// ListStaff lists staff identities.
func (c *Client) ListStaff(ctx context.Context) (api.StaffList, error) {
	return call[api.StaffList](ctx, c, http.MethodGet, "/staff", nil)
}

// RevokeStaff revokes a staff identity at once.
func (c *Client) RevokeStaff(ctx context.Context, id string) error {
	return c.api.Do(ctx, http.MethodDelete, "/staff/"+escape(id), nil, nil)
}

// RequestAccess asks for access to an account's categories (engineers).
// Nothing can be read until the request is approved.
func (c *Client) RequestAccess(ctx context.Context, req api.AccessRequestCreate) (api.AccessRequest, error) {
	return call[api.AccessRequest](ctx, c, http.MethodPost, "/access-requests", req)
}

// AccessRequest shows a request and whether it is a usable grant now.
func (c *Client) AccessRequest(ctx context.Context, id string) (api.AccessRequest, error) {
	return call[api.AccessRequest](ctx, c, http.MethodGet, "/access-requests/"+escape(id), nil)
}

// ApproveAccess approves a request (approvers other than the requester).
func (c *Client) ApproveAccess(ctx context.Context, id string) (api.AccessRequest, error) {
	return call[api.AccessRequest](ctx, c, http.MethodPost, "/access-requests/"+escape(id)+"/approve", nil)
}

// RevokeAccess revokes a request or grant.
func (c *Client) RevokeAccess(ctx context.Context, id string) (api.AccessRequest, error) {
	return call[api.AccessRequest](ctx, c, http.MethodPost, "/access-requests/"+escape(id)+"/revoke", nil)
}

// ReadAccess reads one category of the account under an approved grant:
// the account's records, personal data in the clear. Only the grant's
// requester may, while the grant lasts; the server audits every read, and
// the account's owner sees it in their access log.
func (c *Client) ReadAccess(ctx context.Context, id, category string) (api.StaffRead, error) {
	return call[api.StaffRead](ctx, c, http.MethodPost, "/access-requests/"+escape(id)+"/read", api.StaffReadRequest{Category: category})
}

// VerifyAudit asks the server to recompute and check every audit log.
func (c *Client) VerifyAudit(ctx context.Context) (api.AuditVerify, error) {
	return call[api.AuditVerify](ctx, c, http.MethodPost, "/audit/verify", nil)
}
