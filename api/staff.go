package api

import (
	"encoding/json"
	"time"
)

// StaffAddRequest creates a staff identity (POST /v1/staff).
type StaffAddRequest struct {
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
}

// StaffAdded answers StaffAddRequest; Token is shown once.
type StaffAdded struct {
	ID    string   `json:"id"`
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
	Token string   `json:"token"`
}

// StaffMember is a staff identity as listed (GET /v1/staff).
type StaffMember struct {
	ID      string     `json:"id"`
	Name    string     `json:"name"`
	Roles   []string   `json:"roles"`
	Created time.Time  `json:"created"`
	Revoked *time.Time `json:"revoked,omitempty"`
}

// StaffList answers GET /v1/staff.
type StaffList struct {
	Staff []StaffMember `json:"staff"`
}

// AccessRequestCreate asks for access to an account's data
// (POST /v1/access-requests, engineers only). Duration is a Go duration
// such as "1h" or "30m".
type AccessRequestCreate struct {
	Account    string   `json:"account"`
	Categories []string `json:"categories"`
	Reason     string   `json:"reason"`
	Duration   string   `json:"duration"`
}

// Approval is one approver's approval. Method is how the approver proved
// themselves: "passkey" (a fresh passkey assertion bound to the request)
// or "token" (a staff token).
type Approval struct {
	Approver string    `json:"approver"`
	Time     time.Time `json:"time"`
	Method   string    `json:"method"`
}

// AccessRequest is a request and where it stands. Granted says whether it
// may be used now; if not, Refusal says why.
type AccessRequest struct {
	ID            string     `json:"id"`
	Requester     string     `json:"requester"`
	Account       string     `json:"account"`
	Region        string     `json:"region"`
	Categories    []string   `json:"categories"`
	Reason        string     `json:"reason"`
	Duration      string     `json:"duration"`
	Created       time.Time  `json:"created"`
	OwnerApproval bool       `json:"owner_approval"`
	OwnerApproved *time.Time `json:"owner_approved,omitempty"`
	Revoked       *time.Time `json:"revoked,omitempty"`
	// RefusedByOwner says the account's owner refused (revoked) it.
	RefusedByOwner bool       `json:"refused_by_owner"`
	Approvals      []Approval `json:"approvals"`
	Needed         int        `json:"needed"`
	Granted        bool       `json:"granted"`
	Expires        *time.Time `json:"expires,omitempty"`
	Refusal        string     `json:"refusal,omitempty"`
}

// AccessRequests lists requests: an account's (GET
// /v1/account/access-requests) or the newest of every account, at most
// 200 (GET /v1/access-requests).
type AccessRequests struct {
	Requests []AccessRequest `json:"requests"`
}

// StaffReadRequest reads one category under a grant
// (POST /v1/access-requests/{id}/read).
type StaffReadRequest struct {
	Category string `json:"category"`
}

// StaffRead answers StaffReadRequest with the category's live records.
type StaffRead struct {
	Request  string   `json:"request"`
	Category string   `json:"category"`
	Records  []Record `json:"records"`
}

// StaffAccessSetting turns on or off the owner's own approval of staff
// access (PUT /v1/account/staff-access).
type StaffAccessSetting struct {
	OwnerApproval bool `json:"owner_approval"`
}

// PasskeyAdded answers POST /v1/staff/passkeys: the credential id
// (base64url, as WebAuthn writes it) and when it was registered.
type PasskeyAdded struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
}

// StaffSession is a staff console session (POST /v1/staff/sessions, GET
// /v1/staff/sessions/current). CSRF goes in X-Candor-CSRF with every
// change made with the session's cookie.
type StaffSession struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Roles     []string  `json:"roles"`
	ExpiresAt time.Time `json:"expires_at"`
	CSRF      string    `json:"csrf"`
}

// ApproveRequest is the body of POST /v1/access-requests/{id}/approve: a
// staff console session must give Assertion, the JSON of
// navigator.credentials.get's result for the challenge of
// .../approve/options; a staff token needs no body.
type ApproveRequest struct {
	Assertion json.RawMessage `json:"assertion,omitempty"`
}
