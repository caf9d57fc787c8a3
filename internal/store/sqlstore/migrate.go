package sqlstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// migrationFiles holds the schema of each dialect and component, as
// migrations/<dialect>/<component>/<version>_<name>.sql. A migration is never
// edited once released; a change to the schema is a new file with the next
// version.
//
//go:embed migrations
var migrationFiles embed.FS

// The components, each with its own migrations and its own rows in
// schema_migrations.
const (
	regionSchema    = "region"
	directorySchema = "directory"
)

type migration struct {
	version int64
	name    string
	sql     string
}

// migrations returns the migrations of component for the dialect, by
// version ascending.
func migrations(dialect, component string) ([]migration, error) {
	dir := path.Join("migrations", dialect, component)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	seen := map[int64]bool{}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".sql")
		if !ok || e.IsDir() {
			continue
		}
		num, _, _ := strings.Cut(name, "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil || v <= 0 || seen[v] {
			return nil, fmt.Errorf("bad migration file name %s", path.Join(dir, e.Name()))
		}
		seen[v] = true
		text, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, sql: string(text)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// migrate brings component's schema up to date in one transaction: either
// every pending migration is applied and recorded in schema_migrations, or
// none is. Where the dialect has a migration lock (PostgreSQL), two
// processes opening the same database at once apply each migration once. It
// refuses a database whose schema is newer than this binary knows.
func (d *db) migrate(ctx context.Context, component string) error {
	ms, err := migrations(d.dialect.name, component)
	if err != nil {
		return internal("read migrations", err)
	}
	err = d.inTxFor(ctx, BulkDeadline, func(r runner) error {
		if d.dialect.migrationLock != "" {
			if _, err := r.exec(ctx, d.dialect.migrationLock); err != nil {
				return err
			}
		}
		if _, err := r.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			component TEXT NOT NULL,
			version BIGINT NOT NULL,
			name TEXT NOT NULL,
			applied_us BIGINT NOT NULL,
			PRIMARY KEY (component, version))`); err != nil {
			return err
		}
		var applied int64
		if err := r.row(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = ?`,
			component).Scan(&applied); err != nil {
			return err
		}
		if n := len(ms); n == 0 || applied > ms[n-1].version {
			return fmt.Errorf("database %s schema is at version %d, newer than this binary knows", component, applied)
		}
		for _, m := range ms {
			if m.version <= applied {
				continue
			}
			// Migration files hold several statements and no parameters;
			// they are sent as written, never rebound.
			if _, err := r.c.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			if _, err := r.exec(ctx, `INSERT INTO schema_migrations (component, version, name, applied_us) VALUES (?, ?, ?, ?)`,
				component, m.version, m.name, micros(time.Now())); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return internal("migrate "+component+" schema", err)
	}
	return nil
}
