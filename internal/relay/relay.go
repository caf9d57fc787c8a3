// Package relay forwards a request to the processes of the region that
// holds its account, in a deployment where each process serves some
// regions only (server.Config.Serve). The phone, the browser and a
// CardDAV client reach any process; one that does not serve the
// account's region relays the request, as it came, to that region's URL
// and the answer back: nothing of the account is stored on the way, and
// no client needs to know regions exist.
//
// A relayed request carries the header Relayed; a process that receives
// one for a region it does not serve answers 421 wrong_region rather than
// relay it again, so a misconfiguration cannot loop.
package relay

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/candorcloud/candor"
)

// Relayed marks a request one process relayed to another.
const Relayed = "Candor-Relayed"

// Region is where one region's processes are reached.
type Region struct {
	ID  candor.RegionID
	URL string
}

// Relay forwards requests to other regions' processes.
type Relay struct {
	serves  map[candor.RegionID]bool
	proxies map[candor.RegionID]*httputil.ReverseProxy
}

// Fail answers a request that is not relayed, with the API's errors.
type Fail func(w http.ResponseWriter, r *http.Request, err error)

type failKey struct{}

// New returns a Relay for a process that serves the regions in served
// and reaches the others at their URLs.
func New(served []candor.RegionID, others []Region) (*Relay, error) {
	rl := &Relay{serves: map[candor.RegionID]bool{}, proxies: map[candor.RegionID]*httputil.ReverseProxy{}}
	for _, id := range served {
		rl.serves[id] = true
	}
	transport := &http.Transport{
		Proxy:                 nil, // loopback and private addresses: never through an environment proxy
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		ForceAttemptHTTP2:     true,
	}
	for _, o := range others {
		if rl.serves[o.ID] {
			continue
		}
		target, err := url.Parse(o.URL)
		if err != nil || target.Host == "" {
			return nil, fmt.Errorf("relay: region %s: url %q", o.ID, o.URL)
		}
		rl.proxies[o.ID] = &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				// SetXForwarded appends to the outbound header, which
				// ReverseProxy empties before Rewrite: without the inbound
				// one, the region's process would see the client as the
				// balancer in front of this process, and limit every
				// relayed sign-in as one address. A client's own entries
				// are kept too, left of the ones proxies wrote, where the
				// receiver does not believe them.
				pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
				pr.SetXForwarded()
				pr.Out.Host = pr.In.Host // the origin the client used: cookies and origin checks stay the same
				if proto := pr.In.Header.Get("X-Forwarded-Proto"); proto != "" {
					pr.Out.Header.Set("X-Forwarded-Proto", proto) // as a balancer in front of us said
				}
				pr.Out.Header.Del("X-Forwarded-Host")
				pr.Out.Header.Set(Relayed, "1")
			},
			Transport:     transport,
			FlushInterval: -1, // exports and pages stream as they come
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				if r.Context().Err() != nil || w.(*writer).hijacked {
					return // the client went away, or a relayed socket ended
				}
				r.Context().Value(failKey{}).(Fail)(w, r, &candor.Error{Kind: candor.Unavailable, RetryAfter: time.Second,
					Message: "the account's region is not answering: try again", Err: err})
			},
		}
	}
	return rl, nil
}

// Serves reports whether this process serves region id.
func (rl *Relay) Serves(id candor.RegionID) bool { return rl.serves[id] }

// Forward relays r to the processes of region id and copies their answer
// to w. A request that was relayed already, or for a region with no URL,
// is answered by fail with 421 wrong_region; one the region's processes
// do not answer, with 503 and Retry-After.
func (rl *Relay) Forward(w http.ResponseWriter, r *http.Request, id candor.RegionID, fail Fail) {
	p, ok := rl.proxies[id]
	if !ok || r.Header.Get(Relayed) != "" {
		fail(w, r, candor.Errorf(candor.WrongRegion, "region %s is not served here", id))
		return
	}
	p.ServeHTTP(&writer{ResponseWriter: w}, r.WithContext(context.WithValue(r.Context(), failKey{}, fail)))
}

// writer remembers whether a relayed WebSocket took the connection over,
// after which no error can be answered.
type writer struct {
	http.ResponseWriter
	hijacked bool
}

func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	w.hijacked = err == nil
	return conn, rw, err
}

func (w *writer) FlushError() error { return http.NewResponseController(w.ResponseWriter).Flush() }

func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }
