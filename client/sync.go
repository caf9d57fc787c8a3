package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

// Sync tuning.
const (
	pullPage      = api.DefaultFeedPage
	pushBatch     = 500
	pushBatchSize = 5 << 20 // bytes of record data in one push: under api.MaxBodyBytes once base64-encoded
	maxRounds     = 8       // pull/push rounds before a sync gives up settling
)

// Progress reports how far a sync is.
type Progress struct {
	Category candor.Category
	// Phase is "pull" or "push".
	Phase string
	Done  int
	// Total is the number of changes to push, or -1 while pulling (the
	// feed's length is not known in advance).
	Total int
}

// ProgressFunc receives progress reports. It is called on the syncing
// goroutine and must not call the Client.
type ProgressFunc func(Progress)

// SyncResult summarizes the sync of one category.
type SyncResult struct {
	Category candor.Category
	Pulled   int // records received from the cloud and applied
	Pushed   int // local changes the cloud accepted
	// Copies counts conflict copies made: local edits kept as new records
	// because the same record was edited elsewhere.
	Copies int
	// Reset is set when the cloud copy the phone had synced against was
	// gone (the category was turned off and on again) and the phone's
	// records were offered to the cloud afresh, or when the phone had been
	// away longer than the region keeps deletions and read the whole
	// category again.
	Reset bool
}

// Sync synchronizes categories with the cloud: each is pulled from its
// cursor and then the phone's changes are pushed, until nothing is pending
// (see the package documentation for the conflict rule). With no
// categories named it syncs every category that is on, and returns no
// results if none is.
//
// Consent is checked first, in two steps. Before anything, the phone
// refreshes its copy of the account's consents from the server (a request
// that carries nothing personal), so that a category turned off from
// another device stops syncing here. Then a named category that is off is
// refused with candor.ErrConsent before any request about it is made: the
// phone sends nothing of a category that is off. If the server refuses a
// category mid-sync for lack of consent, the phone records it as off and
// returns the consent error after syncing the other categories. A phone
// that is not signed in refuses an off category the same way, and fails
// with Unauthenticated otherwise.
//
// progress, when not nil, is called as records are pulled and pushed.
func (c *Client) Sync(ctx context.Context, progress ProgressFunc, cats ...candor.Category) ([]SyncResult, error) {
	var named []candor.Category
	for _, cat := range cats {
		if !slices.Contains(named, cat) {
			named = append(named, cat)
		}
	}
	cats = named
	for _, cat := range cats {
		if !cat.Valid() {
			_, err := candor.ParseCategory(string(cat))
			return nil, err
		}
		if !cat.Synced() {
			return nil, candor.Errorf(candor.Invalid, "%s is not synced: its messages are delivered, not stored", cat)
		}
	}
	if progress == nil {
		progress = func(Progress) {}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		for _, cat := range cats {
			if !c.consents.on(cat) {
				return nil, candor.ErrConsent(cat)
			}
		}
		return nil, errNotSignedIn
	}
	if err := c.refreshConsents(ctx); err != nil {
		return nil, err
	}
	if len(cats) == 0 {
		for _, cat := range candor.Categories() {
			if cat.Synced() && c.consents.on(cat) {
				cats = append(cats, cat)
			}
		}
	}
	for _, cat := range cats {
		if !c.consents.on(cat) {
			return nil, candor.ErrConsent(cat)
		}
	}
	var (
		results    []SyncResult
		consentErr error
	)
	for _, cat := range cats {
		res, err := c.syncCategory(ctx, cat, progress)
		switch {
		case err == nil:
			results = append(results, res)
		case candor.Is(err, candor.ConsentRequired):
			c.markOff(cat)
			if consentErr == nil {
				consentErr = candor.ErrConsent(cat)
			}
		default:
			return results, err
		}
	}
	return results, consentErr
}

// syncCategory runs the pull/push rounds of one category that is on.
func (c *Client) syncCategory(ctx context.Context, cat candor.Category, progress ProgressFunc) (SyncResult, error) {
	res := SyncResult{Category: cat}
	s, err := c.category(cat)
	if err != nil {
		return res, err
	}
	defer c.saveCategory(cat)
	if s.Account != c.sess.Account {
		// The cursor and versions belong to another account's cloud copy.
		if s.Account != "" {
			s.reset()
			res.Reset = true
		}
		s.Account = c.sess.Account
	}
	if c.adoptEpoch(s, c.consents.Categories[cat].Epoch) {
		res.Reset = true
	}
	if cat == candor.Photos {
		// A photo's record goes to the cloud only once its bytes are there.
		if err := c.uploadPhotos(ctx, s, progress); err != nil {
			return res, err
		}
	}
	for range maxRounds {
		changed, err := c.pull(ctx, cat, s, &res, progress)
		if err != nil {
			return res, err
		}
		if changed {
			res.Reset = true
			continue
		}
		if len(s.dirty()) == 0 {
			break
		}
		changed, err = c.push(ctx, cat, s, &res, progress)
		if err != nil {
			return res, err
		}
		if changed {
			res.Reset = true
			continue
		}
		if len(s.dirty()) == 0 {
			break
		}
	}
	if n := len(s.dirty()); n > 0 {
		return res, candor.Errorf(candor.Conflict, "%s did not settle: %d changes are still pending; sync again", cat, n)
	}
	if cat == candor.Photos {
		if err := c.deleteUnusedBlobs(ctx, s); err != nil {
			return res, err
		}
		if err := c.downloadPhotos(ctx, s, progress); err != nil {
			return res, err
		}
	}
	s.LastSync = c.opts.now().UTC()
	return res, c.saveCategory(cat)
}

