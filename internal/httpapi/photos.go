package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/photos"
)

// Photos handles photo uploads and downloads.
type Photos interface {
	Create(ctx context.Context, p candor.Principal, size int64, hash []byte) (api.Upload, error)
	Status(ctx context.Context, p candor.Principal, id string) (api.Upload, error)
	PutPart(ctx context.Context, p candor.Principal, id string, n int, body io.Reader) (api.Upload, error)
	Complete(ctx context.Context, p candor.Principal, id string) (api.Upload, error)
	Open(ctx context.Context, p candor.Principal, id string) (*photos.Blob, error)
	Delete(ctx context.Context, p candor.Principal, id string) error
}

func (h *Handler) photoCreate(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	req, err := decode[api.UploadCreate](w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	up, err := h.svc.Photos.Create(r.Context(), p, req.Size, req.Hash)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, up)
}

func (h *Handler) photoStatus(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	up, err := h.svc.Photos.Status(r.Context(), p, r.PathValue("id"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, up)
}

func (h *Handler) photoPart(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil {
		h.writeError(w, r, candor.E(candor.Invalid, "the part number is a whole number from 0"))
		return
	}
	body := http.MaxBytesReader(w, r.Body, api.PartSize+1)
	up, err := h.svc.Photos.PutPart(r.Context(), p, r.PathValue("id"), n, body)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, up)
}

func (h *Handler) photoComplete(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	up, err := h.svc.Photos.Complete(r.Context(), p, r.PathValue("id"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, up)
}

func (h *Handler) photoDelete(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	if err := h.svc.Photos.Delete(r.Context(), p, r.PathValue("id")); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// photoGet serves a photo's original bytes, whole or one byte range.
func (h *Handler) photoGet(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	b, err := h.svc.Photos.Open(r.Context(), p, r.PathValue("id"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	from, to, partial, err := parseRange(r.Header.Get("Range"), b.Size)
	if err != nil {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", b.Size))
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Accept-Ranges", "bytes")
	w.Header().Set("Content-Length", strconv.FormatInt(to-from, 10))
	status := http.StatusOK
	if partial {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, to-1, b.Size))
		status = http.StatusPartialContent
	}
	// Check the first part before committing to a status, so that an
	// integrity failure there still gets a proper error answer; a later
	// one aborts the transfer.
	if err := b.WriteRange(r.Context(), io.Discard, from, min(to, (from/api.PartSize+1)*api.PartSize)); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(status)
	if err := b.WriteRange(r.Context(), w, from, to); err != nil {
		h.log.Error("photo download stopped", "kind", candor.KindOf(err).Code(), "err", err)
		panic(http.ErrAbortHandler) // the client sees a truncated body, never bad bytes
	}
}

// parseRange parses a single "bytes=a-b", "bytes=a-" or "bytes=-n" range.
func parseRange(h string, size int64) (from, to int64, partial bool, err error) {
	if h == "" || size == 0 {
		return 0, size, false, nil
	}
	spec, ok := strings.CutPrefix(h, "bytes=")
	a, b, ok2 := strings.Cut(spec, "-")
	bad := candor.E(candor.Invalid, "the Range header must be one range: bytes=FROM-TO, bytes=FROM- or bytes=-LAST")
	if !ok || !ok2 || strings.Contains(spec, ",") {
		return 0, 0, false, bad
	}
	switch {
	case a == "":
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return 0, 0, false, bad
		}
		return max(size-n, 0), size, true, nil
	default:
		from, err = strconv.ParseInt(a, 10, 64)
		if err != nil || from < 0 {
			return 0, 0, false, bad
		}
		to = size
		if b != "" {
			last, err := strconv.ParseInt(b, 10, 64)
			if err != nil || last < from {
				return 0, 0, false, bad
			}
			to = min(last+1, size)
		}
		if from >= size {
			return 0, 0, false, candor.E(candor.Invalid, "the range starts after the end of the photo")
		}
		return from, to, true, nil
	}
}
