package egress

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// A Request is one request recorded by a Recorder, as the phone sent it.
type Request struct {
	Phase  string      `json:"phase"`
	Phone  string      `json:"phone,omitempty"` // which phone sent it, if it used URLFor
	Method string      `json:"method"`
	Path   string      `json:"path"`  // as sent, escaped
	Query  string      `json:"query"` // as sent, escaped, without '?'
	Header http.Header `json:"header"`
	// Trailer holds the trailers sent after a chunked body.
	Trailer http.Header `json:"trailer,omitempty"`
	Body    []byte      `json:"-"`
	Status  int         `json:"status"` // the server's answer; 502 if unreachable
	// OtherHost names the host of a request meant for somewhere other than
	// the Candor server (the phone used the recorder as its HTTP proxy).
	// Such requests are recorded and answered 502, never forwarded.
	OtherHost string `json:"other_host,omitempty"`
}

// Size is the number of bytes the request carried: request line, headers
// and body, as near as the proxy can tell.
func (r Request) Size() int64 {
	n := int64(len(r.Method) + len(r.Path) + len(r.Query) + len(r.Body) + 12)
	for k, vs := range r.Header {
		for _, v := range vs {
			n += int64(len(k) + len(v) + 4)
		}
	}
	return n
}

// maxRecordedBody bounds the body the proxy keeps (and forwards) per request.
const maxRecordedBody = 1 << 30

// A Recorder is a reverse proxy on a free port of 127.0.0.1 that forwards
// every request to one server and records it, tagged with the current
// phase. Its methods are safe for concurrent use.
type Recorder struct {
	ln  net.Listener
	srv *http.Server

	mu       sync.Mutex
	phase    string
	reqs     []Request
	inflight int               // requests being handled (under mu)
	phones   map[string]string // listening address → the phone it serves
	urls     map[string]string // phone → its URL
	upgraded []net.Conn        // connections handed over (WebSockets), closed by Close
}

type localAddrKey struct{}

// NewRecorder starts a Recorder in front of the server at target (an
// http:// URL). It listens on loopback only. Close stops it.
func NewRecorder(target string) (*Recorder, error) {
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, errors.New("the recorder's target must be an http:// URL")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rec := &Recorder{ln: ln, phones: map[string]string{}, urls: map[string]string{}}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = u.Host
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	rec.srv = &http.Server{
		Handler:           rec.record(proxy),
		ReadHeaderTimeout: 10 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, localAddrKey{}, c.LocalAddr().String())
		},
	}
	go rec.srv.Serve(ln)
	return rec, nil
}

// URL returns the proxy's base URL, http://127.0.0.1:PORT, to give to phones
// as their server.
func (rec *Recorder) URL() string { return "http://" + rec.ln.Addr().String() }

// URLFor returns a URL of the recorder for one phone: requests that arrive
// there are recorded with Phone set to phone, so that a policy can allow an
// item from one phone and not from another.
func (rec *Recorder) URLFor(phone string) (string, error) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if u, ok := rec.urls[phone]; ok {
		return u, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	rec.phones[ln.Addr().String()] = phone
	rec.urls[phone] = "http://" + ln.Addr().String()
	go rec.srv.Serve(ln)
	return rec.urls[phone], nil
}

// SetPhase tags every request recorded from now on with phase.
func (rec *Recorder) SetPhase(phase string) {
	rec.mu.Lock()
	rec.phase = phase
	rec.mu.Unlock()
}

// Requests returns a copy of everything recorded so far, in arrival order.
func (rec *Recorder) Requests() []Request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]Request(nil), rec.reqs...)
}

