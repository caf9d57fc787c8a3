package api

import (
	"net/http"
	"testing"

	"github.com/candorcloud/candor"
)

// Every kind reads back as itself, except those that share a status with
// an earlier kind and are told apart only by the error body's code.
func TestStatusRoundTrip(t *testing.T) {
	shared := map[candor.Kind]candor.Kind{
		candor.ConsentRequired: candor.Forbidden,
		candor.Sealed:          candor.Unavailable,
		candor.Integrity:       candor.Internal,
	}
	for k := candor.Kind(0); candor.KindOfCode(k.Code()) == k; k++ { // every kind there is
		want := k
		if w, ok := shared[k]; ok {
			want = w
		}
		if got := KindOfStatus(StatusOf(k)); got != want {
			t.Errorf("%s: HTTP %d reads back as %s, want %s", k, StatusOf(k), got, want)
		}
	}
}

func TestStatusOf(t *testing.T) {
	for k, want := range map[candor.Kind]int{
		candor.Internal:         500,
		candor.Invalid:          400,
		candor.Unauthenticated:  401,
		candor.Forbidden:        403,
		candor.ConsentRequired:  403,
		candor.NotFound:         404,
		candor.Conflict:         409,
		candor.WrongRegion:      421,
		candor.TooLarge:         413,
		candor.RateLimited:      429,
		candor.Unavailable:      503,
		candor.Sealed:           503,
		candor.MethodNotAllowed: 405,
		candor.Integrity:        500,
		candor.Kind(200):        500,
	} {
		if got := StatusOf(k); got != want {
			t.Errorf("StatusOf(%s) = %d, want %d", k, got, want)
		}
	}
}

func TestKindOfStatus(t *testing.T) {
	for status, want := range map[int]candor.Kind{
		http.StatusBadRequest:            candor.Invalid,
		http.StatusUnauthorized:          candor.Unauthenticated,
		http.StatusForbidden:             candor.Forbidden,
		http.StatusNotFound:              candor.NotFound,
		http.StatusConflict:              candor.Conflict,
		http.StatusRequestEntityTooLarge: candor.TooLarge,
		http.StatusTooManyRequests:       candor.RateLimited,
		http.StatusBadGateway:            candor.Unavailable,
		http.StatusServiceUnavailable:    candor.Unavailable,
		http.StatusGatewayTimeout:        candor.Unavailable,
		http.StatusInternalServerError:   candor.Internal,
		http.StatusTeapot:                candor.Internal,
		http.StatusOK:                    candor.Internal,
	} {
		if got := KindOfStatus(status); got != want {
			t.Errorf("KindOfStatus(%d) = %s, want %s", status, got, want)
		}
	}
}
