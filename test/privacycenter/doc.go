// Package privacycenter tests the pages a Candor server serves to browsers
// (internal/web): the privacy center at / and the staff console at /staff,
// in a real headless Chromium driven over the DevTools protocol, against a
// real server (internal/server/servertest).
//
// The tests watch every request the pages make (only the server's origin
// is allowed), every console error and every Content-Security-Policy
// violation; they sign in with a wrong password and check the API's
// message is shown in the page, switch between the three languages, and
// run axe-core on the sign-in pages in each language.
//
// Chromium is found through CANDOR_TEST_CHROMIUM or PATH
// (scripts/ci/chromium.sh installs it); axe-core through CANDOR_TEST_AXE,
// the path of axe.min.js (scripts/ci/axe.sh). Without them the tests skip,
// except under CI=true, where a missing axe-core fails.
package privacycenter
