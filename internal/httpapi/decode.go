package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

// decode reads exactly one JSON object of type T from the request body,
// bounded by api.MaxBodyBytes. Unknown fields, wrong types, trailing data and
// oversize bodies are refused with a sentence that says what is wrong and
// where — never the body's content.
func decode[T any](w http.ResponseWriter, r *http.Request) (T, error) {
	var v T
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return v, candor.E(candor.Invalid, "the body must be JSON (Content-Type: application/json)")
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, api.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return v, candor.Errorf(candor.TooLarge, "the body is larger than %d bytes", api.MaxBodyBytes)
	} else if err != nil {
		return v, candor.E(candor.Invalid, "the body could not be read")
	}
	return v, decodeJSON(body, &v)
}

// decodeJSON is decode's parser, separate so it can be fuzzed.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return candor.E(candor.Invalid, "the body is empty: a JSON object is expected")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return candor.E(candor.Invalid, "the body has data after the JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return candor.Errorf(candor.Invalid, "malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return candor.Errorf(candor.Invalid, "field %q must be %s, not %s", typ.Field, jsonType(typ.Type.Kind().String()), typ.Value)
		}
		return candor.Errorf(candor.Invalid, "the body must be a JSON object, not %s", typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return candor.E(candor.Invalid, "the JSON body ends too early")
	}
	var unknown string
	if _, scanErr := fmt.Sscanf(err.Error(), "json: unknown field %q", &unknown); scanErr == nil {
		return candor.Errorf(candor.Invalid, "unknown field %q", unknown)
	}
	if bytes.Contains([]byte(err.Error()), []byte("base64")) {
		return candor.E(candor.Invalid, "a bytes field is not valid base64")
	}
	return candor.E(candor.Invalid, "the JSON body does not match the expected shape")
}

func jsonType(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "slice":
		return "an array or base64 string"
	case "bool":
		return "true or false"
	case "struct", "map":
		return "an object"
	case "int", "int64", "uint32", "uint8", "float64":
		return "a number"
	}
	return "another type"
}
