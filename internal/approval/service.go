package approval

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/consent"
	"github.com/candorcloud/candor/internal/records"
	"github.com/candorcloud/candor/internal/staff"
	"github.com/candorcloud/candor/internal/store"
)

// Directory is what the service needs of the directory store.
type Directory interface {
	store.Approvals
	Entry(ctx context.Context, account candor.AccountID) (store.Entry, error)
	ListStaff(ctx context.Context) ([]store.Staff, error)
}

// Consent grants the reading of an account's category while it is on
// (consent.Ledger): staff read nothing a person turned off.
type Consent interface {
	Check(ctx context.Context, p candor.Principal, c candor.Category) (consent.Grant, error)
}

// Records reads records (the records service itself: a staff read holds an
// approved grant and the owner's consent grant, and is logged page by page).
type Records interface {
	Pull(ctx context.Context, rec store.AuditRecord, g consent.Grant, since int64, limit int) (records.Feed, error)
}

// Presence checks the fresh passkey assertion an approval from the staff
// console needs (staff.Passkeys): bound to the staff member and the
// request, answered once.
type Presence interface {
	VerifyApproval(ctx context.Context, who staff.Identity, request string, answer []byte) error
}

// Config tunes the service.
type Config struct {
	// Presence checks passkey assertions; without it, only staff tokens
	// approve.
	Presence Presence
	// Quorum is how many approvers other than the requester must approve
	// (default 2).
	Quorum int
	// MaxDuration bounds a grant (default 7 days).
	MaxDuration time.Duration
	Now         func() time.Time
}

// Service handles access requests, approvals and staff reads.
type Service struct {
	dir     Directory
	consent Consent
	records Records
	logs    *audit.Logs
	cfg     Config
}

