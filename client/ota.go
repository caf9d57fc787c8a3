package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client/internal/transport"
)

// Update notices are checked with TUF: the phone keeps the server's
// trusted root in its state folder (pinned on first use, or given with
// TrustOTARoot), and accepts an update notice only through metadata
// signed by the keys that root names, with versions never lower than
// those it has seen and not past their expiry.

const (
	otaDir          = "ota"
	otaSettingsFile = "ota/settings.json"
	otaMetadataDir  = "ota/metadata"
	otaTargetsDir   = "ota/targets"

	// DefaultModel is the model of a phone that was never told its own.
	DefaultModel = "candor-reference"
	// DefaultChannel is the release channel a phone follows by default.
	DefaultChannel = "stable"
)

var (
	otaModelPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	otaChannels     = map[string]bool{"stable": true, "beta": true}
)

// OTASettings are the model and channel a phone checks updates for.
type OTASettings struct {
	Model   string `json:"model"`
	Channel string `json:"channel"`
}

// OTACheck is the outcome of an update check.
type OTACheck struct {
	Model   string `json:"model"`
	Channel string `json:"channel"`
	// Update is the signed release notice, nil when none is published for
	// this model and channel.
	Update *api.OTARelease `json:"update"`
	// Message says the outcome in a sentence.
	Message string `json:"message"`
	// RootVersion and TimestampVersion are the versions of the trusted
	// metadata the phone now holds.
	RootVersion      int64 `json:"root_version"`
	TimestampVersion int64 `json:"timestamp_version"`
	// PinnedNow is set when this check pinned the server's root (trust on
	// first use).
	PinnedNow bool `json:"pinned_now,omitempty"`
}

// OTASettings returns the phone's model and channel (defaults when never
// set).
func (c *Client) OTASettings() (OTASettings, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.otaSettings()
}

func (c *Client) otaSettings() (OTASettings, error) {
	s := OTASettings{Model: DefaultModel, Channel: DefaultChannel}
	if err := readJSON(filepath.Join(c.dir, otaSettingsFile), &s); err != nil && !candor.Is(err, candor.NotFound) {
		return s, err
	}
	return s, nil
}

// SetOTASettings stores the phone's model and/or channel (an empty value
// keeps the current one).
func (c *Client) SetOTASettings(model, channel string) (OTASettings, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.otaSettings()
	if err != nil {
		return s, err
	}
	if model != "" {
		s.Model = model
	}
	if channel != "" {
		s.Channel = channel
	}
	if !otaModelPattern.MatchString(s.Model) {
		return s, candor.Errorf(candor.Invalid, "model %q must be lowercase letters, digits, dots, dashes or underscores", s.Model)
	}
	if !otaChannels[s.Channel] {
		return s, candor.Errorf(candor.Invalid, "channel %q must be stable or beta", s.Channel)
	}
	if err := os.MkdirAll(filepath.Join(c.dir, otaDir), 0o700); err != nil {
		return s, candor.Wrap(candor.Internal, "cannot write the state folder", err)
	}
	return s, writeJSON(filepath.Join(c.dir, otaSettingsFile), s)
}

