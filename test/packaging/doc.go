// Package packaging holds the tests of what an operator deploys beside the
// binary: the systemd unit, the container image's Dockerfile and the
// HAProxy example under packaging/. They check each file with the real
// tool (systemd-analyze, haproxy) and a real candor binary, built here with
// cgo off as the image builds it. A tool that is missing skips its test,
// unless CI=true, where it fails.
package packaging
