package api

import "time"

// MigrateRequest moves one account (Account) or every account of a
// country (Country) to region To (POST /v1/operator/migrations, admin).
// With Resume instead, it finishes every move that stopped: each account
// still marked moving goes on to the region it was moving to (To empty).
type MigrateRequest struct {
	Account string `json:"account,omitempty"`
	Country string `json:"country,omitempty"`
	Resume  bool   `json:"resume,omitempty"`
	To      string `json:"to,omitempty"`
}

// Moved is what moving one account did.
type Moved struct {
	Account string `json:"account"`
	From    string `json:"from"`
	To      string `json:"to"`
	Records int    `json:"records"`
	Keys    int    `json:"keys"`
	Blobs   int    `json:"blobs"`
	Bytes   int64  `json:"bytes"`
	Already bool   `json:"already"`
}

// Migration is a migration job and its progress
// (GET /v1/operator/migrations/{id}, on any server instance). A migration
// is idempotent: running it again after a crash carries on where it
// stopped. Moved lists the first 1000 accounts moved; Done counts them all.
type Migration struct {
	ID       string     `json:"id"`
	To       string     `json:"to"`
	Country  string     `json:"country,omitempty"`
	Account  string     `json:"account,omitempty"`
	Resume   bool       `json:"resume,omitempty"`
	Total    int        `json:"total"`
	Done     int        `json:"done"`
	Moved    []Moved    `json:"moved"`
	Started  time.Time  `json:"started"`
	Finished *time.Time `json:"finished,omitempty"`
	Error    string     `json:"error,omitempty"`
	// Holder names the server instance that runs an unfinished job (a
	// random name it takes at start), and Lease when it must have renewed
	// its hold: past it, another instance takes the job over.
	Holder string     `json:"holder,omitempty"`
	Lease  *time.Time `json:"lease,omitempty"`
}
