package sqlstore

import (
	"path/filepath"
	"testing"

	"github.com/candorcloud/candor/internal/store"
	"github.com/candorcloud/candor/internal/store/storetest"
)

func TestSQLiteRegion(t *testing.T) { storetest.TestRegion(t, openSQLiteRegion) }

func TestSQLiteDirectory(t *testing.T) { storetest.TestDirectory(t, openSQLiteDirectory) }

func openSQLiteRegion(t *testing.T) store.Region {
	return newSQLiteRegion(t, filepath.Join(t.TempDir(), "candor.db"))
}

func openSQLiteDirectory(t *testing.T) store.Directory {
	d, err := OpenSQLiteDirectory(filepath.Join(t.TempDir(), "directory.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func newSQLiteRegion(t *testing.T, path string) *RegionStore {
	t.Helper()
	r, err := OpenSQLiteRegion(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestSQLiteContent(t *testing.T) { storetest.TestContent(t, openSQLiteContent) }

func openSQLiteContent(t *testing.T) store.Content { return openSQLiteDirectory(t).(store.Content) }
