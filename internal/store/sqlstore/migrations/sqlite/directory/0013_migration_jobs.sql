-- Region migration jobs, kept in the directory so that every instance sees
-- them, with a lease: holder runs the job until lease_us and renews it;
-- past it, any instance may take the job over. finished_us is NULL while
-- the job is unfinished, and at most one job is unfinished (the unique
-- partial index). target is '' for a job that resumes stopped moves.
CREATE TABLE migration_jobs (
	id TEXT PRIMARY KEY,
	started_by TEXT NOT NULL,
	target TEXT NOT NULL,
	country TEXT NOT NULL,
	account TEXT NOT NULL,
	resume INTEGER NOT NULL,
	total INTEGER NOT NULL,
	done INTEGER NOT NULL,
	error TEXT NOT NULL,
	started_us INTEGER NOT NULL,
	finished_us INTEGER,
	holder TEXT NOT NULL,
	lease_us INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX migration_jobs_one_unfinished ON migration_jobs ((finished_us IS NULL)) WHERE finished_us IS NULL;

-- The first moves of each job (store.MaxJobMoves), in order.
CREATE TABLE migration_job_moves (
	job TEXT NOT NULL REFERENCES migration_jobs (id) ON DELETE CASCADE,
	seq INTEGER NOT NULL,
	account TEXT NOT NULL,
	from_region TEXT NOT NULL,
	to_region TEXT NOT NULL,
	records INTEGER NOT NULL,
	keys INTEGER NOT NULL,
	blobs INTEGER NOT NULL,
	bytes INTEGER NOT NULL,
	already INTEGER NOT NULL,
	PRIMARY KEY (job, seq)
) STRICT;
