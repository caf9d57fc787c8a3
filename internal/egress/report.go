package egress

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// A Report is the outcome of one Run.
type Report struct {
	Started    time.Time     `json:"started"`
	Passed     bool          `json:"passed"`
	Phases     []PhaseReport `json:"phases"`
	ServerLog  LogReport     `json:"server_log"`
	Violations []Violation   `json:"violations"`
	Allowed    []Violation   `json:"allowed"` // findings the policy allows, with the reason
}

// A PhaseReport is what the phones sent in one phase.
type PhaseReport struct {
	Name      string    `json:"phase"`
	Status    string    `json:"status"` // "passed" or "failed"
	Steps     []string  `json:"steps"`
	Requests  int       `json:"requests"`
	Bytes     int64     `json:"bytes"`
	Endpoints []string  `json:"endpoints"`
	Findings  []Finding `json:"findings"`
}

// LogReport is what the server's log held.
type LogReport struct {
	Bytes    int     `json:"bytes"`
	Findings []Match `json:"findings"`
}

// A Violation is a canary found where its phase's policy does not allow it.
type Violation struct {
	Phase   string `json:"phase"`
	Item    string `json:"item"`
	Form    string `json:"form"`
	Where   string `json:"where"`
	Request string `json:"request,omitempty"` // "GET /v1/..."
	Reason  string `json:"reason,omitempty"`  // for allowed findings
	Message string `json:"message"`
}

// ServerLogPhase names the server's log in violations.
const ServerLogPhase = "server log"

func (rep *Report) finish() {
	rep.Violations, rep.Allowed = []Violation{}, []Violation{}
	for _, p := range rep.Phases {
		for _, f := range p.Findings {
			v := Violation{Phase: p.Name, Item: f.Item, Form: f.Form, Where: f.Where, Request: f.Method + " " + f.Path, Reason: f.Allowed}
			v.Message = fmt.Sprintf("phase %q: %s (%s) in %s of %s", v.Phase, v.Item, v.Form, v.Where, v.Request)
			if f.Allowed != "" {
				rep.Allowed = append(rep.Allowed, v)
			} else {
				rep.Violations = append(rep.Violations, v)
			}
		}
	}
	for _, m := range rep.ServerLog.Findings {
		rep.Violations = append(rep.Violations, Violation{Phase: ServerLogPhase, Item: m.Item, Form: m.Form, Where: "the server's log",
			Message: fmt.Sprintf("phase %q: %s (%s) in the server's log", ServerLogPhase, m.Item, m.Form)})
	}
	rep.Passed = len(rep.Violations) == 0
}

// Verdict says in one line why the run failed ("" if it passed).
func (rep *Report) Verdict() string {
	if rep.Passed {
		return ""
	}
	return fmt.Sprintf("%d violations; the first: %s", len(rep.Violations), rep.Violations[0].Message)
}

// WriteTable writes one row per phase: requests, bytes and findings.
func (rep *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PHASE\tREQUESTS\tBYTES\tRESULT\tFINDINGS")
	for _, p := range rep.Phases {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", p.Name, p.Requests, p.Bytes, p.Status, findingsCell(p.Findings))
	}
	logStatus := "passed"
	if len(rep.ServerLog.Findings) > 0 {
		logStatus = "failed"
	}
	var items []string
	for _, m := range rep.ServerLog.Findings {
		items = append(items, m.Item+" ("+m.Form+")")
	}
	fmt.Fprintf(tw, "%s\t-\t%d\t%s\t%s\n", ServerLogPhase, rep.ServerLog.Bytes, logStatus, orNone(items))
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, a := range rep.Allowed {
		fmt.Fprintf(w, "allowed: %s\n         because %s\n", a.Message, a.Reason)
	}
	for _, v := range rep.Violations {
		fmt.Fprintf(w, "VIOLATION: %s\n", v.Message)
	}
	if rep.Passed {
		fmt.Fprintln(w, "passed: no personal data left the phones before consent or after it was withdrawn, except the allowed items above")
	} else {
		fmt.Fprintf(w, "FAILED: %s\n", rep.Verdict())
	}
	return nil
}

func findingsCell(fs []Finding) string {
	var parts []string
	allowed := 0
	for _, f := range fs {
		if f.Allowed != "" {
			allowed++
			continue
		}
		parts = append(parts, f.Item+" ("+f.Form+") in "+f.Where+" of "+f.Method+" "+f.Path)
	}
	if allowed > 0 {
		parts = append(parts, fmt.Sprintf("%d allowed (listed below)", allowed))
	}
	return orNone(parts)
}

func orNone(parts []string) string {
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}

// WriteMarkdown writes the report as a Markdown document.
func (rep *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	result := "PASSED"
	if !rep.Passed {
		result = "FAILED: " + rep.Verdict()
	}
	fmt.Fprintf(&b, "# Candor egress report\n\nRun %s. Result: **%s**.\n\n", rep.Started.Format(time.RFC3339), result)
	b.WriteString("Phones ran as separate `candor device` processes; every request they sent passed through a recording proxy and was searched for the seeded personal data (plain, URL-escaped, hex, base64 at every alignment, MD5/SHA-1/SHA-256 digests; phone numbers and emails normalised).\n\n")
	b.WriteString("| phase | requests | bytes | result | findings |\n|---|---:|---:|---|---|\n")
	for _, p := range rep.Phases {
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %s |\n", p.Name, p.Requests, p.Bytes, p.Status, mdEscape(findingsCell(p.Findings)))
	}
	logStatus := "passed"
	if len(rep.ServerLog.Findings) > 0 {
		logStatus = "failed"
	}
	fmt.Fprintf(&b, "| %s | - | %d | %s | %d items |\n\n", ServerLogPhase, rep.ServerLog.Bytes, logStatus, len(rep.ServerLog.Findings))
	if len(rep.Violations) > 0 {
		b.WriteString("## Violations\n\n")
		for _, v := range rep.Violations {
			fmt.Fprintf(&b, "- %s\n", mdEscape(v.Message))
		}
		b.WriteString("\n")
	}
	b.WriteString("## Allowed exceptions\n\n")
	if len(rep.Allowed) == 0 {
		b.WriteString("None.\n\n")
	}
	for _, a := range rep.Allowed {
		fmt.Fprintf(&b, "- %s — %s\n", mdEscape(a.Message), mdEscape(a.Reason))
	}
	b.WriteString("\n## Steps and requests\n")
	for _, p := range rep.Phases {
		fmt.Fprintf(&b, "\n### %s\n\n", p.Name)
		for _, s := range p.Steps {
			fmt.Fprintf(&b, "- `%s`\n", strings.ReplaceAll(s, "`", "'"))
		}
		if len(p.Endpoints) > 0 {
			b.WriteString("\nRequests:\n\n")
			for _, e := range p.Endpoints {
				fmt.Fprintf(&b, "- `%s`\n", e)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
