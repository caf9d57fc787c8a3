package main

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/server/servertest"
)

func TestMain(m *testing.M) {
	if os.Getenv("CANDOR_TEST_RUN_MAIN") == "1" {
		// The test binary standing in for candor, in tests that need a
		// separate process (TestMigrationSurvivesSIGKILL).
		os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	testscript.Main(m, map[string]func(){
		"candor": func() { os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts drives the candor command exactly as a person would, from
// the scripts in testdata/*.txtar. Each script gets a fresh dev server whose
// URL is $SERVER and whose data folder is $DATA.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:  "testdata",
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){"noneunder": noneUnder},
		Setup: func(env *testscript.Env) error {
			cfg := server.Config{Dev: true, Data: env.WorkDir + "/serverdata",
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			cfg.Account.Hash, cfg.Account.MinKDF = servertest.FastAccounts.Hash, servertest.FastAccounts.MinKDF
			s, err := server.New(context.Background(), cfg)
			if err != nil {
				return err
			}
			handler, stopChecks := servertest.CheckAPI(t, s.Handler())
			ts := httptest.NewServer(handler)
			env.Defer(func() { ts.Close(); s.Close(); stopChecks() })
			env.Setenv("SERVER", ts.URL)
			env.Setenv("DATA", cfg.Data)
			return nil
		},
	})
}

// noneUnder DIR STRING... fails if any file under DIR contains any STRING.
func noneUnder(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: noneunder DIR STRING...")
	}
	err := filepath.WalkDir(ts.MkAbs(args[0]), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range args[1:] {
			if bytes.Contains(b, []byte(s)) {
				ts.Fatalf("%q found in %s", s, path)
			}
		}
		return nil
	})
	ts.Check(err)
}

// A refusal for lack of consent exits 3, naming the category and how to
// turn it on.
func TestExitCodeWithoutConsent(t *testing.T) {
	env := servertest.Start(t)
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	call := func(stdin string, args ...string) int {
		out.Reset()
		errOut.Reset()
		return run(context.Background(), append([]string{"device", "--state", dir}, args...), strings.NewReader(stdin), &out, &errOut)
	}
	if code := call("", "init", "--server", env.URL, "--imei", "356938035643809", "--phone", "+919812345678", "--country", "IN"); code != 0 {
		t.Fatalf("init: %d %s", code, errOut.String())
	}
	if code := call("Orchid-Lantern-7731!\n", "signup", "--email", "exit@example.invalid"); code != 0 {
		t.Fatalf("signup: %d %s", code, errOut.String())
	}
	for _, c := range []string{"contacts", "notes"} {
		if code := call("", "sync", c); code != 3 || !strings.Contains(errOut.String(), "consent "+c+" on") {
			t.Fatalf("sync %s with consent off: exit %d, %q", c, code, errOut.String())
		}
	}
	if code := call("", "consent", "notes", "sideways"); code != 2 {
		t.Fatalf("bad on|off: exit %d", code)
	}
}
