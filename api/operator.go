package api

import "time"

// OperatorStatus answers GET /v1/operator/status (no token needed: it holds
// no secret) and the unseal and seal calls.
type OperatorStatus struct {
	Initialized bool `json:"initialized"`
	Sealed      bool `json:"sealed"`
	// Shares and Threshold: the root key is split into Shares shares, of
	// which Threshold unseal the server. Submitted counts the valid shares
	// offered so far towards the next unseal.
	Shares      int            `json:"shares"`
	Threshold   int            `json:"threshold"`
	Submitted   int            `json:"submitted"`
	RootVersion int64          `json:"root_version"`
	Regions     []RegionStatus `json:"regions"`
	// Rekey is set while a rekey waits for the current custodians' shares.
	Rekey *RekeyStatus `json:"rekey,omitempty"`
	// Erasure is where the erasure keys stand; absent while sealed.
	Erasure *ErasureStatus `json:"erasure,omitempty"`
}

// ErasureStatus is where the erasure keys stand. A shred secret deleted now
// cannot be opened from an earlier copy of the database (a dump, a base
// backup, a WAL archive) after Horizon, even with the custodians' shares.
type ErasureStatus struct {
	// PeriodSeconds is the length of one erasure period.
	PeriodSeconds int64 `json:"period_seconds"`
	// StoredPeriod is the earliest period whose key can still be derived;
	// CurrentPeriod is the period now. Every earlier period is erased.
	StoredPeriod  int64 `json:"stored_period"`
	CurrentPeriod int64 `json:"current_period"`
	// Horizon is when a deletion made now is beyond every earlier copy of
	// the database, provided the ratchet keeps advancing.
	Horizon time.Time `json:"horizon"`
	// Behind is true when the ratchet has not advanced to the current
	// period: its upkeep is failing, and the horizon stretches until it
	// runs.
	Behind bool `json:"behind"`
}

// RekeyStatus is a rekey waiting for current shares: the new split asked
// for, and how many current shares were offered of how many needed.
type RekeyStatus struct {
	Shares    int `json:"shares"`
	Threshold int `json:"threshold"`
	Submitted int `json:"submitted"`
	Needed    int `json:"needed"`
	// CustodianKeys are the age public keys the new shares will be
	// encrypted to; check them before offering your share.
	CustodianKeys []string `json:"custodian_keys,omitempty"`
}

// RekeyRequest starts a rekey (POST /v1/operator/rekey, staff token): a new
// root key split into Shares shares of which Threshold unseal, optionally
// each encrypted to a custodian's age key. It takes effect once the current
// custodians offer enough current shares (POST /v1/operator/rekey/share).
type RekeyRequest struct {
	Shares        int      `json:"shares"`
	Threshold     int      `json:"threshold"`
	CustodianKeys []string `json:"custodian_keys,omitempty"`
}

// RekeyShareResponse answers each share offered towards a rekey; Shares,
// the new shares shown once, is set by the answer that completes it.
type RekeyShareResponse struct {
	Status OperatorStatus `json:"status"`
	Shares []string       `json:"shares,omitempty"`
}

// RotateRequest starts rotating a region's key-encryption key
// (POST /v1/operator/rotate, staff token). The data keys are re-wrapped in
// the background; status shows the progress.
type RotateRequest struct {
	Region string `json:"region"`
}

// RegionStatus is one region as the operator sees it.
type RegionStatus struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// KeyVersion is the current version of the region's key-encryption
	// key; 0 while sealed.
	KeyVersion int64 `json:"key_version"`
	// DataKeys counts the region's data keys; Pending those still wrapped
	// by an older key version (a rotation in progress). Both 0 while sealed.
	DataKeys int `json:"data_keys"`
	Pending  int `json:"pending"`
}

// InitRequest runs the key ceremony (POST /v1/operator/init). With
// CustodianKeys (age public keys, one per share), each share is returned
// encrypted to its custodian.
type InitRequest struct {
	Shares        int      `json:"shares"`
	Threshold     int      `json:"threshold"`
	CustodianKeys []string `json:"custodian_keys,omitempty"`
}

// InitResponse carries the shares, each shown once, and the bootstrap staff
// token, which can create staff identities but never read personal data.
type InitResponse struct {
	Shares     []string `json:"shares"`
	StaffToken string   `json:"staff_token"`
}

// UnsealRequest offers one custodian's share (POST /v1/operator/unseal).
type UnsealRequest struct {
	Share string `json:"share"`
}

// Console is the staff console's overview (GET /v1/operator/console, any
// staff role): each audit log, the region migrations in progress and the
// retention runs.
type Console struct {
	Logs       []ConsoleLog     `json:"logs"`
	Migrations []Migration      `json:"migrations"`
	Retention  ConsoleRetention `json:"retention"`
}

// ConsoleLog is one audit log: its size, its last signed checkpoint and
// its last verification (since this instance started), each null if none.
type ConsoleLog struct {
	Name       string             `json:"name"`
	Size       int64              `json:"size"`
	Checkpoint *ConsoleCheckpoint `json:"checkpoint"`
	Verified   *ConsoleVerified   `json:"verified"`
}

// ConsoleCheckpoint is a log's last signed checkpoint.
type ConsoleCheckpoint struct {
	Size int64     `json:"size"`
	Time time.Time `json:"time"`
}

// ConsoleVerified is a log's last verification; Problem says what failed.
type ConsoleVerified struct {
	Time    time.Time `json:"time"`
	OK      bool      `json:"ok"`
	Problem string    `json:"problem,omitempty"`
}

// ConsoleRetention is when retention last finished running (since this
// instance started) and whether it runs now.
type ConsoleRetention struct {
	LastRun *time.Time `json:"last_run,omitempty"`
	Running bool       `json:"running"`
}
