package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

// statusOf is the HTTP status of an error kind: api.StatusOf, the one
// table that clients read back from too.
func statusOf(k candor.Kind) int { return api.StatusOf(k) }

// writeError answers with the error's stable code and user message. The
// cause of internal errors is logged, never sent.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	kind := candor.KindOf(err)
	status := statusOf(kind)
	body := api.Error{Code: kind.Code(), Message: candor.Message(err)}
	var ce *candor.Error
	errors.As(err, &ce)
	if ce != nil && kind == candor.ConsentRequired {
		body.Category = string(ce.Category)
	}
	if status >= 500 && kind != candor.Sealed && kind != candor.Unavailable {
		h.log.ErrorContext(r.Context(), "request failed", "route", r.Pattern, "kind", kind.Code(), "err", err)
	}
	if ce != nil && ce.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(ce.RetryAfter.Seconds()))))
	}
	writeJSON(w, status, api.ErrorResponse{Error: body})
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
