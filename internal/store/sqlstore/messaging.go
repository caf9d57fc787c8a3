package sqlstore

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

var _ store.Messages = (*RegionStore)(nil)

// PutMessagingKeys publishes a device's public messaging keys, replacing
// those it published before. A zero Created is the time of the call.
// NotFound if the account does not exist; Invalid if a field is empty.
func (s *RegionStore) PutMessagingKeys(ctx context.Context, k store.MessagingKeys) error {
	if k.Account == "" || k.Device == "" || len(k.HPKE) == 0 || len(k.Sign) == 0 {
		return candor.E(candor.Invalid, "messaging keys need an account, a device and both keys")
	}
	_, err := s.db.writer().exec(ctx, `INSERT INTO messaging_keys (account, device, hpke, sign, created_us) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (account, device) DO UPDATE SET hpke = excluded.hpke, sign = excluded.sign, created_us = excluded.created_us`,
		string(k.Account), string(k.Device), k.HPKE, k.Sign, micros(stamp(k.Created)))
	switch {
	case s.db.dialect.foreignKey(err):
		return errNoAccount
	case err != nil:
		return internal("put messaging keys", err)
	}
	return nil
}

const messagingKeyColumns = `device, hpke, sign, created_us`

func scanMessagingKeys(sc scanner, account candor.AccountID) (store.MessagingKeys, error) {
	k := store.MessagingKeys{Account: account}
	var created int64
	err := sc.Scan(&k.Device, &k.HPKE, &k.Sign, &created)
	k.Created = fromMicros(created)
	return k, err
}

// MessagingKeys lists the keys of an account's devices, by device id; none
// for an unknown account.
func (s *RegionStore) MessagingKeys(ctx context.Context, account candor.AccountID) ([]store.MessagingKeys, error) {
	return queryAll(ctx, s.db.reader(), "list messaging keys", func(sc scanner) (store.MessagingKeys, error) {
		return scanMessagingKeys(sc, account)
	}, `SELECT `+messagingKeyColumns+` FROM messaging_keys WHERE account = ? ORDER BY device`, string(account))
}

// DeleteMessaging removes an account's messaging keys, the envelopes queued
// for its devices and the receipts queued for them, in one transaction.
// Envelopes the account sent to others stay in their queues. An absent
// account is not an error.
func (s *RegionStore) DeleteMessaging(ctx context.Context, account candor.AccountID) error {
	if err := s.db.inTx(ctx, func(r runner) error {
		return deleteMessaging(ctx, r, account, "")
	}); err != nil {
		return err
	}
	return s.db.scrub(ctx) // messaging off, or the account deleted: its queues leave the files too
}

// DeleteDeviceMessaging removes one device's keys, queued envelopes and
// receipts, and appends rec, in one transaction.
func (s *RegionStore) DeleteDeviceMessaging(ctx context.Context, rec store.AuditRecord, account candor.AccountID, device candor.DeviceID) error {
	if err := s.auditLog.access(ctx, rec, func(r runner) error {
		return deleteMessaging(ctx, r, account, device)
	}); err != nil {
		return err
	}
	return s.db.scrub(ctx)
}

// deleteMessaging deletes account's messaging rows (only device's, unless
// device is empty) in the caller's transaction.
func deleteMessaging(ctx context.Context, r runner, account candor.AccountID, device candor.DeviceID) error {
	where, args := ` WHERE account = ?`, []any{string(account)}
	if device != "" {
		where, args = where+` AND device = ?`, append(args, string(device))
	}
	for _, table := range []string{"messaging_keys", "envelopes", "receipts"} {
		if _, err := r.exec(ctx, `DELETE FROM `+table+where, args...); err != nil {
			return internal("delete messaging", err)
		}
	}
	return nil
}

const (
	envelopeColumns = `id, sender, data, created_us, expires_us`
	envelopeWidth   = 7
	insertEnvelopes = `INSERT INTO envelopes (account, device, ` + envelopeColumns + `) VALUES `
)

func scanEnvelope(sc scanner, account candor.AccountID, device candor.DeviceID) (store.Envelope, error) {
	e := store.Envelope{Account: account, Device: device}
	var created, expires int64
	err := sc.Scan(&e.ID, &e.From, &e.Data, &created, &expires)
	e.Created, e.Expires = fromMicros(created), fromMicros(expires)
	return e, err
}

