package davclients

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// clientTimeout bounds every run of vdirsyncer or khard.
const clientTimeout = 10 * time.Minute

// tools holds the paths of the real clients and of the reference server.
type tools struct {
	vdirsyncer, khard, radicale string
}

// needTools returns the installed clients, or skips the test with a message
// naming what is missing. With CANDOR_TEST_DAVCLIENTS=1 (as in CI) a missing
// client fails the test instead: there, skipping would hide the proof.
func needTools(t testing.TB) tools {
	t.Helper()
	var tl tools
	var missing []string
	for _, c := range []struct {
		name string
		path *string
	}{{"vdirsyncer", &tl.vdirsyncer}, {"khard", &tl.khard}, {"radicale", &tl.radicale}} {
		p, err := exec.LookPath(c.name)
		if err != nil {
			missing = append(missing, c.name)
			continue
		}
		*c.path = p
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("%s not installed (apt-get install -y vdirsyncer khard radicale, or scripts/ci/davclients.sh)", strings.Join(missing, ", "))
		if os.Getenv("CANDOR_TEST_DAVCLIENTS") == "1" {
			t.Fatalf("CANDOR_TEST_DAVCLIENTS=1 but %s", msg)
		}
		t.Skip(msg)
	}
	return tl
}

// syncer is one person's vdirsyncer set-up: a config pairing a folder of
// vCards (side a) with a CardDAV server (side b), its status folder, and a
// khard config reading the same folder.
type syncer struct {
	tools tools
	dir   string // holds the configs, the status and the folder of vCards
	env   []string
	// book is the local folder of the address book, known after discover.
	book string
}

// newSyncer writes the configs for syncing the account at url (what a
// person types into vdirsyncer: the server's root) into a fresh folder.
// collections = ["from b"] makes discover take the server's address books
// and create a local folder for each without asking; "a wins" resolves a
// card changed on both sides in favour of the folder.
func newSyncer(t testing.TB, tl tools, url, username, password string) *syncer {
	t.Helper()
	dir := t.TempDir()
	s := &syncer{tools: tl, dir: dir}
	for _, d := range []string{"local", "status", "home"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	vconf := fmt.Sprintf(`[general]
status_path = %q

[pair book]
a = "book_local"
b = "book_remote"
collections = ["from b"]
conflict_resolution = "a wins"

[storage book_local]
type = "filesystem"
path = %q
fileext = ".vcf"

[storage book_remote]
type = "carddav"
url = %q
username = %q
password = %q
`, filepath.Join(dir, "status")+"/", filepath.Join(dir, "local")+"/", url, username, password)
	writeFile(t, filepath.Join(dir, "vdirsyncer.conf"), vconf)
	// Everything the clients might read or write outside their configs
	// stays in the test's folder.
	home := filepath.Join(dir, "home")
	s.env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home+"/.config",
		"XDG_DATA_HOME="+home+"/.local/share", "XDG_CACHE_HOME="+home+"/.cache",
		"LC_ALL=C.UTF-8", "PYTHONIOENCODING=utf-8", "EDITOR=/bin/false")
	return s
}

