package api

import (
	"net/http"

	"github.com/candorcloud/candor"
)

// statuses is the one table between error kinds and HTTP statuses. Read
// one way (StatusOf), the first row of a kind gives the status the server
// answers with; read the other way (KindOfStatus), the first row of a
// status gives the kind a client reads back from an answer that carries no
// error body. Rows only ever read back (a gateway's 502 and 504) come after
// the kind's own row.
var statuses = []struct {
	kind   candor.Kind
	status int
}{
	{candor.Internal, http.StatusInternalServerError},
	{candor.Invalid, http.StatusBadRequest},
	{candor.Unauthenticated, http.StatusUnauthorized},
	{candor.Forbidden, http.StatusForbidden},
	{candor.ConsentRequired, http.StatusForbidden},
	{candor.NotFound, http.StatusNotFound},
	{candor.Conflict, http.StatusConflict},
	{candor.WrongRegion, http.StatusMisdirectedRequest},
	{candor.TooLarge, http.StatusRequestEntityTooLarge},
	{candor.RateLimited, http.StatusTooManyRequests},
	{candor.Unavailable, http.StatusServiceUnavailable},
	{candor.Unavailable, http.StatusBadGateway},
	{candor.Unavailable, http.StatusGatewayTimeout},
	{candor.Sealed, http.StatusServiceUnavailable},
	{candor.MethodNotAllowed, http.StatusMethodNotAllowed},
	// The server holds data it cannot vouch for: its fault, not the
	// client's, but named (by the error body's code) so operators and
	// clients see what it is.
	{candor.Integrity, http.StatusInternalServerError},
}

// StatusOf is the HTTP status the server answers an error of kind k with.
// A kind without a row is a server fault: 500.
func StatusOf(k candor.Kind) int {
	for _, s := range statuses {
		if s.kind == k {
			return s.status
		}
	}
	return http.StatusInternalServerError
}

// KindOfStatus is the kind a client gives an error answer that carries no
// Candor error body (a proxy's page, say): the kind StatusOf maps to
// status, the first where several do (403 is Forbidden, 503 Unavailable),
// and Unavailable for a gateway's 502 and 504. Any other status is
// Internal. An answer with an error body has its kind named by the body's
// code instead (candor.KindOfCode).
func KindOfStatus(status int) candor.Kind {
	for _, s := range statuses {
		if s.status == status {
			return s.kind
		}
	}
	return candor.Internal
}
