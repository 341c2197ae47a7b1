#!/usr/bin/env bash
# with-servers.sh — run a command with a throwaway PostgreSQL and ClickHouse started for it.
#
#   scripts/with-servers.sh COMMAND [ARGS...]
#
# Starts both servers in a temp dir (PGCH_SERVERS_DIR, default a fresh mktemp -d),
# exports PGHOST/PGPORT/PGUSER and CH_URL, runs COMMAND, stops both, and exits with
# COMMAND's status. Set PGCH_KEEP_SERVERS=1 to leave them running (the dir is printed).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=${PGCH_SERVERS_DIR:-$(mktemp -d /tmp/pgch-servers.XXXXXX)}
chmod 755 "$root"
cleanup() {
  if [ "${PGCH_KEEP_SERVERS:-0}" = 1 ]; then echo "servers left running in $root" >&2; return; fi
  "$here/ch.sh" stop "$root/ch" || true
  "$here/pg.sh" stop "$root/pg" || true
  rm -rf "$root"
}
trap cleanup EXIT
"$here/pg.sh" start "$root/pg" >/dev/null
"$here/ch.sh" start "$root/ch" >/dev/null
# shellcheck disable=SC1091
source "$root/pg/env"; source "$root/ch/env"
export PGCH_SERVERS_DIR=$root
set +e
"$@"
status=$?
exit $status
