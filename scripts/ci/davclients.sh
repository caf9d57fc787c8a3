# shellcheck shell=bash
# Sourced by .ci/run: installs the real CardDAV clients and the reference
# server that test/davclients runs (the Debian packages vdirsyncer, khard
# and radicale) when any is missing, then exports CANDOR_TEST_DAVCLIENTS=1
# so those tests fail, instead of skipping, should a client be missing.
#
# Usable alone too: `bash scripts/ci/davclients.sh` installs them (as root).

davclients_install() {
	local missing=() c
	for c in vdirsyncer khard radicale; do
		command -v "$c" >/dev/null || missing+=("$c")
	done
	if [ "${#missing[@]}" -gt 0 ]; then
		echo "ci: installing ${missing[*]}"
		local t0=$SECONDS
		# The package lists may be missing or stale on a fresh machine.
		if ! apt-get install -y -q vdirsyncer khard radicale >/dev/null; then
			apt-get update -q >/dev/null
			apt-get install -y -q vdirsyncer khard radicale >/dev/null
		fi
		echo "ci: vdirsyncer, khard and radicale installed in $((SECONDS - t0))s"
	fi
	echo "ci: $(vdirsyncer --version), khard $(khard --version | awk '{print $NF}'), radicale $(radicale --version)"
}

davclients_install
export CANDOR_TEST_DAVCLIENTS=1