// adoptEpoch makes epoch the one s is synced against. If s was synced
// against another epoch, that cloud copy is gone: s is reset and adoptEpoch
// reports true. An epoch of 0 (unknown) changes nothing.
func (c *Client) adoptEpoch(s *categoryState, epoch int64) bool {
	if epoch == 0 || epoch == s.Epoch {
		return false
	}
	changed := s.Epoch != 0
	if changed {
		s.reset()
	}
	s.Epoch = epoch
	return changed
}

// pull applies the change feed from s's cursor to its end. It reports
// whether the epoch changed (and s was reset), in which case it stops.
//
// If the server answers that the cursor is older than the deletions it
// still remembers (api.Feed.Reset), pull reads the whole feed again from 0
// and then drops the records it had synced that are no longer in it
// (deleted elsewhere while this phone was away); records changed on this
// phone are kept. The cursor is saved only once that pass is complete, so
// an interrupted pass starts again.
func (c *Client) pull(ctx context.Context, cat candor.Category, s *categoryState, res *SyncResult, progress ProgressFunc) (epochChanged bool, err error) {
	done := 0
	progress(Progress{Category: cat, Phase: "pull", Done: done, Total: -1})
	cursor := s.Cursor
	full := cursor == 0      // a pass from the start: the server does not send it back there
	var seen map[string]bool // during a pass from 0 after a reset
	for {
		q := url.Values{"since": {fmt.Sprint(cursor)}, "limit": {fmt.Sprint(pullPage)}}
		if full {
			q.Set("full", "1") // its later pages are below the purged position
		}
		var feed api.Feed
		if err := c.call(ctx, http.MethodGet, "/records/"+string(cat)+"?"+q.Encode(), nil, &feed); err != nil {
			return false, err
		}
		if c.adoptEpoch(s, feed.Epoch) {
			c.saveCategory(cat)
			return true, nil
		}
		if feed.Reset {
			if seen != nil {
				return false, candor.E(candor.Unavailable, "the cloud copy kept changing while this phone caught up; sync again")
			}
			seen, cursor, done, full = map[string]bool{}, 0, 0, true
			res.Reset = true
			continue
		}
		for _, r := range feed.Records {
			if seen != nil {
				seen[r.ID] = !r.Deleted
			}
			if s.applyRemote(r, candor.NewRecordID) {
				res.Copies++
			}
		}
		res.Pulled += len(feed.Records)
		done += len(feed.Records)
		cursor = max(cursor, feed.Next)
		if seen == nil {
			s.Cursor = cursor
		}
		if err := c.saveCategory(cat); err != nil {
			return false, err
		}
		progress(Progress{Category: cat, Phase: "pull", Done: done, Total: -1})
		if !feed.More || len(feed.Records) == 0 {
			break
		}
	}
	if seen != nil {
		s.sweep(seen)
		s.Cursor = cursor
		if err := c.saveCategory(cat); err != nil {
			return false, err
		}
	}
	return false, nil
}

// push sends s's pending changes in batches. It reports whether the epoch
// changed (and s was reset), in which case it stops.
func (c *Client) push(ctx context.Context, cat candor.Category, s *categoryState, res *SyncResult, progress ProgressFunc) (epochChanged bool, err error) {
	dirty := s.dirty()
	total := len(dirty)
	done := 0
	progress(Progress{Category: cat, Phase: "push", Done: 0, Total: total})
	for len(dirty) > 0 {
		n, size := 0, 0
		for n < len(dirty) && n < pushBatch && (n == 0 || size+len(dirty[n].Data) <= pushBatchSize) {
			size += len(dirty[n].Data)
			n++
		}
		batch := dirty[:n]
		dirty = dirty[n:]
		req := api.PushRequest{Epoch: s.Epoch, Changes: make([]api.Change, len(batch))}
		for i, r := range batch {
			base := r.base()
			req.Changes[i] = api.Change{ID: r.ID, BaseVersion: base, Deleted: r.Deleted, Data: r.Data}
			r.remember(sentChange(r, base))
		}
		// Remembered before sending: if the answer is lost, the server may
		// still have committed the push, and the phone must know its own
		// write when it meets it in the feed or a later push's answer.
		if err := c.saveCategory(cat); err != nil {
			return false, err
		}
		var resp api.PushResponse
		err := c.call(ctx, http.MethodPost, "/records/"+string(cat), req, &resp)
		if candor.Is(err, candor.Conflict) {
			// The epoch pushed against is over: learn the new one.
			if err := c.refreshConsents(ctx); err != nil {
				return false, err
			}
			if !c.consents.on(cat) {
				return false, candor.ErrConsent(cat)
			}
			if !c.adoptEpoch(s, c.consents.Categories[cat].Epoch) {
				s.reset() // the server says the epoch is over even if the number is the same
			}
			c.saveCategory(cat)
			return true, nil
		}
		if err != nil {
			return false, err
		}
		if c.adoptEpoch(s, resp.Epoch) {
			c.saveCategory(cat)
			return true, nil
		}
		if len(resp.Results) != len(batch) {
			return false, candor.E(candor.Internal, "the server answered a push with the wrong number of results")
		}
		for i, r := range resp.Results {
			if r.ID != batch[i].ID {
				return false, candor.E(candor.Internal, "the server answered a push out of order")
			}
			if r.Status == api.Applied {
				res.Pushed++
			}
			if s.applyResult(r, candor.NewRecordID) {
				res.Copies++
			}
		}
		done += len(batch)
		if err := c.saveCategory(cat); err != nil {
			return false, err
		}
		progress(Progress{Category: cat, Phase: "push", Done: done, Total: total})
	}
	return false, nil
}
