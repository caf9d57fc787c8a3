package client

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

// The state folder, the phone's storage:
//
//	DIR/                     0700
//	  device.json            the phone's own identity: server, IMEI, phone number, country
//	  session.json           account, device, region, session token, device key, pseudonym
//	  consents.json          the last known consent state of every category
//	  records/               0700
//	    contacts.json        one file per category: epoch, cursor and local records
//	    notes.json
//
// Every file is JSON, mode 0600, replaced atomically (write a temporary file
// in the same folder, sync it, rename it over the old one, sync the folder),
// so a crash leaves either the old or the new state, never a torn one.
// The password is never stored anywhere.
const (
	deviceFile   = "device.json"
	sessionFile  = "session.json"
	consentsFile = "consents.json"
	recordsDir   = "records"
	stateVersion = 1
)

// deviceState is the phone's own configuration. It never leaves the phone.
type deviceState struct {
	Version int       `json:"version"`
	Server  string    `json:"server"`
	IMEI    string    `json:"imei"`
	Phone   string    `json:"phone"`
	Country string    `json:"country"`
	Created time.Time `json:"created"`
}

// sessionState is the signed-in account on this phone. It holds the session
// token and the device key (from which the IMEI pseudonym is computed); not
// the password, the Argon2id master key or the auth key, so signing in
// again needs the password.
type sessionState struct {
	Account   string    `json:"account"`
	Device    string    `json:"device"`
	Region    string    `json:"region"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	DeviceKey []byte    `json:"device_key"`
	Pseudonym []byte    `json:"pseudonym"`
}

// consentEntry is what the phone knows of one category's consent.
type consentEntry struct {
	On    bool       `json:"on"`
	Epoch int64      `json:"epoch,omitempty"`
	Since *time.Time `json:"since,omitempty"`
}

// consentState is the phone's copy of the account's consents. A category
// absent from the map is off: nothing is on until the person says so.
type consentState struct {
	Account    string                           `json:"account,omitempty"`
	Categories map[candor.Category]consentEntry `json:"categories"`
	Checked    time.Time                        `json:"checked,omitzero"`
}

func (s *consentState) on(c candor.Category) bool { return s.Categories[c].On }

func (s *consentState) set(c candor.Category, e consentEntry) {
	if s.Categories == nil {
		s.Categories = make(map[candor.Category]consentEntry)
	}
	s.Categories[c] = e
}

// record is one local record of a category.
type record struct {
	ID string `json:"id"`
	// Version is the server's version of the record this phone last saw;
	// 0 for a record the server has never had (in the current epoch).
	Version int64 `json:"version"`
	// Dirty marks a local change not yet accepted by the server.
	Dirty bool `json:"dirty,omitempty"`
	// Deleted marks a local deletion waiting to be pushed as a tombstone.
	Deleted bool   `json:"deleted,omitempty"`
	Data    []byte `json:"data,omitempty"`
	// Sent lists the changes of this record pushed without an answer (the
	// connection dropped): the server may have committed any of them. They
	// are kept until the server's state of the record is known, so that
	// the phone recognises its own write when it meets it (see resolve).
	Sent []sent `json:"sent,omitempty"`
}

// sent is a pushed change whose answer never came: the version the server
// would have stored it under and what it held (a deletion, or the SHA-256
// of the data).
type sent struct {
	Version int64  `json:"version"`
	Deleted bool   `json:"deleted,omitempty"`
	Digest  []byte `json:"digest,omitempty"`
}

// sentChange describes the change r is about to push based on base.
func sentChange(r *record, base int64) sent {
	if r.Deleted {
		return sent{Version: base + 1, Deleted: true}
	}
	d := sha256.Sum256(r.Data)
	return sent{Version: base + 1, Digest: d[:]}
}

// remember adds c to r.Sent unless it is there already (the same change
// pushed again after another lost answer).
func (r *record) remember(c sent) {
	for _, s := range r.Sent {
		if s.Version == c.Version && s.Deleted == c.Deleted && bytes.Equal(s.Digest, c.Digest) {
			return
		}
	}
	r.Sent = append(r.Sent, c)
}

// wrote reports whether remote, the server's state of r, is one of the
// changes r pushed without hearing back: the same version with the same
// content. Two phones cannot both have written one version of a record, so
// a match is this phone's own write, committed.
func (r *record) wrote(remote api.Record) bool {
	for _, s := range r.Sent {
		if s.Version != remote.Version || s.Deleted != remote.Deleted {
			continue
		}
		if d := sha256.Sum256(remote.Data); s.Deleted || bytes.Equal(s.Digest, d[:]) {
			return true
		}
	}
	return false
}

// base is the version a push of r is based on. A deletion of a record
// whose creation was pushed without an answer is based on the version that
// creation asked for: if it was committed, the deletion applies; if not,
// the server answers that there is no such record and the record is gone.
func (r *record) base() int64 {
	if r.Version > 0 || !r.Deleted {
		return r.Version
	}
	var v int64
	for _, s := range r.Sent {
		v = max(v, s.Version)
	}
	return v
}

// categoryState is the local copy of one category and how far it is synced.
type categoryState struct {
	// Account is the account the epoch and cursor belong to.
	Account string `json:"account,omitempty"`
	// Epoch is the consent epoch the records were last synced against.
	Epoch int64 `json:"epoch"`
	// Cursor is the position in the change feed pulled up to.
	Cursor   int64     `json:"cursor"`
	LastSync time.Time `json:"last_sync,omitzero"`
	Records  []*record `json:"records"`

	index map[string]int // record id → position in Records
}

func (s *categoryState) reindex() {
	s.index = make(map[string]int, len(s.Records))
	for i, r := range s.Records {
		s.index[r.ID] = i
	}
}

func (s *categoryState) get(id string) *record {
	if s.index == nil {
		s.reindex()
	}
	if i, ok := s.index[id]; ok {
		return s.Records[i]
	}
	return nil
}

func (s *categoryState) add(r *record) {
	if s.index == nil {
		s.reindex()
	}
	s.index[r.ID] = len(s.Records)
	s.Records = append(s.Records, r)
}

// remove drops a record from the local store entirely.
func (s *categoryState) remove(id string) {
	if s.index == nil {
		s.reindex()
	}
	i, ok := s.index[id]
	if !ok {
		return
	}
	s.Records = append(s.Records[:i], s.Records[i+1:]...)
	s.reindex()
}

// sweep drops the records synced before (Version > 0) that a full pass of
// the feed did not find live: they were deleted elsewhere and their
// tombstones are gone. Records with local changes stay.
func (s *categoryState) sweep(live map[string]bool) {
	kept := s.Records[:0]
	for _, r := range s.Records {
		if r.Dirty || r.Version == 0 || live[r.ID] {
			kept = append(kept, r)
		}
	}
	clear(s.Records[len(kept):])
	s.Records = kept
	s.reindex()
}

// live returns the records the person sees: not deleted.
func (s *categoryState) live() []*record {
	var out []*record
	for _, r := range s.Records {
		if !r.Deleted {
			out = append(out, r)
		}
	}
	return out
}

// dirty returns the records with a change to push, in local order.
func (s *categoryState) dirty() []*record {
	var out []*record
	for _, r := range s.Records {
		if r.Dirty {
			out = append(out, r)
		}
	}
	return out
}

// reset forgets everything the phone knew of the cloud copy, because it is
// gone (the category was turned off, shredding it, and on again) or belongs
// to another account: the cursor goes back to the start, every record the
// person still has becomes new (version 0, to be pushed), and pending
// deletions are dropped, there being nothing left in the cloud to delete.
func (s *categoryState) reset() {
	s.Cursor = 0
	kept := s.Records[:0]
	for _, r := range s.Records {
		if r.Deleted {
			continue
		}
		r.Version = 0
		r.Dirty = true
		r.Sent = nil
		kept = append(kept, r)
	}
	clear(s.Records[len(kept):])
	s.Records = kept
	s.reindex()
}

// writeJSON replaces path with v as indented JSON, atomically: readers see
// the old content or the new, never a mix, and a failure leaves the old
// content in place. The file is 0600.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return candor.Wrap(candor.Internal, "cannot encode the phone's state", err)
	}
	b = append(b, '\n')
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return candor.Wrap(candor.Internal, "cannot write the phone's state", err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return candor.Wrap(candor.Internal, "cannot write the phone's state", err)
	}
	if err := f.Chmod(0o600); err != nil {
		return fail(err)
	}
	if _, err := f.Write(b); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return candor.Wrap(candor.Internal, "cannot write the phone's state", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// readJSON loads path into v. A missing file is a NotFound error.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return candor.Wrap(candor.NotFound, "no such state file", err)
	}
	if err != nil {
		return candor.Wrap(candor.Internal, "cannot read the phone's state", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return candor.Wrap(candor.Integrity, "the phone's state file "+filepath.Base(path)+" is damaged", err)
	}
	return nil
}
