package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/candorcloud/candor/api"
)

// A --dev server has no custody record and is unsealed: status says so,
// not "not initialised".
func TestPrintStatusDev(t *testing.T) {
	for _, tc := range []struct {
		st   api.OperatorStatus
		want string
	}{
		{api.OperatorStatus{}, "unsealed by a development root key"},
		{api.OperatorStatus{Sealed: true}, "not initialised"},
		{api.OperatorStatus{Initialized: true, Sealed: true, Threshold: 2, Shares: 3}, "sealed: 0 of 2 shares offered"},
	} {
		var b bytes.Buffer
		if err := printStatus(&b, tc.st, false); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("%+v: %q, want %q", tc.st, b.String(), tc.want)
		}
	}
}
