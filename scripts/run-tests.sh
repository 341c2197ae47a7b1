#!/usr/bin/env bash
# run-tests.sh — run integration test files against the servers of scripts/with-servers.sh:
# most of them in parallel (each uses its own databases, named after the file), then, one
# at a time, those that change something every test shares (they stop ClickHouse, change a
# server setting, or count the server's replication connections). Such a file says so in a
# line starting with "# exclusive:" and the reason.
#
#   scripts/run-tests.sh [PROVE OPTIONS] FILE...      (TEST_JOBS: parallel files, default 3)
set -uo pipefail
opts=() files=()
for a in "$@"; do
	case $a in
	-*) opts+=("$a") ;;
	*) files+=("$a") ;;
	esac
done
shared=() alone=()
for f in "${files[@]}"; do
	if grep -q '^# exclusive:' "$f"; then alone+=("$f"); else shared+=("$f"); fi
done
status=0
if [ ${#shared[@]} -gt 0 ]; then
	prove -f -j"${TEST_JOBS:-3}" "${opts[@]}" "${shared[@]}" || status=1
fi
if [ ${#alone[@]} -gt 0 ]; then
	echo "# one at a time: ${alone[*]##*/}"
	prove -f "${opts[@]}" "${alone[@]}" || status=1
fi
exit $status
