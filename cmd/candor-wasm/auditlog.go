//go:build js && wasm

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"syscall/js"

	"golang.org/x/mod/sumdb/note"

	"github.com/candorcloud/candor/client/auditproof"
)

// Bounds on what the page hands in, checked before any parsing: a page of
// the access log holds at most 500 entries (internal/httpapi), each with
// an event of a few hundred bytes and a proof of at most 126 hashes.
const (
	maxPageJSON  = 8 << 20
	maxEntries   = 1000
	maxNoteJSON  = 64 << 10
	maxProofJSON = 64 << 10
	maxKey       = 1 << 10
	maxAccount   = 1 << 10
	maxShownJSON = 64 << 20
	maxShown     = 100_000
	maxStateJSON = 1 << 10
)

// entry is an Access as the page gets it: with staff set apart as the
// phone's listing sets them apart, by their actor.
type entry struct {
	auditproof.Access
	Staff bool `json:"staff"`
}

type checkedPage struct {
	Checkpoint struct {
		Log  string `json:"log"`
		Size int64  `json:"size"`
		Hash []byte `json:"hash"`
	} `json:"checkpoint"`
	Entries []entry `json:"entries"`
	Account string  `json:"account"`
}

// checkEntries(key, pageJSON, pinnedAccount) verifies one page of GET
// /v1/account/access-log with the verifier key: the checkpoint's
// signature, each entry's inclusion proof, and that every entry names one
// account in rising order — pinnedAccount when it is given and not "" (the
// one the page pinned for the signed-in account), else the first entry's.
// It resolves to the checked checkpoint (its log, and the size and hash
// from the signed note), the entries and the account they name ("" for a
// page of no entries and no pinned account).
func checkEntries(_ js.Value, args []js.Value) any {
	return promise(func() (any, error) {
		if len(args) < 2 || len(args) > 3 || args[0].Type() != js.TypeString || args[1].Type() != js.TypeString ||
			(len(args) == 3 && args[2].Type() != js.TypeString && !args[2].IsNull() && !args[2].IsUndefined()) {
			return nil, errors.New("checkEntries(key, pageJSON, pinnedAccount): two or three strings are needed")
		}
		pinned := ""
		if len(args) == 3 && args[2].Type() == js.TypeString {
			var err error
			if pinned, err = stringArg(args[2], "pinned account", maxAccount); err != nil {
				return nil, err
			}
		}
		v, err := verifier(args[0])
		if err != nil {
			return nil, err
		}
		text, err := stringArg(args[1], "access log page", maxPageJSON)
		if err != nil {
			return nil, err
		}
		var page auditproof.Page
		if err := json.Unmarshal([]byte(text), &page); err != nil {
			return nil, errors.New("the access log page is not valid JSON of a page")
		}
		if len(page.Entries) > maxEntries {
			return nil, fmt.Errorf("the access log page holds %d entries, more than %d", len(page.Entries), maxEntries)
		}
		tree, err := auditproof.CheckCheckpoint(page.Checkpoint, v)
		if err != nil {
			return nil, err
		}
		var out checkedPage
		out.Checkpoint.Log, out.Checkpoint.Size, out.Checkpoint.Hash = page.Checkpoint.Log, tree.N, tree.Hash[:]
		out.Entries = []entry{}
		shown := make([]auditproof.Access, 0, len(page.Entries))
		accounts := make([]string, 0, len(page.Entries))
		for _, e := range page.Entries {
			a, account, err := auditproof.CheckEntry(e, tree)
			if err != nil {
				return nil, err
			}
			shown, accounts = append(shown, a), append(accounts, account)
			out.Entries = append(out.Entries, entry{Access: a, Staff: a.Staff()})
		}
		account, err := auditproof.CheckOneAccount(shown, accounts, pinned)
		if err != nil {
			return nil, err
		}
		out.Account = account
		return fromJSON(out)
	})
}

