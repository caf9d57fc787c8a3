package client

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/cloudflare/circl/oprf"

	"github.com/candorcloud/candor/api"
)

func TestKeyChange(t *testing.T) {
	d1 := api.DeviceKeys{Device: "dev_1", HPKE: []byte{1}, Sign: []byte{1}}
	d2 := api.DeviceKeys{Device: "dev_2", HPKE: []byte{2}, Sign: []byte{2}}
	d2b := api.DeviceKeys{Device: "dev_2", HPKE: []byte{2}, Sign: []byte{3}}
	d3 := api.DeviceKeys{Device: "dev_3", HPKE: []byte{3}, Sign: []byte{3}}
	if k := keyChange(numberB, nil, "acc_1", []api.DeviceKeys{d1}); k != nil {
		t.Errorf("first sight reported %+v", k)
	}
	before := &knownRecipient{Account: "acc_1", Devices: []api.DeviceKeys{d1, d2}}
	if k := keyChange(numberB, before, "acc_1", []api.DeviceKeys{d2, d1}); k != nil {
		t.Errorf("same keys reported %+v", k)
	}
	k := keyChange(numberB, before, "acc_1", []api.DeviceKeys{d2b, d3})
	if k == nil || len(k.Added) != 1 || k.Added[0] != "dev_3" || len(k.Changed) != 1 || k.Changed[0] != "dev_2" || len(k.Removed) != 1 || k.Removed[0] != "dev_1" || k.AccountChanged {
		t.Fatalf("change = %+v", k)
	}
	if s := k.String(); !strings.Contains(s, "new key") || !strings.Contains(s, numberB) {
		t.Errorf("notice %q", s)
	}
	if k := keyChange(numberB, before, "acc_2", []api.DeviceKeys{d1, d2}); k == nil || !k.AccountChanged {
		t.Errorf("a number moved to another account: %+v", k)
	}
}

// The phone's discovery tokens are the server's OPRF outputs on the
// documented input, computed without the server seeing the number.
func TestDiscoveryTokens(t *testing.T) {
	key, err := oprf.GenerateKey(oprf.SuiteRistretto255, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv := oprf.NewServer(oprf.SuiteRistretto255, key)
	numbers := []string{numberA, numberB}
	run, blinded := must2(t)(blindNumbers(numbers))
	for _, b := range blinded {
		for _, n := range numbers {
			if bytes.Contains(b, []byte(n)) || bytes.Contains(b, []byte(n[1:])) {
				t.Fatal("a blinded element holds the number")
			}
		}
	}
	req := &oprf.EvaluationRequest{}
	for _, b := range blinded {
		e := oprf.SuiteRistretto255.Group().NewElement()
		if err := e.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		req.Elements = append(req.Elements, e)
	}
	ev, err := srv.Evaluate(req)
	if err != nil {
		t.Fatal(err)
	}
	var evaluated [][]byte
	for _, e := range ev.Elements {
		evaluated = append(evaluated, must[[]byte](t)(e.MarshalBinaryCompress()))
	}
	toks := must[[][]byte](t)(run.finish(evaluated))
	for i, n := range numbers {
		want := must[[]byte](t)(srv.FullEvaluate([]byte("candor/discovery/v1\x00" + n)))
		if !bytes.Equal(toks[i], want) || len(toks[i]) != TokenBytes {
			t.Errorf("token of number %d differs from the server's evaluation", i)
		}
	}
	if _, err := run.finish(evaluated[:1]); err == nil {
		t.Error("a short evaluation was accepted")
	}
}

func must2(t *testing.T) func(*discoveryRun, [][]byte, error) (*discoveryRun, [][]byte) {
	return func(r *discoveryRun, b [][]byte, err error) (*discoveryRun, [][]byte) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return r, b
	}
}