// Drain waits until no request is in flight (or ctx is done), so that a
// phase's requests are all recorded before it is judged.
//
// It counts under the recorder's lock rather than with a WaitGroup: a
// request may arrive while Drain waits, which a WaitGroup does not allow
// (Add racing Wait).
func (rec *Recorder) Drain(ctx context.Context) error {
	for {
		rec.mu.Lock()
		n := rec.inflight
		rec.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Close stops the proxy, waiting briefly for requests in flight, and closes
// the upgraded connections, which the HTTP server no longer tracks.
func (rec *Recorder) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := rec.srv.Shutdown(ctx)
	rec.mu.Lock()
	conns := rec.upgraded
	rec.upgraded = nil
	rec.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	return err
}

func (rec *Recorder) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.inflight++
		rec.mu.Unlock()
		var once sync.Once
		done := func() {
			once.Do(func() {
				rec.mu.Lock()
				rec.inflight--
				rec.mu.Unlock()
			})
		}
		defer done()
		other := ""
		switch {
		case r.Method == http.MethodConnect:
			other = r.Host // a tunnel (HTTPS) to another host: only the host is seen
		case r.URL.IsAbs():
			other = r.URL.Host // plain HTTP to another host, through the proxy
		}
		// What was read is recorded even if the body breaks off: the
		// headers and those bytes left the phone all the same.
		body, err := io.ReadAll(io.LimitReader(r.Body, maxRecordedBody))
		trailer := r.Trailer.Clone() // known once the body is read to its end
		h := r.Header.Clone()
		if r.Host != "" {
			h.Set("Host", r.Host)
		}
		addr, _ := r.Context().Value(localAddrKey{}).(string)
		rec.mu.Lock()
		i := len(rec.reqs)
		rec.reqs = append(rec.reqs, Request{
			Phone:     rec.phones[addr],
			Phase:     rec.phase,
			Method:    r.Method,
			Path:      r.URL.EscapedPath(),
			Query:     r.URL.RawQuery,
			Header:    h,
			Trailer:   trailer,
			Body:      body,
			OtherHost: other,
		})
		rec.mu.Unlock()
		if other != "" {
			http.Error(w, "this proxy reaches only the Candor server", http.StatusBadGateway)
			rec.mu.Lock()
			rec.reqs[i].Status = http.StatusBadGateway
			rec.mu.Unlock()
			return
		}
		if err != nil {
			http.Error(w, "cannot read the request", http.StatusBadRequest)
			rec.mu.Lock()
			rec.reqs[i].Status = http.StatusBadRequest
			rec.mu.Unlock()
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		if isWebSocket(r) {
			// The messages of an upgraded connection are recorded one by
			// one, each as a request of the phase it is sent in. No
			// compression is negotiated, so payloads are seen as sent.
			r.Header.Del("Sec-WebSocket-Extensions")
			sw.frames = &frameRecorder{rec: rec, phone: rec.phones[addr], path: r.URL.EscapedPath()}
			sw.upgraded = done // an open socket is not a request in flight: Drain does not wait for it
		}
		next.ServeHTTP(sw, r)
		rec.mu.Lock()
		rec.reqs[i].Status = sw.status
		rec.mu.Unlock()
	})
}

type statusWriter struct {
	http.ResponseWriter
	status   int
	wrote    bool
	frames   *frameRecorder // set for a WebSocket upgrade
	upgraded func()         // called once the connection is handed over
}

// Hijack hands the proxy the phone's connection for an upgraded protocol;
// for a WebSocket, what the phone sends on it is recorded frame by frame.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil || w.frames == nil {
		return conn, brw, err
	}
	w.status, w.wrote = http.StatusSwitchingProtocols, true
	w.upgraded()
	w.frames.rec.mu.Lock()
	w.frames.rec.upgraded = append(w.frames.rec.upgraded, conn)
	w.frames.rec.mu.Unlock()
	if n := brw.Reader.Buffered(); n > 0 { // sent before the switch: recorded too
		early, _ := brw.Reader.Peek(n)
		w.frames.Write(early)
	}
	return &tapConn{Conn: conn, tap: w.frames}, brw, nil
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Flush lets streamed answers through.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
