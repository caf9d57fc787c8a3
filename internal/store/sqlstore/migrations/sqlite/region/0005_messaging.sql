-- Messaging, SQLite: devices' public keys and the queues of sealed
-- envelopes and delivery receipts waiting for a device. The store sees
-- only opaque bytes; sender is the sending account's id. Like the other
-- tables that hang off an account these refer to it without cascade:
-- DeleteAccount and DeleteMessaging delete their rows.

CREATE TABLE messaging_keys (
	account TEXT NOT NULL REFERENCES accounts (id),
	device TEXT NOT NULL,
	hpke BLOB NOT NULL,
	sign BLOB NOT NULL,
	created_us INTEGER NOT NULL,
	PRIMARY KEY (account, device)
) STRICT;

-- One row per (message, recipient device). Pending reads a device's
-- queue in order from envelopes_pending; Ack deletes by primary key;
-- ExpireEnvelopes walks envelopes_expires. WITHOUT ROWID keeps the rows in
-- the primary key's b-tree, so each Enqueue and Ack writes three b-trees
-- rather than four: the queue is the region's busiest table.
CREATE TABLE envelopes (
	account TEXT NOT NULL REFERENCES accounts (id),
	device TEXT NOT NULL,
	id TEXT NOT NULL,
	sender TEXT NOT NULL,
	data BLOB NOT NULL,
	created_us INTEGER NOT NULL,
	expires_us INTEGER NOT NULL,
	PRIMARY KEY (account, device, id)
) STRICT, WITHOUT ROWID;

CREATE INDEX envelopes_pending ON envelopes (account, device, created_us, id);
CREATE INDEX envelopes_expires ON envelopes (expires_us);

-- One row per (message, delivered-to device), queued for the sender's
-- device (account, device).
CREATE TABLE receipts (
	account TEXT NOT NULL REFERENCES accounts (id),
	device TEXT NOT NULL,
	id TEXT NOT NULL,
	to_device TEXT NOT NULL,
	time_us INTEGER NOT NULL,
	PRIMARY KEY (account, device, id, to_device)
) STRICT;

CREATE INDEX receipts_time ON receipts (account, device, time_us, id, to_device);
