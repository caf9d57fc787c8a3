package httpapi

import (
	"context"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/store"
)

// Messaging is the messaging service.
type Messaging interface {
	RequestVerification(ctx context.Context, p candor.Principal, phone string) error
	Activate(ctx context.Context, p candor.Principal, a api.Activation) (store.ConsentEvent, error)
	Evaluate(ctx context.Context, p candor.Principal, blinded [][]byte) ([][]byte, error)
	Match(ctx context.Context, p candor.Principal, prefixes [][]byte) ([][]byte, error)
	Recipient(ctx context.Context, p candor.Principal, token []byte) (api.Recipient, error)
	Send(ctx context.Context, p candor.Principal, m api.Send) (api.Sent, error)
	Inbox(ctx context.Context, p candor.Principal) (api.Inbox, error)
	Ack(ctx context.Context, p candor.Principal, a api.Ack) error
	Subscribe(device candor.DeviceID, fn func()) (cancel func(), err error)
}

// Carrier is the emulated carrier of --dev (nil in production).
type Carrier interface {
	Deliver(sms api.CarrierSMS) error
	Take(number string) []api.CarrierSMS
}

func (h *Handler) msgVerify(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	req, err := decode[api.VerificationRequest](w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.svc.Messaging.RequestVerification(r.Context(), p, req.Phone); err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "a code was sent by SMS"})
}

func (h *Handler) msgActivate(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	req, err := decode[api.Activation](w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ev, err := h.svc.Messaging.Activate(r.Context(), p, req)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toAPIConsent(candor.Messaging, ev))
}

func (h *Handler) msgEvaluate(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	req, err := decode[api.Blinded](w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out, err := h.svc.Messaging.Evaluate(r.Context(), p, req.Elements)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.Evaluated{Elements: out})
}

func (h *Handler) msgMatch(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	req, err := decode[api.Buckets](w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out, err := h.svc.Messaging.Match(r.Context(), p, req.Prefixes)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if out == nil {
		out = [][]byte{}
	}
	writeJSON(w, http.StatusOK, api.Registered{Tokens: out})
}

func (h *Handler) msgRecipient(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	token, err := base64.RawURLEncoding.DecodeString(r.PathValue("token"))
	if err != nil || len(token) != 64 {
		h.writeError(w, r, candor.E(candor.Invalid, "a token is 64 bytes, base64url without padding"))
		return
	}
	out, err := h.svc.Messaging.Recipient(r.Context(), p, token)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) msgSend(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	req, err := decode[api.Send](w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out, err := h.svc.Messaging.Send(r.Context(), p, req)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (h *Handler) msgInbox(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	out, err := h.svc.Messaging.Inbox(r.Context(), p)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) msgAck(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	req, err := decode[api.Ack](w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.svc.Messaging.Ack(r.Context(), p, req); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Sockets: at most MaxSocketsPerDevice open for one device and MaxSockets
// in all, and each lives only as long as its session: the session is
// checked again every SocketRecheck, and a socket whose session ended
// (logged out, revoked, expired, the account deleted) is closed. A session
// of an account that is moving to another region stays open: it answers
// from the new region after.
const (
	MaxSocketsPerDevice = 4
	MaxSockets          = 10000
	SocketRecheck       = 5 * time.Second
)

var (
	errSockets = &candor.Error{Kind: candor.RateLimited, RetryAfter: 5 * time.Second,
		Message: "this device has too many message sockets open: close one first"}
	errAllSockets = &candor.Error{Kind: candor.Unavailable, RetryAfter: 5 * time.Second,
		Message: "the server holds as many message sockets as it can: try again in a moment"}
)

// msgSocket pushes a Notice to a connected device whenever something may
// wait for it (and once at once), until either side closes or the
// device's session ends.
func (h *Handler) msgSocket(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	release, err := h.sockets.Take(p.Device)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	defer release()
	cred := credentialOf(r) // checked again while the socket is open
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept answered already
	}
	defer conn.CloseNow()
	h.metrics.sockets.Inc()
	defer h.metrics.sockets.Dec()
	ctx := conn.CloseRead(r.Context())
	wake := make(chan struct{}, 1)
	cancel, err := h.svc.Messaging.Subscribe(p.Device, func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	if err != nil {
		conn.Close(websocket.StatusInternalError, "push unavailable")
		return
	}
	defer cancel()
	wake <- struct{}{}
	ping := time.NewTicker(30 * time.Second)
	defer ping.Stop()
	recheck := time.NewTicker(h.socketRecheck)
	defer recheck.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-recheck.C:
			// A session that ended closes the socket; a store that cannot
			// answer now does not.
			authenticate := h.svc.Accounts.Authenticate
			if cred.browser {
				authenticate = h.svc.Accounts.AuthenticateBrowser
			}
			q, err := authenticate(ctx, cred.token)
			if ctx.Err() == nil && (candor.Is(err, candor.Unauthenticated) || err == nil && q != p) {
				conn.Close(websocket.StatusPolicyViolation, "the session ended")
				return
			}
		case <-ping.C:
			if err := conn.Ping(ctx); err != nil {
				return
			}
		case <-wake:
			wctx, done := context.WithTimeout(ctx, 10*time.Second)
			err := wsjson.Write(wctx, conn, api.Notice{Waiting: 1})
			done()
			if err != nil {
				return
			}
		}
	}
}

func (h *Handler) carrierSend(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	req, err := decode[api.CarrierSMS](w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if len(req.Text) > 1600 || req.To == "" {
		h.writeError(w, r, candor.E(candor.Invalid, "an SMS has a recipient and at most 1600 bytes"))
		return
	}
	h.svc.Carrier.Deliver(req)
	w.WriteHeader(http.StatusAccepted)
}

func (h *Handler) carrierInbox(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	writeJSON(w, http.StatusOK, api.CarrierInbox{Messages: h.svc.Carrier.Take(r.URL.Query().Get("to"))})
}
