package egress

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

const testIMEI = "356938035643809"

// A value sent in an HTTP trailer, after a chunked body, is recorded and
// found.
func TestRecorderSeesTrailers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer srv.Close()
	rec, err := NewRecorder(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	rec.SetPhase("p")
	pr, pw := io.Pipe()
	go func() { pw.Write([]byte("an innocent body")); pw.Close() }()
	req, _ := http.NewRequest("POST", rec.URL()+"/v1/sync", pr)
	req.Trailer = http.Header{"X-Checksum": nil}
	req.TransferEncoding = []string{"chunked"}
	req.Trailer.Set("X-Checksum", testIMEI) // set before the body ends, sent after it
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	reqs := rec.Requests()
	if len(reqs) != 1 || reqs[0].Trailer.Get("X-Checksum") != testIMEI {
		t.Fatalf("recorded %+v", reqs)
	}
	det := NewDetector([]Canary{{Item: "IMEI", Value: []byte(testIMEI), Kind: Text}})
	fs := det.Scan(reqs[0])
	if len(fs) == 0 || fs[0].Where != "trailer X-Checksum" {
		t.Fatalf("findings %+v, want the IMEI in the trailer", fs)
	}
}

// What a phone sends on a WebSocket — masked, in fragments, in a control
// frame — is recorded message by message, in the phase it is sent in.
func TestRecorderSeesWebSocketMessages(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			if _, _, err := c.Read(r.Context()); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	rec, err := NewRecorder(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rec.SetPhase("before")
	c, _, err := websocket.Dial(ctx, strings.Replace(rec.URL(), "http", "ws", 1)+"/v1/messages/ws",
		&websocket.DialOptions{CompressionMode: websocket.CompressionContextTakeover})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	rec.SetPhase("after")
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"phone":"+919876543210"}`)); err != nil {
		t.Fatal(err)
	}
	w, err := c.Writer(ctx, websocket.MessageBinary)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("imei=" + testIMEI[:8]))
	w.Write([]byte(testIMEI[8:])) // may go as a second fragment
	w.Close()
	c.Close(websocket.StatusNormalClosure, "bye "+testIMEI)
	rec.Drain(ctx)
	var msgs []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		msgs = nil
		for _, r := range rec.Requests() {
			if r.Method == "WEBSOCKET" {
				if r.Phase != "after" {
					t.Fatalf("a message recorded in phase %q", r.Phase)
				}
				msgs = append(msgs, string(r.Body))
			}
		}
		if len(msgs) >= 3 {
			break
		}
	}
	all := strings.Join(msgs, "|")
	for _, want := range []string{`"+919876543210"`, "imei=" + testIMEI, "bye " + testIMEI} {
		if !strings.Contains(all, want) {
			t.Errorf("recorded messages %q lack %q", msgs, want)
		}
	}
}

// A canary cut into pieces spread over a phase's requests is found; one
// piece alone is not; and a thousand requests of other random digits and
// text raise no finding.
func TestDetectorFindsPieces(t *testing.T) {
	det := NewDetector([]Canary{
		{Item: "IMEI", Value: []byte(testIMEI), Kind: Text},
		{Item: "phone", Value: []byte("+919876543210"), Kind: Phone},
		{Item: "email", Value: []byte("Oriel.Quillfeather@example.invalid"), Kind: Email},
	})
	req := func(body string) Request { return Request{Method: "POST", Path: "/v1/x", Body: []byte(body)} }
	cases := []struct {
		name string
		reqs []Request
		want []string
	}{
		{"IMEI cut in two (7 + 8)", []Request{req(`{"a":"3569380"}`), req(`{"b":"35643809"}`)}, []string{"IMEI"}},
		{"IMEI cut in two, other way", []Request{req("x35693803"), {Method: "GET", Path: "/v1/y", Query: "q=5643809"}}, []string{"IMEI"}},
		{"IMEI in three overlapping pieces", []Request{req("3569380"), req("8035643"), req("5643809")}, []string{"IMEI"}},
		{"the number's digits cut in two", []Request{req("ph=9198765"), req("43210;")}, nil}, // 5 bytes: too short a piece
		{"the number's digits in two long pieces", []Request{req("ph=9198765"), req("9876543210")}, []string{"phone"}},
		{"email cut in three", []Request{req("ORIEL.QUILL"), req("feather@exa"), req("mple.invalid")}, []string{"email"}},
		{"one piece only", []Request{req("35693803")}, nil},
		{"the whole IMEI in one request is Scan's, not a cut", []Request{req(testIMEI), req("3569380")}, nil},
	}
	for _, tc := range cases {
		var got []string
		for _, f := range det.Pieces(tc.reqs) {
			got = append(got, f.Item)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: found %v, want %v", tc.name, got, tc.want)
		}
	}

	// No chance matches in a thousand requests of random numbers and words.
	rng := rand.New(rand.NewPCG(1, 2))
	var noise []Request
	for range 1000 {
		var b strings.Builder
		for range 20 {
			fmt.Fprintf(&b, `{"seq":%d,"t":"2026-12-%02dT%02d:%02d:%02dZ","v":%d,"n":"%x"} `, rng.Int64N(1e12), rng.IntN(28)+1,
				rng.IntN(24), rng.IntN(60), rng.IntN(60), rng.IntN(1e6), rng.Uint64())
		}
		noise = append(noise, req(b.String()))
	}
	if fs := det.Pieces(noise); len(fs) != 0 {
		t.Fatalf("random traffic matched: %+v", fs)
	}
}

// frame is a client frame as RFC 6455 writes it: masked with key.
func frame(fin bool, opcode byte, payload []byte, key [4]byte) []byte {
	b0 := opcode
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		out = append(out, 0x80|byte(n))
	case n < 1<<16:
		out = append(out, 0x80|126, byte(n>>8), byte(n))
	default:
		out = append(out, 0x80|127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	out = append(out, key[:]...)
	for i, c := range payload {
		out = append(out, c^key[i%4])
	}
	return out
}

// Frames arrive as the network cuts them: a message far longer than the
// recorder holds, with a canary deep inside it and one across a cut; a
// message in fragments with a ping between them; a close with a reason.
// Every canary is recorded unmasked, and memory stays bounded.
func TestFramesOfAnySize(t *testing.T) {
	rec := &Recorder{}
	f := &frameRecorder{rec: rec, path: "/v1/messages/ws"}
	big := make([]byte, 17<<20) // longer than any frame a recorder that buffers frames whole would hold
	copy(big[16<<20+12345:], "imei="+testIMEI)
	copy(big[maxMessage-5:], "imei="+testIMEI) // across the first cut
	var stream []byte
	stream = append(stream, frame(true, 2, big, [4]byte{1, 2, 3, 4})...)
	stream = append(stream, frame(false, 1, []byte(`{"phone":"+9198765`), [4]byte{9, 9, 9, 9})...)
	stream = append(stream, frame(true, 9, []byte("ping"), [4]byte{5, 6, 7, 8})...)
	stream = append(stream, frame(true, 0, []byte(`43210"}`), [4]byte{7, 7, 7, 7})...)
	stream = append(stream, frame(true, 8, append([]byte{3, 232}, "bye "+testIMEI...), [4]byte{3, 1, 4, 1})...)
	rng := rand.New(rand.NewPCG(3, 4))
	for len(stream) > 0 { // cut anywhere, headers included
		n := min(len(stream), 1+rng.IntN(70000))
		f.Write(stream[:n])
		stream = stream[n:]
		if len(f.msg) > maxMessage || len(f.head) > 14 {
			t.Fatalf("the recorder holds %d bytes of message and %d of header", len(f.msg), len(f.head))
		}
	}
	var all []string
	for _, r := range rec.Requests() {
		all = append(all, string(r.Body))
	}
	joined := strings.Join(all, "\x00")
	if n := strings.Count(joined, "imei="+testIMEI); n < 2 {
		t.Errorf("the long message's canaries found %d times, want both", n)
	}
	for _, want := range []string{`{"phone":"+919876543210"}`, "ping", "bye " + testIMEI} {
		if !strings.Contains(joined, want) {
			t.Errorf("%q not recorded", want)
		}
	}
}
