// Package packaging holds the tests of what an operator deploys beside the
// binary: the systemd unit, the container image's Dockerfile, the HAProxy
// example, the Prometheus alert rules and the Grafana dashboard under
// packaging/. They check each file with the real tool (systemd-analyze,
// haproxy, promtool) and a real candor server — a binary built here with
// cgo off as the image builds it, or the full composition in-process,
// whose /metrics must export every metric the dashboard and the rules
// read. A tool that is missing skips its test, unless CI=true, where it
// fails.
package packaging
