# Candor's everyday commands. `make test` is the one command that runs the
# whole test suite, under the race detector; .ci/run runs exactly it.
# `make test RACE=` runs it without the detector (quicker, for a first look).
# The detector needs cgo: a C compiler on the machine.
#
# The tests that need services read them from the environment, which make
# passes through to every command: CANDOR_TEST_POSTGRES (a PostgreSQL URL),
# CANDOR_TEST_NATS and CANDOR_TEST_S3 (an S3-compatible server, as
# http://ACCESS:SECRET@HOST:PORT/BUCKET; each test works under a fresh
# prefix of the bucket). Without them those tests skip with a message saying
# so. .ci/run sets all three, starting versitygw for S3. For example:
#
#   CANDOR_TEST_POSTGRES='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' make test
#   CANDOR_TEST_S3='http://candor:candor-secret-key@127.0.0.1:7070/candor-test' make bench

GO       ?= go
DATA     ?= ./data
ADDR     ?= 127.0.0.1:8080
FUZZTIME ?= 10s
RACE     ?= -race
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null)

.PHONY: run test build vet bench fuzz-smoke wasm

## run: start the embedded development server (SQLite under ./data, keys in the data folder: not for production)
run:
	$(GO) run ./cmd/candor serve --dev --data $(DATA) --addr $(ADDR)

## test: the whole test suite, under the race detector (RACE= to run it without)
test:
	$(GO) test $(RACE) ./...

## build: build the candor binary into bin/, stamped with the commit (candor version)
build:
	$(GO) build -trimpath -ldflags "-X main.commit=$(COMMIT)" -o bin/candor ./cmd/candor

## wasm: rebuild the browser's sign-in (cmd/candor-wasm) into internal/web/wasm, where the server embeds it; commit the result
wasm:
	GO=$(GO) sh internal/web/wasm/generate.sh

## vet: fail on unformatted files, then go vet
vet:
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

## bench: the server benchmarks (sealed vs plain record path, end to end over HTTP) and the blob stores' MB/s (disk; S3 with CANDOR_TEST_S3)
bench:
	$(GO) test -run '^$$' -bench . ./internal/server/...
	$(GO) test -run '^$$' -bench . ./internal/blobs/...

## fuzz-smoke: run every committed fuzz target for FUZZTIME each (default 10s)
fuzz-smoke:
	@set -e; \
	for pkg in $$($(GO) list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$target"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done
