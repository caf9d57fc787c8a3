package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/candorcloud/candor/internal/server/servertest"
)

// An app password made on the command line opens the account's address
// book over CardDAV with HTTP Basic, is listed, and stops working once
// revoked from the command line.
func TestAppPasswordCommands(t *testing.T) {
	env := servertest.Start(t)
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	call := func(stdin string, args ...string) string {
		t.Helper()
		out.Reset()
		errOut.Reset()
		if code := run(context.Background(), append([]string{"device", "--state", dir}, args...), strings.NewReader(stdin), &out, &errOut); code != 0 {
			t.Fatalf("%s: exit %d: %s", args[0], code, errOut.String())
		}
		return out.String()
	}
	call("", "init", "--server", env.URL, "--imei", "356938035643809", "--phone", "+919812345678", "--country", "IN")
	call("Orchid-Lantern-7731!\n", "signup", "--email", "dav@example.invalid")
	call("", "consent", "contacts", "on")
	made := call("", "app-password", "create", "--name", "Thunderbird")
	field := func(name string) string {
		m := regexp.MustCompile(`(?m)^` + name + `:\s+(\S+)$`).FindStringSubmatch(made)
		if m == nil {
			t.Fatalf("no %s in %q", name, made)
		}
		return m[1]
	}
	url, user, pass := field("CardDAV URL"), field("username"), field("password")
	id := regexp.MustCompile(`\(id (\S+)\)`).FindStringSubmatch(made)[1]
	if !strings.Contains(call("", "app-password", "list"), "Thunderbird") {
		t.Fatalf("the app password is not listed: %q", out.String())
	}
	propfind := func() int {
		t.Helper()
		req, _ := http.NewRequest("PROPFIND", url, strings.NewReader(`<?xml version="1.0"?><propfind xmlns="DAV:"><prop><current-user-principal/></prop></propfind>`))
		req.Header.Set("Depth", "0")
		req.Header.Set("Content-Type", "application/xml; charset=utf-8")
		req.SetBasicAuth(user, pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode/100 == 4 {
			b, _ := io.ReadAll(resp.Body)
			t.Logf("PROPFIND %s: %d %s", url, resp.StatusCode, b)
		}
		return resp.StatusCode
	}
	if code := propfind(); code != http.StatusMultiStatus {
		t.Fatalf("PROPFIND with the new app password: %d, want 207", code)
	}
	call("", "app-password", "revoke", id)
	if code := propfind(); code != http.StatusUnauthorized {
		t.Fatalf("PROPFIND after the revocation: %d, want 401", code)
	}
}
