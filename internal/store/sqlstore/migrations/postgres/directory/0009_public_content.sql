-- Public content (published greetings, update metadata), in the store
-- every instance shares, so that it survives restarts and every instance
-- serves the same. Nothing personal.

CREATE TABLE public_content (
	name TEXT PRIMARY KEY,
	data BYTEA NOT NULL,
	updated_us BIGINT NOT NULL
);
