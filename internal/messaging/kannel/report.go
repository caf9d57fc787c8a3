package kannel

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/candorcloud/candor"
)

// ReportPath is where, below Config.ReportURL, the server takes delivery
// reports: smsbox fetches ReportPath + id + "?status=" + Kannel's status.
const ReportPath = "/v1/sms/delivery-reports/"

// ReportLifetime is how long the id of one send is good for: a report
// later than that (a carrier's delivery receipt can take days, while the
// phone is off) is refused like a forged one.
const ReportLifetime = 72 * time.Hour

// reportMask is the dlr-mask asked of smsbox: delivered to the phone (1),
// not delivered (2), queued on the SMSC (4), taken by the SMSC (8) and
// refused by the SMSC (16).
const reportMask = "31"

// The statuses Kannel substitutes for %d in a dlr-url.
const (
	statusDelivered = 1
	statusFailed    = 2
	statusBuffered  = 4
	statusSubmitted = 8
	statusRejected  = 16
)

// statusNames are the labels of delivery reports in metrics and logs.
var statusNames = map[int]string{
	statusDelivered: "delivered",
	statusFailed:    "failed",
	statusBuffered:  "buffered",
	statusSubmitted: "submitted",
	statusRejected:  "rejected",
}

// A report id is base64url (no padding, so no '%' for smsbox to expand)
// of: the time it was made (8 bytes, Unix seconds, big-endian), a random
// nonce, and an HMAC-SHA256 of both, cut to macSize.
const (
	nonceSize = 12
	macSize   = 16
	idSize    = 8 + nonceSize + macSize
)

// reportKey derives the key that signs report ids from the sendsms
// password: every instance behind the load balancer reads the same
// password file, so any of them verifies the id another made, and no one
// without the password can make one.
func reportKey(password string) ([]byte, error) {
	return hkdf.Key(sha256.New, []byte(password), nil, "candor kannel delivery report id v1", 32)
}

// newReportID makes the opaque id of one send, signed with key at now. It
// says nothing of the number or the text.
func newReportID(key []byte, now time.Time) string {
	b := make([]byte, idSize)
	binary.BigEndian.PutUint64(b, uint64(now.Unix()))
	rand.Read(b[8 : 8+nonceSize]) // never fails (crypto/rand)
	copy(b[8+nonceSize:], reportMAC(key, b[:8+nonceSize]))
	return base64.RawURLEncoding.EncodeToString(b)
}

func reportMAC(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)[:macSize]
}

// checkReportID tells whether id was made with key no longer than
// ReportLifetime before now (and not more than a minute after it: the
// instances' clocks may differ a little). The MAC is compared in constant
// time, so a forger learns nothing from how fast a guess is refused.
func checkReportID(key []byte, id string, now time.Time) bool {
	if len(id) != base64.RawURLEncoding.EncodedLen(idSize) {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(b) != idSize {
		return false
	}
	if !hmac.Equal(b[8+nonceSize:], reportMAC(key, b[:8+nonceSize])) {
		return false
	}
	made := time.Unix(int64(binary.BigEndian.Uint64(b)), 0)
	return !made.After(now.Add(time.Minute)) && now.Sub(made) <= ReportLifetime
}

// reportBase checks Config.ReportURL and returns it without a trailing
// slash, ready for ReportPath.
func reportBase(raw string) (string, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return "", errors.New("kannel: dlr_url: use the http or https URL at which smsbox reaches this server, like http://10.0.0.5:8080")
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.Contains(raw, "%"):
		return "", errors.New("kannel: dlr_url: no query, no credentials and no '%' in the URL")
	}
	return strings.TrimRight(raw, "/"), nil
}

// dlrURL is the dlr-url of one send: the server's report endpoint, the
// send's opaque id and Kannel's status (%d, which smsbox substitutes).
// Nothing else: no %p or %P, which would bring the number back.
func (g *Gateway) dlrURL(id string) string {
	return g.reportBase + ReportPath + id + "?status=%d"
}

// Report takes a delivery report smsbox fetched from the dlr-url of one
// send: id is the opaque id that URL carried, status the value Kannel put
// for %d. An id no instance sharing this gateway's password made, or one
// older than ReportLifetime, is NotFound, whatever the status; a status
// that is not one of Kannel's five is Invalid. A report is counted by its
// status; a failed or rejected one is logged, with its id and status only
// (the server never knew which number the id stands for). Safe for
// concurrent use.
func (g *Gateway) Report(ctx context.Context, id string, status int) error {
	if !checkReportID(g.reportKey, id, g.now()) {
		g.metrics.refused.Inc()
		return candor.E(candor.NotFound, "no such delivery report")
	}
	name, ok := statusNames[status]
	if !ok {
		g.metrics.refused.Inc()
		return candor.E(candor.Invalid, "the status of a delivery report is one of 1, 2, 4, 8 and 16")
	}
	g.metrics.reports.WithLabelValues(name).Inc()
	if status == statusFailed || status == statusRejected {
		g.log.WarnContext(ctx, "sms not delivered", "report", id, "status", name)
	}
	return nil
}
