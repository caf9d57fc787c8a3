// Package metrics counts, for the operator's Prometheus, what the server
// does beyond HTTP: syncs and the records they carry, messages queued,
// delivered and expired, audit appends and how old each log's newest
// signed checkpoint is, retention purges, a migration's progress and the
// notice bus's failures.
//
// Each count is taken by a wrapper around a service or store that the
// server composes (compose.go), forwarding every method explicitly, or by
// a collector that reads a value when Prometheus scrapes. Services stay
// unaware of metrics.
//
// No label ever carries personal data: labels come only from small fixed
// sets — a category, a region id from the configuration, an audit log's
// name, an error kind's code, a direction, an operation. Never an account
// or device id, a phone number, an email, a token or an address. The
// label sets of the common case (success, each region, each category) are
// made at start with the value 0, so that a dashboard or an alert finds
// its series before the first event; a failure's appears when it first
// happens.
package metrics

import (
	"github.com/candorcloud/candor"
)

// outcome is the label of a call's result: "ok", or its error kind's
// stable code (a fixed list, candor.Kind).
func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	return candor.KindOf(err).Code()
}

// category is a category's label: its name if it is one of Candor's, else
// "other", so that a request naming anything cannot grow the label set.
func category(c candor.Category) string {
	if c.Valid() {
		return string(c)
	}
	return "other"
}

// regionLabel is a region's label: its id if the server serves it, else
// "other".
func regionLabel(known map[candor.RegionID]bool, id candor.RegionID) string {
	if known[id] {
		return string(id)
	}
	return "other"
}

func regionSet(ids []candor.RegionID) map[candor.RegionID]bool {
	m := make(map[candor.RegionID]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}
