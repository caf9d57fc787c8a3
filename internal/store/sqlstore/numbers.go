package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

var _ store.Numbers = (*DirectoryStore)(nil)

// prefixLen is the length of the buckets TokensWithPrefixes looks up.
const prefixLen = 2

// RegisterNumber maps n.Token to n.Account in n.Region, replacing whatever
// the token was mapped to: a number moves to whoever verified it last. A
// zero Created is the time of the call. Invalid if the token is shorter
// than a prefix or the account or region is empty.
func (s *DirectoryStore) RegisterNumber(ctx context.Context, n store.Number) error {
	if len(n.Token) < prefixLen || n.Account == "" || n.Region == "" {
		return candor.E(candor.Invalid, "a number needs a token, an account and a region")
	}
	if _, err := s.db.writer().exec(ctx, `INSERT INTO numbers (token, account, region, created_us) VALUES (?, ?, ?, ?)
		ON CONFLICT (token) DO UPDATE SET account = excluded.account, region = excluded.region, created_us = excluded.created_us`,
		n.Token, string(n.Account), string(n.Region), micros(stamp(n.Created))); err != nil {
		return internal("register number", err)
	}
	return nil
}

// NumberByToken returns a token's registration; NotFound if none.
func (s *DirectoryStore) NumberByToken(ctx context.Context, token []byte) (store.Number, error) {
	n := store.Number{}
	var created int64
	err := s.db.reader().row(ctx, `SELECT token, account, region, created_us FROM numbers WHERE token = ?`, token).
		Scan(&n.Token, &n.Account, &n.Region, &created)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Number{}, candor.E(candor.NotFound, "number not registered")
	case err != nil:
		return store.Number{}, internal("read number", err)
	}
	n.Created = fromMicros(created)
	return n, nil
}

// TokensWithPrefixes returns every registered token whose first two bytes
// are one of prefixes, each once, grouped by prefix. It reads the
// numbers_prefix index alone, batchRows prefixes per query. Invalid if a
// prefix is not two bytes long.
func (s *DirectoryStore) TokensWithPrefixes(ctx context.Context, prefixes [][]byte) ([][]byte, error) {
	args := make([]any, 0, len(prefixes))
	seen := make(map[string]bool, len(prefixes))
	for _, p := range prefixes {
		if len(p) != prefixLen {
			return nil, candor.E(candor.Invalid, "a token prefix is two bytes")
		}
		if !seen[string(p)] {
			seen[string(p)] = true
			args = append(args, p)
		}
	}
	var tokens [][]byte
	for part := range slices.Chunk(args, batchRows) {
		found, err := queryAll(ctx, s.db.reader(), "read tokens", func(sc scanner) ([]byte, error) {
			var t []byte
			err := sc.Scan(&t)
			return t, err
		}, `SELECT token FROM numbers WHERE substr(token, 1, 2) IN (`+placeholders(len(part), 1)+`)`, part...)
		if err != nil {
			return nil, err
		}
		tokens = append(tokens, found...)
	}
	return tokens, nil
}

// UnregisterAccount removes an account's numbers; none is not an error.
// DeleteEntry does it too, in its transaction.
func (s *DirectoryStore) UnregisterAccount(ctx context.Context, account candor.AccountID) error {
	if _, err := s.db.writer().exec(ctx, `DELETE FROM numbers WHERE account = ?`, string(account)); err != nil {
		return internal("unregister numbers", err)
	}
	return s.db.scrub(ctx) // the number's token leaves the files too
}
