// Package api defines the JSON wire format of Candor's versioned HTTP API
// (/v1). The server (internal/httpapi), the public device SDK (client) and
// the staff SDK (client/operator) all speak it; docs/openapi.yaml describes
// the same shapes. StatusOf and KindOfStatus are the one table between
// error kinds and HTTP statuses.
//
// Byte slices travel as standard base64 strings; times as RFC 3339.
package api

import "time"

// Version is the path prefix of this API.
const Version = "/v1"

// Error is the body of every non-2xx answer: {"error": {...}}.
type Error struct {
	// Code is stable and machine-readable: invalid, not_found,
	// unauthenticated, forbidden, consent_required, sealed, conflict,
	// wrong_region, too_large, rate_limited, unavailable, integrity,
	// method_not_allowed, internal.
	Code string `json:"code"`
	// Message is a sentence for a person. It never holds personal data.
	Message string `json:"message"`
	// Category is set when Code is consent_required.
	Category string `json:"category,omitempty"`
}

// ErrorResponse wraps Error.
type ErrorResponse struct {
	Error Error `json:"error"`
}

// KDF is the Argon2id cost a device used to derive its auth key from the
// password. The server stores it with the account and returns it at login so
// every device derives the same key.
type KDF struct {
	Time      uint32 `json:"t"`
	MemoryKiB uint32 `json:"m"`
	Threads   uint8  `json:"p"`
}

// HandleRequest asks the server to evaluate its OPRF on a blinded login
// handle (POST /v1/auth/handle). The email never leaves the device: the
// device blinds it, the server evaluates blindly, the device unblinds and
// finalizes to obtain a handle that nobody can compute without the server's
// key.
type HandleRequest struct {
	Blinded []byte `json:"blinded"`
}

// HandleResponse carries the evaluated element.
type HandleResponse struct {
	Evaluated []byte `json:"evaluated"`
}

// SaltRequest asks for the salt of a handle (POST /v1/auth/salt). Unknown
// handles get a stable fake salt, indistinguishable from a real one.
type SaltRequest struct {
	Handle []byte `json:"handle"`
}

// SaltResponse answers SaltRequest.
type SaltResponse struct {
	Salt []byte `json:"salt"`
	KDF  KDF    `json:"kdf"`
}

// DeviceInfo describes the device a session is for. Pseudonym is a keyed
// HMAC of the device's IMEI computed on the device with a key derived from
// the account secret; the IMEI itself never leaves the device.
type DeviceInfo struct {
	Pseudonym []byte `json:"pseudonym"`
}

// SignupRequest creates an account (POST /v1/accounts).
type SignupRequest struct {
	Handle  []byte     `json:"handle"`
	Salt    []byte     `json:"salt"`
	KDF     KDF        `json:"kdf"`
	AuthKey []byte     `json:"auth_key"`
	Country string     `json:"country"`
	Device  DeviceInfo `json:"device"`
}

// LoginRequest opens a session for a device (POST /v1/sessions). A
// browser sets Browser and no Device: its session is answered as a
// BrowserSession, its token set in the SessionCookie and never in the body.
type LoginRequest struct {
	Handle  []byte     `json:"handle"`
	AuthKey []byte     `json:"auth_key"`
	Device  DeviceInfo `json:"device"`
	Browser bool       `json:"browser,omitempty"`
}

// Browser sessions: the cookie that carries a browser's session token
// (HttpOnly, SameSite=Strict, Path=/), and the header that carries the
// session's CSRF value on every request with the cookie other than GET
// and HEAD.
const (
	SessionCookie = "candor_session"
	CSRFHeader    = "X-Candor-CSRF"
)

// Session kinds, as CurrentSession.Kind names them.
const (
	KindPhone   = "phone"
	KindBrowser = "browser"
)

// CurrentSession answers a browser's sign-in (POST /v1/sessions with
// browser, 201) and GET /v1/sessions/current. CSRF is set for a browser's
// session only: the value its page sends in CSRFHeader. No token: a
// browser's is in its cookie, where the page's scripts cannot read it.
type CurrentSession struct {
	Account   string    `json:"account"`
	Device    string    `json:"device"`
	Region    string    `json:"region"`
	Kind      string    `json:"kind"`
	ExpiresAt time.Time `json:"expires_at"`
	CSRF      string    `json:"csrf,omitempty"`
}

// DeleteAccountRequest is the body of DELETE /v1/account from a browser:
// the auth key its page derived again from the password typed again.
// Phones send no body.
type DeleteAccountRequest struct {
	AuthKey []byte `json:"auth_key"`
}

// AccountSummary answers GET /v1/account/summary: what the account keeps,
// category by category (every one of candor.Categories, in that order),
// and the retention rules of its region (the body of
// GET /v1/account/retention).
type AccountSummary struct {
	Account    string            `json:"account"`
	Region     string            `json:"region"`
	Created    time.Time         `json:"created"`
	Categories []CategorySummary `json:"categories"`
	Retention  Retention         `json:"retention"`
}

// CategorySummary is what an account keeps in one category. On and Since
// are its consent (Since is absent for a category never turned on).
// Records counts its live records — for photos, the photos stored — and
// Bytes what they take (for photos, the photos' sizes and their sealed
// metadata); LastChange is the time of the last change stored (absent
// when nothing is). Messaging keeps no records: its messages wait in
// queues only until delivered.
type CategorySummary struct {
	Category   string     `json:"category"`
	On         bool       `json:"on"`
	Since      *time.Time `json:"since,omitempty"`
	Records    int64      `json:"records"`
	Bytes      int64      `json:"bytes"`
	LastChange *time.Time `json:"last_change,omitempty"`
}

