package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// Access requests keep their categories joined by commas, in the order
// given; a category never holds one.
const categorySep = ","

var errNoRequest = candor.E(candor.NotFound, "no such access request")

// nullMicros is the stored form of a time that may be unset: NULL for the
// zero time.
func nullMicros(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: micros(stamp(t)), Valid: true}
}

func fromNullMicros(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromMicros(n.Int64)
}

// CreateAccessRequest stores a request; Conflict if the id exists. Invalid
// if the id, requester or account is empty, a category is unknown or the
// duration negative. A zero Created is stored as the time of the call;
// non-zero OwnerApproved and Revoked are kept; Duration is kept to the
// microsecond. rec is appended in the same
// transaction, unless it fails.
func (s *DirectoryStore) CreateAccessRequest(ctx context.Context, rec store.AuditRecord, ar store.AccessRequest) error {
	switch {
	case ar.ID == "" || ar.Requester == "" || ar.Account == "":
		return candor.E(candor.Invalid, "access request needs an id, a requester and an account")
	case ar.Duration < 0:
		return candor.E(candor.Invalid, "access request duration cannot be negative")
	}
	cats := make([]string, len(ar.Categories))
	for i, c := range ar.Categories {
		if !c.Valid() {
			return candor.E(candor.Invalid, "unknown category")
		}
		cats[i] = string(c)
	}
	return s.auditLog.access(ctx, rec, func(r runner) error {
		_, err := r.exec(ctx, `INSERT INTO access_requests (id, requester, account, region, categories, reason,
			duration_us, created_us, owner_approval, owner_approved_us, revoked_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			ar.ID, ar.Requester, string(ar.Account), string(ar.Region), strings.Join(cats, categorySep), ar.Reason,
			ar.Duration.Microseconds(), micros(stamp(ar.Created)), ar.OwnerApproval,
			nullMicros(ar.OwnerApproved), nullMicros(ar.Revoked))
		switch {
		case s.db.dialect.unique(err):
			return candor.Wrap(candor.Conflict, "access request exists already", err)
		case err != nil:
			return internal("create access request", err)
		}
		return nil
	})
}

const accessRequestColumns = `id, requester, account, region, categories, reason, duration_us, created_us,
	owner_approval, owner_approved_us, revoked_us, refused_by_owner`

func scanAccessRequest(sc scanner) (store.AccessRequest, error) {
	var ar store.AccessRequest
	var cats string
	var duration, created int64
	var approved, revoked sql.NullInt64
	if err := sc.Scan(&ar.ID, &ar.Requester, &ar.Account, &ar.Region, &cats, &ar.Reason, &duration, &created,
		&ar.OwnerApproval, &approved, &revoked, &ar.RefusedByOwner); err != nil {
		return store.AccessRequest{}, err
	}
	if cats != "" {
		for _, c := range strings.Split(cats, categorySep) {
			ar.Categories = append(ar.Categories, candor.Category(c))
		}
	}
	ar.Duration = time.Duration(duration) * time.Microsecond
	ar.Created = fromMicros(created)
	ar.OwnerApproved = fromNullMicros(approved)
	ar.Revoked = fromNullMicros(revoked)
	return ar, nil
}

// AccessRequest returns a request and its approvals, oldest first (by Time,
// then approver); NotFound if none.
func (s *DirectoryStore) AccessRequest(ctx context.Context, id string) (store.AccessRequest, []store.Approval, error) {
	r := s.db.reader()
	ar, err := scanAccessRequest(r.row(ctx, `SELECT `+accessRequestColumns+` FROM access_requests WHERE id = ?`, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.AccessRequest{}, nil, errNoRequest
	case err != nil:
		return store.AccessRequest{}, nil, internal("read access request", err)
	}
	as, err := queryAll(ctx, r, "read approvals", func(sc scanner) (store.Approval, error) {
		a := store.Approval{Request: id}
		var t int64
		err := sc.Scan(&a.Approver, &t, &a.Method)
		a.Time = fromMicros(t)
		return a, err
	}, `SELECT approver, time_us, method FROM approvals WHERE request = ? ORDER BY time_us, approver`, id)
	if err != nil {
		return store.AccessRequest{}, nil, err
	}
	return ar, as, nil
}

// AccessRequestsFor lists up to limit of an account's requests, newest
// first (by Created, then id, descending); none for an account without
// any. Invalid unless 1 <= limit <= 1000.
func (s *DirectoryStore) AccessRequestsFor(ctx context.Context, account candor.AccountID, limit int) ([]store.AccessRequest, error) {
	if limit < 1 || limit > 1000 {
		return nil, candor.E(candor.Invalid, "list 1 to 1000 access requests")
	}
	return queryAll(ctx, s.db.reader(), "list access requests", scanAccessRequest,
		`SELECT `+accessRequestColumns+` FROM access_requests WHERE account = ? ORDER BY created_us DESC, id DESC LIMIT ?`, string(account), limit)
}

// AccessRequests lists up to limit requests of every account, newest first
// (by Created, then id, descending). Invalid unless 1 <= limit <= 1000.
func (s *DirectoryStore) AccessRequests(ctx context.Context, limit int) ([]store.AccessRequest, error) {
	if limit < 1 || limit > 1000 {
		return nil, candor.E(candor.Invalid, "list 1 to 1000 access requests")
	}
	return queryAll(ctx, s.db.reader(), "list access requests", scanAccessRequest,
		`SELECT `+accessRequestColumns+` FROM access_requests ORDER BY created_us DESC, id DESC LIMIT ?`, limit)
}

// AddApproval records an approval; Conflict if this approver approved this
// request already; NotFound if the request does not exist; Invalid if the
// request or approver is empty. A zero Time is stored as the time of the
// call. It records approvals only: whether they make a grant (the
// requester's own, a revoked request) is decided above the store. The
// rec is appended in the same transaction, unless it
// fails.
func (s *DirectoryStore) AddApproval(ctx context.Context, rec store.AuditRecord, a store.Approval) error {
	if a.Request == "" || a.Approver == "" {
		return candor.E(candor.Invalid, "approval needs a request and an approver")
	}
	switch a.Method {
	case "":
		a.Method = store.ApprovedByToken
	case store.ApprovedByToken, store.ApprovedByPasskey:
	default:
		return candor.E(candor.Invalid, "an approval is made by token or by passkey")
	}
	return s.auditLog.access(ctx, rec, func(r runner) error {
		_, err := r.exec(ctx, `INSERT INTO approvals (request, approver, time_us, method) VALUES (?, ?, ?, ?)`,
			a.Request, a.Approver, micros(stamp(a.Time)), a.Method)
		switch {
		case s.db.dialect.foreignKey(err):
			return errNoRequest
		case s.db.dialect.unique(err):
			return candor.Wrap(candor.Conflict, "this approver approved the request already", err)
		case err != nil:
			return internal("add approval", err)
		}
		return nil
	})
}

// ApproveAsOwner records the owner's approval of a request at the given
// time (the time of the call when at is zero); a second approval keeps the
// first time. NotFound if the request does not exist. rec is appended in the same transaction, unless it fails.
func (s *DirectoryStore) ApproveAsOwner(ctx context.Context, rec store.AuditRecord, id string, at time.Time) error {
	return s.auditLog.access(ctx, rec, func(r runner) error {
		return updateOne(ctx, r, "approve access request as owner", "no such access request",
			`UPDATE access_requests SET owner_approved_us = COALESCE(owner_approved_us, ?) WHERE id = ?`, micros(stamp(at)), id)
	})
}

// RevokeAccessRequest revokes a request at the given time (the time of the
// call when at is zero); revoking it again keeps the first time. NotFound
// if none. rec is appended in the same
// transaction, unless it fails.
func (s *DirectoryStore) RevokeAccessRequest(ctx context.Context, rec store.AuditRecord, id string, at time.Time) error {
	return s.auditLog.access(ctx, rec, func(r runner) error {
		return updateOne(ctx, r, "revoke access request", "no such access request",
			`UPDATE access_requests SET revoked_us = COALESCE(revoked_us, ?) WHERE id = ?`, micros(stamp(at)), id)
	})
}

// RefuseAccessRequest revokes a request as its owner at the given time
// (the time of the call when at is zero) and marks it refused by the
// owner, unless it was revoked already (then both stay as they were).
// NotFound if none. rec is appended in the same transaction, unless it
// fails.
func (s *DirectoryStore) RefuseAccessRequest(ctx context.Context, rec store.AuditRecord, id string, at time.Time) error {
	return s.auditLog.access(ctx, rec, func(r runner) error {
		return updateOne(ctx, r, "refuse access request", "no such access request",
			`UPDATE access_requests SET refused_by_owner = CASE WHEN revoked_us IS NULL THEN ? ELSE refused_by_owner END,
				revoked_us = COALESCE(revoked_us, ?) WHERE id = ?`, true, micros(stamp(at)), id)
	})
}

// SetOwnerApproval sets whether staff access to an account needs its
// owner's approval. Invalid if the account is empty. DeleteEntry removes
// the setting. rec is appended in the same
// transaction, unless it fails.
func (s *DirectoryStore) SetOwnerApproval(ctx context.Context, rec store.AuditRecord, account candor.AccountID, required bool) error {
	if account == "" {
		return candor.E(candor.Invalid, "owner setting needs an account")
	}
	return s.auditLog.access(ctx, rec, func(r runner) error {
		if _, err := r.exec(ctx, `INSERT INTO owner_settings (account, owner_approval) VALUES (?, ?)
			ON CONFLICT (account) DO UPDATE SET owner_approval = excluded.owner_approval`, string(account), required); err != nil {
			return internal("set owner approval", err)
		}
		return nil
	})
}

// OwnerApprovalRequired reports whether staff access to an account needs
// its owner's approval: false unless SetOwnerApproval set it.
func (s *DirectoryStore) OwnerApprovalRequired(ctx context.Context, account candor.AccountID) (bool, error) {
	var required bool
	err := s.db.reader().row(ctx, `SELECT owner_approval FROM owner_settings WHERE account = ?`, string(account)).Scan(&required)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, internal("read owner approval", err)
	}
	return required, nil
}
