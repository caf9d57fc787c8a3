package packaging

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/server/servertest"
	"github.com/candorcloud/candor/test/internal/testenv"
)

// The alert rules pass promtool's check, and its unit tests
// (candor-alerts_test.yml) fire every alert.
func TestAlertRules(t *testing.T) {
	promtool := needTool(t, "promtool")
	dir := filepath.Join(testenv.RepoRoot(t), "packaging", "prometheus")
	for _, args := range [][]string{{"check", "rules", "candor-alerts.yml"}, {"test", "rules", "candor-alerts_test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// alertRules are the rules of packaging/prometheus/candor-alerts.yml.
type alertRules struct {
	Groups []struct {
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func readAlertRules(t *testing.T) alertRules {
	t.Helper()
	var rules alertRules
	if err := yaml.Unmarshal([]byte(testenv.ReadRepo(t, "packaging/prometheus/candor-alerts.yml")), &rules); err != nil {
		t.Fatal(err)
	}
	return rules
}

// Every alert says how bad it is and what it means, and its unit test
// makes it fire (with or without promtool at hand).
func TestEveryAlertIsExplainedAndFired(t *testing.T) {
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	if err := yaml.Unmarshal([]byte(testenv.ReadRepo(t, "packaging/prometheus/candor-alerts_test.yml")), &tests); err != nil {
		t.Fatal(err)
	}
	fired := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fired[a.Alertname] = true
			}
		}
	}
	n := 0
	for _, g := range readAlertRules(t).Groups {
		for _, r := range g.Rules {
			n++
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q, want critical or warning", r.Alert, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: a summary and a description are needed", r.Alert)
			}
			if !fired[r.Alert] {
				t.Errorf("%s: no test in candor-alerts_test.yml makes it fire", r.Alert)
			}
		}
	}
	if n == 0 {
		t.Fatal("no alert rules")
	}
}

