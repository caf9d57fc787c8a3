# shellcheck shell=bash
# Sourced by .ci/run: installs Kannel (the Debian packages kannel, for
# bearerbox and smsbox, and kannel-extras, for the fakesmsc carrier) when
# missing, then exports CANDOR_TEST_KANNEL=1 so the tests of the Kannel SMS
# gateway in internal/server fail, instead of skipping, should one be
# missing. The tests start and stop their own boxes on loopback.
#
# Usable alone too: `bash scripts/ci/kannel.sh` installs them (as root).

kannel_install() {
	if [ ! -x /usr/sbin/bearerbox ] || [ ! -x /usr/sbin/smsbox ] || [ ! -x /usr/lib/kannel/test/fakesmsc ]; then
		echo "ci: installing kannel and kannel-extras"
		local t0=$SECONDS
		# The package lists may be missing or stale on a fresh machine.
		if ! apt-get install -y -q kannel kannel-extras >/dev/null; then
			apt-get update -q >/dev/null
			apt-get install -y -q kannel kannel-extras >/dev/null
		fi
		echo "ci: kannel installed in $((SECONDS - t0))s"
	fi
	echo "ci: kannel $(dpkg-query -W -f '${Version}' kannel)"
}

kannel_install
export CANDOR_TEST_KANNEL=1
