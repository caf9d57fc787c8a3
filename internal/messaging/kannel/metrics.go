package kannel

import "github.com/prometheus/client_golang/prometheus"

// metrics are the gateway's counters, labelled by outcome or status only:
// never a number, a text or an id.
type metrics struct {
	sends   *prometheus.CounterVec // by outcome
	latency prometheus.Histogram
	reports *prometheus.CounterVec // by status
	refused prometheus.Counter     // unknown ids and bad statuses
}

func newMetrics() *metrics {
	m := &metrics{
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "candor_sms_sends_total",
			Help: "SMS handed to Kannel's smsbox, by outcome: accepted, refused (the number) or unavailable (down, overloaded, misconfigured).",
		}, []string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "candor_sms_send_duration_seconds",
			Help:    "Time smsbox took to answer a send, whatever the outcome.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}),
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "candor_sms_delivery_reports_total",
			Help: "Delivery reports from Kannel, by status: delivered, failed, buffered, submitted (to the SMSC) or rejected (by the SMSC).",
		}, []string{"status"}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "candor_sms_delivery_reports_refused_total",
			Help: "Delivery reports refused: an id no instance made or too old, or a status Kannel does not send.",
		}),
	}
	// Every label value exists from the start, so a rate is 0, not absent.
	for _, o := range []string{outcomeAccepted, outcomeRefused, outcomeUnavailable} {
		m.sends.WithLabelValues(o)
	}
	for _, s := range statusNames {
		m.reports.WithLabelValues(s)
	}
	return m
}

// The outcomes of a send.
const (
	outcomeAccepted    = "accepted"
	outcomeRefused     = "refused"
	outcomeUnavailable = "unavailable"
)

// Collectors are the gateway's metrics, for a Prometheus registry:
// candor_sms_sends_total{outcome}, candor_sms_send_duration_seconds,
// candor_sms_delivery_reports_total{status} and
// candor_sms_delivery_reports_refused_total.
func (g *Gateway) Collectors() []prometheus.Collector {
	return []prometheus.Collector{g.metrics.sends, g.metrics.latency, g.metrics.reports, g.metrics.refused}
}
