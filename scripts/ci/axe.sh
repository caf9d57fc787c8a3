# shellcheck shell=bash
# Sourced by .ci/run: installs axe-core, which test/privacycenter runs in
# Chromium on the sign-in pages, with npm into a cache folder outside the
# repository (the version is pinned; npm checks the package's integrity),
# then exports CANDOR_TEST_AXE, the path of axe.min.js, so that those tests
# fail, instead of skipping, should it be missing.
#
# Usable alone too: `. scripts/ci/axe.sh` (needs node and npm).

AXE_VERSION=4.14.1

axe_install() {
	local cache="${XDG_CACHE_HOME:-$HOME/.cache}/candor/axe-core-$AXE_VERSION"
	local file="$cache/node_modules/axe-core/axe.min.js"
	if [ ! -f "$file" ]; then
		if ! command -v npm >/dev/null; then
			echo "ci: installing npm"
			if ! apt-get install -y -q npm >/dev/null; then
				apt-get update -q >/dev/null
				apt-get install -y -q npm >/dev/null
			fi
		fi
		echo "ci: installing axe-core $AXE_VERSION"
		mkdir -p "$cache"
		npm install --prefix "$cache" --no-save --no-audit --no-fund --ignore-scripts --loglevel=error "axe-core@$AXE_VERSION" >/dev/null
	fi
	if [ ! -f "$file" ]; then
		echo "ci: axe-core $AXE_VERSION did not install: $file is missing" >&2
		return 1
	fi
	CANDOR_TEST_AXE="$file"
	export CANDOR_TEST_AXE
	echo "ci: axe-core $AXE_VERSION at $CANDOR_TEST_AXE"
}

axe_install