// run runs a client with args and stdin, and returns its combined output
// and its error (an *exec.ExitError when it exited non-zero).
func (s *syncer) run(t testing.TB, stdin string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = s.dir
	cmd.Env = s.env
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// vdirsyncer runs vdirsyncer with its config and fails the test when it
// does not succeed.
func (s *syncer) vdirsyncer(t testing.TB, args ...string) string {
	t.Helper()
	out, err := s.tryVdirsyncer(t, args...)
	if err != nil {
		t.Fatalf("vdirsyncer %s: %v\n%s", strings.Join(args, " "), err, tail(out, 40))
	}
	return out
}

func (s *syncer) tryVdirsyncer(t testing.TB, args ...string) (string, error) {
	t.Helper()
	// "yes" to any question, as `yes | vdirsyncer discover` would answer.
	return s.run(t, strings.Repeat("y\n", 16), s.tools.vdirsyncer, append([]string{"-c", filepath.Join(s.dir, "vdirsyncer.conf")}, args...)...)
}

// discover runs vdirsyncer discover and records the local folder of the
// server's one address book.
func (s *syncer) discover(t testing.TB) {
	t.Helper()
	out := s.vdirsyncer(t, "discover")
	entries, err := os.ReadDir(filepath.Join(s.dir, "local"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || !entries[0].IsDir() {
		t.Fatalf("vdirsyncer discover: want one local address book, got %d entries\n%s", len(entries), out)
	}
	s.book = filepath.Join(s.dir, "local", entries[0].Name())
	writeFile(t, filepath.Join(s.dir, "khard.conf"), fmt.Sprintf(`[addressbooks]
[[book]]
path = %s/

[general]
debug = no
default_action = list
editor = /bin/false
merge_editor = /bin/false

[vcard]
preferred_version = 3.0
`, s.book))
}

// sync runs vdirsyncer sync and returns how long it took.
func (s *syncer) sync(t testing.TB) time.Duration {
	t.Helper()
	start := time.Now()
	s.vdirsyncer(t, "sync")
	return time.Since(start)
}

// khard runs khard with its config; stdin answers its questions.
func (s *syncer) khard(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	out, err := s.run(t, stdin, s.tools.khard, append([]string{"-c", filepath.Join(s.dir, "khard.conf")}, args...)...)
	if err != nil {
		t.Fatalf("khard %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// localCards reads the folder side: UID → FN of every card.
func (s *syncer) localCards(t testing.TB) map[string]string {
	t.Helper()
	return readCardDir(t, s.book)
}

// localFile returns the path of the local card with uid, or "".
func (s *syncer) localFile(t testing.TB, uid string) string {
	t.Helper()
	return cardFile(t, s.book, uid)
}

// snapshot describes every file of the local folder (name, size, time and
// content hash), to prove that a sync changed nothing there.
func (s *syncer) snapshot(t testing.TB) string {
	t.Helper()
	entries, err := os.ReadDir(s.book)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(s.book, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %d %d %x\n", e.Name(), fi.Size(), fi.ModTime().UnixNano(), sha256.Sum256(data))
	}
	return b.String()
}

// readCardDir reads UID → FN from every .vcf file of dir.
func readCardDir(t testing.TB, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	cards := make(map[string]string)
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".vcf") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		uid, fn := cardFields(data)
		if uid == "" {
			t.Fatalf("%s: a card without a UID", e.Name())
		}
		cards[uid] = fn
	}
	return cards
}

// cardFile returns the path of the .vcf file of dir whose UID is uid, or "".
func cardFile(t testing.TB, dir, uid string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".vcf") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if u, _ := cardFields(data); u == uid {
			return p
		}
	}
	return ""
}

// cardFields returns the UID and FN of a vCard (its lines unfolded).
func cardFields(data []byte) (uid, fn string) {
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	text = strings.ReplaceAll(text, "\n ", "")
	text = strings.ReplaceAll(text, "\n\t", "")
	for _, line := range strings.Split(text, "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		name, _, _ = strings.Cut(strings.ToUpper(name), ";")
		switch name {
		case "UID":
			uid = value
		case "FN":
			fn = strings.ReplaceAll(value, `\,`, ",")
		}
	}
	return uid, fn
}

// withFN returns card with its FN replaced by fn.
func withFN(card []byte, fn string) []byte {
	lines := strings.SplitAfter(string(card), "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.ToUpper(l), "FN:") || strings.HasPrefix(strings.ToUpper(l), "FN;") {
			eol := "\n"
			if strings.HasSuffix(l, "\r\n") {
				eol = "\r\n"
			}
			lines[i] = "FN:" + fn + eol
		}
	}
	return []byte(strings.Join(lines, ""))
}

// Names for the generated address book, many of them not ASCII, as a
// real one is.
var (
	firstNames = []string{"Ananya", "Jörg", "Zoë", "Łukasz", "Renée", "Søren", "José", "Иван", "芳", "अनन्या",
		"Aoife", "Mehmet", "Chloé", "Nguyễn", "Fatima", "Olusegun", "María", "Björn", "Priya", "Wei"}
	lastNames = []string{"Sharma", "Weiß", "Ångström", "Żółć", "Dubois", "Kierkegaard", "Núñez", "Петров", "王", "शर्मा",
		"O'Brien", "Yılmaz", "Lefèvre", "Văn An", "Al-Sayed", "Adeyemi", "González", "Þórsson", "Iyer", "Zhang"}
)

// testCard is one generated contact.
type testCard struct {
	UID, FN string
	Data    []byte
}

// genCards returns n realistic vCards 3.0 — UID, FN, N, TEL, EMAIL, with
// non-ASCII names — the same n cards on every call.
func genCards(n int) []testCard {
	cards := make([]testCard, n)
	for i := range cards {
		cards[i] = genCard(fmt.Sprintf("card-%d", i))
	}
	return cards
}

// genCard returns the card whose content derives from seed.
func genCard(seed string) testCard {
	h := sha256.Sum256([]byte(seed))
	uid := fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
	first := firstNames[int(h[16])%len(firstNames)]
	last := lastNames[int(h[17])%len(lastNames)]
	fn := fmt.Sprintf("%s %s %d", first, last, int(h[18])<<8|int(h[19]))
	phone := fmt.Sprintf("+91 98%03d %05d", int(h[20])<<8%1000, int(h[21])<<8|int(h[22]))
	email := fmt.Sprintf("user%x@example.org", h[23:27])
	var b strings.Builder
	for _, l := range []string{
		"BEGIN:VCARD", "VERSION:3.0", "UID:" + uid, "FN:" + fn,
		"N:" + strings.ReplaceAll(last, ",", `\,`) + ";" + first + ";;;",
		"TEL;TYPE=CELL:" + phone, "EMAIL;TYPE=INTERNET:" + email, "END:VCARD",
	} {
		b.WriteString(l + "\r\n")
	}
	return testCard{UID: uid, FN: fn, Data: []byte(b.String())}
}

// writeCards writes cards into dir, one <uid>.vcf each.
func writeCards(t testing.TB, dir string, cards []testCard) {
	t.Helper()
	for _, c := range cards {
		if err := os.WriteFile(filepath.Join(dir, c.UID+".vcf"), c.Data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// tail returns the last n lines of out: a failed sync of thousands of
// cards logs a line for each.
func tail(out string, n int) string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) <= n {
		return out
	}
	return fmt.Sprintf("[%d lines before]\n%s", len(lines)-n, strings.Join(lines[len(lines)-n:], "\n"))
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// diffCards describes how got differs from want (UID → FN), or "" when
// they are the same; at most a few lines.
func diffCards(got, want map[string]string) string {
	var lines []string
	for uid, fn := range want {
		if g, ok := got[uid]; !ok {
			lines = append(lines, fmt.Sprintf("missing %s (%s)", uid, fn))
		} else if g != fn {
			lines = append(lines, fmt.Sprintf("%s: FN %q, want %q", uid, g, fn))
		}
	}
	for uid, fn := range got {
		if _, ok := want[uid]; !ok {
			lines = append(lines, fmt.Sprintf("unexpected %s (%s)", uid, fn))
		}
	}
	if len(lines) == 0 {
		return ""
	}
	sort.Strings(lines)
	if len(lines) > 10 {
		lines = append(lines[:10], fmt.Sprintf("... and %d more", len(lines)-10))
	}
	return fmt.Sprintf("%d cards, want %d:\n%s", len(got), len(want), strings.Join(lines, "\n"))
}
