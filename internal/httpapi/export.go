package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/client/exportfmt"
	"github.com/candorcloud/candor/internal/records"
)

// Bounds on exports: each holds one category's records in memory and
// streams every photo, for as long as the download lasts.
const (
	MaxExportsPerAccount = 1
	MaxExports           = 4
	// ExportStall is how long an export's download may make no progress
	// (a write to the client that does not finish) before it is cut: a
	// client that stops reading frees its slot. The server's own write
	// timeout does not apply to an export, which may take longer.
	ExportStall = time.Minute
	// MaxExportMemory is the most record data (one category's) an export
	// holds at once, before it is ordered and written: with MaxExports,
	// what exports may hold in all.
	MaxExportMemory = 256 << 20
	// MaxExportTime bounds an export's download as a whole.
	MaxExportTime = 6 * time.Hour
	// exportRetry is the Retry-After of a refused export.
	exportRetry = 30 * time.Second
	// exportLogTimeout bounds the logging of an export whose client went
	// away (its request's context is done by then).
	exportLogTimeout = 10 * time.Second
)

var (
	errExportBusy = &candor.Error{Kind: candor.RateLimited, RetryAfter: exportRetry,
		Message: "an export of this account is under way: wait for it to finish"}
	errExportsFull = &candor.Error{Kind: candor.Unavailable, RetryAfter: exportRetry,
		Message: "too many exports are under way: try again shortly"}
)

// ExportLog records exports in the owner's access log (package audit).
type ExportLog interface {
	// Exported logs an export of p's account: items written, and the
	// error that ended it, if any.
	Exported(ctx context.Context, p candor.Principal, items int, err error) error
}

// export streams the account's data as a zip, from the cloud copy: the
// same files, names and bytes as the phone's export (package exportfmt),
// but for the manifest's export time. Records are read through the consent
// gate, so a category that is off is listed as off and nothing of it is
// written; photos through the photo gate. One category's records are held
// at a time; photos are streamed.
//
// The answer is committed only when the first bytes leave (the zip writer
// buffers the first few KiB): a failure before that is a clean error
// answer. A failure after it cuts the connection, so the download is
// visibly incomplete (no zip central directory, no end of the chunked
// body) rather than a zip that looks whole. Each export, complete or not,
// is in the owner's access log with the number of items written.
func (h *Handler) export(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	if r.Method == http.MethodHead { // the headers a download would have, without its cost
		now := time.Now()
		(&exportStream{w: w, name: "candor-export-" + now.UTC().Format(time.DateOnly) + ".zip"}).header()
		w.WriteHeader(http.StatusOK)
		return
	}
	release, err := h.exports.Take(p.Account)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	defer release()
	ctx, cancel := context.WithTimeout(r.Context(), MaxExportTime)
	defer cancel()
	state, err := h.svc.Consent.State(ctx, p)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	now := time.Now()
	m := exportfmt.NewManifest(now, p.Account, p.Region, func(c candor.Category) bool { return state[c].On })
	out := &exportStream{w: w, rc: http.NewResponseController(w), stall: h.exportStall,
		name: "candor-export-" + now.UTC().Format(time.DateOnly) + ".zip"}
	zw := exportfmt.NewZip(out)
	ew := exportfmt.NewWriter(zw, m)

	err = h.writeExport(ctx, ew, p)
	if err == nil {
		err = ew.WriteManifest()
	}
	if err == nil {
		// Logged before the zip is closed: an export that cannot be
		// logged never looks complete.
		if err = h.svc.Exports.Exported(ctx, p, m.Items(), nil); err == nil {
			err = zw.Close()
		}
		if err == nil {
			out.finish()
			return
		}
	} else {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), exportLogTimeout)
		if lerr := h.svc.Exports.Exported(lctx, p, m.Items(), err); lerr != nil {
			h.log.Error("export not logged", "kind", candor.KindOf(lerr).Code(), "err", lerr)
		}
		cancel()
	}
	if !out.started {
		h.writeError(w, r, err)
		return
	}
	if r.Context().Err() == nil {
		h.log.Warn("export stopped", "kind", candor.KindOf(err).Code(), "err", err)
	}
	panic(http.ErrAbortHandler) // the client sees a cut download, never a whole-looking zip
}