// Enqueue stores envelopes, all or none. A zero Created is the time of the
// call. Conflict if an envelope with the same (Account, Device, ID) is
// queued (device ids are unique across accounts, so this is the contract's
// (ID, Device)), also within envs; NotFound if an Account does not exist;
// Invalid if an envelope lacks an id, account, device, sender or expiry.
//
// Up to batchRows envelopes are one multi-row INSERT, sent without a
// transaction around it (see inStatement): with SQLite's single writer, the
// time each Enqueue holds it is what bounds the messages per second. More
// are inserted batchRows at a time in one transaction.
func (s *RegionStore) Enqueue(ctx context.Context, envs []store.Envelope) error {
	if len(envs) == 0 {
		return nil
	}
	now := stamp(time.Time{})
	args := make([]any, 0, envelopeWidth*len(envs))
	for _, e := range envs {
		if e.ID == "" || e.Account == "" || e.Device == "" || e.From == "" || e.Expires.IsZero() {
			return candor.E(candor.Invalid, "an envelope needs an id, an account, a device, a sender and an expiry")
		}
		created := now
		if !e.Created.IsZero() {
			created = stamp(e.Created)
		}
		data := e.Data
		if data == nil {
			data = []byte{}
		}
		args = append(args, string(e.Account), string(e.Device), e.ID, string(e.From), data, micros(created), micros(e.Expires))
	}
	err := s.enqueue.write(ctx, args)
	switch {
	case s.db.dialect.unique(err):
		return candor.Wrap(candor.Conflict, "the message is queued for the device already", err)
	case s.db.dialect.foreignKey(err):
		return candor.Wrap(candor.NotFound, "account not found", err)
	case err != nil:
		return internal("enqueue", err)
	}
	return nil
}

// Pending returns up to limit envelopes queued for a device that have not
// expired at now (Expires >= now), oldest first (by Created, then ID). It
// reads the envelopes_pending index in order. Invalid if limit is not
// positive.
func (s *RegionStore) Pending(ctx context.Context, account candor.AccountID, device candor.DeviceID, now time.Time, limit int) ([]store.Envelope, error) {
	if limit <= 0 {
		return nil, candor.E(candor.Invalid, "limit must be positive")
	}
	return queryAll(ctx, s.db.reader(), "read pending envelopes", func(sc scanner) (store.Envelope, error) {
		return scanEnvelope(sc, account, device)
	}, `SELECT `+envelopeColumns+` FROM envelopes
		WHERE account = ? AND device = ? AND expires_us >= ? ORDER BY created_us, id LIMIT ?`,
		string(account), string(device), micros(now), limit)
}

// Ack deletes the envelopes queued for a device with the given message ids
// and returns those it deleted, oldest first (expired ones not yet purged
// included); unknown ids are skipped. Each envelope is returned to one
// caller only, however many ack it at once. Up to batchRows ids are one
// DELETE by primary key (see inStatement); more are deleted in one
// transaction.
func (s *RegionStore) Ack(ctx context.Context, account candor.AccountID, device candor.DeviceID, ids []string) ([]store.Envelope, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var out []store.Envelope
	ack := func(r runner) error {
		out = out[:0]
		for part := range slices.Chunk(ids, batchRows) {
			args := make([]any, 0, 2+len(part))
			args = append(args, string(account), string(device))
			for _, id := range part {
				args = append(args, id)
			}
			deleted, err := queryAll(ctx, r, "ack envelopes", func(sc scanner) (store.Envelope, error) {
				return scanEnvelope(sc, account, device)
			}, `DELETE FROM envelopes WHERE account = ? AND device = ? AND id IN (`+
				placeholders(len(part), 1)+`) RETURNING `+envelopeColumns, args...)
			if err != nil {
				return err
			}
			out = append(out, deleted...)
		}
		return nil
	}
	if err := s.db.inStatement(ctx, len(ids), ack); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b store.Envelope) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

const receiptWidth = 5

