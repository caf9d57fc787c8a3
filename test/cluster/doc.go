// Package cluster holds a test environment of real processes for the
// deployment with one set of processes per region (docs/regions.md,
// docs/deployment.md): two `candor serve` processes for region in and two
// for sg, each started from docs/examples/multi-region/{in,sg}.json with
// the test's services put in place of the example's hosts, over
// PostgreSQL, S3 (versitygw), NATS, a real Kannel (bearerbox, smsbox and
// fakesmsc as the carrier) and HAProxy running packaging/haproxy-regions.cfg
// on loopback.
//
// The test drives it as an operator and as a thousand phones would: the
// key ceremony and the unseals with `candor operator`, phones that sign
// up, sync contacts and send messages through HAProxy's public frontend,
// and, under that load, one process of each region killed with SIGKILL,
// restarted from its configuration file and unsealed again. It checks that
// nothing acknowledged is lost, that phones see only errors they can
// retry, and that the limits on verification codes hold whichever process
// answers; it prints the throughput with one and with two processes per
// region and the times to recover.
//
// It runs only with CANDOR_TEST_CLUSTER=1 (docs/deployment.md says how).
// A missing service or tool skips it, unless CI=true, where it fails.
//
// The candor binary is built with the testcosts tag, which lowers the
// Argon2id costs of sign-ups (cmd/candor/costs_testcosts.go): a thousand
// sign-ups at the production cost would take minutes of CPU on their own.
package cluster
