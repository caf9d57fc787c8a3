// Package davclients proves a CardDAV server with the real clients people
// use: vdirsyncer (the Debian package) syncing a folder of vCards both ways,
// and khard listing and editing contacts through that folder.
//
// The package holds tests only. Each test starts its servers on 127.0.0.1
// on free ports and stops them, by their process, when it ends. The server
// under test is a target: a CardDAV URL with a username and password, the
// account's address book reached without CardDAV (a Radicale server's
// storage folder; for Candor, a `candor device` phone), and a way to revoke
// the password. Radicale is the reference target; Candor's target plugs in
// beside it (candorTarget in targets_test.go).
//
// The tests skip with a message when vdirsyncer, khard or radicale is not
// installed, unless CANDOR_TEST_DAVCLIENTS=1 says they must be there (CI
// sets it, after scripts/ci/davclients.sh installs them). The benchmark,
// TestSyncBenchmark, runs only with CANDOR_BENCH_CARDDAV=1: see
// scripts/bench/carddav.sh and docs/carddav-clients.md.
package davclients
