// Package kannel sends SMS through a Kannel smsbox, the open-source SMS
// gateway operators use to reach carriers over SMPP. It is a
// messaging.Gateway: an HTTP client of smsbox's sendsms interface.
//
// Neither the number nor the text is ever put in an error or a log: the
// errors it returns say what failed (the gateway is down, it refused the
// number) and nothing about whom.
//
// With Config.ReportURL set, each send asks smsbox for delivery reports
// at a URL of this server that carries only an opaque id, signed with a
// key derived from the sendsms password so that every instance sharing
// that password (and no one else) can verify it (Report). The gateway
// counts its sends and the reports (Collectors).
package kannel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/candorcloud/candor"
)

// RetryAfter is what a caller is told to wait when the gateway is down.
const RetryAfter = 30 * time.Second

// Config names an smsbox sendsms interface and the account to send as.
type Config struct {
	// URL is the sendsms URL, such as
	// "http://127.0.0.1:13013/cgi-bin/sendsms" (https works too).
	URL string
	// Username and Password are a sendsms-user of smsbox.
	Username, Password string
	// From is the sender shown on the phone, such as "Candor"; empty
	// leaves it to smsbox (the sendsms-user's default-sender).
	From string
	// Timeout bounds one request (default 10 s).
	Timeout time.Duration
	// Client makes the requests (default: a client with Timeout).
	Client *http.Client
	// ReportURL is the base URL at which smsbox reaches this server, such
	// as "http://10.0.0.5:8080": each send asks for delivery reports at
	// ReportURL + ReportPath + an opaque id. Empty asks for none.
	ReportURL string
	// Logger receives the reports of messages not delivered, by id and
	// status only (default: none).
	Logger *slog.Logger
	// Now is the clock report ids are made and checked on (default
	// time.Now; tests move it).
	Now func() time.Time
}

// Gateway sends SMS through smsbox.
type Gateway struct {
	url    *url.URL
	cfg    Config
	client *http.Client
	// reportBase is Config.ReportURL without a trailing slash; empty,
	// no delivery report is asked for.
	reportBase string
	reportKey  []byte // signs report ids (reportKey)
	log        *slog.Logger
	metrics    *metrics
}

// New checks cfg and returns its Gateway.
func New(cfg Config) (*Gateway, error) {
	u, err := url.Parse(cfg.URL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return nil, errors.New("kannel: url: use the http or https URL of smsbox's sendsms, like http://127.0.0.1:13013/cgi-bin/sendsms")
	case u.RawQuery != "" || u.User != nil:
		return nil, errors.New("kannel: url: no query and no credentials in the URL: set username and the password file")
	case cfg.Username == "" || cfg.Password == "":
		return nil, errors.New("kannel: a username and a password are needed (a sendsms-user of smsbox)")
	case len(cfg.From) > 20:
		return nil, errors.New("kannel: from: at most 20 characters")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	client := cfg.Client
	if client == nil {
		client = &http.Client{Timeout: cfg.Timeout}
	}
	g := &Gateway{url: u, cfg: cfg, client: client, log: cfg.Logger, metrics: newMetrics()}
	if cfg.ReportURL != "" {
		if g.reportBase, err = reportBase(cfg.ReportURL); err != nil {
			return nil, err
		}
	}
	if g.reportKey, err = reportKey(cfg.Password); err != nil {
		return nil, errors.New("kannel: cannot derive the key of delivery reports")
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	return g, nil
}

func (g *Gateway) now() time.Time {
	if g.cfg.Now != nil {
		return g.cfg.Now()
	}
	return time.Now()
}

// SendSMS asks smsbox to send text to the number to (E.164, "+" and
// digits). Text beyond ASCII is sent as UCS-2 (coding 2), so every script
// arrives intact. A gateway that is down or overloaded gives Unavailable
// with a RetryAfter; a number the gateway refuses gives Invalid. With
// Config.ReportURL, smsbox is asked for delivery reports (Report).
func (g *Gateway) SendSMS(ctx context.Context, to, text string) error {
	start := time.Now()
	err := g.send(ctx, to, text)
	g.metrics.latency.Observe(time.Since(start).Seconds())
	switch {
	case err == nil:
		g.metrics.sends.WithLabelValues(outcomeAccepted).Inc()
	case candor.Is(err, candor.Invalid):
		g.metrics.sends.WithLabelValues(outcomeRefused).Inc()
	default:
		g.metrics.sends.WithLabelValues(outcomeUnavailable).Inc()
	}
	return err
}

func (g *Gateway) send(ctx context.Context, to, text string) error {
	q := url.Values{}
	q.Set("username", g.cfg.Username)
	q.Set("password", g.cfg.Password)
	q.Set("to", to)
	q.Set("text", text)
	q.Set("charset", "UTF-8")
	if g.cfg.From != "" {
		q.Set("from", g.cfg.From)
	}
	if !isGSMBasic(text) {
		q.Set("coding", "2") // UCS-2; smsbox converts from charset
	}
	if g.reportBase != "" {
		q.Set("dlr-mask", reportMask)
		q.Set("dlr-url", g.dlrURL(newReportID(g.reportKey, g.now())))
	}
	u := *g.url
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, g.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return candor.E(candor.Internal, "kannel: cannot build the request")
	}
	resp, err := g.client.Do(req)
	if err != nil {
		// The error names the URL, and so the number and the text: only
		// its kind is kept.
		return down(fmt.Sprintf("kannel: the SMS gateway did not answer (%s)", reason(err)))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	answer := strings.TrimSpace(string(body))
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		// "0: Accepted for delivery", or "3: Queued for later delivery"
		// when no carrier link is up: bearerbox keeps it and sends it
		// once one is.
		return nil
	case code == http.StatusBadRequest && strings.Contains(answer, "receiver"),
		code == http.StatusForbidden && strings.Contains(answer, "black-lists"):
		// "Missing receiver number, rejected", "Number(s) has/have been
		// denied by white- and/or black-lists." (other refusals, such as
		// "Tried to set Coding field, denied.", are the gateway's
		// configuration, not the number)
		return candor.E(candor.Invalid, "the SMS gateway refused this number")
	case code == http.StatusForbidden || code == http.StatusUnauthorized:
		return down("kannel: the SMS gateway refused its credentials (check the sendsms-user)")
	default:
		return down(fmt.Sprintf("kannel: the SMS gateway answered %d", code))
	}
}

func down(msg string) error {
	return &candor.Error{Kind: candor.Unavailable, RetryAfter: RetryAfter, Message: msg}
}

// reason names a transport failure without its URL.
func reason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return "timeout"
		}
		err = ue.Err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case strings.Contains(err.Error(), "connection refused"):
		return "connection refused"
	case strings.Contains(err.Error(), "tls:") || strings.Contains(err.Error(), "x509:"):
		return "TLS failure"
	}
	return "network error"
}

// isGSMBasic reports whether text needs no more than the characters every
// handset shows in the default 7-bit alphabet: printable ASCII and line
// breaks, without the few ASCII characters GSM 03.38 lacks or escapes.
func isGSMBasic(text string) bool {
	for _, r := range text {
		switch {
		case r == '\n' || r == '\r':
		case r < 0x20 || r > 0x7e:
			return false
		case strings.ContainsRune("`[]{}\\^~|", r):
			return false
		}
	}
	return true
}