// dashboard is what the test reads of packaging/grafana/candor.json.
type dashboard struct {
	Inputs     []struct{ Name, Type string } `json:"__inputs"`
	Templating struct {
		List []struct {
			Name, Type string
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID         int         `json:"id"`
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Datasource *datasource `json:"datasource"`
	Targets    []struct {
		Expr       string      `json:"expr"`
		Datasource *datasource `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

// datasource is a panel's or a query's data source.
type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// promDS is the data source chosen when the dashboard is imported.
var promDS = datasource{Type: "prometheus", UID: "${DS_PROMETHEUS}"}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	var d dashboard
	if err := json.Unmarshal([]byte(testenv.ReadRepo(t, "packaging/grafana/candor.json")), &d); err != nil {
		t.Fatalf("packaging/grafana/candor.json: %v", err)
	}
	return d
}

// The dashboard is valid JSON whose every query asks the data source
// chosen at import (${DS_PROMETHEUS}), and whose panels have unique ids.
func TestDashboard(t *testing.T) {
	d := readDashboard(t)
	if len(d.Inputs) != 1 || d.Inputs[0].Name != "DS_PROMETHEUS" {
		t.Errorf("__inputs: %+v, want the one data source DS_PROMETHEUS", d.Inputs)
	}
	hasVar := false
	for _, v := range d.Templating.List {
		hasVar = hasVar || v.Name == "DS_PROMETHEUS" && v.Type == "datasource"
	}
	if !hasVar {
		t.Error("no data source variable DS_PROMETHEUS")
	}
	ids := map[int]string{}
	queries := 0
	var check func(p panel)
	check = func(p panel) {
		if other, ok := ids[p.ID]; ok {
			t.Errorf("panels %q and %q share id %d", other, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.Type != "row" && (p.Datasource == nil || *p.Datasource != promDS) {
			t.Errorf("panel %q: data source %+v, want %+v", p.Title, p.Datasource, promDS)
		}
		for _, q := range p.Targets {
			queries++
			if q.Datasource == nil || *q.Datasource != promDS || q.Expr == "" {
				t.Errorf("panel %q: a query %q on %+v", p.Title, q.Expr, q.Datasource)
			}
		}
		for _, c := range p.Panels {
			check(c)
		}
	}
	for _, p := range d.Panels {
		check(p)
	}
	if queries == 0 {
		t.Fatal("no queries in the dashboard")
	}
}

// referenced are the metric names the dashboard's queries and the alert
// rules read: Candor's, Go's and the process's (up is Prometheus's own).
func referenced(t *testing.T) map[string][]string {
	t.Helper()
	names := map[string][]string{}
	name := regexp.MustCompile(`\b(candor|go|process)_[a-zA-Z0-9_:]+`)
	add := func(where, expr string) {
		for _, n := range name.FindAllString(expr, -1) {
			if !slices.Contains(names[n], where) {
				names[n] = append(names[n], where)
			}
		}
	}
	d := readDashboard(t)
	var walk func(p panel)
	walk = func(p panel) {
		for _, q := range p.Targets {
			add("dashboard panel "+p.Title, q.Expr)
		}
		for _, c := range p.Panels {
			walk(c)
		}
	}
	for _, p := range d.Panels {
		walk(p)
	}
	for _, v := range d.Templating.List {
		add("dashboard variable "+v.Name, v.Definition)
	}
	for _, g := range readAlertRules(t).Groups {
		for _, r := range g.Rules {
			add("alert "+r.Alert, r.Expr)
		}
	}
	return names
}

// exported are the metric names a server's /metrics text holds, each
// histogram's and summary's series (_bucket, _sum, _count) included.
func exported(t *testing.T, text string) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 || f[0] != "#" || f[1] != "TYPE" {
			continue
		}
		names[f[2]] = true
		switch f[3] {
		case "histogram":
			names[f[2]+"_bucket"], names[f[2]+"_sum"], names[f[2]+"_count"] = true, true, true
		case "summary":
			names[f[2]+"_sum"], names[f[2]+"_count"] = true, true
		}
	}
	return names
}

// Every metric the dashboard and the alert rules read is one a running
// server exports, and every metric of Candor's a server exports is on the
// dashboard: neither can drift from the code. The server is the full
// composition, over NATS as a deployment of several instances runs it.
func TestDashboardAndAlertsReadExportedMetrics(t *testing.T) {
	nats := os.Getenv("CANDOR_TEST_NATS")
	if nats == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CANDOR_TEST_NATS is unset and CI=true")
		}
		t.Skip("set CANDOR_TEST_NATS, e.g. nats://127.0.0.1:4222 (.ci/run sets it): the bus's metrics are only a NATS bus's")
	}
	env := servertest.StartWith(t, server.Config{NATS: nats, Name: "candor-m-" + strings.ToLower(candor.NewID("m")[2:14])})
	if code := get(t, env.URL+"/healthz"); code != 200 { // a request, so that the HTTP series exist
		t.Fatalf("/healthz: %d", code)
	}
	// The audit logs' verification is reported once the upkeep's first
	// pass verified them.
	var have map[string]bool
	for deadline := time.Now().Add(30 * time.Second); ; {
		body := scrapeText(t, env.URL)
		have = exported(t, body)
		if have["candor_audit_verification_failed"] || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	refs := referenced(t)
	var missing []string
	for n, where := range refs {
		if !have[n] {
			missing = append(missing, n+" (read by "+strings.Join(where, ", ")+")")
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("not exported by the server: %s", m)
	}
	d := testenv.ReadRepo(t, "packaging/grafana/candor.json")
	for n := range have {
		if strings.HasPrefix(n, "candor_") && !strings.HasSuffix(n, "_sum") && !strings.HasSuffix(n, "_count") &&
			!strings.Contains(d, n) {
			t.Errorf("the server exports %s but the dashboard shows it nowhere", n)
		}
	}
	if len(refs) < 20 {
		t.Fatalf("only %d metric names found in the dashboard and the rules: the test would prove little", len(refs))
	}
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func scrapeText(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d %v", resp.StatusCode, err)
	}
	return string(b)
}
