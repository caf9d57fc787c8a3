package server_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/server/servertest"
)

const benchContacts = 10_000

// interleave runs b.N rounds of two variants, alternating which goes
// first so that neither profits from the machine's drift, and returns the
// time each took in all.
func interleave(b *testing.B, one, two func() time.Duration) (t1, t2 time.Duration) {
	b.ResetTimer()
	for i := range b.N {
		if i%2 == 0 {
			t1 += one()
			t2 += two()
		} else {
			t2 += two()
			t1 += one()
		}
	}
	return t1, t2
}

// pushRound creates an account, turns contacts on and pushes benchContacts
// vCards over HTTP in pages of 500, as a phone's first sync does. It returns
// the time the pushes took.
func pushRound(b *testing.B, env *servertest.Env, cards [][]byte) time.Duration {
	b.Helper()
	r, _ := signup(b, env, "IN")
	epoch := r.consent("contacts", true)
	start := time.Now()
	pushCards(b, r, epoch, cards)
	return time.Since(start)
}

// pushCards pushes vCards as new contacts in pages of 500.
func pushCards(b *testing.B, r *raw, epoch int64, cards [][]byte) {
	b.Helper()
	for i := 0; i < len(cards); i += 500 {
		changes := make([]api.Change, 0, 500)
		for _, c := range cards[i:min(i+500, len(cards))] {
			changes = append(changes, api.Change{ID: candor.NewRecordID(), Data: c})
		}
		var resp api.PushResponse
		r.must("POST", "/v1/records/contacts", api.PushRequest{Epoch: epoch, Changes: changes}, &resp)
		if len(resp.Results) != len(changes) || resp.Results[0].Status != api.Applied {
			b.Fatalf("push: %+v", resp.Results[:1])
		}
	}
}

func benchCards() [][]byte {
	cards := make([][]byte, benchContacts)
	for i := range cards {
		cards[i] = fmt.Appendf(nil, "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bench Person %05d\r\nN:Person %05d;Bench;;;\r\n"+
			"TEL;TYPE=CELL:+91987%07d\r\nEMAIL:bench.%05d@example.invalid\r\nEND:VCARD\r\n", i, i, i, i)
	}
	return cards
}

// BenchmarkPushContacts pushes 10,000 contacts end to end over HTTP, with
// records sealed (AES-256-GCM) and, interleaved in the same run, with
// sealing replaced by a plain copy. It reports records/s for each and their
// ratio (sealed/plain; the target is at least 0.8).
func BenchmarkPushContacts(b *testing.B) {
	cards := benchCards()
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			start := func(codec bool) *servertest.Env {
				cfg := server.Config{}
				if backend == "postgres" {
					cfg.Postgres = servertest.Postgres(b)
				}
				if !codec {
					cfg = server.WithCodec(cfg, server.PlainCodec{})
				}
				return servertest.StartWith(b, cfg)
			}
			sealed, plain := start(true), start(false)
			tSealed, tPlain := interleave(b,
				func() time.Duration { return pushRound(b, sealed, cards) },
				func() time.Duration { return pushRound(b, plain, cards) })
			n := float64(b.N * benchContacts)
			b.ReportMetric(n/tSealed.Seconds(), "sealed-records/s")
			b.ReportMetric(n/tPlain.Seconds(), "plain-records/s")
			b.ReportMetric(tPlain.Seconds()/tSealed.Seconds(), "sealed/plain")
		})
	}
}

// syncRound is one phone's first sync of benchContacts contacts, pushed and
// then pulled back (as a second phone would), over HTTP.
func syncRound(b *testing.B, env *servertest.Env, cards [][]byte) time.Duration {
	b.Helper()
	r, _ := signup(b, env, "IN")
	epoch := r.consent("contacts", true)
	start := time.Now()
	pushCards(b, r, epoch, cards)
	for since := int64(0); ; {
		var feed api.Feed
		r.must("GET", fmt.Sprintf("/v1/records/contacts?since=%d&limit=1000", since), nil, &feed)
		if !feed.More {
			break
		}
		since = feed.Next
	}
	return time.Since(start)
}

// uploadRound uploads one photo of len(photo) bytes over HTTP in parts, as
// a phone does, and returns the time it took.
func uploadRound(b testing.TB, r *raw, photo []byte) time.Duration {
	b.Helper()
	start := time.Now()
	var up api.Upload
	r.must("POST", "/v1/photos/uploads", api.UploadCreate{Size: int64(len(photo)), Hash: randomBytes(32)}, &up)
	for n := 0; n < up.Parts; n++ {
		part := photo[n*api.PartSize : min((n+1)*api.PartSize, len(photo))]
		if a := r.send("PUT", fmt.Sprintf("/v1/photos/uploads/%s/parts/%d", up.ID, n), "application/octet-stream", part); a.status != 200 {
			b.Fatalf("part %d: %d %s", n, a.status, a.body)
		}
	}
	r.must("POST", "/v1/photos/uploads/"+up.ID+"/complete", nil, &up)
	return time.Since(start)
}

// BenchmarkPhotoUpload uploads a 20 MB photo through the HTTP path to the
// local-disk blob store, sealed (streaming AES-256-GCM) and, interleaved in
// the same run, stored as a plain copy. It reports MB/s for each and the
// ratio (sealed/plain; the target is at least 0.7).
func BenchmarkPhotoUpload(b *testing.B) {
	photo := randomBytes(20_000_000)
	start := func(plain bool) *raw {
		cfg := server.Config{}
		cfg.Photos.Plain = plain
		r, _ := signup(b, servertest.StartWith(b, cfg), "IN")
		r.consent("photos", true)
		return r
	}
	sealed, plain := start(false), start(true)
	tSealed, tPlain := interleave(b,
		func() time.Duration { return uploadRound(b, sealed, photo) },
		func() time.Duration { return uploadRound(b, plain, photo) })
	mb := float64(b.N*len(photo)) / 1e6
	b.ReportMetric(mb/tSealed.Seconds(), "sealed-MB/s")
	b.ReportMetric(mb/tPlain.Seconds(), "plain-MB/s")
	b.ReportMetric(tPlain.Seconds()/tSealed.Seconds(), "sealed/plain")
}
