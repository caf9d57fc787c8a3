-- Accounts left marked moving (a migration that stopped) are found from this
-- index alone, which holds only them.

CREATE INDEX directory_entries_moving ON directory_entries (account) WHERE moving IS NOT NULL;