// writeExport writes every category that is on, from the records service
// and the photo store.
func (h *Handler) writeExport(ctx context.Context, w *exportfmt.Writer, p candor.Principal) error {
	progress := func(candor.Category, int, int) {}
	m := w.Manifest()
	for i := range m.Categories {
		ec := &m.Categories[i]
		if !ec.On {
			continue
		}
		recs, err := h.liveRecords(ctx, p, ec.Category)
		if candor.Is(err, candor.ConsentRequired) {
			ec.On = false // turned off since the export began: it has no cloud copy
			continue
		}
		if err != nil {
			return err
		}
		switch ec.Category {
		case candor.Contacts:
			err = w.Contacts(ec, recs, progress)
		case candor.Notes:
			err = w.Notes(ec, recs, progress)
		case candor.SMS:
			err = w.SMS(ec, recs, progress)
		case candor.Photos:
			err = w.Photos(ctx, ec, recs, h.photoSource(p), progress)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// liveRecords reads every live record of a category, page by page, as one
// full pass of its change feed; a record changed during the pass is taken
// as last seen.
func (h *Handler) liveRecords(ctx context.Context, p candor.Principal, c candor.Category) ([]exportfmt.Record, error) {
	ctx = records.WithFullPass(ctx)
	live := map[string]int{} // id → index in out
	var out []exportfmt.Record
	var held int64
	for since := int64(0); ; {
		if err := ctx.Err(); err != nil {
			return nil, candor.Wrap(candor.Unavailable, "the export was cancelled", err)
		}
		feed, err := h.svc.Records.Pull(ctx, p, c, since, records.MaxPage)
		if err != nil {
			return nil, err
		}
		for _, r := range feed.Records {
			if held += int64(len(r.Data)); held > h.exportMemory {
				return nil, candor.Errorf(candor.TooLarge, "the cloud holds more %s than an export from it can take (%d MiB); export from the phone (candor device export)", c, h.exportMemory>>20)
			}
			i, seen := live[r.ID]
			switch {
			case r.Deleted && seen:
				out[i].Data = nil
			case r.Deleted:
			case seen:
				out[i].Data = r.Data
			default:
				live[r.ID] = len(out)
				out = append(out, exportfmt.Record{ID: r.ID, Data: r.Data})
			}
		}
		if !feed.More || feed.Next <= since {
			break
		}
		since = feed.Next
	}
	kept := out[:0]
	for _, r := range out {
		if r.Data != nil {
			kept = append(kept, r)
		}
	}
	return kept, nil
}

// photoSource streams a photo's original bytes from the photo store;
// NotFound when the cloud does not hold them.
func (h *Handler) photoSource(p candor.Principal) exportfmt.PhotoSource {
	return func(ctx context.Context, ph exportfmt.Photo) (func(io.Writer) error, error) {
		b, err := h.svc.Photos.Open(ctx, p, ph.Meta.Blob)
		if err != nil {
			return nil, err
		}
		return func(dst io.Writer) error { return b.WriteRange(ctx, dst, 0, b.Size) }, nil
	}
}

// exportStream is the answer of an export: its headers go out with its
// first bytes, and each write must finish within stall.
type exportStream struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	stall   time.Duration
	name    string
	started bool
}

func (s *exportStream) Write(b []byte) (int, error) {
	if !s.started {
		s.started = true
		s.header()
		s.w.WriteHeader(http.StatusOK)
	}
	if err := s.rc.SetWriteDeadline(time.Now().Add(s.stall)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return 0, err
	}
	return s.w.Write(b)
}

// header sets the answer's headers.
func (s *exportStream) header() {
	hd := s.w.Header()
	hd.Set("Content-Type", "application/zip")
	hd.Set("Content-Disposition", `attachment; filename="`+s.name+`"`)
	hd.Set("Cache-Control", "no-store")
}

// finish sends what is buffered, within the stall bound, then lifts the
// deadline from the connection, which may serve other requests.
func (s *exportStream) finish() {
	s.rc.Flush()
	s.rc.SetWriteDeadline(time.Time{})
}
