package httpapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/candorcloud/candor"
)

// DeliveryReports takes the SMS gateway's delivery reports (Kannel's
// dlr-url): id is the opaque id of one send, status the gateway's own
// value. An id the gateway did not make is NotFound, a status it does not
// know Invalid.
type DeliveryReports interface {
	Report(ctx context.Context, id string, status int) error
}

// smsReport takes one delivery report. It needs no credential: the id is
// its own (see package kannel), and the report names no one.
func (h *Handler) smsReport(w http.ResponseWriter, r *http.Request) {
	status, err := strconv.Atoi(r.URL.Query().Get("status"))
	if err != nil {
		h.writeError(w, r, candor.E(candor.Invalid, "status: a number, the gateway's status of the report"))
		return
	}
	if err := h.svc.DeliveryReports.Report(r.Context(), r.PathValue("id"), status); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
