package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/staff"
)

// Content is public, non-personal content: greetings and signed update
// metadata. Reading it needs no credentials and works while the server is
// sealed; publishing needs staff.
type Content interface {
	Greetings(locale, occasion string) (api.Greetings, error)
	PublishGreetings(ctx context.Context, by string, in api.GreetingsCatalog) (api.GreetingsPublished, error)
	OTAMetadata(name string) ([]byte, error)
	OTATarget(path string) ([]byte, error)
	PublishOTA(ctx context.Context, by string, r api.OTARelease) (api.OTAPublished, error)
}

// Cache lifetimes of public content.
const (
	greetingsMaxAge = "public, max-age=3600"
	// The timestamp changes when a release is published or re-signed;
	// phones must see a new one soon.
	timestampMaxAge = "public, max-age=60"
	// Versioned metadata and hash-named targets never change.
	immutableMaxAge = "public, max-age=31536000, immutable"
)

// The /v1/public/* handlers answer anyone. They read nothing of the request
// but its path and query: no Authorization, no cookie, no client address
// (the request log and metrics record only the route pattern, the status
// and the time taken), and they set no cookie.

func (h *Handler) publicGreetings(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	locale := q.Get("locale")
	if locale == "" {
		locale = "en-US"
	}
	g, err := h.svc.Content.Greetings(locale, q.Get("occasion"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	body, err := json.Marshal(g)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writePublic(w, r, append(body, '\n'), greetingsMaxAge)
}

func (h *Handler) publicOTAMetadata(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	b, err := h.svc.Content.OTAMetadata(name)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	age := immutableMaxAge
	if name == "timestamp.json" {
		age = timestampMaxAge
	}
	writePublic(w, r, b, age)
}

func (h *Handler) publicOTATarget(w http.ResponseWriter, r *http.Request) {
	b, err := h.svc.Content.OTATarget(r.PathValue("path"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writePublic(w, r, b, immutableMaxAge)
}

// writePublic answers with a cacheable body and a strong ETag (a hash of
// the body), or 304 Not Modified when the client already holds it.
func writePublic(w http.ResponseWriter, r *http.Request, body []byte, cacheControl string) {
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	w.Header().Set("Cache-Control", cacheControl)
	w.Header().Set("ETag", etag)
	if matchesETag(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// matchesETag reports whether an If-None-Match header names etag (or *).
func matchesETag(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/") // weak comparison, as If-None-Match asks
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

func (h *Handler) greetingsPublish(w http.ResponseWriter, r *http.Request, who staff.Identity) {
	in, err := decode[api.GreetingsCatalog](w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out, err := h.svc.Content.PublishGreetings(r.Context(), audit.StaffActor(who.ID), in)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) otaPublish(w http.ResponseWriter, r *http.Request, who staff.Identity) {
	in, err := decode[api.OTARelease](w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out, err := h.svc.Content.PublishOTA(r.Context(), audit.StaffActor(who.ID), in)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}
