-- Messaging, PostgreSQL: devices' public keys and the queues of sealed
-- envelopes and delivery receipts waiting for a device. The store sees
-- only opaque bytes; sender is the sending account's id. Like the other
-- tables that hang off an account these refer to it without cascade:
-- DeleteAccount and DeleteMessaging delete their rows.

CREATE TABLE messaging_keys (
	account TEXT NOT NULL REFERENCES accounts (id),
	device TEXT NOT NULL,
	hpke BYTEA NOT NULL,
	sign BYTEA NOT NULL,
	created_us BIGINT NOT NULL,
	PRIMARY KEY (account, device)
);

-- One row per (message, recipient device). Pending reads a device's
-- queue in order from envelopes_pending; Ack deletes by primary key;
-- ExpireEnvelopes walks envelopes_expires.
CREATE TABLE envelopes (
	account TEXT NOT NULL REFERENCES accounts (id),
	device TEXT NOT NULL,
	id TEXT NOT NULL,
	sender TEXT NOT NULL,
	data BYTEA NOT NULL,
	created_us BIGINT NOT NULL,
	expires_us BIGINT NOT NULL,
	PRIMARY KEY (account, device, id)
);

CREATE INDEX envelopes_pending ON envelopes (account, device, created_us, id);
CREATE INDEX envelopes_expires ON envelopes (expires_us);

-- One row per (message, delivered-to device), queued for the sender's
-- device (account, device).
CREATE TABLE receipts (
	account TEXT NOT NULL REFERENCES accounts (id),
	device TEXT NOT NULL,
	id TEXT NOT NULL,
	to_device TEXT NOT NULL,
	time_us BIGINT NOT NULL,
	PRIMARY KEY (account, device, id, to_device)
);

CREATE INDEX receipts_time ON receipts (account, device, time_us, id, to_device);
