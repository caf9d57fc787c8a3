# shellcheck shell=bash
# Sourced by .ci/run: installs promtool, which test/packaging runs to check
# packaging/prometheus/candor-alerts.yml and its unit tests, when it is
# missing. promtool ships in Debian's prometheus package; the install
# leaves no Prometheus server running: on a machine without an init system
# its postinst fails to start the service, harmlessly, and a server that
# the install did start is stopped again.
#
# Usable alone too: `bash scripts/ci/promtool.sh` installs it (as root).

promtool_install() {
	if command -v promtool >/dev/null; then
		echo "ci: $(promtool --version 2>&1 | head -n 1)"
		return
	fi
	echo "ci: installing promtool (Debian package prometheus)"
	local t0=$SECONDS before pid
	before="$(pgrep -x prometheus || true)"
	# The package lists may be missing or stale on a fresh machine.
	local rc=0
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null; then
		apt-get update -q >/dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null || rc=$?
	fi
	for pid in $(pgrep -x prometheus || true); do
		case " $before " in
		*" $pid "*) ;;
		*)
			echo "ci: stopping the Prometheus server the install started (pid $pid)"
			kill "$pid" 2>/dev/null || true
			;;
		esac
	done
	[ "$rc" -eq 0 ] || return "$rc"
	echo "ci: promtool installed in $((SECONDS - t0))s: $(promtool --version 2>&1 | head -n 1)"
}

promtool_install
