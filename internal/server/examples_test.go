package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/blobs/s3"
	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/server/servertest"
	"github.com/candorcloud/candor/internal/store/pgtest"
)

// examples is where the example configuration files are kept.
const examples = "../../docs/examples"

// Every example configuration in docs/examples starts a production server
// once the test environment's services are put in place of the example's
// hosts — PostgreSQL (fresh schemas), S3 (fresh buckets), NATS, folders —
// and nothing else: the key ceremony, then a phone syncs contacts and a
// photo and a second phone gets both back.
func TestExampleConfigs(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(examples, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configurations: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			cfg, err := server.LoadConfig(file)
			if err != nil {
				t.Fatal(err)
			}
			cfg = inTestEnvironment(t, cfg)
			url, stop := startExample(t, cfg)
			init := exampleSync(t, url)

			// Published content is kept in the stores the instances share
			// (with or without a data folder): a restarted instance still
			// serves it, while sealed, and so does a second instance.
			boot := &raw{t: t, url: url, token: init.StaffToken}
			cat := api.GreetingsCatalog{Locales: map[string][]api.Greeting{
				"ta-IN": {{ID: "pongal-1", Occasion: "pongal", Kind: "wish", Text: "இனிய பொங்கல் நல்வாழ்த்துக்கள்!"}}}}
			boot.must("POST", "/v1/operator/greetings", cat, nil)
			root := boot.send("GET", "/v1/public/ota/1.root.json", "", nil)
			if root.status != 200 {
				t.Fatalf("update root: %d %s", root.status, root.body)
			}
			stop()
			again, _ := startExample(t, cfg)
			anon := &raw{t: t, url: again}
			if !anon.status().Sealed {
				t.Fatal("a production server restarted unsealed")
			}
			var ta api.Greetings
			anon.must("GET", "/v1/public/greetings?locale=ta-IN", nil, &ta)
			if len(ta.Items) != 1 || ta.Items[0].ID != "pongal-1" {
				t.Errorf("published greetings after a restart: %+v", ta.Items)
			}
			if got := anon.send("GET", "/v1/public/ota/1.root.json", "", nil); got.status != 200 || !bytes.Equal(got.body, root.body) {
				t.Errorf("the update root changed across a restart: %d", got.status)
			}
		})
	}
}

