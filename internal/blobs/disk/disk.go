// Package disk is a blob store in a local directory: the object at key
// "a/b/c" is the file a/b/c under it. It is the default store of a
// single-machine Candor.
//
// A Put writes a temporary file in the store's temporary folder (.#tmp,
// a name no key can take), syncs it and renames it over the object, then
// syncs the object's directory: readers see the old file or the new one,
// and after Put returns the object survives a crash. While it writes, the
// Put holds a lock on its temporary file; New removes every temporary
// file whose lock is free, so a Put killed mid-write (a crash, a full
// disk, a process stopped) leaves nothing behind after the next start.
// Files are created 0600 and directories 0700. All access goes through an
// os.Root, so no key and no symbolic link planted in the tree reaches
// outside the directory.
//
// A full disk (ENOSPC, or a quota) fails with candor.Unavailable and a
// sentence saying so; other write failures of the file system too.
package disk

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/blobs"
)

// Store is a blob store in a directory. It is safe for concurrent use, also
// by several Stores on the same directory.
type Store struct {
	root *os.Root
}

var _ blobs.Store = (*Store)(nil)

// tempPrefix starts the names of temporary files. '#' cannot occur in a
// key, so a temporary file is never taken for an object.
const tempPrefix = ".#put-"

// tempDir is the folder of temporary files, at the top of the store; no
// key names it.
const tempDir = ".#tmp"

// staleTemp is the age after which DeletePrefix removes a temporary file:
// one left by a crash, not one a Put is writing.
const staleTemp = time.Hour

// New opens the blob store in dir, creating dir (0700) if needed, and
// making it 0700 if it was not. Close releases it.
func New(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("disk blobs: %w", err)
	}
	// A folder made before with a mode others could list is made private.
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("disk blobs: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("disk blobs: %w", err)
	}
	s := &Store{root: root}
	if err := root.Mkdir(tempDir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		root.Close()
		return nil, s.fail("open", err)
	}
	if err := root.Chmod(tempDir, 0o700); err != nil {
		root.Close()
		return nil, s.fail("open", err)
	}
	if err := s.sweep(); err != nil {
		root.Close()
		return nil, err
	}
	return s, nil
}

// sweep removes the temporary files no Put is writing: those whose lock is
// free, left by a Put that died (its process killed, or stopped mid-write).
func (s *Store) sweep() error {
	d, err := s.root.Open(tempDir)
	if err != nil {
		return s.fail("open", err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return s.fail("open", err)
	}
	for _, name := range names {
		if !strings.HasPrefix(name, tempPrefix) {
			continue
		}
		p := path.Join(tempDir, name)
		f, err := s.root.OpenFile(p, os.O_RDONLY, 0)
		if err != nil {
			continue // removed meanwhile
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			s.root.Remove(p)
		}
		f.Close()
	}
	return nil
}

// Close releases the directory. Readers Get returned stay readable.
func (s *Store) Close() error { return s.root.Close() }

// Put stores size bytes from r at key, atomically (see the package
// comment). It fails with candor.Invalid if r yields more or fewer bytes,
// with candor.Conflict if key is the directory of other keys or lies under
// an object, and with ctx's error if ctx is done before the object is in
// place. On failure the old object, if any, is untouched.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := blobs.CheckKey(key); err != nil {
		return err
	}
	if size < 0 {
		return candor.E(candor.Invalid, "negative blob size")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := path.Dir(key)
	tmp := path.Join(tempDir, tempPrefix+rand.Text())
	f, err := s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return s.fail("put", err)
	}
	// Held until f is closed (or this process dies): New spares it.
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		s.root.Remove(tmp)
		return s.fail("put", err)
	}
	if err := s.write(ctx, f, r, size); err != nil {
		f.Close()
		s.root.Remove(tmp)
		return err
	}
	if err := ctx.Err(); err != nil {
		s.root.Remove(tmp)
		return err
	}
	var made []string
	for attempt := 0; ; attempt++ {
		made, err = s.mkdirs(dir)
		if err == nil {
			err = s.root.Rename(tmp, key)
		}
		if err == nil {
			break
		}
		// A Delete may prune a directory between mkdirs and Rename.
		if errors.Is(err, fs.ErrNotExist) && attempt < 10 {
			if _, serr := s.root.Stat(tmp); serr == nil {
				continue
			}
		}
		s.root.Remove(tmp)
		if errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.EEXIST) || errors.Is(err, syscall.ENOTEMPTY) {
			return candor.E(candor.Conflict, "the blob key is the directory of other keys")
		}
		return s.fail("put", err)
	}
	if err := s.syncDir(dir); err != nil {
		return s.fail("put", err)
	}
	for _, d := range slices.Backward(made) {
		if err := s.syncDir(path.Dir(d)); err != nil {
			return s.fail("put", err)
		}
	}
	return nil
}

