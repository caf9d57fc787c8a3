package browser

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/cloudflare/circl/oprf"

	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client/login"
)

// The fixed inputs of the known-answer test, and the answers the Go SDK
// gives for them. The answers are pinned so that a change to package login
// shows here even though the browser and the phone would still agree.
const (
	kaEmail    = "  Oriel.Quillfeather@Example.Invalid "
	kaSeed     = "candor browser known-answer seed" // 32 bytes: the test server's OPRF key
	kaPassword = "Orchid-Lantern-7731!"
	kaSalt     = "0123456789abcdef"

	kaHandle    = "c954e9ffae0f091c8d94fc7ccbe279aa060385d5a4f14975b4b1befb826d843035de577fe53b705e8fff0b84b4b89f801389b65b173a8d55633b5ccbf61537a4"
	kaAuthKey   = "f958fd3eac22317cc27a587ed28b2fdf38c90b2d2c2cb8567ef75051ea567564"
	kaDeviceKey = "79494af2e646d1600bef5fd573a3c0fc16d53ee537e91ce6461c2ddccd901382"
)

// chromium returns the browser to run, or skips the test when there is none
// and CANDOR_TEST_CHROMIUM does not ask for it.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CANDOR_TEST_CHROMIUM"); p != "" {
		path, err := exec.LookPath(p)
		if err != nil {
			t.Fatalf("CANDOR_TEST_CHROMIUM=%s, but it cannot be run: %v (scripts/ci/chromium.sh installs Chromium)", p, err)
		}
		return path
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Skip("no Chromium on this machine: install it with scripts/ci/chromium.sh, or set CANDOR_TEST_CHROMIUM to its path (CI does, and then a missing Chromium fails this test)")
	return ""
}

// buildWasm compiles cmd/candor-wasm for the browser into dir, from the
// source under test, and copies the Go distribution's wasm_exec.js beside
// it. Building here, not committing a binary, means the browser always runs
// the code being tested.
func buildWasm(t *testing.T, dir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	goroot, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	js, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "wasm_exec.js"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "wasm_exec.js"), js, 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, "candor.wasm"), "github.com/candorcloud/candor/cmd/candor-wasm")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building cmd/candor-wasm: %v\n%s", err, out)
	}
	t.Logf("built cmd/candor-wasm in %v", time.Since(start).Round(time.Millisecond))
}

// server serves the test page, the WebAssembly build (gzipped when the
// browser accepts it, as a production server would) and the OPRF
// evaluation of POST /v1/auth/handle under a fixed key; with an upstream
// Candor server, every other /v1/ request is passed to it, so that the page
// reads the server's API from its own origin.
type server struct {
	*httptest.Server
	wasmRaw, wasmGzip int
}

func newServer(t *testing.T, dir string, key *oprf.PrivateKey, upstream string) *server {
	t.Helper()
	page, err := os.ReadFile(filepath.Join("testdata", "kat.html"))
	if err != nil {
		t.Fatal(err)
	}
	wasmExec, err := os.ReadFile(filepath.Join(dir, "wasm_exec.js"))
	if err != nil {
		t.Fatal(err)
	}
	wasm, err := os.ReadFile(filepath.Join(dir, "candor.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(wasm)
	zw.Close()
	eval := oprf.NewServer(oprf.SuiteRistretto255, key)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	})
	mux.HandleFunc("GET /wasm_exec.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Write(wasmExec)
	})
	mux.HandleFunc("GET /candor.wasm", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/wasm")
		w.Header().Set("Vary", "Accept-Encoding")
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(gz.Bytes())
			return
		}
		w.Write(wasm)
	})
	mux.HandleFunc("POST /v1/auth/handle", func(w http.ResponseWriter, r *http.Request) {
		var req api.HandleRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10)).Decode(&req); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		e := oprf.SuiteRistretto255.Group().NewElement()
		if err := e.UnmarshalBinary(req.Blinded); err != nil {
			http.Error(w, "bad element", http.StatusBadRequest)
			return
		}
		ev, err := eval.Evaluate(&oprf.EvaluationRequest{Elements: []oprf.Blinded{e}})
		if err != nil {
			http.Error(w, "cannot evaluate", http.StatusInternalServerError)
			return
		}
		out, _ := ev.Elements[0].MarshalBinaryCompress()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(api.HandleResponse{Evaluated: out})
	})
	if upstream != "" {
		u, err := url.Parse(upstream)
		if err != nil {
			t.Fatal(err)
		}
		mux.Handle("/v1/", httputil.NewSingleHostReverseProxy(u))
	}
	s := &server{Server: httptest.NewServer(mux), wasmRaw: len(wasm), wasmGzip: gz.Len()}
	t.Cleanup(s.Close)
	return s
}

