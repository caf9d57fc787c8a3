package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// AppendConsent appends e to the account's consent ledger with the next Seq
// of that account, and returns it as stored (Time is kept if set, else the
// time of the call). When e turns a category off, the same transaction
// deletes the category's data key and records; secure_delete (SQLite)
// overwrites them in the file. When the category is in e's state already
// (or e turns off a category never on), nothing is appended to the ledger
// and the latest event is returned (e with Seq 0 if none). NotFound if the
// account does not exist. rec is appended in the same transaction, unless
// it fails.
func (s *RegionStore) AppendConsent(ctx context.Context, rec store.AuditRecord, e store.ConsentEvent) (store.ConsentEvent, error) {
	if !e.Category.Valid() {
		return store.ConsentEvent{}, candor.E(candor.Invalid, "unknown category")
	}
	e.Time = stamp(e.Time)
	err := s.auditLog.access(ctx, rec, func(r runner) error {
		c, err := s.lockAccount(ctx, r, e.Account)
		if err != nil {
			return err
		}
		latest, err := latestConsent(ctx, r, e.Account, e.Category)
		if err != nil {
			return err
		}
		if latest.On == e.On && (latest.Seq > 0 || !e.On) {
			// The category is in this state already (or was never on):
			// nothing to append, and the request is on record all the same.
			if latest.Seq > 0 {
				e = latest
			}
			return nil
		}
		e.Seq = c.consent + 1
		if _, err := r.exec(ctx, `INSERT INTO consent_events
			(account, seq, category, turned_on, device, time_us, policy_version) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			string(e.Account), e.Seq, string(e.Category), e.On, string(e.Device), micros(e.Time), e.PolicyVersion); err != nil {
			return internal("append consent", err)
		}
		if _, err := r.exec(ctx, `UPDATE accounts SET consent_seq = ? WHERE id = ?`, e.Seq, string(e.Account)); err != nil {
			return internal("append consent", err)
		}
		if e.On {
			return nil
		}
		return execAll(ctx, r, "destroy category data", []string{
			`DELETE FROM data_keys WHERE account = ? AND category = ?`,
			`DELETE FROM records WHERE account = ? AND category = ?`,
			`DELETE FROM uploads WHERE account = ? AND category = ?`,
		}, string(e.Account), string(e.Category))
	})
	if err != nil {
		return store.ConsentEvent{}, err
	}
	if !e.On && e.Seq > 0 { // also when it was off already: a deletion not wiped before is wiped now; never on: nothing to wipe
		if err := s.db.scrub(ctx); err != nil {
			return store.ConsentEvent{}, err
		}
	}
	return e, nil
}

// latestConsent returns the latest event of (account, c) in the caller's
// transaction, or a zero event (Seq 0, off) if there is none.
func latestConsent(ctx context.Context, r runner, account candor.AccountID, c candor.Category) (store.ConsentEvent, error) {
	e, err := scanConsent(r.row(ctx, `SELECT `+consentColumns+` FROM consent_events WHERE account = ? AND category = ?
		ORDER BY seq DESC LIMIT 1`, string(account), string(c)), account)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.ConsentEvent{Account: account, Category: c}, nil
	case err != nil:
		return store.ConsentEvent{}, internal("read consent", err)
	}
	return e, nil
}

const consentColumns = `seq, category, turned_on, device, time_us, policy_version`

func scanConsent(sc scanner, account candor.AccountID) (store.ConsentEvent, error) {
	e := store.ConsentEvent{Account: account}
	var t int64
	err := sc.Scan(&e.Seq, &e.Category, &e.On, &e.Device, &t, &e.PolicyVersion)
	e.Time = fromMicros(t)
	return e, err
}

// ConsentLedger lists an account's consent events by Seq ascending; none for
// an unknown account. It reads in a write transaction that appends rec.
func (s *RegionStore) ConsentLedger(ctx context.Context, rec store.AuditRecord, account candor.AccountID) ([]store.ConsentEvent, error) {
	var es []store.ConsentEvent
	err := s.auditLog.access(ctx, rec, func(r runner) error {
		var err error
		es, err = consentEvents(ctx, r, `SELECT `+consentColumns+` FROM consent_events WHERE account = ? ORDER BY seq`, account)
		return err
	})
	if err != nil {
		return nil, err
	}
	return es, nil
}

// ConsentState returns the latest event per category of an account;
// categories never touched are absent.
func (s *RegionStore) ConsentState(ctx context.Context, account candor.AccountID) (map[candor.Category]store.ConsentEvent, error) {
	es, err := consentEvents(ctx, s.db.reader(), `SELECT `+consentColumns+` FROM consent_events e
		WHERE account = ? AND seq = (SELECT MAX(seq) FROM consent_events
			WHERE account = e.account AND category = e.category)`, account)
	if err != nil {
		return nil, err
	}
	state := make(map[candor.Category]store.ConsentEvent, len(es))
	for _, e := range es {
		state[e.Category] = e
	}
	return state, nil
}

func consentEvents(ctx context.Context, r runner, query string, account candor.AccountID) ([]store.ConsentEvent, error) {
	return queryAll(ctx, r, "read consent ledger", func(sc scanner) (store.ConsentEvent, error) {
		return scanConsent(sc, account)
	}, query, string(account))
}

// checkEpoch fails unless the latest consent event of (account, c) is "on"
// with Seq == epoch: ConsentRequired when the category is off or was never
// turned on, and otherwise offEpoch's error. It runs inside the caller's
// transaction, after lockAccount.
func checkEpoch(ctx context.Context, r runner, account candor.AccountID, c candor.Category, epoch int64, offEpoch error) error {
	latest, err := latestConsent(ctx, r, account, c)
	switch {
	case err != nil:
		return err
	case !latest.On:
		return candor.ErrConsent(c)
	case latest.Seq != epoch:
		return offEpoch
	}
	return nil
}
