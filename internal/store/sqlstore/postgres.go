package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/candorcloud/candor"
)

// OpenPostgresRegion connects to the PostgreSQL database named by dsn (a
// postgres:// URL or key=value string as pgx accepts; a search_path
// parameter selects the schema, which is created if it does not exist),
// brings the region schema up to date and returns the region store.
// Several processes may open the same database at once: an advisory lock
// makes them apply each migration once.
//
// An error names the database (host, port, database and schema, never the
// password) and says why it could not be opened.
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
	forShare:  " FOR SHARE",
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
		// pgx's message may quote the string, password and all.
		return nil, candor.E(candor.Invalid, "the PostgreSQL connection string is not valid")
	}
	d, err := connectPostgres(ctx, cfg, component)
	if err != nil {
		return nil, fmt.Errorf("postgres %s: %w", describePostgres(cfg), err)
	}
	return d, nil
}

func connectPostgres(ctx context.Context, cfg *pgx.ConnConfig, component string) (*db, error) {
	// pgx prepares and caches statements; after a few executions PostgreSQL
	// would switch them to a generic plan, which for a push's "id IN (...)"
	// of hundreds of parameters is many times slower than a custom plan.
	if _, set := cfg.RuntimeParams["plan_cache_mode"]; !set {
		cfg.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	}
	c := stdlib.OpenDB(*cfg)
	if err := c.PingContext(ctx); err != nil {
		c.Close()
		return nil, internal("connect", err)
	}
	if err := createSchema(ctx, c, cfg.RuntimeParams["search_path"]); err != nil {
		c.Close()
		return nil, err
	}
	d := &db{dialect: postgresDialect, write: c, read: c}
	if err := d.migrate(ctx, component); err != nil {
		c.Close()
		return nil, err
	}
	return d, nil
}

// describePostgres names the database cfg connects to, for an operator
// reading an error: host, port, database and search_path, never the user's
// password.
func describePostgres(cfg *pgx.ConnConfig) string {
	s := fmt.Sprintf("database %q on %s:%d", cfg.Database, cfg.Host, cfg.Port)
	if p := cfg.RuntimeParams["search_path"]; p != "" {
		s += fmt.Sprintf(" (search_path %s)", p)
	}
	return s
}

// createSchema creates the first schema of searchPath if it does not exist,
// so that a DSN naming a schema of its own works on an empty database. A
// search_path that names none ("", "$user", "public") leaves the database
// as it is. Without the right to create it, the error says the schema is
// missing and must be created by someone who may.
func createSchema(ctx context.Context, c *sql.DB, searchPath string) error {
	name, ok := firstSchema(searchPath)
	if !ok {
		return nil
	}
	var exists bool
	if err := c.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", name).Scan(&exists); err != nil {
		return internal("look for schema "+name, err)
	}
	if exists {
		return nil
	}
	if _, err := c.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("schema %q named by search_path does not exist and could not be created (create it, or grant CREATE on the database): %w", name, err)
	}
	return nil
}

// firstSchema returns the first schema named in a search_path setting,
// unquoted, and whether it is one to create.
func firstSchema(searchPath string) (string, bool) {
	first, _, _ := strings.Cut(searchPath, ",")
	first = strings.TrimSpace(first)
	if len(first) >= 2 && first[0] == '"' && first[len(first)-1] == '"' {
		first = strings.ReplaceAll(first[1:len(first)-1], `""`, `"`)
	} else {
		first = strings.ToLower(first) // as PostgreSQL folds an unquoted name
	}
	switch first {
	case "", "$user", "public", "pg_catalog", "pg_temp":
		return "", false
	}
	return first, true
}
