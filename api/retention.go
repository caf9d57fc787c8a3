package api

// Retention is how long the account's home region keeps each kind of data
// (GET /v1/account/retention): durations like "90d", and the rules that
// are not durations, in words.
type Retention struct {
	Region              string            `json:"region"`
	DeletedItems        string            `json:"deleted_items"`
	UndeliveredMessages string            `json:"undelivered_messages"`
	AbandonedUploads    string            `json:"abandoned_uploads"`
	Other               map[string]string `json:"other"`
}

// Purged is what one retention run removed in one region
// (POST /v1/operator/retention, administrators).
type Purged struct {
	Region              string `json:"region"`
	DeletedItems        int    `json:"deleted_items"`
	UndeliveredMessages int    `json:"undelivered_messages"`
	AbandonedUploads    int    `json:"abandoned_uploads"`
}

// RetentionRun answers POST /v1/operator/retention.
type RetentionRun struct {
	Regions []Purged `json:"regions"`
	// ExpiredSessions is how many expired device sessions the directory
	// dropped.
	ExpiredSessions int `json:"expired_sessions"`
}
