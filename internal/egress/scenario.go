package egress

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/candorcloud/candor/internal/server"
)

// Config is how Run runs the scripted life.
type Config struct {
	// Binary is the candor executable run as the phones (`candor device`),
	// each step a separate process.
	Binary string
	// Progress, when not nil, receives one line per step as it runs.
	Progress io.Writer
	// StepTimeout bounds one step (default 2 minutes).
	StepTimeout time.Duration
}

// A step is one `candor device` command of one phone.
type step struct {
	phone string // "A", "B" or "C": the state folder
	args  []string
	stdin string
	exit  int // the exit code the step must end with
}

// An allowance is an exception to "no canary anywhere": an item that may
// appear in one part of one request, and why the product needs it.
type allowance struct {
	phones []string // the phones it applies to; nil for any
	item   string
	method string // "" for any
	path   string // the escaped path, exactly; a prefix if it ends with "/"
	where  string // "body", "query", ...
	form   string // "" for any; else the form's name must start with it
	reason string
}

// allows reports whether a finding in a request from phone is the allowed
// exception.
func (a allowance) allows(f Finding, phone string) bool {
	if a.phones != nil && !slices.Contains(a.phones, phone) {
		return false
	}
	pathOK := a.path == f.Path || (strings.HasSuffix(a.path, "/") && strings.HasPrefix(f.Path, a.path))
	return a.item == f.Item && (a.method == "" || a.method == f.Method) && pathOK &&
		a.where == f.Where && strings.HasPrefix(f.Form, a.form)
}

// A phase is a stretch of the phones' life with one policy.
type phase struct {
	name  string
	steps []step
	allow []allowance
}

// numberAllowances are the exceptions of the messaging phase: a phone's own
// number, once messaging is on, sent to be verified by SMS and registered.
// The exceptions apply only to the phones whose own number item is.
func numberAllowances(item string, phones ...string) []allowance {
	return []allowance{
		{phones, item, "POST", "/v1/messaging/verification", "body", "plain", "messaging is on: the phone's own number goes to the SMS gateway, which texts it a verification code (P5 activation)"},
		{phones, item, "POST", "/v1/messaging/activation", "body", "plain", "messaging is on: the verified number is registered (stored as a keyed pseudonym) so that contacts can discover it"},
		{phones, item, "GET", "/v1/carrier/sms", "query", "", "messaging is on: the phone reads its verification SMS from the development server's emulated carrier (in production this is the phone's own radio)"},
	}
}

// categoryItems are the canaries each service backs up: the person's own
// data, which leaves the phone for that service once (and only while) it is
// on.
var categoryItems = map[string][]string{
	"contacts": {"contact name", "contact name (part)", "contact phone", "contact email",
		"contact name (second phone)", "contact name (second phone) (part)", "second phone number"},
	"notes":  {"note title", "note text", "note text (part)"},
	"sms":    {"SMS text", "SMS text (part)", "SMS sender"},
	"photos": {"photo", "photo marker"},
}

// contentAllowances allow the data of the services that are on in the
// requests of those services' sync: a record's bytes (base64 in the JSON
// push) or a photo's bytes (an upload part). The server encrypts each at
// rest; the transport is TLS in production.
func contentAllowances(on ...string) []allowance {
	var out []allowance
	for _, cat := range on {
		reason := cat + " is on: its data is backed up as the person asked, to be encrypted at rest by the server (AES-256-GCM envelope, P6)"
		for _, item := range categoryItems[cat] {
			if cat == "photos" {
				out = append(out, allowance{nil, item, "PUT", "/v1/photos/uploads/", "body", "plain", reason})
				continue
			}
			out = append(out, allowance{nil, item, "POST", "/v1/records/" + cat, "body", "base64", reason})
		}
	}
	return out
}

