#!/bin/sh
# Rebuilds candor.wasm.gz and wasm_exec.js from cmd/candor-wasm and the Go
# distribution in use, reproducibly (-trimpath, no build id, no VCS stamp,
# gzip without a name or time), and records the Go version in go.version.
# They are written beside this script, or into the folder given.
set -eu
cd "$(dirname "$0")"
out=${1:-.}
go=${GO:-go}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
GOOS=js GOARCH=wasm $go build -trimpath -buildvcs=false -ldflags='-s -w -buildid=' -o "$tmp/candor.wasm" ../../../cmd/candor-wasm
gzip -9 -n -c "$tmp/candor.wasm" >"$out/candor.wasm.gz"
cp "$($go env GOROOT)/lib/wasm/wasm_exec.js" "$out/wasm_exec.js"
$go env GOVERSION | tr -d '\n' >"$out/go.version"
