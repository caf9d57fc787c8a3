package server

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/account"
	"github.com/candorcloud/candor/internal/content"
	"github.com/candorcloud/candor/internal/httpapi"
	"github.com/candorcloud/candor/internal/keyring"
	"github.com/candorcloud/candor/internal/messaging"
	"github.com/candorcloud/candor/internal/messaging/kannel"
	"github.com/candorcloud/candor/internal/photos"
	"github.com/candorcloud/candor/internal/records"
	"github.com/candorcloud/candor/internal/region"
	"github.com/candorcloud/candor/internal/retention"
	"github.com/candorcloud/candor/internal/staff"
)

// Config is everything a server needs, loaded once and passed down.
type Config struct {
	// Addr is the address to listen on, such as 127.0.0.1:8080.
	Addr string `json:"addr"`
	// Data is the data folder: SQLite databases, and in --dev mode the
	// development root key.
	Data string `json:"data"`
	// Name names the deployment in its signed audit checkpoints and, lower
	// cased, prefixes its NATS subjects (default "candor"): up to 64
	// letters, digits, dashes and underscores, in labels separated by dots
	// like a host name ("candor.example.org"). Every label starts with a
	// letter or digit, so the name is a valid note key name and every label
	// is one token of a NATS subject.
	Name string `json:"name"`
	// Quorum is how many approvers other than the requester must approve a
	// staff access request (default 2).
	Quorum int `json:"approval_quorum"`
	// Dev starts the embedded default: SQLite under Data, keys created and
	// unsealed automatically. Not for production.
	Dev bool `json:"dev"`
	// Regions served, and the fallback region for countries none lists;
	// region.Defaults() when Regions is empty.
	Regions        []region.Region `json:"regions"`
	FallbackRegion candor.RegionID `json:"fallback_region"`
	// Serve names the regions this process serves, when not all of them
	// (a deployment with one process per region, docs/regions.md): it
	// holds only their keys, opens only their blob stores, serves their
	// accounts, and forwards a request for an account of another region to
	// that region's URL. Empty serves every region. Migrations, which any
	// instance may run, still reach every region's store and bucket.
	Serve []candor.RegionID `json:"serve,omitempty"`
	// Postgres, when set, keeps the directory and every region in
	// PostgreSQL instead of SQLite files under Data.
	Postgres *Postgres `json:"postgres,omitempty"`
	// S3, when set, keeps every region's blobs in its own S3 bucket.
	S3 *S3 `json:"s3,omitempty"`
	// NATS, when set, is the URL of the NATS server that instances share
	// messaging push notices over; without it, one process uses an
	// in-memory bus.
	NATS string `json:"nats,omitempty"`
	// Limits are the limits and costs an operator may change from the
	// file; zero fields keep the defaults.
	Limits Limits `json:"limits"`
	// Web is where browsers reach the server (the staff console's passkeys
	// are bound to it).
	Web Web `json:"web"`
	// TrustedProxies are the load balancers in front of the server, as
	// addresses or CIDR prefixes ("10.0.0.0/8", "127.0.0.1"): requests from
	// them are limited per client by the address their X-Forwarded-For
	// names. Leave it empty when clients reach the server directly.
	TrustedProxies []string `json:"trusted_proxies,omitempty"`
	// Erasure places the erasure keys, which bound how long a deletion can
	// be undone from a copy of the database (docs/deployment.md).
	Erasure Erasure `json:"erasure"`

	// SMS names the SMS gateway that sends the verification codes of
	// messaging; without it (and without --dev, whose emulated carrier
	// delivers them in memory) no phone can turn messaging on.
	SMS *SMS `json:"sms,omitempty"`
	// Gateway, when set, sends the SMS instead of the one SMS names: any
	// messaging.Gateway (a provider's API) plugs in here.
	Gateway messaging.Gateway `json:"-"`

	// Messaging tunes messaging (envelope expiry, discovery quota).
	Messaging messaging.Config `json:"-"`
	// Account tunes hashing costs, session lifetime and login throttling.
	Account account.Config `json:"-"`
	// Photos tunes photo uploads (maximum size, upload expiry).
	Photos photos.Config `json:"-"`
	// OTA tunes the update metadata: each role's expiry, and the clock it
	// signs with (tests set it to sign metadata that has already expired).
	OTA OTAConfig `json:"-"`
	// HTTP tunes the API handler (per-address limits on sign-in endpoints).
	HTTP httpapi.Options `json:"-"`
	// Migrations tunes how an instance holds the region migration job it
	// runs: how often it renews its lease and how long the lease lasts
	// (default 5 s and 20 s).
	Migrations region.Lease `json:"-"`
	// ShutdownTimeout bounds a graceful shutdown (default 10 s).
	ShutdownTimeout time.Duration `json:"-"`
	// Logger receives structured logs (default: JSON on stderr).
	Logger *slog.Logger `json:"-"`

	// codec replaces record sealing; benchmarks in this package set it to
	// measure sealing against a plain copy. Nil means records.Sealed.
	codec records.Codec
}

// Web describes the server as browsers reach it.
type Web struct {
	// Origin is the web origin of the pages and the staff console, such
	// as "https://candor.example.org": staff passkeys are bound to its host
	// (the WebAuthn relying party id, a name: browsers refuse IP
	// addresses) and answered only from it. With --dev it defaults to the
	// listen address, a loopback address written localhost
	// ("http://localhost:8080"); otherwise, unset, the console's passkeys
	// are off and staff use their tokens.
	Origin string `json:"origin,omitempty"`
	// Passkeys tunes the console's passkeys and sessions (lifetimes,
	// bounds, clock); Origin above wins over its own.
	Passkeys staff.PasskeyConfig `json:"-"`
}

// OTAConfig tunes the signed update metadata.
type OTAConfig struct {
	Expiry content.Expiry
	Now    func() time.Time
}

// S3 names an S3-compatible server and one bucket per region for the
// regions' blob stores (photos); without it, blobs are files under Data.
type S3 struct {
	Endpoint  string                     `json:"endpoint"` // host:port
	AccessKey string                     `json:"access_key"`
	SecretKey string                     `json:"secret_key"`
	UseSSL    bool                       `json:"use_ssl"`
	Region    string                     `json:"region,omitempty"`
	Buckets   map[candor.RegionID]string `json:"buckets"`
}

// Erasure places the erasure keys and sets their period. A shred secret
// deleted from the database cannot be opened from a copy of the database
// (a dump, a base backup, a WAL archive) two periods later, even with the
// custodians' shares.
type Erasure struct {
	// Folder keeps the one stored erasure key: on storage every instance
	// shares, outside every database and every backup (default: erasure/
	// in the data folder). Losing it loses every account's data.
	Folder string `json:"folder,omitempty"`
	// Period is how long each erasure key lasts, like "7d" (default 7
	// days; 1 hour to 30 days). It is also about how old a directory
	// backup may be and still be restored (docs/deployment.md#backups).
	Period retention.Duration `json:"period,omitempty"`
	// Now is the clock periods are counted on (tests move it).
	Now func() time.Time `json:"-"`
}

// Postgres names the PostgreSQL database of the directory and of each
// region (one database, or one schema via search_path, per region).
type Postgres struct {
	Directory string                     `json:"directory"`
	Regions   map[candor.RegionID]string `json:"regions"`
}

// SMS names the SMS gateway.
type SMS struct {
	// Kannel sends through a Kannel smsbox (docs/messaging.md).
	Kannel *Kannel `json:"kannel,omitempty"`
}

// Kannel is a sendsms-user of a Kannel smsbox.
type Kannel struct {
	// URL is smsbox's sendsms URL, such as
	// "http://127.0.0.1:13013/cgi-bin/sendsms"; https works too.
	URL      string `json:"url"`
	Username string `json:"username"`
	// PasswordFile holds the password (a trailing newline is ignored): a
	// secret is not kept in the configuration file.
	PasswordFile string `json:"password_file"`
	// From is the sender phones show, such as "Candor" (default: the
	// sendsms-user's default-sender).
	From string `json:"from,omitempty"`
	// Timeout bounds one request, like "10s" (default 10 s; 1 s to 60 s).
	Timeout retention.Duration `json:"timeout,omitempty"`
	// DLRURL is the base URL at which smsbox reaches this server (or its
	// load balancer), such as "http://10.0.0.5:8080": each send then asks
	// for delivery reports there. Empty asks for none.
	DLRURL string `json:"dlr_url,omitempty"`
}

