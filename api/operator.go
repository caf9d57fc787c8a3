package api

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
}

// RegionStatus is one region as the operator sees it.
type RegionStatus struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// KeyVersion is the current version of the region's key-encryption
	// key; 0 while sealed.
	KeyVersion int64 `json:"key_version"`
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
