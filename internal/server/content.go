package server

import (
	"context"
	"fmt"
	"github.com/candorcloud/candor/internal/custody"
	"path/filepath"
	"strings"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/content"
	"github.com/candorcloud/candor/internal/keyring"
)

// Audit actions of public content.
const (
	actionGreetingsPublish = "content.greetings.publish"
	actionOTAPublish       = "content.ota.publish"
)

// openContent loads the greetings catalog and opens the update metadata
// repository (locked until the keyring is unsealed). Both live in the data
// folder's content/ folder; a server without a data folder keeps them in
// memory and says so.
func (s *Server) openContent() error {
	var files content.Files
	if s.cfg.Data != "" {
		files = content.Dir(filepath.Join(s.cfg.Data, "content"))
	} else {
		s.cfg.Logger.Warn("no data folder: published greetings and update metadata are kept in memory only and lost on restart")
		files = &content.Memory{}
	}
	g, err := content.NewGreetings(files)
	if err != nil {
		return err
	}
	s.greetings = g
	s.ota = content.NewOTA(files, s.cfg.OTA.Expiry, s.cfg.OTA.Now)
	return nil
}

// sealer is the key ceremony, with a seal that also takes the update
// repository's signing keys away at once (rather than at the next
// background tick).
type sealer struct {
	*custody.Ceremony
	s *Server
}

func (c sealer) Seal(ctx context.Context, by string) error {
	defer c.s.ota.Lock()
	return c.Ceremony.Seal(ctx, by)
}

// Init and Submit leave the server unsealed once enough shares are in: the
// update repository gets its keys (and is made, the first time) at once,
// so that anonymous requests never have to trigger key work.
func (c sealer) Init(ctx context.Context, n, k int, recipients []string) ([]string, error) {
	shares, err := c.Ceremony.Init(ctx, n, k, recipients)
	if err == nil {
		c.s.unsealed()
	}
	return shares, err
}

func (c sealer) Submit(ctx context.Context, share string) (custody.Status, error) {
	st, err := c.Ceremony.Submit(ctx, share)
	if err == nil {
		c.s.unsealed()
	}
	return st, err
}

// unsealed does what cannot wait for the next background tick once the
// keyring is unsealed.
func (s *Server) unsealed() {
	if s.keys.Sealed() {
		return
	}
	s.renewOTA() // unlocks the repository (made the first time), re-signs what is due
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// unlockOTA gives the update repository its keys while the keyring is
// unsealed, and takes them away while it is sealed.
func (s *Server) unlockOTA() error {
	if s.keys.Sealed() {
		s.ota.Lock()
		return nil
	}
	if s.ota.Unlocked() {
		return nil
	}
	secret, err := s.keys.Secret(keyring.SecretOTASigner)
	if err != nil {
		return err
	}
	if err := s.ota.Unlock(secret); err != nil {
		return fmt.Errorf("update metadata: %w", err)
	}
	return nil
}

// renewOTA re-signs update metadata close to expiry (see content.OTA.Renew).
func (s *Server) renewOTA() {
	if err := s.unlockOTA(); err != nil {
		s.cfg.Logger.Error("update metadata cannot be unlocked; phones will refuse it once it expires", "err", err)
		return
	}
	renewed, err := s.ota.Renew()
	if err != nil {
		s.cfg.Logger.Error("re-signing update metadata failed; will retry", "err", err)
		return
	}
	if len(renewed) > 0 {
		s.cfg.Logger.Info("update metadata re-signed", "roles", fmt.Sprint(renewed))
	}
}

// Greetings returns the public greetings of a locale (and occasion). It
// needs no key and works while sealed.
func (s *Server) Greetings(locale, occasion string) (api.Greetings, error) {
	return s.greetings.Lookup(locale, occasion)
}

// PublishGreetings merges a catalog into the served one and records who
// did it in the directory's audit log. The event is written first: a
// publish that cannot be logged does not happen.
func (s *Server) PublishGreetings(ctx context.Context, by string, in api.GreetingsCatalog) (api.GreetingsPublished, error) {
	if err := s.greetings.Check(in); err != nil {
		return api.GreetingsPublished{}, err
	}
	n := 0
	for _, list := range in.Locales {
		n += len(list)
	}
	if err := s.logs.Append(ctx, audit.Directory, audit.Event{Actor: by, Action: actionGreetingsPublish, Outcome: audit.OK, Count: n}); err != nil {
		return api.GreetingsPublished{}, err
	}
	out, err := s.greetings.Publish(in)
	if err != nil {
		s.logs.Append(ctx, audit.Directory, audit.Event{Actor: by, Action: actionGreetingsPublish, Outcome: audit.Failed, Code: candor.KindOf(err).Code()})
		return out, err
	}
	return out, nil
}

// OTAMetadata returns a signed update metadata file. It works while
// sealed, serving what was signed before. It does no key work: the
// repository is unlocked on unseal and by the background loop.
func (s *Server) OTAMetadata(name string) ([]byte, error) {
	return s.ota.Metadata(name)
}

// OTATarget returns an update notice by its hash-named path.
func (s *Server) OTATarget(path string) ([]byte, error) {
	return s.ota.Target(path)
}

// PublishOTA signs a release notice for its model and channel, logged in
// the directory's audit log before it is signed.
func (s *Server) PublishOTA(ctx context.Context, by string, r api.OTARelease) (api.OTAPublished, error) {
	r.SHA256 = strings.ToLower(r.SHA256)
	if err := content.ValidateRelease(r); err != nil {
		return api.OTAPublished{}, err
	}
	if err := s.unlockOTA(); err != nil {
		return api.OTAPublished{}, err
	}
	what := fmt.Sprintf("%s %s %s", content.TargetPath(r.Model, r.Channel), r.Version, r.SHA256)
	if err := s.logs.Append(ctx, audit.Directory, audit.Event{Actor: by, Action: actionOTAPublish, Outcome: audit.OK, Reason: what}); err != nil {
		return api.OTAPublished{}, err
	}
	out, err := s.ota.Publish(r)
	if err != nil {
		s.logs.Append(ctx, audit.Directory, audit.Event{Actor: by, Action: actionOTAPublish, Outcome: audit.Failed,
			Reason: what, Code: candor.KindOf(err).Code()})
		return out, err
	}
	return out, nil
}
