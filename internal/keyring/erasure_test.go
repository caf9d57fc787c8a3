package keyring_test

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/erasure"
	"github.com/candorcloud/candor/internal/keyring"
	"github.com/candorcloud/candor/internal/keyring/keyringtest"
	"github.com/candorcloud/candor/internal/seal"
	"github.com/candorcloud/candor/internal/store/pgtest"
	"github.com/candorcloud/candor/internal/store/sqlstore"
)

// A directory and a way to copy it as a backup would, then restore the
// copy: snapshot copies it now and returns what opens the copy.
type backup struct {
	dir      *sqlstore.DirectoryStore
	snapshot func(t *testing.T) (restore func(t *testing.T) *sqlstore.DirectoryStore)
}

// sqliteBackup copies the directory's files (main file and write-ahead
// log), as a copy of the data folder would.
func sqliteBackup(t *testing.T) backup {
	path := filepath.Join(t.TempDir(), "directory.db")
	dir, err := sqlstore.OpenSQLiteDirectory(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Close() })
	return backup{dir: dir, snapshot: func(t *testing.T) func(t *testing.T) *sqlstore.DirectoryStore {
		copyDir := t.TempDir()
		for _, suffix := range []string{"", "-wal"} {
			b, err := os.ReadFile(path + suffix)
			if err != nil && suffix == "" {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(copyDir, "directory.db"+suffix), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return func(t *testing.T) *sqlstore.DirectoryStore {
			d, err := sqlstore.OpenSQLiteDirectory(filepath.Join(copyDir, "directory.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			return d
		}
	}}
}

// postgresBackup takes a pg_dump of the directory's schema and restores it
// into a schema of its own, as an operator restoring a backup would.
func postgresBackup(t *testing.T) backup {
	dsn := pgtest.Schema(t)
	if _, err := exec.LookPath("pg_dump"); err != nil {
		t.Skip("pg_dump is not installed")
	}
	dir, err := sqlstore.OpenPostgresDirectory(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Close() })
	u, _ := url.Parse(dsn)
	schema := u.Query().Get("search_path")
	base := *u
	q := base.Query()
	q.Del("search_path")
	base.RawQuery = q.Encode()
	restores := 0
	return backup{dir: dir, snapshot: func(t *testing.T) func(t *testing.T) *sqlstore.DirectoryStore {
		dump, err := exec.Command("pg_dump", "--no-owner", "--schema="+schema, base.String()).Output()
		if err != nil {
			t.Fatalf("pg_dump: %v", err)
		}
		return func(t *testing.T) *sqlstore.DirectoryStore {
			restores++
			copySchema := schema + "_restored" + strconv.Itoa(restores)
			psql := exec.Command("psql", "-q", "-v", "ON_ERROR_STOP=1", base.String())
			psql.Stdin = bytes.NewReader(bytes.ReplaceAll(dump, []byte(schema), []byte(copySchema)))
			if out, err := psql.CombinedOutput(); err != nil {
				t.Fatalf("restore the dump: %v\n%s", err, out)
			}
			t.Cleanup(func() {
				exec.Command("psql", "-q", base.String(), "-c", "DROP SCHEMA "+copySchema+" CASCADE").Run()
			})
			cu := base
			cq := cu.Query()
			cq.Set("search_path", copySchema)
			cu.RawQuery = cq.Encode()
			d, err := sqlstore.OpenPostgresDirectory(context.Background(), cu.String())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			return d
		}
	}}
}

// The erasure horizon, tried as an attacker with a backup would: a copy of
// the directory taken before an opt-out, restored later, with the
// custodians' root key and the live erasure folder. Within the horizon the
// copy still opens the shredded data (the positive control: the attack is
// real); two periods later it cannot, while data that was not deleted
// opens as before, also after a restart.
func TestErasureHorizon(t *testing.T) {
	for name, open := range map[string]func(*testing.T) backup{"SQLite": sqliteBackup, "PostgreSQL": postgresBackup} {
		t.Run(name, func(t *testing.T) { testErasureHorizon(t, open(t)) })
	}
}

func testErasureHorizon(t *testing.T, bk backup) {
	ctx := t.Context()
	env := keyringtest.New(t, "in") // its region and erasure folder; its directory is replaced by bk's
	regions := map[candor.RegionID]keyring.RegionKeys{"in": env.Regions["in"]}
	e := env.Erasure
	live := keyring.New(bk.dir, regions, e)
	rootKey := root(7)
	if err := live.Unseal(ctx, rootKey); err != nil {
		t.Fatal(err)
	}
	en := env2(env)
	gone, kept := en.account(t), en.account(t)
	goneKey, err := live.EnsureDataKey(ctx, "in", gone, candor.Notes, en.turnOn(t, "in", gone, candor.Notes))
	if err != nil {
		t.Fatal(err)
	}
	keptKey, err := live.EnsureDataKey(ctx, "in", kept, candor.Notes, en.turnOn(t, "in", kept, candor.Notes))
	if err != nil {
		t.Fatal(err)
	}
	ad := seal.AD("test")
	note, keptNote := goneKey.Seal([]byte("a shredded note"), ad), keptKey.Seal([]byte("a kept note"), ad)

	restore := bk.snapshot(t) // the backup, before the opt-out
	if err := live.Shred(ctx, gone, candor.Notes); err != nil {
		t.Fatal(err)
	}
	attack := func() error {
		k := keyring.New(restore(t), regions, e) // the live erasure folder
		if err := k.Unseal(ctx, rootKey); err != nil {
			return err
		}
		key, _, err := k.DataKey(ctx, "in", gone, candor.Notes)
		if err != nil {
			return err
		}
		pt, err := key.Open(note, ad)
		if err == nil && string(pt) != "a shredded note" {
			t.Fatalf("the copy opened something else: %q", pt)
		}
		return err
	}
	advance := func(periods int) {
		t.Helper()
		env.Later(time.Duration(periods) * keyring.DefaultPeriod)
		if _, _, err := live.AdvanceErasure(ctx, 2); err != nil {
			t.Fatal(err)
		}
	}

	if err := attack(); err != nil {
		t.Fatalf("positive control: within the horizon the backup should still open the note: %v", err)
	}
	advance(1)
	if err := attack(); err != nil {
		t.Fatalf("one period later the backup should still open the note (the horizon is two): %v", err)
	}
	advance(1)
	if err := attack(); err == nil {
		t.Fatal("two periods after the opt-out, a backup from before it still opens the shredded note")
	}

	for what, k := range map[string]*keyring.Keyring{"live": live, "restarted": keyring.New(bk.dir, regions, e)} {
		if err := k.Unseal(ctx, rootKey); err != nil {
			t.Fatal(err)
		}
		key, _, err := k.DataKey(ctx, "in", kept, candor.Notes)
		if err != nil {
			t.Fatalf("%s: the kept note's key after the ratchet advanced: %v", what, err)
		}
		if pt, err := key.Open(keptNote, ad); err != nil || string(pt) != "a kept note" {
			t.Fatalf("%s: the kept note after the ratchet advanced: %q, %v", what, pt, err)
		}
	}
	st, err := live.Erasure()
	if err != nil || st.Stored != st.Current {
		t.Fatalf("erasure state %+v, %v: want the current period stored", st, err)
	}
}

// env2 gives the keyringtest environment the account helpers of this
// file's env.
func env2(k *keyringtest.Env) env { return env{dir: k.Dir, regions: k.Regions, erasure: k.Erasure} }

// A server pointed at an empty erasure folder, for a database whose
// secrets are wrapped under erasure keys (the folder was lost, or the
// configuration names another), refuses to unseal instead of starting a
// new ratchet that would leave every secret unreadable.
func TestErasureFolderMissing(t *testing.T) {
	ctx := t.Context()
	e := newEnv(t)
	if err := e.keyring().Unseal(ctx, root(1)); err != nil {
		t.Fatal(err)
	}
	other := e.erasure
	other.Keys = erasure.Folder(filepath.Join(t.TempDir(), "erasure"))
	k := keyring.New(e.dir, map[candor.RegionID]keyring.RegionKeys{"in": e.regions["in"], "sg": e.regions["sg"]}, other)
	err := k.Unseal(ctx, root(1))
	if err == nil || !strings.Contains(err.Error(), "erasure key folder is empty") {
		t.Fatalf("unseal with an empty erasure folder: %v", err)
	}
}