func (s seed) phases() []phase {
	const off = 3 // exit code of a refusal for lack of consent
	a := func(args ...string) step { return step{phone: "A", args: args} }
	b := func(args ...string) step { return step{phone: "B", args: args} }
	consentSync := func(cat string) []step {
		return []step{a("consent", cat, "on"), a("sync", cat), a("sync")}
	}
	all := []string{"contacts", "notes", "sms", "photos"}
	// Phone A (and C, A's new phone, later) has number "phone number";
	// phone B has "second phone number". No service syncs in this phase.
	msgAllow := append(numberAllowances("phone number", "A", "C"), numberAllowances("second phone number", "B")...)
	return []phase{
		{name: "first boot, everything off", steps: []step{
			{phone: "A", args: []string{"init", "--imei", s.imeiA, "--phone", s.phoneA, "--country", "IN",
				"--contacts", "@contacts.vcf", "--notes", "@notes", "--sms", "@sms.xml", "--photos", "@photos"}},
			a("notes", "add", "--title", s.noteTitle+" two", "--body", s.noteText+" again"),
			a("status"),
			{phone: "A", args: []string{"sync"}, exit: 1}, // not signed in: refused on the phone
			{phone: "B", args: []string{"init", "--imei", s.imeiB, "--phone", s.phoneB, "--country", "IN"}},
		}},
		{name: "public content", steps: []step{
			a("greetings", "--locale", "hi-IN", "--json"),
			a("ota", "check", "--json"),
			b("greetings", "--json"),
		}},
		{name: "signup, all consents off", steps: []step{
			{phone: "A", args: []string{"signup", "--email", s.emailA}, stdin: s.password + "\n"},
			a("consent"),
			a("sync"),
			{phone: "A", args: []string{"sync", "contacts"}, exit: off},
			{phone: "A", args: []string{"msg", "send", "--to", s.phoneB, "--text", s.message}, exit: off},
			{phone: "B", args: []string{"signup", "--email", s.emailB}, stdin: s.password + "-b\n"},
			a("access-log"),
		}},
		{name: "contacts on", steps: consentSync("contacts"), allow: contentAllowances(all[:1]...)},
		{name: "notes on", steps: consentSync("notes"), allow: contentAllowances(all[:2]...)},
		{name: "sms on", steps: consentSync("sms"), allow: contentAllowances(all[:3]...)},
		{name: "photos on", steps: consentSync("photos"), allow: contentAllowances(all...)},
		{name: "messaging on", allow: msgAllow, steps: []step{
			a("consent", "messaging", "on"),
			b("consent", "messaging", "on"),
			a("msg", "discover"),
			a("msg", "send", "--to", s.phoneB, "--text", s.message),
			b("msg", "inbox"),
			a("msg", "inbox"),
		}},
		{name: "sync and restore onto a new phone", allow: contentAllowances(all...), steps: []step{
			a("notes", "add", "--title", s.noteTitle+" three", "--body", s.noteText+" thrice"),
			a("sync"),
			{phone: "C", args: []string{"init", "--imei", s.imeiC, "--phone", s.phoneA, "--country", "IN"}},
			{phone: "C", args: []string{"login", "--email", s.emailA}, stdin: s.password + "\n"},
			{phone: "C", args: []string{"restore"}},
			{phone: "C", args: []string{"sync"}},
		}},
		{name: "consent withdrawn", steps: []step{
			a("consent", "contacts", "off"),
			a("consent", "notes", "off"),
			a("consent", "sms", "off"),
			a("consent", "photos", "off"),
			a("consent", "messaging", "off"),
		}},
		{name: "sync after withdrawal", steps: []step{
			a("contacts", "add", "--name", s.lateName, "--phone", s.latePhone),
			a("notes", "add", "--title", "late", "--body", s.lateNote),
			a("sync"),
			{phone: "C", args: []string{"sync"}},
			{phone: "A", args: []string{"sync", "contacts"}, exit: off},
			{phone: "A", args: []string{"msg", "send", "--to", s.phoneB, "--text", s.message}, exit: off},
			a("status"),
		}},
	}
}

