package slots

import (
	"errors"
	"testing"
)

var errKey, errTotal = errors.New("key"), errors.New("total")

// A key's bound refuses first, then the total's; a release frees exactly
// one slot, once, however often it is called.
func TestCounter(t *testing.T) {
	c := New[string](2, 3, errKey, errTotal)
	take := func(k string, want error) func() {
		t.Helper()
		r, err := c.Take(k)
		if err != want {
			t.Fatalf("Take(%s) = %v, want %v", k, err, want)
		}
		return r
	}
	a1, _ := take("a", nil), take("a", nil)
	take("a", errKey)
	take("b", nil)
	take("c", errTotal)
	a1()
	a1() // a second release frees nothing more
	take("c", nil)
	take("c", errTotal)
	if len(c.byKey) != 3 || c.held != 3 {
		t.Fatalf("held %d by %v", c.held, c.byKey)
	}
}
