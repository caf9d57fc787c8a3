package httpapi

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	l := newLimiter(60, 3) // one a second, bursts of three
	l.now = func() time.Time { return now }
	for i := range 3 {
		if ok, _ := l.allow("a"); !ok {
			t.Fatalf("request %d of the burst refused", i)
		}
	}
	ok, wait := l.allow("a")
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("over the burst: ok=%v wait=%v", ok, wait)
	}
	if ok, _ := l.allow("b"); !ok {
		t.Fatal("another address was limited")
	}
	now = now.Add(time.Second)
	if ok, _ := l.allow("a"); !ok {
		t.Fatal("a token did not come back after a second")
	}
	now = now.Add(time.Hour)
	l.allow("c")
	if _, kept := l.buckets["a"]; kept {
		t.Fatal("an idle, full bucket was not forgotten")
	}
	if newLimiter(-1, 5) != nil {
		t.Fatal("a negative rate does not disable the limit")
	}
}
