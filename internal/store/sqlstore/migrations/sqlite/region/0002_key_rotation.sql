-- Key rotation, SQLite: data keys by the KEK version that wraps them, so
-- that listing the keys still to rewrap (one wrapper at a time, in account
-- and category order) and counting keys by wrapper read the index alone,
-- however many keys a region holds.

CREATE INDEX data_keys_wrapper ON data_keys (wrapper, account, category);
