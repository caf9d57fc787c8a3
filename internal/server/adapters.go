package server

import (
	"context"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/account"
	"github.com/candorcloud/candor/internal/blobs"
	"github.com/candorcloud/candor/internal/consent"
	"github.com/candorcloud/candor/internal/httpapi"
	"github.com/candorcloud/candor/internal/messaging"
	"github.com/candorcloud/candor/internal/records"
	"github.com/candorcloud/candor/internal/store"
)

// The adapters in this file fit the opened stores and the services to the
// narrow interfaces the services declare; compose (compose.go) is their
// only user.

// regionStores resolves a region's store for each service, as the narrow
// interface that service owns.
type regionStores struct{ s *Server }

func (r regionStores) store(id candor.RegionID) (store.Region, error) {
	st, ok := r.s.regions[id]
	if !ok {
		return nil, candor.Errorf(candor.WrongRegion, "region %s is not served by this server", id)
	}
	return st, nil
}

func (r regionStores) HomeFor(country string) candor.RegionID {
	return r.s.cfg.regions().HomeFor(country)
}

func (r regionStores) Accounts(id candor.RegionID) (account.Accounts, error) { return r.store(id) }
func (r regionStores) Consent(id candor.RegionID) (consent.Store, error)     { return r.store(id) }
func (r regionStores) Records(id candor.RegionID) (records.Store, error)     { return r.store(id) }
func (r regionStores) Uploads(id candor.RegionID) (store.Uploads, error)     { return r.store(id) }
func (r regionStores) Messages(id candor.RegionID) (store.Messages, error)   { return r.store(id) }

// carrierOrNil keeps a nil *Carrier from becoming a non-nil interface.
func carrierOrNil(c *messaging.Carrier) httpapi.Carrier {
	if c == nil {
		return nil
	}
	return c
}

func (r regionStores) Blobs(id candor.RegionID) (blobs.Store, error) {
	b, ok := r.s.blobs[id]
	if !ok {
		return nil, candor.Errorf(candor.WrongRegion, "region %s is not served by this server", id)
	}
	return b, nil
}

// shredder destroys what a withdrawn category leaves outside the region's
// database: the directory's half of its data key, and its blobs.
type shredder struct{ s *Server }

func (x shredder) Shred(ctx context.Context, p candor.Principal, c candor.Category) error {
	if c == candor.Messaging {
		return x.s.msgs.Deactivate(ctx, p)
	}
	if err := x.s.keys.Shred(ctx, p.Account, c); err != nil {
		return err
	}
	if b, ok := x.s.blobs[p.Region]; ok {
		if _, err := b.DeletePrefix(ctx, blobs.CategoryPrefix(p.Account, c)); err != nil {
			return err
		}
	}
	return nil
}

// eraseOutsideRegion deletes what a deleted account keeps outside its
// region's database: its messaging registration (the number's token in the
// directory, keys and queues) and every blob of it.
func (s *Server) eraseOutsideRegion(ctx context.Context, p candor.Principal) error {
	if err := s.msgs.Deactivate(ctx, p); err != nil {
		return err
	}
	b, ok := s.blobs[p.Region]
	if !ok {
		return nil
	}
	_, err := b.DeletePrefix(ctx, blobs.AccountPrefix(p.Account))
	return err
}
