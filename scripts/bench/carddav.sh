#!/usr/bin/env bash
# The CardDAV sync benchmark: the same vdirsyncer pushing 1,000 and 5,000
# contacts over loopback to Radicale and, when CANDOR_BENCH_CARDDAV_URL is
# set, to Candor's CardDAV server; for each, the first sync, an incremental
# sync after 10 edits and a sync with nothing changed. Prints a table with
# Candor's times over Radicale's and the requests behind them.
#
#   scripts/bench/carddav.sh
#   CANDOR_BENCH_CARDDAV_SIZES=1000 scripts/bench/carddav.sh
#   CANDOR_BENCH_CARDDAV_RADICALE_SIZES=1000 ...   # Radicale for these sizes only
#   CANDOR_BENCH_CARDDAV_URL=http://127.0.0.1:8080/dav/ \
#     CANDOR_BENCH_CARDDAV_USERNAME=... CANDOR_BENCH_CARDDAV_PASSWORD=APP-PASSWORD \
#     scripts/bench/carddav.sh
#
# Needs vdirsyncer, khard and radicale (scripts/ci/davclients.sh installs
# them). Radicale runs on a free port of 127.0.0.1 and is stopped at the
# end; Candor's account must hold one address book, which is emptied
# before and after each size. Long: Radicale's 5,000-contact first sync
# alone takes tens of minutes on two busy cores (each of its PUTs checks the
# UID against the whole address book).
set -euo pipefail

cd "$(dirname "$0")/../.."

for c in vdirsyncer khard radicale; do
	if ! command -v "$c" >/dev/null; then
		echo "carddav bench: $c is not installed (run scripts/ci/davclients.sh as root)" >&2
		exit 1
	fi
done

export CANDOR_BENCH_CARDDAV=1
export CANDOR_BENCH_CARDDAV_SIZES="${CANDOR_BENCH_CARDDAV_SIZES:-1000,5000}"
go test -count=1 -timeout 60m -run '^TestSyncBenchmark$' -v ./test/davclients/
