package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/candorcloud/candor/internal/httpapi"
	"github.com/candorcloud/candor/internal/messaging"
)

// instrumented is a gateway with metrics of its own (Kannel's sends and
// delivery reports).
type instrumented interface {
	Collectors() []prometheus.Collector
}

// gatewayCollectors are the SMS gateway's metrics, if it has any.
func gatewayCollectors(g messaging.Gateway) []prometheus.Collector {
	if g, ok := g.(instrumented); ok {
		return g.Collectors()
	}
	return nil
}

// deliveryReports is the SMS gateway as the API's taker of delivery
// reports, or nil (an untyped nil: no route) when it takes none.
func deliveryReports(g messaging.Gateway) httpapi.DeliveryReports {
	if r, ok := g.(httpapi.DeliveryReports); ok {
		return r
	}
	return nil
}
