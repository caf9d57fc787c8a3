package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/staff"
)

// Retention runs purges and says which rules apply where.
type Retention interface {
	RunRetention(ctx context.Context, by string) (api.RetentionRun, error)
	RetentionRules(region candor.RegionID) api.Retention
	Runs() (last time.Time, running bool) // the last successful run, and whether one runs now
}

func (h *Handler) retentionRun(w http.ResponseWriter, r *http.Request, who staff.Identity) {
	out, err := h.svc.Retention.RunRetention(r.Context(), audit.StaffActor(who.ID))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) retentionRules(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	writeJSON(w, http.StatusOK, h.svc.Retention.RetentionRules(p.Region))
}
