package httpapi

import (
	"testing"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

func TestDecodeJSONMessages(t *testing.T) {
	cases := map[string]string{
		``:                                     "the body is empty: a JSON object is expected",
		`{"epoch": 1`:                          "the JSON body ends too early",
		`{"epoch": "one"}`:                     `field "epoch" must be a number, not string`,
		`{"changes": [{"id": 5}]}`:             `field "changes.id" must be a string, not number`,
		`{"epoch": 1, "extra": true}`:          `unknown field "extra"`,
		`{"epoch": 1}{"epoch": 2}`:             "the body has data after the JSON object",
		`[]`:                                   "the body must be a JSON object, not array",
		`{"changes": [{"data": "%%"}]}`:        "a bytes field is not valid base64",
		`{"epoch": 1, "changes": [}`:           "malformed JSON at byte 26",
		`{"changes": [{"base_version": 1.5}]}`: `field "changes.base_version" must be a number, not number 1.5`,
	}
	for body, want := range cases {
		var v api.PushRequest
		err := decodeJSON([]byte(body), &v)
		if !candor.Is(err, candor.Invalid) || candor.Message(err) != want {
			t.Errorf("%s: got %q (%v), want %q", body, candor.Message(err), candor.KindOf(err), want)
		}
	}
}

// FuzzDecodeJSON: whatever the body, the decoder returns either a value or
// an Invalid error with a message — never a panic, never an internal error.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"epoch":1,"changes":[{"id":"rec_x","base_version":0,"data":"aGk="}]}`,
		`{"handle":"AAAA","salt":"","kdf":{"t":1,"m":8,"p":1},"auth_key":"","country":"IN","device":{"pseudonym":""}}`,
		`{"on":true,"policy_version":"x"}`, `{`, `[]`, `null`, `{"changes":null}`, "\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, v := range []any{&api.PushRequest{}, &api.SignupRequest{}, &api.ConsentRequest{}, &api.LoginRequest{}} {
			if err := decodeJSON(body, v); err != nil {
				if !candor.Is(err, candor.Invalid) || candor.Message(err) == "" {
					t.Fatalf("decode %q: %v (%v)", body, err, candor.KindOf(err))
				}
			}
		}
	})
}