// checkConsistency(key, oldNote, newCheckpointJSON, proofJSON) checks that
// the new checkpoint extends the old one the page kept: both verify with
// the key, both are of the same log, and the consistency proof (the text
// of GET /v1/audit/{log}/consistency?old=…&size=…; may be "" when the
// sizes are equal) proves it. It resolves to true.
func checkConsistency(_ js.Value, args []js.Value) any {
	return promise(func() (any, error) {
		if len(args) != 4 || args[0].Type() != js.TypeString || args[1].Type() != js.TypeString || args[2].Type() != js.TypeString ||
			(args[3].Type() != js.TypeString && !args[3].IsNull() && !args[3].IsUndefined()) {
			return nil, errors.New("checkConsistency(key, oldNote, newCheckpointJSON, proofJSON): four strings are needed")
		}
		v, err := verifier(args[0])
		if err != nil {
			return nil, err
		}
		oldNote, err := stringArg(args[1], "old checkpoint", maxNoteJSON)
		if err != nil {
			return nil, err
		}
		oldOrigin, old, err := auditproof.OpenNote(oldNote, v)
		if err != nil {
			return nil, auditproof.Errorf("the old checkpoint does not verify with this key")
		}
		text, err := stringArg(args[2], "new checkpoint", maxNoteJSON)
		if err != nil {
			return nil, err
		}
		var cp auditproof.Checkpoint
		if err := json.Unmarshal([]byte(text), &cp); err != nil {
			return nil, errors.New("the new checkpoint is not valid JSON of a checkpoint")
		}
		tree, err := auditproof.CheckCheckpoint(cp, v)
		if err != nil {
			return nil, err
		}
		if origin, _, _ := auditproof.OpenNote(cp.Note, v); origin != oldOrigin {
			return nil, auditproof.Errorf("the new checkpoint is of another log than the old one")
		}
		var proof auditproof.Proof
		if args[3].Type() == js.TypeString && args[3].String() != "" {
			text, err := stringArg(args[3], "consistency proof", maxProofJSON)
			if err != nil {
				return nil, err
			}
			if err := json.Unmarshal([]byte(text), &proof); err != nil {
				return nil, errors.New("the consistency proof is not valid JSON of a proof")
			}
		}
		if err := auditproof.CheckExtends(old, tree, proof.Proof); err != nil {
			return nil, err
		}
		return true, nil
	})
}

// checkShown(stateJSON, entriesJSON) checks the entries the page is shown
// now of one log, every page of one load in order (entriesJSON: an array
// of the entries checkEntries resolved to, or of {index}), against what
// this browser was shown of that log before (stateJSON: the {upto, digest}
// it kept, or "" or null when never): the phone's check
// (auditproof.CheckShown), so an entry shown before and now left out — a
// staff read the server would rather hide — is refused. It resolves to
// the state to keep, {upto, digest}, or null while nothing was ever shown.
func checkShown(_ js.Value, args []js.Value) any {
	return promise(func() (any, error) {
		if len(args) != 2 || (args[0].Type() != js.TypeString && !args[0].IsNull() && !args[0].IsUndefined()) || args[1].Type() != js.TypeString {
			return nil, errors.New("checkShown(stateJSON, entriesJSON): two strings are needed")
		}
		var before *auditproof.Shown
		if args[0].Type() == js.TypeString {
			text, err := stringArg(args[0], "shown state", maxStateJSON)
			if err != nil {
				return nil, err
			}
			if text != "" && text != "null" {
				before = new(auditproof.Shown)
				if err := json.Unmarshal([]byte(text), before); err != nil {
					return nil, errors.New("the shown state is not valid JSON of {upto, digest}")
				}
			}
		}
		text, err := stringArg(args[1], "shown entries", maxShownJSON)
		if err != nil {
			return nil, err
		}
		var indexes []struct {
			Index *int64 `json:"index"`
		}
		if err := json.Unmarshal([]byte(text), &indexes); err != nil {
			return nil, errors.New("the shown entries are not valid JSON of an array of entries")
		}
		if len(indexes) > maxShown {
			return nil, fmt.Errorf("the shown entries are %d, more than %d", len(indexes), maxShown)
		}
		shown := make([]auditproof.Access, len(indexes))
		for i, e := range indexes {
			if e.Index == nil {
				return nil, errors.New("a shown entry has no index")
			}
			shown[i].Index = *e.Index
		}
		now, err := auditproof.CheckShown(before, shown)
		if err != nil {
			return nil, err
		}
		if now == nil {
			return js.Null(), nil
		}
		return fromJSON(now)
	})
}

// keyFingerprint(key) resolves to the key's fingerprint, as `candor device
// access-log` prints it.
func keyFingerprint(_ js.Value, args []js.Value) any {
	return promise(func() (any, error) {
		if len(args) != 1 || args[0].Type() != js.TypeString {
			return nil, errors.New("keyFingerprint(key): the key must be a string")
		}
		key, err := stringArg(args[0], "verifier key", maxKey)
		if err != nil {
			return nil, err
		}
		if _, err := auditproof.Verifier(key); err != nil {
			return nil, err
		}
		return auditproof.Fingerprint(key), nil
	})
}

func verifier(v js.Value) (note.Verifier, error) {
	key, err := stringArg(v, "verifier key", maxKey)
	if err != nil {
		return nil, err
	}
	return auditproof.Verifier(key)
}

// stringArg reads a string argument of at most max bytes (UTF-8), checked
// before any parsing. (syscall/js cannot ask a string its length without
// copying it.)
func stringArg(v js.Value, name string, max int) (string, error) {
	s := v.String()
	if len(s) > max {
		return "", fmt.Errorf("the %s is longer than %d bytes", name, max)
	}
	return s, nil
}

// fromJSON hands a Go value to the page as the plain object its JSON is.
func fromJSON(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return js.Global().Get("JSON").Call("parse", string(b)), nil
}