// Run starts a development server in a temporary folder with a Recorder in
// front of it, runs the scripted life of three phones (separate processes
// of cfg.Binary) through it phase by phase, and checks every recorded
// request and the server's log against the phases' policies.
//
// It returns an error when the life could not be run (a step failed, the
// server did not start); policy violations are in the Report, not errors.
// Everything it starts listens on 127.0.0.1 and is stopped before it
// returns; its temporary folder is removed.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Binary == "" {
		return nil, errors.New("no candor binary to run the phones with")
	}
	if cfg.StepTimeout == 0 {
		cfg.StepTimeout = 2 * time.Minute
	}
	work, err := os.MkdirTemp("", "candor-egress-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	s := newSeed()
	if err := s.writeFiles(work); err != nil {
		return nil, err
	}

	// The server, in this process, on a free loopback port.
	logs := &lockedBuffer{}
	srv, err := server.New(ctx, server.Config{Dev: true, Data: filepath.Join(work, "server"),
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		return nil, fmt.Errorf("start the server: %w", err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	sctx, stopServer := context.WithCancel(context.WithoutCancel(ctx))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, ln) }()
	stop := sync.OnceFunc(func() { stopServer(); <-served })
	defer stop()

	rec, err := NewRecorder("http://" + ln.Addr().String())
	if err != nil {
		return nil, err
	}
	defer rec.Close()

	det := NewDetector(s.canaries())
	rep := &Report{Started: time.Now().UTC()}
	for _, ph := range s.phases() {
		pr := PhaseReport{Name: ph.name}
		rec.SetPhase(ph.name)
		for _, st := range ph.steps {
			url, err := rec.URLFor(st.phone)
			if err != nil {
				return nil, err
			}
			line, err := runStep(ctx, cfg, work, url, st)
			pr.Steps = append(pr.Steps, line)
			if cfg.Progress != nil {
				fmt.Fprintf(cfg.Progress, "  %-36s %s\n", ph.name, line)
			}
			if err != nil {
				return nil, fmt.Errorf("phase %q: %w", ph.name, err)
			}
		}
		if err := rec.Drain(ctx); err != nil {
			return nil, err
		}
		rec.SetPhase("")
		pr.check(det, byPhase(rec.Requests(), ph.name), ph.allow)
		rep.Phases = append(rep.Phases, pr)
	}
	if err := rec.Drain(ctx); err != nil {
		return nil, err
	}
	// A request outside every phase (sent by a phone process after its
	// step ended) is judged with nothing allowed.
	if stray := byPhase(rec.Requests(), ""); len(stray) > 0 {
		pr := PhaseReport{Name: OutsidePhase}
		pr.check(det, stray, nil)
		rep.Phases = append(rep.Phases, pr)
	}
	stop() // the log is complete once the server has stopped

	rep.ServerLog = LogReport{Bytes: logs.Len()}
	for _, m := range det.Search(logs.Bytes()) {
		rep.ServerLog.Findings = append(rep.ServerLog.Findings, m)
	}
	rep.finish()
	return rep, nil
}

// OutsidePhase names requests recorded between or after the phases.
const OutsidePhase = "outside any phase"

// byPhase returns the requests tagged with phase, in arrival order.
func byPhase(reqs []Request, phase string) []Request {
	var out []Request
	for _, r := range reqs {
		if r.Phase == phase {
			out = append(out, r)
		}
	}
	return out
}

// check applies a phase's policy to its requests.
func (pr *PhaseReport) check(det *Detector, reqs []Request, allow []allowance) {
	pr.Requests = len(reqs)
	for _, r := range reqs {
		pr.Bytes += r.Size()
		pr.Endpoints = append(pr.Endpoints, fmt.Sprintf("%s %s -> %d", r.Method, r.Path, r.Status))
		if r.OtherHost != "" {
			// Phones talk to their Candor server and nothing else.
			pr.Findings = append(pr.Findings, Finding{Match: Match{Item: "a request to another host", Form: r.OtherHost},
				Where: "destination", Method: r.Method, Path: r.Path})
		}
		for _, f := range det.Scan(r) {
			for _, a := range allow {
				if a.allows(f, r.Phone) {
					f.Allowed = a.reason
					break
				}
			}
			pr.Findings = append(pr.Findings, f)
		}
	}
	// A canary cut into pieces spread over the phase's requests.
	pr.Findings = append(pr.Findings, det.Pieces(reqs)...)
	pr.Status = "passed"
	for _, f := range pr.Findings {
		if f.Allowed == "" {
			pr.Status = "failed"
		}
	}
}

// runStep runs one step as a child process and checks its exit code. It
// returns a line describing the step for the report.
func runStep(ctx context.Context, cfg Config, work, serverURL string, st step) (string, error) {
	state := filepath.Join(work, "phone-"+st.phone)
	args := []string{"device", "--state", state}
	for _, a := range st.args {
		if strings.HasPrefix(a, "@") {
			a = filepath.Join(work, a[1:])
		}
		args = append(args, a)
	}
	if len(st.args) > 0 && st.args[0] == "init" {
		args = append(args, "--server", serverURL)
	}
	line := "phone " + st.phone + ": " + strings.Join(st.args, " ")
	if len(line) > 90 {
		line = line[:87] + "..."
	}
	cctx, cancel := context.WithTimeout(ctx, cfg.StepTimeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, cfg.Binary, args...)
	cmd.Stdin = strings.NewReader(st.stdin)
	// The recorder is also the phone's HTTP proxy, so that a request to any
	// host other than the server (which, on loopback, is never proxied) is
	// seen too.
	cmd.Env = append(os.Environ(), "HTTP_PROXY="+serverURL, "HTTPS_PROXY="+serverURL,
		"http_proxy="+serverURL, "https_proxy="+serverURL, "NO_PROXY=", "no_proxy=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Dir = work
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return line, fmt.Errorf("%s: %v", line, err)
		}
		code = ee.ExitCode()
	}
	if code != st.exit {
		return line, fmt.Errorf("%s: exit %d, want %d: %s", line, code, st.exit, lastLines(out.String(), 3))
	}
	if st.exit != 0 {
		line += fmt.Sprintf(" (refused as expected, exit %d)", code)
	}
	return line, nil
}

func (s seed) writeFiles(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, "notes"), 0o700); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "photos"), 0o700); err != nil {
		return err
	}
	files := map[string][]byte{
		"contacts.vcf":                  []byte(s.vcard()),
		"sms.xml":                       []byte(s.smsXML()),
		"notes/" + s.noteTitle + ".txt": []byte(s.noteText + "\n"),
		"photos/IMG_0001.jpg":           s.photo,
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}

// lockedBuffer is a log sink safe for concurrent writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}

func (b *lockedBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}
