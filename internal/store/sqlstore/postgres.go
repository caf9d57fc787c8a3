package sqlstore

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/candorcloud/candor"
)

// OpenPostgresRegion connects to the PostgreSQL database named by dsn (a
// postgres:// URL or key=value string as pgx accepts; a search_path
// parameter selects the schema), brings the region schema up to date and
// returns the region store. Several processes may open the same database at
// once: an advisory lock makes them apply each migration once.
func OpenPostgresRegion(ctx context.Context, dsn string) (*RegionStore, error) {
	d, err := openPostgres(ctx, dsn, regionSchema)
	if err != nil {
		return nil, err
	}
	return newRegionStore(d), nil
}

// OpenPostgresDirectory is OpenPostgresRegion for the directory store.
func OpenPostgresDirectory(ctx context.Context, dsn string) (*DirectoryStore, error) {
	d, err := openPostgres(ctx, dsn, directorySchema)
	if err != nil {
		return nil, err
	}
	return newDirectoryStore(d), nil
}

var postgresDialect = &dialect{
	name:      "postgres",
	numbered:  true,
	forUpdate: " FOR UPDATE",
	// One lock per schema, held until the migration transaction ends.
	migrationLock: "SELECT pg_advisory_xact_lock(hashtext('candor schema_migrations ' || COALESCE(current_schema(), '')))",
	// One lock per schema, held until InitRoot's or Rekey's transaction ends.
	rootLock:    "SELECT pg_advisory_xact_lock(hashtext('candor root custody ' || COALESCE(current_schema(), '')))",
	unique:      func(err error) bool { return pgCode(err) == "23505" },
	foreignKey:  func(err error) bool { return pgCode(err) == "23503" },
	batchWrites: true,
	bulkInsert:  "SET LOCAL plan_cache_mode = auto",
	blobType:    "BYTEA",
}

func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func openPostgres(ctx context.Context, dsn, component string) (*db, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, candor.Wrap(candor.Invalid, "the PostgreSQL connection string is not valid", err)
	}
	// pgx prepares and caches statements; after a few executions PostgreSQL
	// would switch them to a generic plan, which for a push's "id IN (...)"
	// of hundreds of parameters is many times slower than a custom plan.
	if _, set := cfg.RuntimeParams["plan_cache_mode"]; !set {
		cfg.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	}
	c := stdlib.OpenDB(*cfg)
	if err := c.PingContext(ctx); err != nil {
		c.Close()
		return nil, internal("connect to postgres", err)
	}
	d := &db{dialect: postgresDialect, write: c, read: c}
	if err := d.migrate(ctx, component); err != nil {
		c.Close()
		return nil, err
	}
	return d, nil
}
