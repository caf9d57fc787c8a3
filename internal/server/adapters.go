package server

import (
	"context"
	"strings"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/account"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/blobs"
	"github.com/candorcloud/candor/internal/consent"
	"github.com/candorcloud/candor/internal/httpapi"
	"github.com/candorcloud/candor/internal/messaging"
	"github.com/candorcloud/candor/internal/photos"
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

// auditedConsent checks consent with the ledger and changes it through the
// audit log, so messaging's activation is logged like any consent change.
type auditedConsent struct {
	ledger  *consent.Ledger
	audited *audit.Consent
}

func (a auditedConsent) Check(ctx context.Context, p candor.Principal, c candor.Category) (int64, error) {
	return a.ledger.Check(ctx, p, c)
}

func (a auditedConsent) Set(ctx context.Context, p candor.Principal, c candor.Category, on bool, policy string) (store.ConsentEvent, error) {
	return a.audited.Set(ctx, p, c, on, policy)
}

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
		if _, err := b.DeletePrefix(ctx, photos.Prefix(p.Account, c)); err != nil {
			return err
		}
	}
	return nil
}

// eraseBlobs deletes every blob and the messaging state of a deleted
// account.
func (s *Server) eraseBlobs(ctx context.Context, p candor.Principal) error {
	if err := s.msgs.Deactivate(ctx, p); err != nil {
		return err
	}
	b, ok := s.blobs[p.Region]
	if !ok {
		return nil
	}
	_, err := b.DeletePrefix(ctx, "accounts/"+strings.ToLower(string(p.Account))+"/")
	return err
}
