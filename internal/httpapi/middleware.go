package httpapi

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/candorcloud/candor"
)

// recorder remembers the status and size of a response.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int
	wrote  bool
}

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// aborted records that the client went away before its answer: nothing is
// written, and the request is logged and counted with StatusClientClosed.
func (r *recorder) aborted() {
	if !r.wrote {
		r.status, r.wrote = StatusClientClosed, true
	}
}

// discard is a ResponseWriter that keeps its own headers and drops the body.
type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}

// metrics are labelled by route pattern, method, status and error kind
// only: never a path, an id or anything a person typed.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// failures counts requests answered with a failure of the server
	// (failed), by error kind; sealed answers are not counted
	// (candor_sealed says so).
	failures *prometheus.CounterVec
	// sockets is the number of message WebSockets open.
	sockets prometheus.Gauge
}

// failureKinds are the error kinds failed counts: an unclassified failure
// (a bug, or a store operation that failed unexpectedly — writeError
// answers 503 for the ones it recognises as a dependency's fault), a
// dependency that is down or too slow, and stored data that failed its
// check.
var failureKinds = []candor.Kind{candor.Internal, candor.Unavailable, candor.Integrity}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "candor_http_requests_total", Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "candor_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"route"}),
	}
	m.failures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "candor_request_failures_total",
		Help: "Requests answered with a failure of the server, by error kind: internal (a bug, or a store operation that failed unexpectedly), unavailable (a store, blob store, bus or gateway down, slow or full, or the server at a limit), integrity (stored data failed its check).",
	}, []string{"kind"})
	m.sockets = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "candor_websocket_connections", Help: "Message push WebSockets open on this instance.",
	})
	reg.MustRegister(m.requests, m.duration, m.failures, m.sockets)
	for _, k := range failureKinds {
		m.failures.WithLabelValues(k.Code())
	}
	return m
}

// failed counts a request answered with an error of kind, if kind is one
// of failureKinds. Unavailable counts a dependency that is down, slow or
// full, and a server at one of its limits (too many sign-ins or sockets
// at once) alike: both mean clients are being turned away.
func (m *metrics) failed(kind candor.Kind) {
	if !slices.Contains(failureKinds, kind) {
		return
	}
	m.failures.WithLabelValues(kind.Code()).Inc()
}

func (m *metrics) observe(route, method string, status int, d time.Duration) {
	switch method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodHead, http.MethodPatch, http.MethodOptions:
	default:
		method = "other" // a client's arbitrary method must not grow the label set
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}