// gateway reads the password file and checks the settings; log receives
// the reports of messages not delivered.
func (k *Kannel) gateway(log *slog.Logger) (messaging.Gateway, error) {
	if k.PasswordFile == "" {
		return nil, fmt.Errorf("sms.kannel: no password_file")
	}
	pw, err := os.ReadFile(k.PasswordFile)
	if err != nil {
		return nil, fmt.Errorf("sms.kannel.password_file: %w", err)
	}
	if t := time.Duration(k.Timeout); t != 0 && (t < time.Second || t > time.Minute) {
		return nil, fmt.Errorf("sms.kannel.timeout: use 1s to 60s")
	}
	g, err := kannel.New(kannel.Config{URL: k.URL, Username: k.Username, Password: strings.TrimRight(string(pw), "\r\n"),
		From: k.From, Timeout: time.Duration(k.Timeout), ReportURL: k.DLRURL, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("sms.%w", err)
	}
	return g, nil
}

// namePattern is what Config.Name may be; its length is checked apart.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9][A-Za-z0-9_-]*)*$`)

// Limits tune the server from the configuration file.
type Limits struct {
	// PhotoMaxBytes is the largest photo accepted (default 200 MiB; 1 MiB
	// to 16 GiB).
	PhotoMaxBytes int64 `json:"photo_max_bytes,omitempty"`
	// DiscoveryPerDay bounds private contact discovery evaluations per
	// account and day (default 2000; 10 to 1,000,000).
	DiscoveryPerDay int `json:"discovery_per_day,omitempty"`
	// SessionTTL is how long a device session lasts without logging in
	// again, like "30d" or "12h" (default 30 days; 1 hour to 365 days).
	SessionTTL retention.Duration `json:"session_ttl,omitempty"`
	// AuthHash is the server's Argon2id cost for the auth keys it stores
	// (default OWASP's: time 2, 19 MiB, 1 thread; at least that).
	AuthHash *AuthHash `json:"auth_hash,omitempty"`
}

// AuthHash is an Argon2id cost.
type AuthHash struct {
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
}

// apply checks the limits and sets them where the Config leaves the
// setting empty (code that sets a field directly wins, as tests do).
func (l Limits) apply(c *Config) error {
	switch {
	case l.PhotoMaxBytes != 0 && (l.PhotoMaxBytes < 1<<20 || l.PhotoMaxBytes > 16<<30):
		return fmt.Errorf("limits.photo_max_bytes %d: use 1 MiB to 16 GiB", l.PhotoMaxBytes)
	case l.DiscoveryPerDay != 0 && (l.DiscoveryPerDay < 10 || l.DiscoveryPerDay > 1_000_000):
		return fmt.Errorf("limits.discovery_per_day %d: use 10 to 1000000", l.DiscoveryPerDay)
	case l.SessionTTL != 0 && (time.Duration(l.SessionTTL) < time.Hour || time.Duration(l.SessionTTL) > 365*24*time.Hour):
		return fmt.Errorf("limits.session_ttl: use 1h to 365d")
	case l.AuthHash != nil && (l.AuthHash.Time < account.OWASP.Time || l.AuthHash.MemoryKiB < account.OWASP.MemoryKiB ||
		l.AuthHash.Threads < 1 || l.AuthHash.MemoryKiB > 4<<20 || l.AuthHash.Time > 64):
		return fmt.Errorf("limits.auth_hash: at least time %d, memory_kib %d, threads 1 (OWASP), at most time 64 and 4 GiB of memory",
			account.OWASP.Time, account.OWASP.MemoryKiB)
	}
	if c.Photos.MaxSize == 0 {
		c.Photos.MaxSize = l.PhotoMaxBytes
	}
	if c.Messaging.EvaluationsPerDay == 0 {
		c.Messaging.EvaluationsPerDay = l.DiscoveryPerDay
	}
	if c.Account.SessionTTL == 0 {
		c.Account.SessionTTL = time.Duration(l.SessionTTL)
	}
	if c.Account.Hash == (account.Argon2{}) && l.AuthHash != nil {
		c.Account.Hash = account.Argon2{Time: l.AuthHash.Time, MemoryKiB: l.AuthHash.MemoryKiB, Threads: l.AuthHash.Threads}
	}
	return nil
}

// LoadConfig reads a JSON configuration file. Unknown fields are errors, so
// a misspelt setting is not silently ignored.
func LoadConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, err
	}
	defer f.Close()
	var c Config
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("config %s: %v", path, err)
	}
	return c, nil
}

