package content

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// Files is where content keeps what it publishes. Names are slash
// separated and never come from a request unchecked.
type Files interface {
	// Read returns a file's bytes; candor.NotFound if absent.
	Read(name string) ([]byte, error)
	// Write replaces a file atomically: a reader sees the old bytes or the
	// new ones, never a mix.
	Write(name string, data []byte) error
}

// Dir keeps files in a folder on disk; they survive restarts.
type Dir string

var _ Files = Dir("")

// Read implements Files.
func (d Dir) Read(name string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(string(d), filepath.FromSlash(name)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, candor.Errorf(candor.NotFound, "no %s", name)
	}
	return b, err
}

// Write implements Files: it writes a temporary file, syncs it and renames
// it over the old one.
func (d Dir) Write(name string, data []byte) error {
	path := filepath.Join(string(d), filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// Memory keeps files in memory only; they are lost when the process ends.
type Memory struct {
	mu    sync.Mutex
	files map[string][]byte
}

var _ Files = (*Memory)(nil)

// Read implements Files.
func (m *Memory) Read(name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.files[name]
	if !ok {
		return nil, candor.Errorf(candor.NotFound, "no %s", name)
	}
	return append([]byte(nil), b...), nil
}

// Write implements Files.
func (m *Memory) Write(name string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.files == nil {
		m.files = map[string][]byte{}
	}
	m.files[name] = append([]byte(nil), data...)
	return nil
}

// Stored keeps files in a store.Content (the directory database). A file
// the Store lacks is read from
// Legacy, when set (the data folder's content/ of a deployment that kept
// its content there), and copied into the Store, so upgrading keeps what
// was published.
type Stored struct {
	Store  store.Content
	Legacy Files
}

var _ Files = Stored{}

// Read implements Files.
func (s Stored) Read(name string) ([]byte, error) {
	ctx := context.Background()
	b, err := s.Store.ReadContent(ctx, name)
	if s.Legacy == nil || !candor.Is(err, candor.NotFound) {
		return b, err
	}
	b, err = s.Legacy.Read(name)
	if err != nil {
		return nil, err
	}
	if err := s.Store.WriteContent(ctx, name, b); err != nil {
		return nil, err
	}
	return b, nil
}

// Write implements Files.
func (s Stored) Write(name string, data []byte) error {
	return s.Store.WriteContent(context.Background(), name, data)
}