// The per-region examples load, and differ only in what they serve.
func TestMultiRegionExamples(t *testing.T) {
	read := func(r string) map[string]any {
		b, err := os.ReadFile(filepath.Join(examples, "multi-region", r+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := server.LoadConfig(filepath.Join(examples, "multi-region", r+".json")); err != nil {
			t.Fatalf("%s.json: %v", r, err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	in, sg := read("in"), read("sg")
	for _, m := range []map[string]any{in, sg} {
		delete(m, "serve")
	}
	a, _ := json.Marshal(in)
	b, _ := json.Marshal(sg)
	if !bytes.Equal(a, b) {
		t.Errorf("in.json and sg.json differ beyond serve:\n%s\n%s", a, b)
	}
}

// inTestEnvironment replaces what an example names on other machines with
// the test environment's services, skipping t when one is not set.
func inTestEnvironment(t *testing.T, cfg server.Config) server.Config {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	if cfg.Data != "" {
		cfg.Data = t.TempDir()
	}
	if cfg.Erasure.Folder != "" {
		cfg.Erasure.Folder = t.TempDir()
	}
	if cfg.Postgres != nil {
		cfg.Postgres.Directory = pgtest.Schema(t)
		for id := range cfg.Postgres.Regions {
			cfg.Postgres.Regions[id] = pgtest.Schema(t)
		}
	}
	if cfg.S3 != nil {
		raw := os.Getenv("CANDOR_TEST_S3")
		if raw == "" {
			t.Skip("S3 tests skipped: set CANDOR_TEST_S3, e.g. http://ACCESS:SECRET@127.0.0.1:7070/candor-test (.ci/run starts versitygw and sets it)")
		}
		base, err := s3.ParseURL(raw)
		if err != nil {
			t.Fatal(err)
		}
		suffix := strings.ToLower(candor.NewID("t")[2:12])
		cfg.S3.Endpoint, cfg.S3.AccessKey, cfg.S3.SecretKey, cfg.S3.UseSSL = base.Endpoint, base.AccessKey, base.SecretKey, base.UseSSL
		for id := range cfg.S3.Buckets {
			cfg.S3.Buckets[id] = "candor-" + string(id) + "-" + suffix
		}
	}
	if cfg.NATS != "" {
		cfg.NATS = os.Getenv("CANDOR_TEST_NATS")
		if cfg.NATS == "" {
			t.Skip("NATS tests skipped: set CANDOR_TEST_NATS, e.g. nats://127.0.0.1:4222")
		}
		cfg.Name += "." + strings.ToLower(candor.NewID("t")[2:12]) // subjects of its own
	}
	cfg.Account.MinKDF = servertest.FastAccounts.MinKDF // the phones' test cost
	cfg.Logger = quiet()
	return cfg
}

// startExample starts cfg as candor serve --config would, in production
// mode, over HTTP on a free loopback port, stopped by stop or when t ends;
// it returns the URL.
func startExample(t *testing.T, cfg server.Config) (url string, stop func()) {
	t.Helper()
	s, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	ts := httptest.NewServer(s.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Background(ctx); close(done) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
			ts.Close()
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(stop)
	return ts.URL, stop
}

// exampleSync holds the key ceremony on the server at url, then syncs a
// phone's contacts and photo, and restores both on a second phone.
func exampleSync(t *testing.T, url string) api.InitResponse {
	t.Helper()
	ctx := context.Background()
	env := &servertest.Env{URL: url}
	op := &raw{t: t, url: url}
	var init api.InitResponse
	op.must("POST", "/v1/operator/init", api.InitRequest{Shares: 3, Threshold: 2}, &init)

	src := t.TempDir()
	want := writePhotos(t, src, 300_000)
	a := newPhone(t, env, canaryIMEI)
	a.Contacts().Add("Ravi Kumar", canaryPhone)
	a.Photos().Import(src)
	if _, err := a.Signup(ctx, canaryEmail, canaryPassword); err != nil {
		t.Fatal(err)
	}
	for _, c := range []candor.Category{candor.Contacts, candor.Photos} {
		if _, err := a.SetConsent(ctx, c, true); err != nil {
			t.Fatal(err)
		}
	}
	mustSync(t, a)
	b := loggedIn(t, env, "356938035643817")
	mustSync(t, b)
	if cs, _ := b.Contacts().List(); len(cs) != 1 || cs[0].Name != "Ravi Kumar" {
		t.Errorf("contacts on the second phone: %+v", cs)
	}
	ps, _ := b.Photos().List()
	if len(ps) != 1 {
		t.Fatalf("%d photos on the second phone", len(ps))
	}
	if data, _ := os.ReadFile(ps[0].File); !want[sha256.Sum256(data)] {
		t.Error("the photo is not byte-identical on the second phone")
	}
	return init
}

// The JSON shown in the documentation is the example file it names, so
// the two cannot drift: a ```json block right after a line naming
// docs/examples/NAME.json holds that file's settings, and every example is
// shown somewhere.
func TestExampleConfigsInDocs(t *testing.T) {
	shown := map[string]bool{}
	for _, doc := range []string{"../../docs/configuration.md", "../../docs/deployment.md"} {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		var last, name string
		var block *bytes.Buffer
		sc := bufio.NewScanner(bytes.NewReader(text))
		for sc.Scan() {
			line := sc.Text()
			switch {
			case block == nil && line == "```json":
				block, name = &bytes.Buffer{}, ""
				if i := strings.Index(last, "examples/"); i >= 0 {
					name, _, _ = strings.Cut(last[i+len("examples/"):], ".json")
				}
			case block != nil && line == "```":
				if name != "" {
					shown[name] = true
					file, err := os.ReadFile(filepath.Join(examples, name+".json"))
					if err != nil {
						t.Errorf("%s: %v", doc, err)
					} else if !sameJSON(t, file, block.Bytes()) {
						t.Errorf("%s shows docs/examples/%s.json with other settings than the file", doc, name)
					}
				}
				block = nil
			case block != nil:
				block.WriteString(line + "\n")
			case strings.TrimSpace(line) != "":
				last = line
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join(examples, "*.json"))
	multi, _ := filepath.Glob(filepath.Join(examples, "multi-region", "*.json"))
	for _, f := range append(files, multi...) {
		rel, _ := filepath.Rel(examples, f)
		if name := strings.TrimSuffix(filepath.ToSlash(rel), ".json"); !shown[name] && name != "multi-region/sg" { // sg.json: in.json but for its serve (TestMultiRegionExamples)
			t.Errorf("docs/examples/%s.json is shown in neither configuration.md nor deployment.md", name)
		}
	}
}

func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Errorf("example: %v", err)
		return false
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Errorf("documentation block: %v", err)
		return false
	}
	xs, _ := json.Marshal(x)
	ys, _ := json.Marshal(y)
	return bytes.Equal(xs, ys)
}
