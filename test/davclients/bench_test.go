package davclients

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// benchEdits is how many cards the incremental sync carries.
const benchEdits = 10

// benchRun is what one target did with one address book size.
type benchRun struct {
	target      string
	size        int
	first, incr time.Duration
	firstReq    requestStats
	incrReq     requestStats
	noop        time.Duration
	noopReq     requestStats
}

// TestSyncBenchmark times the same vdirsyncer pushing each size of
// address book to each target over loopback: the first sync, then an
// incremental sync after benchEdits edits in the folder, then a sync with
// nothing changed. It prints a table with Candor's times over Radicale's.
//
// It runs only with CANDOR_BENCH_CARDDAV=1 (scripts/bench/carddav.sh sets
// it). CANDOR_BENCH_CARDDAV_SIZES lists the sizes (default 1000,5000).
// Radicale is measured for each size, or for those listed in
// CANDOR_BENCH_CARDDAV_RADICALE_SIZES (its large first syncs are long); Candor too when CANDOR_BENCH_CARDDAV_URL
// (with CANDOR_BENCH_CARDDAV_USERNAME and CANDOR_BENCH_CARDDAV_PASSWORD,
// an app password) names a running server whose account has one address
// book; the benchmark empties that book before and after each size.
func TestSyncBenchmark(t *testing.T) {
	if os.Getenv("CANDOR_BENCH_CARDDAV") != "1" {
		t.Skip("the CardDAV sync benchmark runs with CANDOR_BENCH_CARDDAV=1 (scripts/bench/carddav.sh)")
	}
	tl := needTools(t)
	sizes := benchSizes(t, "CANDOR_BENCH_CARDDAV_SIZES", []int{1000, 5000})
	radicaleSizes := benchSizes(t, "CANDOR_BENCH_CARDDAV_RADICALE_SIZES", sizes)
	type benchTarget struct {
		name   string
		start  func(testing.TB) target
		shared bool // one server for every size: emptied before and after each
	}
	targets := []benchTarget{{"radicale", func(t testing.TB) target { return radicaleTarget(t, tl) }, false}}
	if u := os.Getenv("CANDOR_BENCH_CARDDAV_URL"); u != "" {
		targets = append(targets, benchTarget{"candor", func(testing.TB) target {
			return target{Name: "candor", URL: u,
				Username: os.Getenv("CANDOR_BENCH_CARDDAV_USERNAME"),
				Password: os.Getenv("CANDOR_BENCH_CARDDAV_PASSWORD")}
		}, true})
	}

	var runs []benchRun
	for _, n := range sizes {
		for _, bt := range targets {
			if bt.name == "radicale" && !slices.Contains(radicaleSizes, n) {
				continue
			}
			t.Run(fmt.Sprintf("%s/%d", bt.name, n), func(t *testing.T) {
				r := benchOne(t, tl, bt.start(t), n, bt.shared)
				t.Logf("first %.2fs (%s); incremental %.2fs (%s); nothing changed %.2fs (%s)",
					r.first.Seconds(), r.firstReq, r.incr.Seconds(), r.incrReq, r.noop.Seconds(), r.noopReq)
				runs = append(runs, r)
			})
		}
	}
	fmt.Print(benchTable(runs))
}

// benchSizes reads a comma-separated list of address book sizes from the
// environment variable name, or returns def when it is not set.
func benchSizes(t *testing.T, name string, def []int) []int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var sizes []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < benchEdits {
			t.Fatalf("%s: %q is not a size of at least %d", name, f, benchEdits)
		}
		sizes = append(sizes, n)
	}
	return sizes
}

// benchOne measures one target with n cards. A shared target's book is
// emptied first (it may hold cards from an earlier run) and afterwards.
func benchOne(t *testing.T, tl tools, tg target, n int, shared bool) benchRun {
	proxy := newCountingProxy(t, tg.URL)
	s := newSyncer(t, tl, proxy.URL, tg.Username, tg.Password)
	s.discover(t)
	if shared {
		emptyBook(t, s)
		t.Cleanup(func() { emptyBook(t, s) })
	}
	r := benchRun{target: tg.Name, size: n}

	cards := genCards(n)
	writeCards(t, s.book, cards)
	proxy.Take()
	r.first = s.sync(t)
	r.firstReq = proxy.Take()
	if got := r.firstReq.Count("PUT"); got != n {
		t.Fatalf("first sync sent %d PUT requests, want %d", got, n)
	}

	for i := 0; i < benchEdits; i++ {
		c := cards[i*(n/benchEdits)]
		editLocal(t, s, c.UID, c.FN+" (edited)")
	}
	r.incr = s.sync(t)
	r.incrReq = proxy.Take()
	if got := r.incrReq.Count("PUT"); got != benchEdits {
		t.Fatalf("incremental sync sent %d PUT requests, want %d", got, benchEdits)
	}

	r.noop = s.sync(t)
	r.noopReq = proxy.Take()
	return r
}

// emptyBook deletes every card of the folder and syncs, which empties the
// server's book, then syncs again to take whatever was left. vdirsyncer
// refuses to carry a folder emptied at once over to the server unless
// told to (--force-delete).
func emptyBook(t testing.TB, s *syncer) {
	t.Helper()
	for range 2 {
		s.vdirsyncer(t, "sync", "--force-delete")
		entries, err := os.ReadDir(s.book)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) == 0 {
			return
		}
		for _, e := range entries {
			if err := os.Remove(filepath.Join(s.book, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	s.vdirsyncer(t, "sync", "--force-delete")
}

// benchTable formats the runs: per size and target the wall-clock times,
// the requests and the time the server took to answer them (summed over
// requests, as the proxy saw it: the rest is vdirsyncer's own), and, for
// Candor, its times over Radicale's.
func benchTable(runs []benchRun) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nvdirsyncer sync times over loopback (%d edits for the incremental sync)\n\n", benchEdits)
	fmt.Fprintf(&b, "%-9s %6s | %9s %6s %9s | %9s %5s %9s | %9s %5s %9s | %s\n",
		"target", "cards", "first", "reqs", "server", "incr", "reqs", "server", "noop", "reqs", "server", "ratio to radicale (first, incr)")
	ref := map[int]benchRun{}
	for _, r := range runs {
		if r.target == "radicale" {
			ref[r.size] = r
		}
	}
	for _, r := range runs {
		fn, fs := r.firstReq.Total()
		in, is := r.incrReq.Total()
		nn, ns := r.noopReq.Total()
		ratio := "—"
		if rr, ok := ref[r.size]; ok && r.target != "radicale" {
			ratio = fmt.Sprintf("%.2f×, %.2f×", r.first.Seconds()/rr.first.Seconds(), r.incr.Seconds()/rr.incr.Seconds())
		}
		fmt.Fprintf(&b, "%-9s %6d | %8.2fs %6d %8.2fs | %8.2fs %5d %8.2fs | %8.2fs %5d %8.2fs | %s\n",
			r.target, r.size, r.first.Seconds(), fn, fs.Seconds(), r.incr.Seconds(), in, is.Seconds(),
			r.noop.Seconds(), nn, ns.Seconds(), ratio)
	}
	b.WriteString("\nrequests by method:\n")
	for _, r := range runs {
		fmt.Fprintf(&b, "  %s %d first: %s\n", r.target, r.size, r.firstReq)
		fmt.Fprintf(&b, "  %s %d incr:  %s\n", r.target, r.size, r.incrReq)
		fmt.Fprintf(&b, "  %s %d noop:  %s\n", r.target, r.size, r.noopReq)
	}
	return b.String()
}
