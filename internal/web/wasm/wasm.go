// Package wasm holds the browser's half of sign-in, built from
// cmd/candor-wasm, and the Go distribution's wasm_exec.js that loads it,
// as files committed beside this one and embedded in the server, so that
// `go run ./cmd/candor serve` serves the privacy center with no build step
// and no request to any other host.
//
// `make wasm` rebuilds both (go generate ./internal/web/wasm). A test
// rebuilds them from the source under test and fails when the committed
// files differ, so a change to client/login or cmd/candor-wasm cannot ship
// with a stale browser half.
package wasm

import _ "embed"

//go:generate sh generate.sh

// Gzip is candor.wasm compressed with gzip: the server sends it as is with
// Content-Encoding: gzip to every browser (they all accept it), and
// decompresses it for a client that does not.
//
//go:embed candor.wasm.gz
var Gzip []byte

// ExecJS is the Go distribution's lib/wasm/wasm_exec.js, of the Go version
// that built Gzip.
//
//go:embed wasm_exec.js
var ExecJS []byte

// GoVersion is the Go version that built Gzip (the file go.version).
//
//go:embed go.version
var GoVersion string
