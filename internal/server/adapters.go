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
	"github.com/candorcloud/candor/internal/relay"
	"github.com/candorcloud/candor/internal/store"
)

// The adapters in this file fit the opened stores and the services to the
// narrow interfaces the services declare; compose (compose.go) is their
// only user.

// regionStores resolves a region's store for each service, as the narrow
// interface that service owns.
type regionStores struct{ s *Server }

// store is a region's store if this process serves the region. Messages
// alone reaches every region's: a message is queued in the recipient's
// region and a receipt in the sender's, both sealed end to end by the
// phones (docs/regions.md, "One process per region").
func (r regionStores) store(id candor.RegionID) (store.Region, error) {
	st, ok := r.s.regions[id]
	if !ok || !r.s.cfg.serves(id) {
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
func (r regionStores) Messages(id candor.RegionID) (store.Messages, error) {
	st, ok := r.s.regions[id]
	if !ok {
		return nil, candor.Errorf(candor.WrongRegion, "region %s is not configured", id)
	}
	return st, nil
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
	if !ok || !r.s.cfg.serves(id) {
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

// homes relays the requests of accounts of regions this process does not
// serve (Config.Serve) to their regions' URLs; nil when it serves all.
func (s *Server) homes() (httpapi.Homes, error) {
	if len(s.cfg.served()) == len(s.cfg.Regions) {
		return nil, nil
	}
	var others []relay.Region
	for _, r := range s.cfg.Regions {
		others = append(others, relay.Region{ID: r.ID, URL: r.URL})
	}
	rl, err := relay.New(s.cfg.served(), others)
	if err != nil {
		return nil, err
	}
	return homes{Relay: rl, s: s}, nil
}

// homes is the relay with where accounts live.
type homes struct {
	*relay.Relay
	s *Server
}

func (h homes) HomeFor(country string) candor.RegionID { return h.s.cfg.regions().HomeFor(country) }

func (h homes) RegionOf(ctx context.Context, handle []byte) (candor.RegionID, error) {
	e, err := h.s.dir.EntryByHandle(ctx, handle)
	if err != nil {
		return "", err
	}
	return e.Region, nil
}
