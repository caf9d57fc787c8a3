package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/blobs"
	"github.com/candorcloud/candor/internal/blobs/disk"
	"github.com/candorcloud/candor/internal/blobs/s3"
	"github.com/candorcloud/candor/internal/bus/membus"
	"github.com/candorcloud/candor/internal/bus/natsbus"
	"github.com/candorcloud/candor/internal/content"
	"github.com/candorcloud/candor/internal/store"
	"github.com/candorcloud/candor/internal/store/sqlstore"
)

// open opens what the services are built on: the directory and every
// region's metadata store, the regions' blob stores, the notice bus and
// the folder of public content. What it opened before failing is closed by
// Close.
func (s *Server) open(ctx context.Context) error {
	s.regions = map[candor.RegionID]store.Region{}
	if err := s.openMetadata(ctx); err != nil {
		return err
	}
	if err := s.openBlobs(ctx); err != nil {
		return err
	}
	if err := s.openBus(ctx); err != nil {
		return err
	}
	s.openContent()
	return nil
}

// openBus connects to NATS when configured, else makes an in-process bus.
func (s *Server) openBus(ctx context.Context) error {
	if s.cfg.NATS == "" {
		s.bus = membus.New()
		return nil
	}
	b, err := natsbus.Dial(ctx, s.cfg.NATS, strings.ToLower(s.cfg.Name))
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	s.bus = b
	return nil
}

// openBlobs opens each region's blob store: its S3 bucket if configured,
// else a folder under the data folder.
func (s *Server) openBlobs(ctx context.Context) error {
	s.blobs = map[candor.RegionID]blobs.Store{}
	// Every region's: a migration, which any instance may run, moves
	// blobs between two regions; the services use their own regions' only
	// (regionStores.Blobs).
	if c := s.cfg.S3; c != nil {
		for _, id := range s.cfg.regions().IDs() {
			b, err := s3.New(ctx, s3.Config{Endpoint: c.Endpoint, AccessKey: c.AccessKey, SecretKey: c.SecretKey,
				UseSSL: c.UseSSL, Region: c.Region, Bucket: c.Buckets[id]})
			if err != nil {
				return fmt.Errorf("region %s blobs: %w", id, err)
			}
			s.blobs[id] = b
		}
		return nil
	}
	if s.cfg.Data == "" {
		return errors.New("blobs: no data folder for the regions' blob stores")
	}
	for _, id := range s.cfg.regions().IDs() {
		b, err := disk.New(filepath.Join(s.cfg.Data, "regions", string(id), "blobs"))
		if err != nil {
			return fmt.Errorf("region %s blobs: %w", id, err)
		}
		s.blobs[id] = b
	}
	return nil
}

// openMetadata opens the directory and every region's store: PostgreSQL
// databases if configured, else SQLite files under the data folder. Only a
// store that opened is kept for Close (a nil *DirectoryStore in the
// interface would panic there and hide why it failed); an error names the
// store and, for PostgreSQL, the database.
func (s *Server) openMetadata(ctx context.Context) error {
	if pg := s.cfg.Postgres; pg != nil {
		d, err := sqlstore.OpenPostgresDirectory(ctx, pg.Directory)
		if err != nil {
			return fmt.Errorf("directory: %w", err)
		}
		s.dir = d
		for _, id := range s.cfg.regions().IDs() {
			r, err := sqlstore.OpenPostgresRegion(ctx, pg.Regions[id])
			if err != nil {
				return fmt.Errorf("region %s: %w", id, err)
			}
			s.regions[id] = r
		}
		return nil
	}
	// Made 0700 if new; made private, with everything in it, if it was
	// made before with a mode others could read (a folder created by hand
	// with the usual 0755 let anyone on the host copy every database).
	if err := os.MkdirAll(s.cfg.Data, 0o700); err != nil {
		return err
	}
	if err := privateTree(s.cfg.Data); err != nil {
		return err
	}
	d, err := sqlstore.OpenSQLiteDirectory(filepath.Join(s.cfg.Data, "directory.db"))
	if err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	s.dir = d
	for _, id := range s.cfg.regions().IDs() {
		dir := filepath.Join(s.cfg.Data, "regions", string(id))
		if err := os.MkdirAll(dir, 0o700); err != nil { // an existing one was made private above
			return err
		}
		r, err := sqlstore.OpenSQLiteRegion(filepath.Join(dir, "candor.db"))
		if err != nil {
			return fmt.Errorf("region %s: %w", id, err)
		}
		s.regions[id] = r
	}
	return nil
}

// privateTree makes every folder under data 0700 and every file 0600, as
// Candor makes them, whatever a restore or a hand left them at. The blob
// stores are left out (they may hold millions of files): each keeps its
// own folder 0700 and writes its files 0600.
func privateTree(data string) error {
	return filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && d.Name() == "blobs" && filepath.Base(filepath.Dir(filepath.Dir(path))) == "regions":
			return filepath.SkipDir
		case d.IsDir():
			return os.Chmod(path, 0o700)
		case d.Type().IsRegular():
			return os.Chmod(path, 0o600)
		}
		return nil // a link or a device is not Candor's
	})
}

// The directory keeps public content.
var _ store.Content = (*sqlstore.DirectoryStore)(nil)

// openContent chooses where public content is kept: the directory, which
// every instance shares, so published greetings and update metadata
// survive restarts and every instance serves the same — with or without a
// data folder. A file published before into the data folder's content/
// folder is copied into the directory the first time it is read.
func (s *Server) openContent() {
	var legacy content.Files
	if s.cfg.Data != "" {
		legacy = content.Dir(filepath.Join(s.cfg.Data, "content"))
	}
	if st, ok := s.dir.(store.Content); ok {
		s.files = content.Stored{Store: st, Legacy: legacy}
		return
	}
	if legacy != nil {
		s.files = legacy
		return
	}
	s.cfg.Logger.Warn("no data folder: published greetings and update metadata are kept in memory only and lost on restart")
	s.files = &content.Memory{}
}