// PutReceipts stores receipts, all or none; a receipt already queued (same
// Account, Device, ID and ToDevice) is kept as it is. A zero Time is the
// time of the call. NotFound if an Account does not exist; Invalid if a
// receipt lacks an id, account, device or delivered-to device.
func (s *RegionStore) PutReceipts(ctx context.Context, rs []store.Receipt) error {
	if len(rs) == 0 {
		return nil
	}
	now := stamp(time.Time{})
	args := make([]any, 0, receiptWidth*len(rs))
	for _, x := range rs {
		if x.ID == "" || x.Account == "" || x.Device == "" || x.ToDevice == "" {
			return candor.E(candor.Invalid, "a receipt needs an id, an account, a device and the device it was delivered to")
		}
		t := now
		if !x.Time.IsZero() {
			t = stamp(x.Time)
		}
		args = append(args, string(x.Account), string(x.Device), x.ID, string(x.ToDevice), micros(t))
	}
	err := s.db.inStatement(ctx, len(rs), func(r runner) error {
		for part := range slices.Chunk(args, batchRows*receiptWidth) {
			if _, err := r.exec(ctx, `INSERT INTO receipts (account, device, id, to_device, time_us) VALUES `+
				placeholders(len(part)/receiptWidth, receiptWidth)+
				` ON CONFLICT (account, device, id, to_device) DO NOTHING`, part...); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case s.db.dialect.foreignKey(err):
		return candor.Wrap(candor.NotFound, "account not found", err)
	case err != nil:
		return internal("put receipts", err)
	}
	return nil
}

// Receipts returns up to limit receipts queued for a device, oldest first
// (by Time, then ID and ToDevice), reading the receipts_time index in
// order. Invalid if limit is not positive.
func (s *RegionStore) Receipts(ctx context.Context, account candor.AccountID, device candor.DeviceID, limit int) ([]store.Receipt, error) {
	if limit <= 0 {
		return nil, candor.E(candor.Invalid, "limit must be positive")
	}
	return queryAll(ctx, s.db.reader(), "read receipts", func(sc scanner) (store.Receipt, error) {
		x := store.Receipt{Account: account, Device: device}
		var t int64
		err := sc.Scan(&x.ID, &x.ToDevice, &t)
		x.Time = fromMicros(t)
		return x, err
	}, `SELECT id, to_device, time_us FROM receipts
		WHERE account = ? AND device = ? ORDER BY time_us, id, to_device LIMIT ?`,
		string(account), string(device), limit)
}

// AckReceipts deletes the receipts queued for a device with the given
// message ids (for every device they were delivered to), all or none;
// unknown ids are skipped.
func (s *RegionStore) AckReceipts(ctx context.Context, account candor.AccountID, device candor.DeviceID, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	return s.db.inStatement(ctx, len(ids), func(r runner) error {
		for part := range slices.Chunk(ids, batchRows) {
			args := make([]any, 0, 2+len(part))
			args = append(args, string(account), string(device))
			for _, id := range part {
				args = append(args, id)
			}
			if _, err := r.exec(ctx, `DELETE FROM receipts WHERE account = ? AND device = ? AND id IN (`+
				placeholders(len(part), 1)+`)`, args...); err != nil {
				return internal("ack receipts", err)
			}
		}
		return nil
	})
}

// expireBatch bounds the envelopes one statement of ExpireEnvelopes
// deletes, so that a large purge does not hold SQLite's single writer for
// long: Enqueue and Ack get their turn between batches.
const expireBatch = 1000

// ExpireEnvelopes deletes the envelopes whose Expires is before now and
// reports how many, expireBatch at a time (each batch commits on its own,
// so a failure part way leaves the earlier batches deleted).
func (s *RegionStore) ExpireEnvelopes(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for {
		res, err := s.db.writer().exec(ctx, `DELETE FROM envelopes WHERE (account, device, id) IN (
			SELECT account, device, id FROM envelopes WHERE expires_us < ? ORDER BY expires_us LIMIT ?)`,
			micros(now), expireBatch)
		if err != nil {
			return total, internal("expire envelopes", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, internal("expire envelopes", err)
		}
		total += int(n)
		if n < expireBatch {
			return total, nil
		}
	}
}