// write copies exactly size bytes from r to f, syncs and closes f.
func (s *Store) write(ctx context.Context, f *os.File, r io.Reader, size int64) error {
	buf := make([]byte, min(size+1, 1<<20))
	// Hide f's ReadFrom so the copy uses buf and checks ctx between reads.
	n, err := io.CopyBuffer(struct{ io.Writer }{f}, io.LimitReader(ctxReader{ctx, r}, size+1), buf)
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return s.fail("write", err)
	case n > size:
		return candor.Errorf(candor.Invalid, "the blob is longer than its size %d", size)
	case n < size:
		return candor.Errorf(candor.Invalid, "the blob is %d bytes, shorter than its size %d", n, size)
	}
	if err := f.Sync(); err != nil {
		return s.fail("sync", err)
	}
	if err := f.Close(); err != nil {
		return s.fail("close", err)
	}
	return nil
}

// ctxReader reads from r until ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// mkdirs makes dir and its missing parents (0700) and returns the ones it
// made, outermost first. A file in the way is a Conflict.
func (s *Store) mkdirs(dir string) ([]string, error) {
	if dir == "." {
		return nil, nil
	}
	if fi, err := s.root.Stat(dir); err == nil && fi.IsDir() {
		return nil, nil
	}
	var made []string
	for i := 0; i <= len(dir); i++ {
		if i < len(dir) && dir[i] != '/' {
			continue
		}
		d := dir[:i]
		err := s.root.Mkdir(d, 0o700)
		if err == nil {
			made = append(made, d)
			continue
		}
		if errors.Is(err, syscall.ENOTDIR) {
			return nil, candor.E(candor.Conflict, "a blob key lies under another blob")
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		fi, err := s.root.Stat(d)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			return nil, candor.E(candor.Conflict, "a blob key lies under another blob")
		}
	}
	return made, nil
}

