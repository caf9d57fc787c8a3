// Package approval is how staff may read personal data, and the only way
// (promise P9): an engineer asks for access to one account's categories,
// with a reason and a duration; the request becomes a grant only once K
// approvers other than the requester approve it (and the account's owner,
// when they asked to approve staff access themselves). The grant is scoped
// to its categories, lasts its duration from the approval that completed
// it, can be revoked, and is usable by the requester alone. Every read
// under it, and every refusal, is in the account's region's audit log with
// the reason and the approvers, where the owner sees it.
package approval

import (
	"fmt"
	"slices"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// Grant is a request that may be used now.
type Grant struct {
	Request   store.AccessRequest
	Approvers []string // staff ids, in approval order
	Start     time.Time
	Expires   time.Time
}

// Decide is the approval rule as a pure function: the request is a grant
// at now if it is not revoked, at least quorum distinct approvers other
// than the requester approved it, the owner approved it when that is
// required, and its duration since the approval that completed it has not
// run out. Otherwise it says, as a Forbidden error, what is missing.
func Decide(r store.AccessRequest, approvals []store.Approval, quorum int, now time.Time) (Grant, error) {
	if !r.Revoked.IsZero() && !now.Before(r.Revoked) {
		return Grant{}, candor.E(candor.Forbidden, "this access request was revoked")
	}
	g := Grant{Request: r}
	for _, a := range approvals {
		if a.Approver == r.Requester || slices.Contains(g.Approvers, a.Approver) || a.Time.After(now) {
			continue
		}
		g.Approvers = append(g.Approvers, a.Approver)
		if len(g.Approvers) == quorum {
			g.Start = a.Time
		}
	}
	if len(g.Approvers) < quorum {
		return Grant{}, candor.Errorf(candor.Forbidden, "this access request needs %d approvals from approvers other than the requester; it has %d", quorum, len(g.Approvers))
	}
	if r.OwnerApproval {
		if r.OwnerApproved.IsZero() || r.OwnerApproved.After(now) {
			return Grant{}, candor.E(candor.Forbidden, "the account's owner asked to approve staff access, and has not approved this request")
		}
		g.Start = later(g.Start, r.OwnerApproved)
	}
	g.Expires = g.Start.Add(r.Duration)
	if !now.Before(g.Expires) {
		return Grant{}, candor.Errorf(candor.Forbidden, "this grant expired at %s", g.Expires.UTC().Format(time.RFC3339))
	}
	return g, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Allows checks that a grant may be used by a staff member for a category:
// only by its requester, only within its categories.
func (g Grant) Allows(staffID string, c candor.Category) error {
	if staffID != g.Request.Requester {
		return candor.E(candor.Forbidden, "only the staff member who asked for this access can use it")
	}
	if !slices.Contains(g.Request.Categories, c) {
		return candor.Errorf(candor.Forbidden, "this grant does not cover %s", c)
	}
	return nil
}

func (g Grant) String() string {
	return fmt.Sprintf("grant %s until %s", g.Request.ID, g.Expires.UTC().Format(time.RFC3339))
}
