package httpapi

import (
	"context"
	"net/http"

	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/staff"
)

// Migrations starts and reports region migrations.
type Migrations interface {
	StartMigration(ctx context.Context, by string, req api.MigrateRequest) (api.Migration, error)
	// Migration reports a job, whichever instance runs or ran it.
	Migration(ctx context.Context, id string) (api.Migration, error)
	// Unfinished reports the unfinished job, on any instance, if any.
	Unfinished(ctx context.Context) (api.Migration, bool, error)
}

func (h *Handler) migrateStart(w http.ResponseWriter, r *http.Request, who staff.Identity) {
	req, err := decode[api.MigrateRequest](w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	m, err := h.svc.Migrations.StartMigration(r.Context(), audit.StaffActor(who.ID), req)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, m)
}

func (h *Handler) migrateStatus(w http.ResponseWriter, r *http.Request, who staff.Identity) {
	m, err := h.svc.Migrations.Migration(r.Context(), r.PathValue("id"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}
