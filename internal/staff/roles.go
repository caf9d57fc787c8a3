package staff

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/store"
)

// incompatible lists the roles one person may not hold together, and why.
// The rule behind them: whoever can read personal data (engineer) must not
// also be able to approve that reading (approver) or make the identities
// that do (admin); whoever checks the others (auditor) must be none of
// them; and a custodian, who holds part of the root key, does not read.
var incompatible = []struct {
	a, b Role
	why  string
}{
	{Engineer, Approver, "an engineer may not approve access requests"},
	{Engineer, Admin, "an administrator creates identities, so may not also read data"},
	{Approver, Admin, "an administrator could create an engineer and approve it"},
	{Engineer, Custodian, "a custodian holds part of the root key, so may not also read data"},
	{Auditor, Engineer, "an auditor checks the others, so holds no other power"},
	{Auditor, Admin, "an auditor checks the others, so holds no other power"},
	{Auditor, Approver, "an auditor checks the others, so holds no other power"},
}

// CheckRoles validates a set of roles for one person: known roles, no
// bootstrap, and no incompatible pair.
func CheckRoles(roles []Role) error {
	if len(roles) == 0 {
		return candor.E(candor.Invalid, "a staff identity needs at least one role: admin, engineer, approver, custodian or auditor")
	}
	for _, r := range roles {
		switch r {
		case Admin, Engineer, Approver, Custodian, Auditor:
		default:
			return candor.Errorf(candor.Invalid, "unknown role %q: use admin, engineer, approver, custodian or auditor", r)
		}
	}
	for _, p := range incompatible {
		if slices.Contains(roles, p.a) && slices.Contains(roles, p.b) {
			return candor.Errorf(candor.Invalid, "roles %s and %s may not be held together: %s", p.a, p.b, p.why)
		}
	}
	return nil
}

// ParseRoles parses a comma-separated list of roles.
func ParseRoles(s string) ([]Role, error) {
	var roles []Role
	for _, r := range strings.Split(s, ",") {
		if r = strings.TrimSpace(strings.ToLower(r)); r != "" && !slices.Contains(roles, Role(r)) {
			roles = append(roles, Role(r))
		}
	}
	return roles, CheckRoles(roles)
}

// Directory is what managing staff needs of the directory store.
type Directory interface {
	Store
	ListStaff(ctx context.Context) ([]store.Staff, error)
	RevokeStaff(ctx context.Context, rec store.AuditRecord, id string, at time.Time) error
}

// Manager creates, lists and revokes staff identities, each change in the
// directory's audit log in the same transaction, each refusal on its own.
type Manager struct {
	svc  *Service
	dir  Directory
	logs *audit.Logs
}

// NewManager returns a Manager.
func NewManager(dir Directory, logs *audit.Logs) *Manager {
	return &Manager{svc: New(dir, logs), dir: dir, logs: logs}
}

func (m *Manager) event(by Identity, action, outcome, code string) audit.Event {
	ev := audit.StaffEvent(by.ID, action)
	ev.Outcome, ev.Code = outcome, code
	return ev
}

// Add creates an identity with roles; only the bootstrap identity and
// administrators may. It returns the identity and its token, shown once.
func (m *Manager) Add(ctx context.Context, by Identity, name string, roles []Role) (Identity, string, error) {
	if !by.Has(Bootstrap, Admin) {
		m.logs.Append(ctx, audit.Directory, m.event(by, audit.ActionStaffAdd, audit.Denied, candor.Forbidden.Code()))
		return Identity{}, "", candor.E(candor.Forbidden, "only an administrator (or the bootstrap identity) may add staff")
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return Identity{}, "", candor.E(candor.Invalid, "a staff name is 1 to 100 characters")
	}
	if err := CheckRoles(roles); err != nil {
		m.logs.Append(ctx, audit.Directory, m.event(by, audit.ActionStaffAdd, audit.Denied, candor.KindOf(err).Code()))
		return Identity{}, "", err
	}
	return m.svc.create(ctx, m.event(by, audit.ActionStaffAdd, audit.OK, ""), candor.NewID("stf"), name, roles)
}

// Revoke revokes an identity at once; only the bootstrap identity and
// administrators may.
func (m *Manager) Revoke(ctx context.Context, by Identity, id string) error {
	if !by.Has(Bootstrap, Admin) {
		m.logs.Append(ctx, audit.Directory, m.event(by, audit.ActionStaffRevoke, audit.Denied, candor.Forbidden.Code()))
		return candor.E(candor.Forbidden, "only an administrator (or the bootstrap identity) may revoke staff")
	}
	ev := m.event(by, audit.ActionStaffRevoke, audit.OK, "")
	ev.Subject = id
	return m.dir.RevokeStaff(ctx, m.logs.Record(ev), id, m.svc.now().UTC())
}

// List lists every identity; only administrators, auditors and the
// bootstrap identity may.
func (m *Manager) List(ctx context.Context, by Identity) ([]store.Staff, error) {
	if !by.Has(Bootstrap, Admin, Auditor) {
		return nil, candor.E(candor.Forbidden, "only administrators and auditors may list staff")
	}
	list, err := m.dir.ListStaff(ctx)
	for i := range list {
		list[i].TokenHash = nil
	}
	return list, err
}