// Session answers signup and login. Token is shown once; the server keeps
// only its hash.
type Session struct {
	Account   string    `json:"account"`
	Device    string    `json:"device"`
	Region    string    `json:"region"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Device is one registered device of an account. Kind is empty for a
// phone, DeviceApp for an app password, whose Name is its owner's label,
// and DeviceBrowser for a browser's session.
type Device struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	Current bool      `json:"current"`
	// SignedIn says the device holds a live session: false once it is
	// revoked, signed out, or its session expired.
	SignedIn bool   `json:"signed_in"`
	Kind     string `json:"kind,omitempty"`
	Name     string `json:"name,omitempty"`
}

// Device kinds other than a phone's.
const (
	DeviceApp     = "app"     // an app password
	DeviceBrowser = "browser" // a browser signed in to the privacy center
)

// AppPasswordRequest makes an app password (POST /v1/app-passwords).
type AppPasswordRequest struct {
	Name string `json:"name"`
}

// AppPassword answers AppPasswordRequest. Password is shown once; the
// server keeps only its hash. Username is the id of the app password's
// device, which DELETE /v1/devices/{id} revokes. CardDAVPath is the path,
// on this server, that CardDAV clients are pointed at.
type AppPassword struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Created     time.Time `json:"created"`
	Username    string    `json:"username"`
	Password    string    `json:"password"`
	CardDAVPath string    `json:"carddav_path"`
}

// CardDAVPath is where the CardDAV server answers (the address book home
// and the card URLs are below it); /.well-known/carddav redirects there.
const CardDAVPath = "/dav/"

// Account answers GET /v1/account.
type Account struct {
	Account  string    `json:"account"`
	Region   string    `json:"region"`
	Created  time.Time `json:"created"`
	Devices  []Device  `json:"devices"`
	Consents []Consent `json:"consents"`
}

// Consent is the current state of one category.
type Consent struct {
	Category string `json:"category"`
	On       bool   `json:"on"`
	// Since is when the state was last changed, and Device by which device;
	// both are empty for a category that was never turned on.
	Since         *time.Time `json:"since,omitempty"`
	Device        string     `json:"device,omitempty"`
	PolicyVersion string     `json:"policy_version,omitempty"`
	// Epoch identifies the period the category has been on: the ledger
	// sequence number of the event that turned it on. It changes each time
	// the category is turned off and on again, so a device knows the cloud
	// copy it synced against is gone.
	Epoch int64 `json:"epoch,omitempty"`
}

// Consents answers GET /v1/consents. Region is the account's home region
// now (it changes when the account is migrated).
type Consents struct {
	Consents []Consent `json:"consents"`
	Region   string    `json:"region,omitempty"`
}

// ConsentRequest turns a category on or off (PUT /v1/consents/{category}).
type ConsentRequest struct {
	On            bool   `json:"on"`
	PolicyVersion string `json:"policy_version"`
}

// ConsentEvent is one entry of the append-only consent ledger.
type ConsentEvent struct {
	Seq           int64     `json:"seq"`
	Category      string    `json:"category"`
	On            bool      `json:"on"`
	Device        string    `json:"device"`
	Time          time.Time `json:"time"`
	PolicyVersion string    `json:"policy_version"`
}

// Ledger answers GET /v1/consents/ledger.
type Ledger struct {
	Events []ConsentEvent `json:"events"`
}

// Change is one edit a device pushes: a new record (BaseVersion 0), an update
// of the version the device last saw, or a deletion.
type Change struct {
	ID          string `json:"id"`
	BaseVersion int64  `json:"base_version"`
	Deleted     bool   `json:"deleted,omitempty"`
	Data        []byte `json:"data,omitempty"`
}

// PushRequest pushes changes of one category (POST /v1/records/{category}).
// Epoch is the consent epoch the device synced against; a push for an older
// epoch is refused with code conflict, and the device must pull again from
// the start.
type PushRequest struct {
	Epoch   int64    `json:"epoch"`
	Changes []Change `json:"changes"`
}

// Change result statuses.
const (
	Applied  = "applied"
	Conflict = "conflict"
)

// ChangeResult is the outcome of one change. On conflict, Current is the
// record as the server holds it (possibly a deletion), and nothing of the
// change was stored.
type ChangeResult struct {
	ID      string  `json:"id"`
	Status  string  `json:"status"`
	Version int64   `json:"version"`
	Current *Record `json:"current,omitempty"`
}

// PushResponse answers PushRequest, one result per change, in order.
type PushResponse struct {
	Epoch   int64          `json:"epoch"`
	Results []ChangeResult `json:"results"`
}

// Record is a record as the change feed returns it. A deleted record has no
// data.
type Record struct {
	ID       string    `json:"id"`
	Version  int64     `json:"version"`
	Seq      int64     `json:"seq"`
	Deleted  bool      `json:"deleted,omitempty"`
	Data     []byte    `json:"data,omitempty"`
	Modified time.Time `json:"modified"`
}

// Feed answers GET /v1/records/{category}?since=CURSOR&limit=N: the records
// changed after the cursor, oldest change first. Next is the cursor to pass
// next time; More says whether another page is waiting. Reset says the
// cursor is older than the deletions the region still remembers (retention
// purged some the device may not have seen): the device pulls the feed again
// from 0 and drops what it synced before that is not in it.
type Feed struct {
	Epoch   int64    `json:"epoch"`
	Records []Record `json:"records"`
	Next    int64    `json:"next"`
	More    bool     `json:"more"`
	Reset   bool     `json:"reset,omitempty"`
}

// Limits the server enforces and devices respect.
const (
	MaxBodyBytes      = 8 << 20 // a request body
	MaxRecordBytes    = 1 << 20 // one record's data
	MaxChangesPerPush = 1000
	MaxFeedPage       = 1000
	DefaultFeedPage   = 500
)
