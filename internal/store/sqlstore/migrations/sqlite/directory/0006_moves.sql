-- Moving accounts between regions, SQLite: moving is the region an
-- account is being copied to, NULL when it is not moving. While it is
-- set the account's data is not served; SwitchRegion clears it as it
-- changes the home region.

ALTER TABLE directory_entries ADD COLUMN moving TEXT;
