// Package staff keeps the identities of the people who run a Candor
// deployment and authenticates their tokens. Staff never read personal data
// through this package: roles decide which operator actions a person may
// take, and reading personal data needs an approved, time-bound grant
// (package approval). Every identity created or revoked is in the
// directory's audit log, in the same transaction.
package staff

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/store"
)

// Role is what a staff identity may do.
type Role string

// The roles.
const (
	// Bootstrap is the identity made at init: it can create staff identities
	// and seal the server, and can never read personal data.
	Bootstrap Role = "bootstrap"
	Admin     Role = "admin"     // staff, regions, migration, retention; never personal data
	Engineer  Role = "engineer"  // asks for access to an account's data
	Approver  Role = "approver"  // approves others' access requests
	Custodian Role = "custodian" // holds a share of the root key
	Auditor   Role = "auditor"   // reads and verifies the audit log
)

// Identity is an authenticated staff member.
type Identity struct {
	ID    string
	Name  string
	Roles []Role
	// Console says the identity was authenticated by a console session
	// (a passkey sign-in, a browser cookie), not by a staff token: its
	// approvals need a fresh passkey assertion.
	Console bool
}

// Has reports whether the identity holds any of roles.
func (i Identity) Has(roles ...Role) bool {
	for _, r := range roles {
		if slices.Contains(i.Roles, r) {
			return true
		}
	}
	return false
}

// Store is what the service needs of the directory store.
type Store interface {
	CreateStaff(ctx context.Context, rec store.AuditRecord, s store.Staff) error
	StaffByToken(ctx context.Context, tokenHash []byte) (store.Staff, error)
}

// Service creates and authenticates staff identities.
type Service struct {
	st   Store
	logs *audit.Logs
	now  func() time.Time
}

// New returns a Service that logs the identities it creates to logs.
func New(st Store, logs *audit.Logs) *Service { return &Service{st: st, logs: logs, now: time.Now} }

const tokenPrefix = "cst_"

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// create stores a new identity, with ev (its creation) in the directory's
// log in the same transaction, and returns it with its token, shown once.
func (s *Service) create(ctx context.Context, ev audit.Event, staffID, name string, roles []Role) (Identity, string, error) {
	raw := make([]byte, 32)
	rand.Read(raw)
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	id := Identity{ID: staffID, Name: name, Roles: roles}
	rs := make([]string, len(roles))
	for i, r := range roles {
		rs[i] = string(r)
	}
	ev.Subject, ev.Reason = staffID, fmt.Sprintf("roles %v", roles)
	err := s.st.CreateStaff(ctx, s.logs.Record(ev), store.Staff{ID: id.ID, Name: name, Roles: rs, TokenHash: hashToken(token), Created: s.now().UTC()})
	if err != nil {
		return Identity{}, "", err
	}
	return id, token, nil
}

// Bootstrap creates the bootstrap identity. The server calls it once, right
// after the key ceremony, and hands its token to whoever ran init.
func (s *Service) Bootstrap(ctx context.Context) (Identity, string, error) {
	ev := audit.ActorEvent(audit.ActorOperator, audit.ActionStaffAdd)
	return s.create(ctx, ev, candor.NewID("stf"), "bootstrap", []Role{Bootstrap})
}

var errToken = candor.E(candor.Unauthenticated, "the staff token is not valid (CANDOR_STAFF_TOKEN)")

// Authenticate returns the identity of a staff token. Unknown, malformed
// and revoked tokens are Unauthenticated.
func (s *Service) Authenticate(ctx context.Context, token string) (Identity, error) {
	if !strings.HasPrefix(token, tokenPrefix) || len(token) != len(tokenPrefix)+43 {
		return Identity{}, errToken
	}
	st, err := s.st.StaffByToken(ctx, hashToken(token))
	if candor.Is(err, candor.NotFound) {
		return Identity{}, errToken
	} else if err != nil {
		return Identity{}, err
	}
	if !st.Revoked.IsZero() {
		return Identity{}, candor.E(candor.Unauthenticated, "this staff identity was revoked")
	}
	id := Identity{ID: st.ID, Name: st.Name}
	for _, r := range st.Roles {
		id.Roles = append(id.Roles, Role(r))
	}
	return id, nil
}