// syncDir flushes dir's entries to stable storage.
func (s *Store) syncDir(dir string) error {
	d, err := s.root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Get opens the object at key. The file stays readable as it was, even if
// the object is replaced or deleted meanwhile.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	if err := blobs.CheckKey(key); err != nil {
		return nil, 0, err
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	f, err := s.root.Open(key)
	if err != nil {
		if absent(err) {
			return nil, 0, candor.E(candor.NotFound, "no such blob")
		}
		return nil, 0, s.fail("get", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, s.fail("get", err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, candor.E(candor.NotFound, "no such blob")
	}
	return f, fi.Size(), nil
}

// Delete removes the object at key and then, best effort, the directories
// it leaves empty.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := blobs.CheckKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	fi, err := s.root.Lstat(key)
	if err != nil {
		if absent(err) {
			return nil
		}
		return s.fail("delete", err)
	}
	if fi.IsDir() {
		return nil // the directory of other keys, not an object
	}
	if err := s.root.Remove(key); err != nil {
		if absent(err) {
			return nil
		}
		return s.fail("delete", err)
	}
	dir := path.Dir(key)
	s.syncDir(dir)
	s.prune(dir)
	return nil
}

// prune removes dir and its parents while they are empty. A directory that
// is not empty stays, so a concurrent Put's directory survives (or the Put
// retries).
func (s *Store) prune(dir string) {
	for d := dir; d != "."; d = path.Dir(d) {
		if s.rmdir(d) != nil {
			return
		}
		s.syncDir(path.Dir(d))
	}
}

// rmdir removes the directory d if it is empty, and never a file: unlike
// os.Root.Remove, it cannot delete an object put where a directory just
// was.
func (s *Store) rmdir(d string) error {
	parent, err := s.root.Open(path.Dir(d))
	if err != nil {
		return err
	}
	defer parent.Close()
	conn, err := parent.SyscallConn()
	if err != nil {
		return err
	}
	var rmErr error
	err = conn.Control(func(fd uintptr) {
		rmErr = unix.Unlinkat(int(fd), path.Base(d), unix.AT_REMOVEDIR)
	})
	if err != nil {
		return err
	}
	return rmErr
}

// List returns the keys under prefix, sorted.
func (s *Store) List(ctx context.Context, prefix string) ([]string, error) {
	if err := blobs.CheckPrefix(prefix); err != nil {
		return nil, err
	}
	var keys []string
	err := s.walk(ctx, prefix, func(p string, d fs.DirEntry) error {
		if d.Type().IsRegular() && blobs.CheckKey(p) == nil {
			keys = append(keys, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(keys) // walk order puts "a/b" before "a-c"
	return keys, nil
}

// walk calls fn for every file and directory under prefix. It skips
// directories whose names cannot be in a key.
func (s *Store) walk(ctx context.Context, prefix string, fn func(p string, d fs.DirEntry) error) error {
	start := "."
	if prefix != "" {
		start = strings.TrimSuffix(prefix, "/")
	}
	err := fs.WalkDir(s.root.FS(), start, func(p string, d fs.DirEntry, err error) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err != nil {
			if p == start && absent(err) {
				return fs.SkipAll
			}
			if absent(err) {
				return nil // removed while we walk
			}
			return err
		}
		if p == start {
			if !d.IsDir() {
				return fs.SkipAll // prefix "b/" of an object "b"
			}
			return nil
		}
		if d.IsDir() && blobs.CheckKey(p) != nil {
			return fs.SkipDir
		}
		return fn(p, d)
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return s.fail("list", err)
	}
	return nil
}

// DeletePrefix removes the objects under prefix, then the directories left
// empty. It also removes temporary files older than an hour: those of Puts
// that crashed.
func (s *Store) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	if err := blobs.CheckPrefix(prefix); err != nil {
		return 0, err
	}
	if prefix == "" {
		return 0, candor.E(candor.Invalid, "a blob prefix ends with /")
	}
	var files, dirs []string
	err := s.walk(ctx, prefix, func(p string, d fs.DirEntry) error {
		switch {
		case d.IsDir():
			dirs = append(dirs, p)
		case d.Type().IsRegular() && blobs.CheckKey(p) == nil:
			files = append(files, p)
		case strings.HasPrefix(d.Name(), tempPrefix):
			if fi, err := d.Info(); err == nil && time.Since(fi.ModTime()) > staleTemp {
				s.root.Remove(p)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, f := range files {
		if err := s.root.Remove(f); err != nil {
			if absent(err) {
				continue // deleted meanwhile
			}
			return n, s.fail("delete", err)
		}
		n++
	}
	// Deepest first, so a directory is empty by the time it is tried; the
	// prefix's own directory and its parents last.
	slices.SortFunc(dirs, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	for _, d := range dirs {
		if s.rmdir(d) != nil {
			s.syncDir(d)
		}
	}
	start := strings.TrimSuffix(prefix, "/")
	s.syncDir(start)
	s.prune(start)
	return n, nil
}

// absent reports whether err means there is no file: not there, or a
// component of the path is a file.
func absent(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// fail wraps an unexpected file-system error. Candor errors pass through;
// a full disk, and a disk that cannot be written, are candor.Unavailable.
func (s *Store) fail(op string, err error) error {
	var e *candor.Error
	if errors.As(err, &e) {
		return err
	}
	err = fmt.Errorf("disk blobs: %s: %w", op, err)
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return &candor.Error{Kind: candor.Unavailable, Message: "the server's disk is full: try again later",
			RetryAfter: 30 * time.Second, Err: err}
	case errors.Is(err, syscall.EROFS), errors.Is(err, syscall.EIO):
		return &candor.Error{Kind: candor.Unavailable, Message: "the server's disk cannot be written: try again later",
			RetryAfter: 30 * time.Second, Err: err}
	}
	return err
}
