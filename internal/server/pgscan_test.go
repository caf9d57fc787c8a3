package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"net/url"
	"strings"
	"testing"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// dumpSchema returns every value of every table in the schema a DSN's
// search_path names, as bytes, the way a database dump would hold them.
func dumpSchema(t *testing.T, dsn string) []byte {
	t.Helper()
	u, _ := url.Parse(dsn)
	schema := u.Query().Get("search_path")
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1`, schema)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		rows.Scan(&name)
		tables = append(tables, name)
	}
	rows.Close()
	var dump bytes.Buffer
	for _, table := range tables {
		r, err := db.Query(`SELECT t::text FROM "` + table + `" t`)
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		for r.Next() {
			var row string
			r.Scan(&row)
			dump.WriteString(row)
			dump.WriteByte('\n')
		}
		r.Close()
	}
	return dump.Bytes()
}

// The same promises on PostgreSQL: after a key ceremony and a phone's sync,
// no share and none of the personal data is in any table, in the clear or
// as a common encoding or unkeyed hash (bytea is dumped as hex).
func TestNothingReadableInPostgres(t *testing.T) {
	ctx := context.Background()
	pg := servertest.Postgres(t)
	env := servertest.StartProduction(t, server.Config{Postgres: pg})
	op := &raw{t: t, url: env.URL}
	var init api.InitResponse
	op.must("POST", "/v1/operator/init", api.InitRequest{Shares: 3, Threshold: 2}, &init)

	a := newPhone(t, env, canaryIMEI)
	a.Contacts().Add("Oriel "+canaryName, canaryPhone)
	a.Notes().Add("harbour", canaryNote)
	if _, err := a.Signup(ctx, canaryEmail, canaryPassword); err != nil {
		t.Fatal(err)
	}
	a.SetConsent(ctx, candor.Contacts, true)
	a.SetConsent(ctx, candor.Notes, true)
	mustSync(t, a)
	var dump []byte
	for _, dsn := range append([]string{pg.Directory}, pg.Regions["in"], pg.Regions["us"]) {
		dump = append(dump, dumpSchema(t, dsn)...)
	}
	if !bytes.Contains(dump, []byte("root-check")) {
		t.Fatal("the dump holds nothing: the test would prove nothing")
	}
	lower := bytes.ToLower(dump)
	for _, c := range append([]string{canaryIMEI, canaryPassword, canaryEmail, canaryName, canaryPhone, canaryNote}, init.Shares...) {
		for _, form := range canaryForms(c) {
			if bytes.Contains(dump, form) || bytes.Contains(lower, bytes.ToLower(form)) {
				t.Errorf("%q (as %q) found in PostgreSQL", c, form)
			}
		}
		if s, ok := strings.CutPrefix(c, "candor-share-v1-"); ok && bytes.Contains(dump, []byte(s)) {
			t.Errorf("a share is in PostgreSQL")
		}
	}
}