func (c *Config) regions() region.Config {
	return region.Config{Regions: c.Regions, Fallback: c.FallbackRegion}
}

// served lists the regions this process serves: Serve, or every region.
func (c *Config) served() []candor.RegionID {
	if len(c.Serve) > 0 {
		return c.Serve
	}
	return c.regions().IDs()
}

// serves reports whether this process serves region id.
func (c *Config) serves(id candor.RegionID) bool { return slices.Contains(c.served(), id) }

func (c *Config) defaults() error {
	if len(c.Regions) == 0 {
		d := region.Defaults()
		c.Regions, c.FallbackRegion = d.Regions, d.Fallback
	}
	if err := c.regions().Validate(); err != nil {
		return fmt.Errorf("regions: %w", err)
	}
	if c.Postgres == nil && c.Data == "" {
		return fmt.Errorf("no data folder: pass --data DIR")
	}
	for i, id := range c.Serve {
		switch {
		case !slices.Contains(c.regions().IDs(), id):
			return fmt.Errorf("serve: region %q is not configured", id)
		case slices.Contains(c.Serve[:i], id):
			return fmt.Errorf("serve: region %q is named twice", id)
		}
	}
	if len(c.Serve) > 0 && len(c.Serve) < len(c.Regions) {
		for _, r := range c.Regions {
			if r.URL == "" && !c.serves(r.ID) {
				return fmt.Errorf("regions: region %s has no url: this process does not serve it, and forwards its requests to its url", r.ID)
			}
		}
	}
	if c.Postgres != nil {
		if c.Postgres.Directory == "" {
			return fmt.Errorf("postgres: no directory database")
		}
		for _, id := range c.regions().IDs() {
			if c.Postgres.Regions[id] == "" {
				return fmt.Errorf("postgres: no database for region %s", id)
			}
		}
	}
	if c.Erasure.Folder == "" && c.Data != "" {
		c.Erasure.Folder = filepath.Join(c.Data, "erasure")
	}
	switch p := time.Duration(c.Erasure.Period); {
	case c.Erasure.Folder == "":
		return fmt.Errorf("erasure: no folder for the erasure keys: set erasure.folder, outside the databases and their backups")
	case p == 0:
		c.Erasure.Period = retention.Duration(keyring.DefaultPeriod)
	case p < time.Hour || p > 30*24*time.Hour:
		return fmt.Errorf("erasure.period: use 1h to 30d")
	}
	if c.Name == "" {
		c.Name = "candor"
	}
	if len(c.Name) > 64 || !namePattern.MatchString(c.Name) {
		return fmt.Errorf("name %q: use up to 64 letters, digits, dashes and underscores, in labels separated by dots like candor.example.org, each starting with a letter or digit (it names the audit signing key and the NATS subjects)", c.Name)
	}
	if c.S3 != nil {
		for _, id := range c.regions().IDs() { // every region's: any instance may run a migration
			if c.S3.Buckets[id] == "" {
				return fmt.Errorf("s3: no bucket for region %s", id)
			}
		}
	}
	for _, v := range c.TrustedProxies {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil {
				return fmt.Errorf("trusted_proxies: %q is neither an address nor a prefix like 10.0.0.0/8", v)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		c.HTTP.TrustedProxies = append(c.HTTP.TrustedProxies, p.Masked())
	}
	if c.SMS != nil && c.SMS.Kannel == nil {
		return fmt.Errorf("sms: name the gateway (kannel), or leave the section out")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if c.Gateway == nil && c.SMS != nil {
		g, err := c.SMS.Kannel.gateway(c.Logger)
		if err != nil {
			return err
		}
		c.Gateway = g
	}
	if err := c.Limits.apply(c); err != nil {
		return err
	}
	if c.Web.Origin == "" && c.Dev && c.Addr != "" {
		// Browsers take no IP address as a passkey's relying party: a
		// loopback or unspecified address becomes localhost, another
		// address leaves passkeys off.
		host, port, err := net.SplitHostPort(c.Addr)
		if ip := net.ParseIP(host); host == "" || ip != nil && (ip.IsLoopback() || ip.IsUnspecified()) {
			host = "localhost"
		} else if ip != nil {
			host = ""
		}
		if err == nil && port != "" && host != "" {
			c.Web.Origin = "http://" + net.JoinHostPort(host, port)
		}
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
	if c.codec == nil {
		c.codec = records.Sealed{}
	}
	return nil
}
