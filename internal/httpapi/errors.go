package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

// statusOf is the HTTP status of an error kind: api.StatusOf, the one
// table that clients read back from too.
func statusOf(k candor.Kind) int { return api.StatusOf(k) }

// StatusClientClosed is the status recorded, in logs and metrics, for a
// request whose client went away before its answer: nothing is sent (no
// one is there to read it), and it is not a fault of the server.
const StatusClientClosed = 499

// DefaultRetryAfter is the Retry-After sent with an Unavailable answer
// whose error names no wait of its own.
const DefaultRetryAfter = 5 * time.Second

// writeError answers with the error's stable code and user message. The
// cause of internal errors is logged, never sent.
//
// A failure of a dependency that reached here unclassified (a deadline
// passed, a full disk, a connection refused or cut) is answered as
// Unavailable, never as an internal error. An Unavailable answer always
// carries Retry-After. A request whose client went away is answered with
// nothing and logged at debug level as a client abort.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		h.log.DebugContext(r.Context(), "client went away", "route", r.Pattern, "err", err)
		if rec, ok := w.(*recorder); ok {
			rec.aborted()
		}
		return
	}
	if candor.KindOf(err) == candor.Internal {
		if f := unclassifiedFault(err); f != nil {
			err = f
		}
	}
	kind := candor.KindOf(err)
	status := statusOf(kind)
	body := api.Error{Code: kind.Code(), Message: candor.Message(err)}
	var ce *candor.Error
	errors.As(err, &ce)
	h.metrics.failed(kind)
	if ce != nil && kind == candor.ConsentRequired {
		body.Category = string(ce.Category)
	}
	switch {
	case kind == candor.Unavailable && ce != nil && ce.Err != nil:
		// A dependency failed: the operator needs the cause; the client
		// gets the sentence.
		h.log.WarnContext(r.Context(), "dependency unavailable", "route", r.Pattern, "message", ce.Message, "err", ce.Err)
	case status >= 500 && kind != candor.Sealed && kind != candor.Unavailable:
		h.log.ErrorContext(r.Context(), "request failed", "route", r.Pattern, "kind", kind.Code(), "err", err)
	}
	wait := time.Duration(0)
	if ce != nil {
		wait = ce.RetryAfter
	}
	if wait <= 0 && kind == candor.Unavailable {
		wait = DefaultRetryAfter
	}
	if wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	}
	writeJSON(w, status, api.ErrorResponse{Error: body})
}

// unclassifiedFault is the Unavailable error of err when err, which no
// package gave a kind, is a failure of something the server depends on
// that the standard library can recognise; otherwise nil. The stores and
// blob stores classify their own faults; this is the net under them.
func unclassifiedFault(err error) error {
	var netErr net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		return candor.Wrap(candor.Unavailable, "a service the server depends on did not answer in time: try again in a moment", err)
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return &candor.Error{Kind: candor.Unavailable, Message: "the server's disk is full: try again later", RetryAfter: 30 * time.Second, Err: err}
	case errors.As(err, &netErr), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return candor.Wrap(candor.Unavailable, "a service the server depends on cannot be reached: try again in a moment", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if v != nil {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			slog.Debug("write response", "err", err)
		}
	}
}
