// Package audit keeps Candor's tamper-evident logs (promise P10): every
// access to personal data, keys, consent, grants or staff identities is an
// Event appended to a Merkle log (golang.org/x/mod/sumdb/tlog) in the same
// transaction as the access, so an access that cannot be logged does not
// happen. Each region keeps a log of the accesses to its accounts' data;
// the directory keeps the log of staff and key events.
//
// Events hold pseudonyms, never content or raw identifiers: an account or a
// device appears as a keyed hash of its id, a staff member by staff id.
// Signed checkpoints (golang.org/x/mod/sumdb/note) fix the tree at a size;
// anyone holding the verifier key can check inclusion and consistency
// proofs, and Verify recomputes a whole log and names its first bad entry.
package audit

import (
	"encoding/json"
	"time"
)

// Actions: the whole vocabulary of the logs, in one place. An action is
// named "noun.verb"; the noun is what was accessed.
const (
	// A device's accesses to its own account, in the region's log.
	ActionPush          = "records.push"
	ActionPull          = "records.pull"
	ActionConsent       = "consent.set"
	ActionLedger        = "consent.read"
	ActionDeleteAccount = "account.delete"
	ActionExport        = "account.export"      // an export of the account downloaded (Count: items written)
	ActionLogin         = "device.login"        // a device signed in (or signed up)
	ActionRevokeDevice  = "device.revoke"       // a device's sessions and messaging keys removed
	ActionAppPassword   = "device.app-password" // an app password made (Subject: its device)
	ActionPhotoPart     = "photos.part"         // a part of a photo received (Count: its number)
	ActionPhotoUpload   = "photos.upload"
	ActionPhotoDownload = "photos.download"
	ActionPhotoDelete   = "photos.delete"

	// The system's own work on an account, in the region's log.
	ActionPhotoExpire = "photos.expire" // an abandoned upload deleted

	// Staff, in the directory's log (a staff read also in the region's).
	ActionStaffRead    = "staff.read"
	ActionRequest      = "grant.request"
	ActionApprove      = "grant.approve"
	ActionOwnerApprove = "grant.owner-approve"
	ActionOwnerSetting = "grant.owner-setting"
	ActionRevokeGrant  = "grant.revoke"
	ActionStaffAdd     = "staff.add"
	ActionStaffRevoke  = "staff.revoke"
	ActionPasskeyAdd   = "staff.passkey-add" // a staff member registered a passkey
	ActionStaffSignIn  = "staff.sign-in"     // a staff member signed in to the console
	ActionOwnerRefuse  = "grant.owner-refuse"

	// Keys, in the directory's log.
	ActionInit   = "keys.init"
	ActionUnseal = "keys.unseal"
	ActionSeal   = "keys.seal"
	ActionRotate = "keys.rotate"
	ActionRekey  = "keys.rekey"

	// Operations, in the directory's log.
	ActionRetention        = "retention.run"
	ActionGreetingsPublish = "content.greetings.publish"
	ActionOTAPublish       = "content.ota.publish"
	ActionMoveStart        = "migrate.start"
	ActionMoveCopied       = "migrate.copied"
	ActionMoveVerify       = "migrate.verify"
	ActionMoveSwitched     = "migrate.switched"
	ActionMoveShredded     = "migrate.shredded"
	ActionMoveFinish       = "migrate.finish"
)

// Actors that are not a device or a staff member.
const (
	ActorSystem     = "system"     // the server's own background work
	ActorOperator   = "operator"   // whoever ran the key ceremony's init
	ActorCustodian  = "custodian"  // one custodian, offering a share (unseal)
	ActorCustodians = "custodians" // the custodians together, by their shares (rekey)
	ActorStaff      = "staff"      // a staff member the event does not name (a rekey started)
)

// StaffActor is the actor name of a staff identity.
func StaffActor(id string) string { return "staff:" + id }

// Outcomes.
const (
	OK     = "ok"
	Denied = "denied"
	Failed = "failed"
)

// Event is one audited action. Its JSON encoding is the log entry; fields
// are never personal data.
type Event struct {
	Time      time.Time `json:"time"`
	Actor     string    `json:"actor"` // "device:<pseudonym>", "staff:<id>", "custodian", "system"
	Action    string    `json:"action"`
	Outcome   string    `json:"outcome"`
	Region    string    `json:"region,omitempty"`
	Account   string    `json:"account,omitempty"` // account pseudonym
	Category  string    `json:"category,omitempty"`
	Grant     string    `json:"grant,omitempty"`
	Subject   string    `json:"subject,omitempty"`   // the staff identity created or revoked
	Count     int       `json:"count,omitempty"`     // records read or written
	Reason    string    `json:"reason,omitempty"`    // a grant's reason, as the requester gave it
	Approvers []string  `json:"approvers,omitempty"` // staff ids
	Code      string    `json:"code,omitempty"`      // the error code of a refusal or failure
	Method    string    `json:"method,omitempty"`    // how a staff member proved themselves: "token" or "passkey"
}

// Encode is the canonical encoding of e: the bytes the log stores and
// hashes.
func (e Event) Encode() []byte {
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	b, err := json.Marshal(e)
	if err != nil {
		panic(err) // an Event always encodes
	}
	return b
}

// Decode parses an encoded event.
func Decode(b []byte) (Event, error) {
	var e Event
	err := json.Unmarshal(b, &e)
	return e, err
}