// browse starts a headless Chromium with a fresh profile, on a context
// that fails the test on any request to a host other than allowed.
func browse(t *testing.T, exe, allowed string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-pings", true),
		// Nothing but the test server resolves, whatever the page asks.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })

	var mu sync.Mutex
	var foreign []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			u, err := url.Parse(e.Request.URL)
			if err != nil || (u.Scheme != "data" && u.Scheme != "blob" && u.Host != allowed) {
				mu.Lock()
				foreign = append(foreign, e.Request.URL)
				mu.Unlock()
			}
		}
	}); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, u := range foreign {
			t.Errorf("the page made a request to another host than the test server: %s", u)
		}
	})
	return ctx
}

func run[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	v, err := chromedp.Run(tctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func costJS(c login.Cost) string {
	return js(api.KDF(c))
}

type derived struct {
	AuthKey   string  `json:"authKey"`
	DeviceKey string  `json:"deviceKey"`
	MS        float64 `json:"ms"`
}

// TestBrowserKnownAnswer runs the sign-in derivations in Chromium, from the
// WebAssembly build of package login, and checks they give what the Go SDK
// gives for the same inputs: the login handle (against a test server whose
// OPRF key is fixed) and the auth and device keys. It logs the figures of
// docs/browser.md: the size of the build, the time until it is ready, and
// Argon2id's time in Chromium and natively at the SDK's costs.
func TestBrowserKnownAnswer(t *testing.T) {
	exe := chromium(t)
	dir := t.TempDir()
	buildWasm(t, dir)
	key, err := oprf.DeriveKey(oprf.SuiteRistretto255, oprf.BaseMode, []byte(kaSeed), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, dir, key, "")
	u, _ := url.Parse(srv.URL)
	ctx := browse(t, exe, u.Host)

	if _, err := chromedp.Run(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	readyMS := run[float64](t, ctx, "window.ready")

	// What the Go SDK computes for the same inputs.
	want, err := oprf.NewServer(oprf.SuiteRistretto255, key).FullEvaluate([]byte(login.HandleDomain + login.NormalizeEmail(kaEmail)))
	if err != nil {
		t.Fatal(err)
	}
	b, blinded, err := login.Blind(kaEmail)
	if err != nil {
		t.Fatal(err)
	}
	e := oprf.SuiteRistretto255.Group().NewElement()
	e.UnmarshalBinary(blinded)
	ev, _ := oprf.NewServer(oprf.SuiteRistretto255, key).Evaluate(&oprf.EvaluationRequest{Elements: []oprf.Blinded{e}})
	evaluated, _ := ev.Elements[0].MarshalBinaryCompress()
	goHandle, err := b.Finish(evaluated)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(goHandle, want) {
		t.Fatal("the Go SDK's handle is not the server's full evaluation")
	}
	salt := []byte(kaSalt)
	goKeys, err := login.DeriveKeys(kaPassword, salt, login.MinimumCost)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Go SDK: handle %x, auth key %x, device key %x", goHandle, goKeys.AuthKey, goKeys.DeviceKey)
	for _, p := range []struct {
		got  []byte
		want string
	}{{goHandle, kaHandle}, {goKeys.AuthKey, kaAuthKey}, {goKeys.DeviceKey, kaDeviceKey}} {
		if hex.EncodeToString(p.got) != p.want {
			t.Errorf("the Go SDK's answer changed: %x, pinned %s", p.got, p.want)
		}
	}

	// The same in Chromium.
	type handled struct{ Blinded, Handle string }
	h1 := run[handled](t, ctx, "handle("+js(kaEmail)+")")
	h2 := run[handled](t, ctx, "handle("+js(login.NormalizeEmail(kaEmail))+")")
	if h1.Handle != hex.EncodeToString(goHandle) {
		t.Errorf("browser handle = %s, Go SDK = %x", h1.Handle, goHandle)
	}
	if h2.Handle != h1.Handle {
		t.Error("in the browser, the handle depends on case or spaces of the email")
	}
	if h1.Blinded == h2.Blinded || h1.Blinded == hex.EncodeToString(blinded) {
		t.Error("the browser's blinding is not fresh for each run")
	}
	if strings.Contains(h1.Blinded, hex.EncodeToString([]byte("example"))) {
		t.Error("the blinded element contains the email")
	}
	if msg := run[string](t, ctx, `refusal(candorLogin.blind("x@example.invalid").then(({state}) => candorLogin.finish(state, new Uint8Array(32).fill(255))))`); !strings.Contains(msg, "malformed") {
		t.Errorf("finish with a malformed evaluation: %q, want a refusal", msg)
	}

	saltHex := hex.EncodeToString(salt)
	min := run[derived](t, ctx, "keys("+js(kaPassword)+", "+js(saltHex)+", "+costJS(login.MinimumCost)+")")
	if min.AuthKey != hex.EncodeToString(goKeys.AuthKey) || min.DeviceKey != hex.EncodeToString(goKeys.DeviceKey) {
		t.Errorf("browser keys = %s, %s; Go SDK = %x, %x", min.AuthKey, min.DeviceKey, goKeys.AuthKey, goKeys.DeviceKey)
	}
	weak := login.Cost{Time: 2, MemoryKiB: 64, Threads: 1}
	if msg := run[string](t, ctx, "refusal(keys("+js(kaPassword)+", "+js(saltHex)+", "+costJS(weak)+"))"); !strings.Contains(msg, "below this browser's minimum") {
		t.Errorf("a cost below the minimum: %q, want a refusal", msg)
	}
	if msg := run[string](t, ctx, `refusal(keys("p", "00", `+costJS(login.MinimumCost)+`))`); !strings.Contains(msg, "salt is too short") {
		t.Errorf("a short salt: %q, want a refusal", msg)
	}

	// Argon2id at the default cost, in Chromium and natively.
	def := run[derived](t, ctx, "keys("+js(kaPassword)+", "+js(saltHex)+", "+costJS(login.DefaultCost)+")")
	start := time.Now()
	goDef, err := login.DeriveKeys(kaPassword, salt, login.DefaultCost)
	nativeDef := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if def.AuthKey != hex.EncodeToString(goDef.AuthKey) || def.DeviceKey != hex.EncodeToString(goDef.DeviceKey) {
		t.Errorf("at the default cost, browser keys = %s, %s; Go SDK = %x, %x", def.AuthKey, def.DeviceKey, goDef.AuthKey, goDef.DeviceKey)
	}
	start = time.Now()
	login.DeriveKeys(kaPassword, salt, login.MinimumCost)
	nativeMin := time.Since(start)

	transfer := run[map[string]any](t, ctx, "transfer()")
	t.Logf("wasm: %d bytes, %d gzipped; ready %.0f ms after navigation start; transferred: %v", srv.wasmRaw, srv.wasmGzip, readyMS, transfer)
	t.Logf("Argon2id %+v: Chromium %.0f ms, native Go %v", login.DefaultCost, def.MS, nativeDef.Round(time.Millisecond))
	t.Logf("Argon2id %+v: Chromium %.0f ms, native Go %v", login.MinimumCost, min.MS, nativeMin.Round(time.Millisecond))
}
