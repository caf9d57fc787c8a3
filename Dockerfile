# Candor's container image: a static binary on a distroless base, run as a
# user without privileges. See docs/deployment.md, "Packages and units".
#
#   docker build --build-arg COMMIT="$(git rev-parse HEAD)" -t candor .
#
# The Go version is go.mod's (a test keeps the two equal); the build command
# is the Makefile's `make build`, with cgo off: the SQLite driver
# (modernc.org/sqlite) is pure Go, so the binary needs no C library.

ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
ARG COMMIT=
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ENV CGO_ENABLED=0
RUN make build COMMIT="${COMMIT}" \
	&& ./bin/candor version \
	&& mkdir -p /out/var/lib/candor /out/etc/candor

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/bin/candor /candor
# The data folder and the configuration folder, owned by the image's
# unprivileged user (nonroot, 65532).
COPY --from=build --chown=65532:65532 /out/var/lib/candor /var/lib/candor
COPY --from=build /out/etc/candor /etc/candor
USER 65532:65532
EXPOSE 8080
VOLUME ["/var/lib/candor"]
# Liveness: `candor operator status` exits non-zero when the server does
# not answer. A sealed server is alive (it waits for its custodians) and
# passes; readiness (GET /readyz, 503 while sealed) is the balancer's check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
	CMD ["/candor", "operator", "--server", "http://127.0.0.1:8080", "status"]
ENTRYPOINT ["/candor"]
# Production defaults, sealed until the key ceremony; with a configuration
# file: serve --config /etc/candor/candor.json --addr :8080 --data /var/lib/candor
CMD ["serve", "--addr", ":8080", "--data", "/var/lib/candor"]
