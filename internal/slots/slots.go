// Package slots bounds work in progress: how many of something one key (an
// account, a device) may hold at once, and how many all keys together may.
// Past either bound a new one is refused at once, before any of its cost
// is paid.
package slots

import "sync"

// Counter counts what each key holds. The zero Counter is not usable: set
// its bounds and refusals, as New does. It is safe for concurrent use.
type Counter[K comparable] struct {
	perKey, total    int
	errKey, errTotal error
	mu               sync.Mutex
	held             int
	byKey            map[K]int
}

// New returns a Counter allowing perKey per key and total in all, refusing
// past them with errKey and errTotal.
func New[K comparable](perKey, total int, errKey, errTotal error) *Counter[K] {
	return &Counter[K]{perKey: perKey, total: total, errKey: errKey, errTotal: errTotal, byKey: map[K]int{}}
}

// Take reserves one slot for k and returns its release, or the refusal of
// the bound it would pass (the key's first).
func (c *Counter[K]) Take(k K) (release func(), err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.byKey[k] >= c.perKey:
		return nil, c.errKey
	case c.held >= c.total:
		return nil, c.errTotal
	}
	c.byKey[k]++
	c.held++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.held--
			if c.byKey[k]--; c.byKey[k] == 0 {
				delete(c.byKey, k)
			}
		})
	}, nil
}