// TrustOTARoot pins root (a TUF root.json, e.g. shipped with the phone's
// image) as the update metadata the phone trusts, replacing what it
// trusted before. The root must be signed by its own keys.
func (c *Client) TrustOTARoot(root []byte) error {
	if _, err := trustedmetadata.New(root); err != nil {
		return candor.Wrap(candor.Invalid, "this is not a valid, self-signed TUF root", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	dir := filepath.Join(c.dir, otaMetadataDir)
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return candor.Wrap(candor.Internal, "cannot write the state folder", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "root.json"), root, 0o600); err != nil {
		return candor.Wrap(candor.Internal, "cannot write the state folder", err)
	}
	return nil
}

// CheckOTA asks the server, anonymously, for the update notice of the
// phone's model and channel and verifies it with TUF. It refuses, with
// candor.Integrity and a sentence saying why, metadata whose signatures
// do not verify (tampered or forged), whose versions are lower than ones
// the phone has seen (rolled back), or which have expired (frozen). A
// phone with no trusted root yet pins the server's first root (trust on
// first use).
func (c *Client) CheckOTA(ctx context.Context) (OTACheck, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.otaSettings()
	if err != nil {
		return OTACheck{}, err
	}
	out := OTACheck{Model: s.Model, Channel: s.Channel}
	metaDir := filepath.Join(c.dir, otaMetadataDir)
	base := c.dev.Server + api.Version + "/public/ota/"
	fetch := otaFetcher{ctx: ctx, hc: c.opts.hc}

	root, err := os.ReadFile(filepath.Join(metaDir, "root.json"))
	if errors.Is(err, os.ErrNotExist) {
		if root, err = fetch.DownloadFile(base+"1.root.json", 512000, 0); err != nil {
			return out, otaError(err)
		}
		if _, err := trustedmetadata.New(root); err != nil {
			return out, otaError(err)
		}
		out.PinnedNow = true
	} else if err != nil {
		return out, candor.Wrap(candor.Internal, "cannot read the trusted update root", err)
	}
	cfg, err := config.New(base, root)
	if err != nil {
		return out, candor.Wrap(candor.Internal, "cannot set up the update check", err)
	}
	cfg.LocalMetadataDir = metaDir
	cfg.LocalTargetsDir = filepath.Join(c.dir, otaTargetsDir)
	cfg.RemoteTargetsURL = base + "targets"
	cfg.Fetcher = fetch
	up, err := updater.New(cfg)
	if err != nil {
		return out, otaError(err)
	}
	if err := up.Refresh(); err != nil {
		return out, otaError(err)
	}
	trusted := up.GetTrustedMetadataSet()
	out.RootVersion = trusted.Root.Signed.Version
	if trusted.Timestamp != nil {
		out.TimestampVersion = trusted.Timestamp.Signed.Version
	}
	path := "ota/" + s.Model + "/" + s.Channel + ".json"
	info, ok := up.GetTopLevelTargets()[path]
	if !ok {
		out.Message = fmt.Sprintf("no update for %s on %s", s.Model, s.Channel)
		return out, nil
	}
	info.Path = path
	_, data, err := up.FindCachedTarget(info, "")
	if err != nil || data == nil {
		if _, data, err = up.DownloadTarget(info, "", ""); err != nil {
			return out, otaError(err)
		}
	}
	var rel api.OTARelease
	if err := json.Unmarshal(data, &rel); err != nil {
		return out, candor.Wrap(candor.Integrity, "the signed update notice is not readable", err)
	}
	if rel.Model != s.Model || rel.Channel != s.Channel {
		return out, candor.E(candor.Integrity, "refused: the signed update notice names another model or channel")
	}
	out.Update = &rel
	out.Message = fmt.Sprintf("update %s for %s on %s: %s (%d bytes, sha256 %s)", rel.Version, s.Model, s.Channel, rel.URL, rel.Size, rel.SHA256)
	return out, nil
}

// otaError turns a TUF failure into a sentence saying why the phone
// refuses the metadata.
func otaError(err error) error {
	var dl *metadata.ErrDownloadHTTP
	switch {
	case errors.Is(err, &metadata.ErrUnsignedMetadata{}):
		return candor.Wrap(candor.Integrity, "refused: the update metadata's signature does not verify (tampered or forged)", err)
	case errors.Is(err, &metadata.ErrBadVersionNumber{}), errors.Is(err, &metadata.ErrEqualVersionNumber{}):
		return candor.Wrap(candor.Integrity, "refused: the update metadata is older than what this phone has already seen (rolled back)", err)
	case errors.Is(err, &metadata.ErrExpiredMetadata{}):
		return candor.Wrap(candor.Integrity, "refused: the update metadata has expired (frozen: the server or someone in between keeps serving an old copy)", err)
	case errors.Is(err, &metadata.ErrLengthOrHashMismatch{}):
		return candor.Wrap(candor.Integrity, "refused: a downloaded update file does not match its signed hash (tampered)", err)
	case errors.As(err, &dl):
		if dl.StatusCode == http.StatusNotFound {
			return candor.Wrap(candor.NotFound, "the server publishes no update metadata (yet)", err)
		}
		return candor.Wrap(candor.Unavailable, fmt.Sprintf("the server answered HTTP %d for update metadata", dl.StatusCode), err)
	}
	var ce *candor.Error
	if errors.As(err, &ce) {
		return err
	}
	return candor.Wrap(candor.Integrity, "refused: the update metadata is not valid", err)
}

// otaFetcher downloads TUF files anonymously, like every public request.
type otaFetcher struct {
	ctx context.Context
	hc  *http.Client
}

// DownloadFile implements the TUF fetcher: a bare GET, at most maxLength
// bytes; a non-200 answer is a metadata.ErrDownloadHTTP.
func (f otaFetcher) DownloadFile(u string, maxLength int64, _ time.Duration) ([]byte, error) {
	status, b, err := transport.FetchPublic(f.ctx, f.hc, u, maxLength)
	if err != nil {
		if candor.Is(err, candor.TooLarge) {
			return nil, &metadata.ErrDownloadLengthMismatch{Msg: err.Error()}
		}
		return nil, err
	}
	if status != http.StatusOK {
		return nil, &metadata.ErrDownloadHTTP{StatusCode: status, URL: u}
	}
	return b, nil
}
