package disk

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/blobs"
	"github.com/candorcloud/candor/internal/blobs/blobstest"
)

func TestStore(t *testing.T) {
	blobstest.TestStore(t, func(t *testing.T) blobs.Store { return open(t, t.TempDir()) })
}

func BenchmarkStore(b *testing.B) { blobstest.Benchmark(b, open(b, b.TempDir())) }

func open(t testing.TB, dir string) *Store {
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// tree lists dir as "path mode" lines, directories with a trailing slash.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			rel += "/"
		}
		lines = append(lines, rel+" "+fi.Mode().Perm().String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

func wantTree(t *testing.T, dir string, want ...string) {
	t.Helper()
	got := tree(t, dir)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("tree:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blobs")
	s := open(t, dir)
	ctx := t.Context()
	for _, k := range []string{"acc_1/photos/ph_1", "acc_1/photos/ph_2", "acc_1/uploads/up_1/0", "acc_2/x"} {
		if err := s.Put(ctx, k, bytes.NewReader([]byte(k)), int64(len(k))); err != nil {
			t.Fatal(err)
		}
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("the store's directory: %v %v, want mode 0700", fi.Mode(), err)
	}
	// Files mirror keys, 0600 in 0700 directories, and no temporary file
	// is left behind (the temporary folder is empty).
	wantTree(t, dir,
		".#tmp/ -rwx------",
		"acc_1/ -rwx------",
		"acc_1/photos/ -rwx------",
		"acc_1/photos/ph_1 -rw-------",
		"acc_1/photos/ph_2 -rw-------",
		"acc_1/uploads/ -rwx------",
		"acc_1/uploads/up_1/ -rwx------",
		"acc_1/uploads/up_1/0 -rw-------",
		"acc_2/ -rwx------",
		"acc_2/x -rw-------",
	)
	if b, err := os.ReadFile(filepath.Join(dir, "acc_1/photos/ph_2")); err != nil || string(b) != "acc_1/photos/ph_2" {
		t.Fatalf("the file of acc_1/photos/ph_2 holds %q, %v", b, err)
	}

	// Deleting prunes the directories left empty, and no others.
	if err := s.Delete(ctx, "acc_1/uploads/up_1/0"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "acc_1/photos/ph_1"); err != nil {
		t.Fatal(err)
	}
	wantTree(t, dir,
		".#tmp/ -rwx------",
		"acc_1/ -rwx------",
		"acc_1/photos/ -rwx------",
		"acc_1/photos/ph_2 -rw-------",
		"acc_2/ -rwx------",
		"acc_2/x -rw-------",
	)
	if n, err := s.DeletePrefix(ctx, "acc_1/"); err != nil || n != 1 {
		t.Fatalf("DeletePrefix = %d, %v", n, err)
	}
	wantTree(t, dir, ".#tmp/ -rwx------", "acc_2/ -rwx------", "acc_2/x -rw-------")
	if err := s.Delete(ctx, "acc_2/x"); err != nil {
		t.Fatal(err)
	}
	wantTree(t, dir, ".#tmp/ -rwx------")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the store's own directory was pruned: %v", err)
	}
}

// TestForeignFiles checks that files no Put made — temporary files of a
// crashed Put, a symbolic link out of the tree — are not taken for objects
// and lead nowhere.
func TestForeignFiles(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600)
	s := open(t, dir)
	ctx := t.Context()
	if err := s.Put(ctx, "a/x", bytes.NewReader([]byte("x")), 1); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "a", tempPrefix+"crashed"), []byte("half"), 0o600)
	os.WriteFile(filepath.Join(dir, "a", "Upper"), []byte("foreign"), 0o600)
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "a", "leak")); err != nil {
		t.Fatal(err)
	}
	keys, err := s.List(ctx, "")
	if err != nil || len(keys) != 1 || keys[0] != "a/x" {
		t.Fatalf("List = %q, %v; want [a/x]", keys, err)
	}
	if _, _, err := s.Get(ctx, "link/secret"); err == nil {
		t.Fatal("Get followed a symbolic link out of the store")
	}
	if _, _, err := s.Get(ctx, "a/leak"); err == nil {
		t.Fatal("Get followed a symbolic link out of the store")
	}
	if err := s.Put(ctx, "link/new", bytes.NewReader([]byte("x")), 1); err == nil {
		t.Fatal("Put wrote through a symbolic link out of the store")
	}
	if _, err := os.Stat(filepath.Join(outside, "new")); err == nil {
		t.Fatal("Put wrote through a symbolic link out of the store")
	}
	// DeletePrefix keeps a recent temporary file (a Put may be writing it).
	if n, err := s.DeletePrefix(ctx, "a/"); err != nil || n != 1 {
		t.Fatalf("DeletePrefix = %d, %v", n, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a", tempPrefix+"crashed")); err != nil {
		t.Fatalf("DeletePrefix removed a fresh temporary file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "secret")); err != nil {
		t.Fatalf("DeletePrefix removed a file outside the store: %v", err)
	}
}

func TestConflict(t *testing.T) {
	s := open(t, t.TempDir())
	ctx := t.Context()
	if err := s.Put(ctx, "a/b", bytes.NewReader(nil), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "a", bytes.NewReader(nil), 0); !candor.Is(err, candor.Conflict) {
		t.Fatalf("Put of a directory's key: %v, want Conflict", err)
	}
	if err := s.Put(ctx, "a/b/c", bytes.NewReader(nil), 0); !candor.Is(err, candor.Conflict) {
		t.Fatalf("Put under an object: %v, want Conflict", err)
	}
}
