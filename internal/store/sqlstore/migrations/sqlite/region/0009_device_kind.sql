-- Devices: kind is empty for a phone and "app" for an app password (a
-- program that signs in with HTTP Basic, such as a CardDAV client); name is
-- the label its owner gave it, empty for a phone.

ALTER TABLE devices ADD COLUMN kind TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN name TEXT NOT NULL DEFAULT '';
