package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/candorcloud/candor"
)

// ReadContent returns the public content file name; candor.NotFound if it
// was never written.
func (s *DirectoryStore) ReadContent(ctx context.Context, name string) ([]byte, error) {
	var data []byte
	err := s.db.reader().row(ctx, `SELECT data FROM public_content WHERE name = ?`, name).Scan(&data)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, candor.Errorf(candor.NotFound, "no %s", name)
	case err != nil:
		return nil, internal("read public content", err)
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

// WriteContent replaces the public content file name in one statement: a
// reader sees the old bytes or the new ones.
func (s *DirectoryStore) WriteContent(ctx context.Context, name string, data []byte) error {
	if data == nil {
		data = []byte{}
	}
	err := s.db.inTx(ctx, func(r runner) error {
		_, err := r.exec(ctx, `INSERT INTO public_content (name, data, updated_us) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET data = excluded.data, updated_us = excluded.updated_us`,
			name, data, micros(time.Now()))
		return err
	})
	if err != nil {
		return internal("write public content", err)
	}
	return nil
}
