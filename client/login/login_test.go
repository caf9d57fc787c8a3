package login

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/cloudflare/circl/oprf"

	"github.com/candorcloud/candor"
)

// TestBlindingSurvivesEncoding checks that a blinding kept outside Go (as
// the browser's page keeps it) finishes to the same handle.
func TestBlindingSurvivesEncoding(t *testing.T) {
	key, err := oprf.GenerateKey(suite, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv := oprf.NewServer(suite, key)
	b, blinded, err := Blind(" A@Example.Invalid")
	if err != nil {
		t.Fatal(err)
	}
	e := suite.Group().NewElement()
	if err := e.UnmarshalBinary(blinded); err != nil {
		t.Fatal(err)
	}
	ev, err := srv.Evaluate(&oprf.EvaluationRequest{Elements: []oprf.Blinded{e}})
	if err != nil {
		t.Fatal(err)
	}
	evaluated, _ := ev.Elements[0].MarshalBinaryCompress()
	enc, err := b.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back Blinding
	if err := back.UnmarshalBinary(enc); err != nil {
		t.Fatal(err)
	}
	got, err := back.Finish(evaluated)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := srv.FullEvaluate([]byte(HandleDomain + "a@example.invalid"))
	if !bytes.Equal(got, want) {
		t.Error("a decoded blinding finishes to another handle")
	}
	for name, bad := range map[string][]byte{
		"empty":    nil,
		"no email": enc[:32],
		"zero":     append(make([]byte, 32), "a@example.invalid"...),
	} {
		if err := new(Blinding).UnmarshalBinary(bad); !candor.Is(err, candor.Invalid) {
			t.Errorf("%s: err = %v, want Invalid", name, err)
		}
	}
}

func TestCostChecks(t *testing.T) {
	for _, tc := range []struct {
		k                 Cost
		below, affordable bool
	}{
		{DefaultCost, false, true},
		{MinimumCost, false, true},
		{Cost{Time: 1, MemoryKiB: 65536, Threads: 4}, true, true},
		{Cost{Time: 3, MemoryKiB: 65536, Threads: 0}, true, true},
		{Cost{Time: 3, MemoryKiB: 64 << 20, Threads: 4}, false, false},
		{Cost{Time: 1000, MemoryKiB: 65536, Threads: 4}, false, false},
	} {
		if got := tc.k.Below(MinimumCost); got != tc.below {
			t.Errorf("%+v.Below(MinimumCost) = %v", tc.k, got)
		}
		if got := tc.k.Affordable(); got != tc.affordable {
			t.Errorf("%+v.Affordable() = %v", tc.k, got)
		}
	}
}
