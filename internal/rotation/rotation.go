// Package rotation starts region key rotations and reports where each
// region's keys stand, for the operator routes (POST /v1/operator/rotate,
// GET /v1/operator/status). Starting a rotation makes a new key version
// current at once and is logged; the data keys are re-wrapped afterwards,
// in batches, by the server's upkeep loop (upkeep.Rewrap), which a start
// wakes.
package rotation

import (
	"context"
	"slices"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/keyring"
	"github.com/candorcloud/candor/internal/region"
)

// Keys starts a rotation and reports it (keyring.Keyring).
type Keys interface {
	StartRotation(ctx context.Context, region candor.RegionID) (keyring.Rotation, error)
	RotationStatus(ctx context.Context, region candor.RegionID) (keyring.Rotation, error)
	Erasure() (keyring.ErasureState, error)
}

// Log appends to an audit log (audit.Logs).
type Log interface {
	Append(ctx context.Context, log string, e audit.Event) error
}

// Waker starts the re-wrapping at once (upkeep.Loop).
type Waker interface {
	Wake()
}

// Service starts rotations and reports the regions' keys. It is safe for
// concurrent use.
type Service struct {
	regions region.Config
	keys    Keys
	log     Log
	wake    Waker
}

// New returns a Service over the configured regions.
func New(regions region.Config, keys Keys, log Log, wake Waker) *Service {
	return &Service{regions: regions, keys: keys, log: log, wake: wake}
}

// RegionStatus lists the configured regions, in order, with their current
// key version, their data keys and how many of those an older version
// still wraps. A region whose keys cannot be read (the server is sealed)
// is listed with its name only.
func (s *Service) RegionStatus(ctx context.Context) []api.RegionStatus {
	var out []api.RegionStatus
	for _, r := range s.regions.Regions {
		st := api.RegionStatus{ID: string(r.ID), Name: r.Name}
		if rot, err := s.keys.RotationStatus(ctx, r.ID); err == nil {
			st.KeyVersion, st.DataKeys, st.Pending = rot.Version, rot.Total, rot.Pending
		}
		out = append(out, st)
	}
	return out
}

// ErasureStatus reports where the erasure keys stand; nil while sealed.
func (s *Service) ErasureStatus() *api.ErasureStatus {
	st, err := s.keys.Erasure()
	if err != nil {
		return nil
	}
	return &api.ErasureStatus{PeriodSeconds: int64(st.Length.Seconds()), StoredPeriod: st.Stored, CurrentPeriod: st.Current,
		Horizon: st.Horizon, Behind: st.Stored < st.Current}
}

// StartRotation makes a new key version current in a configured region
// (NotFound for another), logs it in the directory's audit log as by, and
// wakes the re-wrapping of the region's data keys. A rotation still
// pending is resumed rather than a new version made (keyring.StartRotation).
// The rotation is in effect even if logging it fails; that error is
// returned.
func (s *Service) StartRotation(ctx context.Context, id candor.RegionID, by string) error {
	if !slices.Contains(s.regions.IDs(), id) {
		return candor.Errorf(candor.NotFound, "no region %q", id)
	}
	r, err := s.keys.StartRotation(ctx, id)
	if err != nil {
		return err
	}
	if err := s.log.Append(ctx, audit.Directory, audit.Event{Actor: by, Action: audit.ActionRotate, Outcome: audit.OK,
		Region: string(id), Count: r.Pending}); err != nil {
		return err
	}
	s.wake.Wake()
	return nil
}
