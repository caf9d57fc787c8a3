package api

// AuditKey is the public key that verifies every audit checkpoint of a
// deployment (GET /v1/audit/key), a note verifier key.
type AuditKey struct {
	Key string `json:"key"`
}

// Checkpoint is a signed tree head of one log (GET
// /v1/audit/{log}/checkpoint): Note is the signed note whose text is the
// log's origin line and then tlog.FormatTree of (Size, Hash).
type Checkpoint struct {
	Log  string `json:"log"`
	Size int64  `json:"size"`
	Hash []byte `json:"hash"`
	Note string `json:"note"`
}

// Proof is a Merkle proof: the hashes of a tlog RecordProof (inclusion) or
// TreeProof (consistency).
type Proof struct {
	Proof [][]byte `json:"proof"`
}

// AccessLogEntry is one entry of the owner's access log: its index in the
// region's log, the event exactly as stored (JSON text, whose hash is the
// leaf) and its inclusion proof against the response's checkpoint.
type AccessLogEntry struct {
	Index int64    `json:"index"`
	Event string   `json:"event"`
	Proof [][]byte `json:"proof"`
}

// AccessLog answers GET /v1/account/access-log?after=N: the entries about
// the account in its home region's log, with a checkpoint they are proved
// against.
type AccessLog struct {
	Checkpoint Checkpoint       `json:"checkpoint"`
	Entries    []AccessLogEntry `json:"entries"`
	More       bool             `json:"more"`
}

// AuditReport is the verification of one log.
type AuditReport struct {
	Log         string `json:"log"`
	Size        int64  `json:"size"`
	Checkpoints int    `json:"checkpoints"`
	OK          bool   `json:"ok"`
	BadEntry    int64  `json:"bad_entry"`
	Problem     string `json:"problem,omitempty"`
}

// AuditVerify answers POST /v1/audit/verify.
type AuditVerify struct {
	OK   bool          `json:"ok"`
	Logs []AuditReport `json:"logs"`
}
