package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client/auditproof"
)

// auditFile keeps what the phone has seen of its region's audit log: the
// verifier key it trusts (pinned at first use) and the last checkpoint it
// verified, so a log that is rolled back or forked later is caught.
const auditFile = "audit.json"

type auditState struct {
	Key        string `json:"key"`
	Log        string `json:"log"`
	Size       int64  `json:"size"`
	Hash       []byte `json:"hash"`
	Checkpoint string `json:"checkpoint"`
	// Account is the account's pseudonym in the logs, pinned from the first
	// entry seen. Shown is, per log, what this phone was shown of it: an
	// entry of another account, or entries up to Upto other than before,
	// mean the server chose what to show.
	Account string              `json:"account,omitempty"`
	Shown   map[string]shownLog `json:"shown,omitempty"`
}

// shownLog is what a phone was shown of one log (auditproof.Shown, whose
// check the browser runs too).
type shownLog = auditproof.Shown

// Access is one verified entry of the account's access log (package
// auditproof, whose checks the browser runs too).
type Access = auditproof.Access

var errLog = auditproof.Errorf

// AccessLog fetches every access to the account's data recorded in its
// home region's audit log — this account's devices' syncs and consent
// changes, every staff read with its reason and approvers, every refusal —
// and verifies each entry: the checkpoint's signature (with the key this
// phone pinned the first time), the checkpoint's consistency with the last
// one this phone saw (a rolled-back or forked log is refused), and each
// entry's inclusion proof. It fails with candor.Integrity, naming what
// failed, rather than return anything unverified.
func (c *Client) AccessLog(ctx context.Context) ([]Access, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return nil, errNotSignedIn
	}
	r := c.remote()
	path := filepath.Join(c.dir, auditFile)
	var st auditState
	if err := readJSON(path, &st); err != nil && !candor.Is(err, candor.NotFound) {
		return nil, err
	}
	if st.Key == "" {
		var key api.AuditKey
		if err := r.Do(ctx, http.MethodGet, "/audit/key", nil, &key); err != nil {
			return nil, err
		}
		st.Key = key.Key
	}
	verifier, err := auditproof.Verifier(st.Key)
	if err != nil {
		return nil, errLog("the pinned verifier key is not valid")
	}
	var out []Access
	var accounts []string // the account pseudonym each entry names
	var checked api.Checkpoint
	var tree tlog.Tree
	for after := int64(-1); ; {
		var page api.AccessLog
		if err := r.Do(ctx, http.MethodGet, fmt.Sprintf("/account/access-log?after=%d", after), nil, &page); err != nil {
			return nil, err
		}
		if tree, err = auditproof.CheckCheckpoint(auditproof.Checkpoint(page.Checkpoint), verifier); err != nil {
			return nil, err
		}
		if page.Checkpoint.Note != checked.Note {
			if err := c.checkConsistency(ctx, st, page.Checkpoint, tree); err != nil {
				return nil, err
			}
			st.Log, st.Size, st.Hash, st.Checkpoint = page.Checkpoint.Log, tree.N, tree.Hash[:], page.Checkpoint.Note
			checked = page.Checkpoint
		}
		for _, e := range page.Entries {
			a, account, err := auditproof.CheckEntry(auditproof.Entry(e), tree)
			if err != nil {
				return nil, err
			}
			out, accounts = append(out, a), append(accounts, account)
			after = e.Index
		}
		if !page.More || len(page.Entries) == 0 {
			break
		}
	}
	if err := checkShown(&st, out, accounts); err != nil {
		return nil, err
	}
	if err := writeJSON(path, st); err != nil {
		return nil, err
	}
	return out, nil
}

// AuditKeyFingerprint returns the fingerprint (auditproof.Fingerprint) of
// the audit verifier key this phone pinned, for the owner to compare with
// the one another device shows (the privacy center in a browser); it is ""
// until AccessLog has pinned a key.
func (c *Client) AuditKeyFingerprint() (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var st auditState
	switch err := readJSON(filepath.Join(c.dir, auditFile), &st); {
	case candor.Is(err, candor.NotFound):
		return "", nil
	case err != nil:
		return "", err
	case st.Key == "":
		return "", nil
	}
	return auditproof.Fingerprint(st.Key), nil
}

// checkShown checks what the server chose to show against what this phone
// saw before: every entry names the one account pseudonym pinned from the
// first, indexes rise, and no entry the phone was shown before is left
// out. Which entries are the account's is chosen by a column of the
// server's database; this is the phone's own check of that choice (audit
// verify checks the column against each entry for everyone).
//
// The log only grows and keeps every entry, so what an honest server shows
// up to an index never changes; a moved account's logs are each kept
// apart, so going back to a log checks it against what was shown of it.
func checkShown(st *auditState, shown []Access, accounts []string) error {
	account, err := auditproof.CheckOneAccount(shown, accounts, st.Account)
	if err != nil {
		return err
	}
	st.Account = account
	var before *shownLog
	if b, ok := st.Shown[st.Log]; ok {
		before = &b
	}
	now, err := auditproof.CheckShown(before, shown)
	if err != nil {
		return err
	}
	if now != nil {
		if st.Shown == nil {
			st.Shown = map[string]shownLog{}
		}
		st.Shown[st.Log] = *now
	}
	return nil
}

// checkConsistency checks that a new checkpoint extends the last one this
// phone saw of the same log, fetching the consistency proof when it grew.
func (c *Client) checkConsistency(ctx context.Context, st auditState, cp api.Checkpoint, tree tlog.Tree) error {
	if st.Checkpoint == "" || st.Log != cp.Log || st.Size == 0 {
		return nil // first sight of this log (or of an empty one): trust on first use
	}
	old := tlog.Tree{N: st.Size}
	copy(old.Hash[:], st.Hash)
	if tree.N <= old.N {
		return auditproof.CheckExtends(old, tree, nil)
	}
	var proof api.Proof
	if err := c.remote().Do(ctx, http.MethodGet, fmt.Sprintf("/audit/%s/consistency?old=%d&size=%d", cp.Log, st.Size, tree.N), nil, &proof); err != nil {
		return err
	}
	return auditproof.CheckExtends(old, tree, proof.Proof)
}

// AccessRequests lists the staff access requests made for this account,
// newest first, with whether each is a usable grant now.
func (c *Client) AccessRequests(ctx context.Context) ([]api.AccessRequest, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return nil, errNotSignedIn
	}
	var out api.AccessRequests
	return out.Requests, c.remote().Do(ctx, http.MethodGet, "/account/access-requests", nil, &out)
}

// ApproveAccessRequest gives the owner's approval to a staff access request
// (needed only when the account requires it; see SetOwnerApproval).
func (c *Client) ApproveAccessRequest(ctx context.Context, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return errNotSignedIn
	}
	return c.remote().Do(ctx, http.MethodPost, "/account/access-requests/"+url.PathEscape(id)+"/approve", nil, nil)
}

// SetOwnerApproval turns on or off this account's own approval of staff
// access: when on, no staff member can read the account's data, however
// many approvers agree, until the owner approves too.
func (c *Client) SetOwnerApproval(ctx context.Context, required bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return errNotSignedIn
	}
	return c.remote().Do(ctx, http.MethodPut, "/account/staff-access", api.StaffAccessSetting{OwnerApproval: required}, nil)
}

// Retention returns how long the account's home region keeps each kind of
// data.
func (c *Client) Retention(ctx context.Context) (api.Retention, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return api.Retention{}, errNotSignedIn
	}
	var out api.Retention
	return out, c.remote().Do(ctx, http.MethodGet, "/account/retention", nil, &out)
}
