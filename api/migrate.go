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
// (GET /v1/operator/migrations/{id}). A migration is idempotent: running
// it again after a crash carries on where it stopped.
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
}
