package content

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/keyring"
)

// Keys is where the update repository's signing secret comes from
// (keyring.Keyring).
type Keys interface {
	Sealed() bool
	Secret(name string) ([]byte, error)
}

// Log appends to an audit log (audit.Logs).
type Log interface {
	Append(ctx context.Context, log string, e audit.Event) error
}

// Service serves the greetings and the signed update metadata to anyone,
// and lets staff publish them, each publication logged first in the
// directory's audit log. The update repository holds its signing keys
// only while the keyring is unsealed (UnlockOTA, LockOTA). Safe for
// concurrent use.
type Service struct {
	greetings *Greetings
	ota       *OTA
	keys      Keys
	audit     Log
	log       *slog.Logger
}

// NewService loads the greetings catalog from files and opens the update
// repository kept there, locked until UnlockOTA. expiry and now are as for
// NewOTA. Operational messages (metadata re-signed, a renewal that failed
// after an unseal) go to log.
func NewService(files Files, expiry Expiry, now func() time.Time, keys Keys, audit Log, log *slog.Logger) (*Service, error) {
	g, err := NewGreetings(files)
	if err != nil {
		return nil, err
	}
	return &Service{greetings: g, ota: NewOTA(files, expiry, now), keys: keys, audit: audit, log: log}, nil
}

// Greetings returns the public greetings of a locale (and occasion). It
// needs no key and works while sealed.
func (s *Service) Greetings(locale, occasion string) (api.Greetings, error) {
	return s.greetings.Lookup(locale, occasion)
}

// PublishGreetings merges a catalog into the served one and records who
// did it in the directory's audit log. The event is written first: a
// publish that cannot be logged does not happen.
func (s *Service) PublishGreetings(ctx context.Context, by string, in api.GreetingsCatalog) (api.GreetingsPublished, error) {
	if err := s.greetings.Check(in); err != nil {
		return api.GreetingsPublished{}, err
	}
	n := 0
	for _, list := range in.Locales {
		n += len(list)
	}
	if err := s.audit.Append(ctx, audit.Directory, audit.Event{Actor: by, Action: audit.ActionGreetingsPublish, Outcome: audit.OK, Count: n}); err != nil {
		return api.GreetingsPublished{}, err
	}
	out, err := s.greetings.Publish(in)
	if err != nil {
		s.audit.Append(ctx, audit.Directory, audit.Event{Actor: by, Action: audit.ActionGreetingsPublish, Outcome: audit.Failed, Code: candor.KindOf(err).Code()})
		return out, err
	}
	return out, nil
}

// OTAMetadata returns a signed update metadata file. It works while
// sealed, serving what was signed before. It does no key work: the
// repository is unlocked on unseal and by the upkeep loop.
func (s *Service) OTAMetadata(name string) ([]byte, error) {
	return s.ota.Metadata(name)
}

// OTATarget returns an update notice by its hash-named path.
func (s *Service) OTATarget(path string) ([]byte, error) {
	return s.ota.Target(path)
}

// PublishOTA signs a release notice for its model and channel, logged in
// the directory's audit log before it is signed. It fails with Sealed
// while the keyring is sealed.
func (s *Service) PublishOTA(ctx context.Context, by string, r api.OTARelease) (api.OTAPublished, error) {
	r.SHA256 = strings.ToLower(r.SHA256)
	if err := ValidateRelease(r); err != nil {
		return api.OTAPublished{}, err
	}
	if err := s.UnlockOTA(); err != nil {
		return api.OTAPublished{}, err
	}
	what := fmt.Sprintf("%s %s %s", TargetPath(r.Model, r.Channel), r.Version, r.SHA256)
	if err := s.audit.Append(ctx, audit.Directory, audit.Event{Actor: by, Action: audit.ActionOTAPublish, Outcome: audit.OK, Reason: what}); err != nil {
		return api.OTAPublished{}, err
	}
	out, err := s.ota.Publish(r)
	if err != nil {
		s.audit.Append(ctx, audit.Directory, audit.Event{Actor: by, Action: audit.ActionOTAPublish, Outcome: audit.Failed,
			Reason: what, Code: candor.KindOf(err).Code()})
		return out, err
	}
	return out, nil
}

// UnlockOTA gives the update repository its signing keys while the
// keyring is unsealed (making the repository the first time), and takes
// them away while it is sealed. It fails if the keyring's secret does not
// match the stored repository.
func (s *Service) UnlockOTA() error {
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

// LockOTA takes the update repository's signing keys away; it goes on
// serving what it signed.
func (s *Service) LockOTA() { s.ota.Lock() }

// RenewOTA unlocks the update repository if the keyring is unsealed and
// re-signs the metadata close to expiry (see OTA.Renew), logging what it
// re-signed. While sealed it does nothing.
func (s *Service) RenewOTA() error {
	if err := s.UnlockOTA(); err != nil {
		return fmt.Errorf("the signing keys cannot be unlocked; phones will refuse the metadata once it expires: %w", err)
	}
	renewed, err := s.ota.Renew()
	if err != nil {
		return err
	}
	if len(renewed) > 0 {
		s.log.Info("update metadata re-signed", "roles", fmt.Sprint(renewed))
	}
	return nil
}
