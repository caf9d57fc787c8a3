# shellcheck shell=bash
# Sourced by .ci/run: installs Debian's haproxy, which test/packaging runs
# in the foreground (haproxy -db) on loopback in front of two candor
# instances to check packaging/haproxy.cfg, when it is missing. The Debian
# service is not started: a policy-rc.d refusing service starts is in place
# during the install (one already there is left as it was).
#
# Usable alone too: `bash scripts/ci/haproxy.sh` installs it (as root).

haproxy_install() {
	if command -v haproxy >/dev/null; then
		echo "ci: $(haproxy -v 2>/dev/null | head -n 1)"
		return
	fi
	echo "ci: installing haproxy"
	local t0=$SECONDS policy=/usr/sbin/policy-rc.d made=
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		made=1
	fi
	# The package lists may be missing or stale on a fresh machine.
	local rc=0
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy >/dev/null; then
		apt-get update -q >/dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy >/dev/null || rc=$?
	fi
	if [ -n "$made" ]; then
		rm -f "$policy"
	fi
	[ "$rc" -eq 0 ] || return "$rc"
	echo "ci: haproxy installed in $((SECONDS - t0))s: $(haproxy -v 2>/dev/null | head -n 1)"
}

haproxy_install
