// Package browser tests the browser's half of Candor's sign-in in a real
// headless Chromium driven over the DevTools protocol (chromedp): the
// WebAssembly build of package client/login (cmd/candor-wasm) must derive
// the same login handle and keys as the Go SDK the phone runs, for the same
// inputs, and the page must make no request to any host but the test
// server.
//
// The tests find Chromium at CANDOR_TEST_CHROMIUM, else as chromium on the
// PATH; without it they skip, unless CANDOR_TEST_CHROMIUM is set, when they
// fail. scripts/ci/chromium.sh installs it and sets the variable in CI.
package browser
