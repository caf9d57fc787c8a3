package account

import (
	"context"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// Usage returns what p's account keeps in each synced category (messaging
// keeps no records and is absent): its live records, the bytes they take
// and the time of the last change. Photos count the photos stored (their
// complete uploads) and add their sizes to the bytes of their sealed
// metadata records. It costs one aggregate query per category (and one
// more for photos), whatever the account holds; nothing is decrypted and
// no record is read, so nothing is added to the owner's access log.
func (s *Service) Usage(ctx context.Context, p candor.Principal) (map[candor.Category]store.Usage, error) {
	accts, err := s.regions.Accounts(p.Region)
	if err != nil {
		return nil, err
	}
	out := make(map[candor.Category]store.Usage, len(candor.Categories()))
	for _, c := range candor.Categories() {
		if !c.Synced() {
			continue
		}
		u, err := accts.Usage(ctx, p.Account, c)
		if err != nil {
			return nil, err
		}
		if c == candor.Photos {
			blobs, err := accts.UploadUsage(ctx, p.Account, c)
			if err != nil {
				return nil, err
			}
			u.Records = blobs.Records
			u.Bytes += blobs.Bytes
			if blobs.LastChange.After(u.LastChange) {
				u.LastChange = blobs.LastChange
			}
		}
		out[c] = u
	}
	return out, nil
}
