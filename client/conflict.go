package client

import (
	"bytes"

	"github.com/candorcloud/candor/api"
)

// resolution is what becomes of a local record when the server's state of
// the same id is known: Keep is the record under that id afterwards (nil
// when it is gone from the phone), and Copy, when set, is a conflict copy to
// add: the local edit kept under a new id so that it is not lost.
type resolution struct {
	Keep *record
	Copy *record
}

// resolve merges the server's state of a record (remote: from the change
// feed, or the current state returned with a push conflict) into the
// phone's local record of the same id. It is a pure function; newID mints
// the id of a conflict copy. It never drops an edit:
//
//   - the server's state is a change the phone pushed without hearing back
//     (local.Sent: the version it asked for, the same content): the write
//     was the phone's own and was committed. The record takes that version,
//     and whatever the person did since (a further edit, a deletion) stays
//     pending on top of it; nothing is a conflict.
//   - local unchanged (not dirty): the server's state is taken; a tombstone
//     removes the record from the phone.
//   - local edit, server edit with the same data: no conflict; the server's
//     version is taken.
//   - local edit, server edit with different data: the server's state wins
//     the id, and the local edit is kept as a new record (a conflict copy
//     with a new id and base version 0, to be pushed), so both survive.
//   - local deletion, server edit: the edit wins; the local deletion is
//     dropped and the record restored with the server's data.
//   - local edit, server deletion (or no record at all, version 0): the
//     edit wins; it stays pending on top of the tombstone's version and is
//     pushed again, restoring the record everywhere.
//   - local deletion, server deletion: the record is gone.
func resolve(local record, remote api.Record, newID func() string) resolution {
	server := &record{ID: local.ID, Version: remote.Version, Data: remote.Data}
	switch {
	case local.wrote(remote):
		if local.Deleted == remote.Deleted && bytes.Equal(local.Data, remote.Data) {
			if remote.Deleted {
				return resolution{}
			}
			return resolution{Keep: server}
		}
		return resolution{Keep: &record{ID: local.ID, Version: remote.Version, Dirty: true, Deleted: local.Deleted, Data: local.Data}}
	case !local.Dirty && remote.Deleted:
		return resolution{}
	case !local.Dirty:
		return resolution{Keep: server}
	case local.Deleted && remote.Deleted:
		return resolution{}
	case local.Deleted:
		return resolution{Keep: server}
	case remote.Deleted:
		return resolution{Keep: &record{ID: local.ID, Version: remote.Version, Dirty: true, Data: local.Data}}
	case bytes.Equal(local.Data, remote.Data):
		return resolution{Keep: server}
	}
	return resolution{
		Keep: server,
		Copy: &record{ID: newID(), Version: 0, Dirty: true, Data: local.Data},
	}
}

// applyRemote merges one record from the change feed into s. It reports
// whether a conflict copy was made. A record the phone has already seen at
// this version or a later one (such as the echo of its own push) is skipped.
func (s *categoryState) applyRemote(r api.Record, newID func() string) (copied bool) {
	local := s.get(r.ID)
	if local == nil {
		if !r.Deleted {
			s.add(&record{ID: r.ID, Version: r.Version, Data: r.Data})
		}
		return false
	}
	if r.Version <= local.Version {
		return false
	}
	return s.applyResolution(local.ID, resolve(*local, r, newID))
}

// applyResult records the server's answer to one pushed change.
func (s *categoryState) applyResult(res api.ChangeResult, newID func() string) (copied bool) {
	local := s.get(res.ID)
	if local == nil {
		return false
	}
	switch res.Status {
	case api.Applied:
		if local.Deleted {
			s.remove(local.ID)
			return false
		}
		local.Version = res.Version
		local.Dirty = false
		local.Sent = nil
		return false
	case api.Conflict:
		cur := api.Record{ID: res.ID, Deleted: true} // no record on the server at all
		if res.Current != nil && res.Current.Version > 0 {
			cur = *res.Current
		}
		return s.applyResolution(local.ID, resolve(*local, cur, newID))
	}
	return false
}

func (s *categoryState) applyResolution(id string, res resolution) (copied bool) {
	if res.Keep == nil {
		s.remove(id)
	} else {
		*s.get(id) = *res.Keep
	}
	if res.Copy != nil {
		s.add(res.Copy)
		return true
	}
	return false
}
