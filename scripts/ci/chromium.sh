# shellcheck shell=bash
# Sourced by .ci/run: installs Debian's chromium, which test/browser drives
# headless to check the browser's sign-in derivations, when it is missing,
# then exports CANDOR_TEST_CHROMIUM (its path) so those tests fail, instead
# of skipping, should it be missing.
#
# Usable alone too: `bash scripts/ci/chromium.sh` installs it (as root).

chromium_install() {
	if ! command -v chromium >/dev/null; then
		echo "ci: installing chromium"
		local t0=$SECONDS
		# The package lists may be missing or stale on a fresh machine.
		if ! apt-get install -y -q chromium >/dev/null; then
			apt-get update -q >/dev/null
			apt-get install -y -q chromium >/dev/null
		fi
		echo "ci: chromium installed in $((SECONDS - t0))s"
	fi
	echo "ci: $(chromium --version 2>/dev/null)"
}

chromium_install
CANDOR_TEST_CHROMIUM="$(command -v chromium)"
export CANDOR_TEST_CHROMIUM
