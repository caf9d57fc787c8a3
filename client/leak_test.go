//go:build !egressleak

package client

import "testing"

// A normal build has no way to leak on purpose: the hook only the
// egressleak test build sets is nil.
func TestNoEgressLeakHookInNormalBuilds(t *testing.T) {
	if egressLeak != nil {
		t.Fatal("the egress leak hook is set in a normal build")
	}
}