// New returns a Service.
func New(dir Directory, consent Consent, recs Records, logs *audit.Logs, cfg Config) *Service {
	if cfg.Quorum <= 0 {
		cfg.Quorum = 2
	}
	if cfg.MaxDuration <= 0 {
		cfg.MaxDuration = 7 * 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{dir: dir, consent: consent, records: recs, logs: logs, cfg: cfg}
}

// Quorum is the number of approvals a request needs.
func (s *Service) Quorum() int { return s.cfg.Quorum }

// event makes an audit event about request r by a staff member.
func (s *Service) event(ctx context.Context, who staff.Identity, action string, r store.AccessRequest) audit.Event {
	ev := audit.StaffEvent(who.ID, action)
	ev.Region, ev.Grant, ev.Reason = string(r.Region), r.ID, r.Reason
	if r.Account != "" {
		ev.Account, _ = s.logs.Account(r.Account)
	}
	return ev
}

// refuse logs a refusal in the account's region log (the directory's when
// the account is unknown) and returns err.
func (s *Service) refuse(ctx context.Context, ev audit.Event, err error) error {
	ev.Outcome, ev.Code = audit.Denied, candor.KindOf(err).Code()
	log := ev.Region
	if log == "" {
		log = audit.Directory
	}
	if lerr := s.logs.Append(ctx, log, ev); lerr != nil {
		return lerr // a refusal that cannot be logged is still a refusal, but the failure is what to report
	}
	return err
}

// Request asks for access to an account's categories for a reason and a
// duration. Only engineers may ask.
func (s *Service) Request(ctx context.Context, who staff.Identity, account candor.AccountID, cats []candor.Category, reason string, d time.Duration) (store.AccessRequest, error) {
	r := store.AccessRequest{ID: candor.NewID("req"), Requester: who.ID, Account: account, Categories: cats,
		Reason: strings.TrimSpace(reason), Duration: d, Created: s.cfg.Now().UTC()}
	ev := s.event(ctx, who, audit.ActionRequest, r)
	if !who.Has(staff.Engineer) {
		return store.AccessRequest{}, s.refuse(ctx, ev, candor.E(candor.Forbidden, "only engineers may ask for access to personal data"))
	}
	switch {
	case !candor.ValidID(string(account)):
		return store.AccessRequest{}, candor.E(candor.Invalid, "the account id looks like acc_ followed by 26 letters and digits")
	case len(cats) == 0:
		return store.AccessRequest{}, candor.E(candor.Invalid, "name at least one category")
	case r.Reason == "" || utf8.RuneCountInString(r.Reason) > 500:
		return store.AccessRequest{}, candor.E(candor.Invalid, "give a reason of 1 to 500 characters (a ticket, the problem)")
	case d < time.Minute || d > s.cfg.MaxDuration:
		return store.AccessRequest{}, candor.Errorf(candor.Invalid, "the duration must be between 1m and %s", s.cfg.MaxDuration)
	}
	for _, c := range cats {
		if !c.Synced() {
			return store.AccessRequest{}, candor.Errorf(candor.Invalid, "%s cannot be read by staff: ask for contacts, notes, sms or photos", c)
		}
	}
	e, err := s.dir.Entry(ctx, account)
	if candor.Is(err, candor.NotFound) {
		return store.AccessRequest{}, candor.E(candor.NotFound, "no such account")
	} else if err != nil {
		return store.AccessRequest{}, err
	}
	r.Region = e.Region
	if err := s.tooMany(ctx, who, account, r.Created); err != nil {
		return store.AccessRequest{}, s.refuse(ctx, ev, err)
	}
	if r.OwnerApproval, err = s.dir.OwnerApprovalRequired(ctx, account); err != nil {
		return store.AccessRequest{}, err
	}
	ev = s.event(ctx, who, audit.ActionRequest, r)
	return r, s.dir.CreateAccessRequest(ctx, s.logs.Record(ev), r)
}

// Approve records an approver's approval of a request. Approvers may not
// approve their own requests. An approver signed in to the console (whose
// cookie alone a thief could hold) must give assertion, a fresh passkey
// assertion bound to them and to this request; one signed in with a staff
// token may give one too. The approval records which it was (Method), and
// so does its audit entry.
func (s *Service) Approve(ctx context.Context, who staff.Identity, id string, assertion []byte) (store.AccessRequest, []store.Approval, error) {
	r, _, err := s.load(ctx, id)
	if err != nil {
		return r, nil, err
	}
	ev := s.event(ctx, who, audit.ActionApprove, r)
	switch {
	case !who.Has(staff.Approver):
		return r, nil, s.refuse(ctx, ev, candor.E(candor.Forbidden, "only approvers may approve access requests"))
	case who.ID == r.Requester:
		return r, nil, s.refuse(ctx, ev, candor.E(candor.Forbidden, "nobody may approve their own access request"))
	case !r.Revoked.IsZero():
		return r, nil, s.refuse(ctx, ev, candor.E(candor.Forbidden, "this access request was revoked"))
	}
	ev.Method = store.ApprovedByToken
	if who.Console || assertion != nil {
		ev.Method = store.ApprovedByPasskey
		switch {
		case assertion == nil:
			return r, nil, s.refuse(ctx, ev, candor.E(candor.Forbidden, "approving from the staff console needs a fresh passkey assertion for this request (approve/options, then approve with it)"))
		case s.cfg.Presence == nil:
			return r, nil, s.refuse(ctx, ev, candor.E(candor.Forbidden, "passkeys are not set up on this server: approve with a staff token"))
		}
		if err := s.cfg.Presence.VerifyApproval(ctx, who, id, assertion); err != nil {
			return r, nil, s.refuse(ctx, ev, err)
		}
	}
	if err := s.dir.AddApproval(ctx, s.logs.Record(ev), store.Approval{Request: id, Approver: who.ID, Time: s.cfg.Now().UTC(), Method: ev.Method}); err != nil {
		return r, nil, err
	}
	return s.load(ctx, id)
}

// Revoke ends a request or grant at once. The requester, any approver and
// administrators may revoke.
func (s *Service) Revoke(ctx context.Context, who staff.Identity, id string) error {
	r, _, err := s.load(ctx, id)
	if err != nil {
		return err
	}
	ev := s.event(ctx, who, audit.ActionRevokeGrant, r)
	if who.ID != r.Requester && !who.Has(staff.Approver, staff.Admin, staff.Bootstrap) {
		return s.refuse(ctx, ev, candor.E(candor.Forbidden, "only the requester, an approver or an administrator may revoke"))
	}
	return s.dir.RevokeAccessRequest(ctx, s.logs.Record(ev), id, s.cfg.Now().UTC())
}

func (s *Service) load(ctx context.Context, id string) (store.AccessRequest, []store.Approval, error) {
	if !candor.ValidID(id) {
		return store.AccessRequest{}, nil, candor.E(candor.NotFound, "no such access request")
	}
	r, a, err := s.dir.AccessRequest(ctx, id)
	if candor.Is(err, candor.NotFound) {
		return r, a, candor.E(candor.NotFound, "no such access request")
	} else if err != nil {
		return r, a, err
	}
	// An approver whose identity was revoked no longer vouches for
	// anything: their approvals stop counting.
	staff, err := s.dir.ListStaff(ctx)
	if err != nil {
		return r, nil, err
	}
	revoked := map[string]bool{}
	for _, st := range staff {
		if !st.Revoked.IsZero() {
			revoked[st.ID] = true
		}
	}
	kept := a[:0]
	for _, ap := range a {
		if !revoked[ap.Approver] {
			kept = append(kept, ap)
		}
	}
	return r, kept, nil
}

// Status returns a request and the approvals that count (those of
// approvers not revoked since). Whether it grants anything now is Decide's.
func (s *Service) Status(ctx context.Context, id string) (store.AccessRequest, []store.Approval, error) {
	return s.load(ctx, id)
}

// Read reads every record of one category of the account under a grant:
// only the requester, only a granted category, only while the grant lasts.
// Each page read is logged in the account's region log, with the grant's
// reason and approvers, in the same transaction as the read; each refusal
// is logged too.
// Where reports the region the account of request id is in now: where a
// read under it is served and logged.
func (s *Service) Where(ctx context.Context, id string) (candor.RegionID, error) {
	if !candor.ValidID(id) {
		return "", candor.E(candor.NotFound, "no such access request")
	}
	r, _, err := s.dir.AccessRequest(ctx, id)
	if err != nil {
		return "", err
	}
	if e, err := s.dir.Entry(ctx, r.Account); err == nil {
		return e.Region, nil
	} else if !candor.Is(err, candor.NotFound) {
		return "", err
	}
	return r.Region, nil
}

func (s *Service) Read(ctx context.Context, who staff.Identity, id string, c candor.Category) ([]records.Record, error) {
	r, approvals, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	// The account may have moved since the request: read, and log, where it
	// lives now.
	if e, err := s.dir.Entry(ctx, r.Account); err == nil {
		if e.Moving != "" {
			return nil, candor.ErrMoving
		}
		r.Region = e.Region
	} else if !candor.Is(err, candor.NotFound) {
		return nil, err
	}
	ev := s.event(ctx, who, audit.ActionStaffRead, r)
	ev.Category = string(c)
	g, err := Decide(r, approvals, s.cfg.Quorum, s.cfg.Now())
	if err == nil {
		err = g.Allows(who.ID, c)
	}
	if err != nil {
		return nil, s.refuse(ctx, ev, err)
	}
	ev.Approvers = g.Approvers
	p := candor.Principal{Account: r.Account, Region: r.Region}
	grant, err := s.consent.Check(ctx, p, c)
	if candor.Is(err, candor.ConsentRequired) {
		return nil, s.refuse(ctx, ev, candor.Errorf(candor.NotFound, "the account has %s off: the cloud holds none of it", c))
	} else if err != nil {
		return nil, err
	}
	var out []records.Record
	for since := int64(0); ; {
		page, err := s.records.Pull(records.WithFullPass(ctx), s.logs.Record(ev), grant, since, records.MaxPage)
		if err != nil {
			return nil, err
		}
		for _, rec := range page.Records {
			if !rec.Deleted {
				out = append(out, rec)
			}
		}
		if !page.More {
			// A move that switched the account while it was read would
			// leave later pages empty: then the read is not complete.
			if e, err := s.dir.Entry(ctx, r.Account); err == nil && (e.Moving != "" || e.Region != r.Region) {
				return nil, candor.ErrMoving
			}
			return out, nil
		}
		since = page.Next
	}
}

// Requests lists an account's newest access requests (at most MaxList),
// for its owner.
func (s *Service) Requests(ctx context.Context, account candor.AccountID) ([]store.AccessRequest, error) {
	return s.dir.AccessRequestsFor(ctx, account, MaxList)
}

// MaxRequestsPerDay is how many access requests one engineer may make on
// one account in a day: enough for any ticket, and a bound on what one
// engineer can add to the owner's list and log.
const MaxRequestsPerDay = 10

// tooMany refuses a request when who made MaxRequestsPerDay on account in
// the day before now (counted among its newest MaxList requests).
func (s *Service) tooMany(ctx context.Context, who staff.Identity, account candor.AccountID, now time.Time) error {
	list, err := s.dir.AccessRequestsFor(ctx, account, MaxList)
	if err != nil {
		return err
	}
	var mine []time.Time
	for _, r := range list {
		if r.Requester == who.ID && now.Sub(r.Created) < 24*time.Hour {
			mine = append(mine, r.Created)
		}
	}
	if len(mine) < MaxRequestsPerDay {
		return nil
	}
	wait := mine[len(mine)-1].Add(24 * time.Hour).Sub(now) // the oldest of the day leaves it
	return &candor.Error{Kind: candor.RateLimited, RetryAfter: max(wait, time.Second),
		Message: fmt.Sprintf("you made %d access requests on this account in a day: the most there may be", MaxRequestsPerDay)}
}

// ApproveAsOwner records the owner's approval of a request on their account.
func (s *Service) ApproveAsOwner(ctx context.Context, p candor.Principal, id string) error {
	r, _, err := s.load(ctx, id)
	if err != nil {
		return err
	}
	if r.Account != p.Account {
		return candor.E(candor.NotFound, "no such access request")
	}
	ev, err := s.logs.DeviceEvent(p, audit.ActionOwnerApprove, "")
	if err != nil {
		return err
	}
	ev.Region, ev.Grant = string(r.Region), r.ID
	return s.dir.ApproveAsOwner(ctx, s.logs.Record(ev), id, s.cfg.Now().UTC())
}

// RefuseAsOwner revokes a request on the owner's account, as its owner:
// it is marked refused by the owner, in the directory's log with the
// change and then in the owner's region log, where they read it. A request
// on another account is NotFound, as if it did not exist.
func (s *Service) RefuseAsOwner(ctx context.Context, p candor.Principal, id string) (store.AccessRequest, []store.Approval, error) {
	r, _, err := s.load(ctx, id)
	if err != nil {
		return r, nil, err
	}
	if r.Account != p.Account {
		return store.AccessRequest{}, nil, candor.E(candor.NotFound, "no such access request")
	}
	ev, err := s.logs.DeviceEvent(p, audit.ActionOwnerRefuse, "")
	if err != nil {
		return r, nil, err
	}
	ev.Region, ev.Grant = string(r.Region), r.ID
	if err := s.dir.RefuseAccessRequest(ctx, s.logs.Record(ev), id, s.cfg.Now().UTC()); err != nil {
		return r, nil, err
	}
	// The directory's log holds it with the change; the owner reads their
	// home region's log, so it is there too (the refusal stands if this
	// fails).
	if err := s.logs.Append(ctx, string(p.Region), ev); err != nil {
		return r, nil, err
	}
	return s.load(ctx, id)
}

// MaxList is the most requests List returns.
const MaxList = 200

// List lists the newest requests of every account (at most MaxList), for
// the staff console: engineers, approvers, administrators, auditors and
// the bootstrap identity may (a custodian reads no grants).
func (s *Service) List(ctx context.Context, who staff.Identity) ([]store.AccessRequest, error) {
	if !who.Has(staff.Engineer, staff.Approver, staff.Admin, staff.Auditor, staff.Bootstrap) {
		return nil, candor.E(candor.Forbidden, "only engineers, approvers, administrators and auditors may list access requests")
	}
	return s.dir.AccessRequests(ctx, MaxList)
}

// OwnerApprovalRequired tells whether staff access to p's account needs
// its owner's own approval.
func (s *Service) OwnerApprovalRequired(ctx context.Context, p candor.Principal) (bool, error) {
	return s.dir.OwnerApprovalRequired(ctx, p.Account)
}

// SetOwnerApproval turns on or off the owner's own approval of staff
// access to their account, for requests made from then on.
func (s *Service) SetOwnerApproval(ctx context.Context, p candor.Principal, required bool) error {
	ev, err := s.logs.DeviceEvent(p, audit.ActionOwnerSetting, "")
	if err != nil {
		return err
	}
	ev.Code = "off"
	if required {
		ev.Code = "on"
	}
	return s.dir.SetOwnerApproval(ctx, s.logs.Record(ev), p.Account, required)
}
