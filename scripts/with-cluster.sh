#!/usr/bin/env bash
# with-cluster.sh — run a command with a throwaway PostgreSQL and ClickHouse cluster started for it.
#
#   scripts/with-cluster.sh COMMAND [ARGS...]
#
# Like scripts/with-servers.sh, but instead of one ClickHouse server it starts the cluster of
# scripts/cluster.sh (ZooKeeper and two ClickHouse servers; clusters pgch_1x2 and pgch_2x1).
# Exports PGHOST/PGPORT/PGUSER, everything in cluster.sh's env (CH1_URL, CH2_URL, CH1_DIR,
# CH2_DIR, ZK_PORT, ZK_DIR, CH_CLUSTER_REPLICATED, CH_CLUSTER_SHARDED, CLUSTER_DIR), and
# CH_URL/CH_PORT/CH_DIR of node 1 so that helpers written for one server work unchanged.
# Runs COMMAND, stops everything, and exits with COMMAND's status. Servers live in
# PGCH_SERVERS_DIR (default a fresh mktemp -d); PGCH_KEEP_SERVERS=1 leaves them running.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=${PGCH_SERVERS_DIR:-$(mktemp -d /tmp/pgch-cluster.XXXXXX)}
chmod 755 "$root"
cleanup() {
  if [ "${PGCH_KEEP_SERVERS:-0}" = 1 ]; then echo "servers left running in $root" >&2; return; fi
  "$here/cluster.sh" stop "$root/cluster" || true
  "$here/pg.sh" stop "$root/pg" || true
  rm -rf "$root"
}
trap cleanup EXIT
"$here/pg.sh" start "$root/pg" >/dev/null
"$here/cluster.sh" start "$root/cluster" >&2
# shellcheck disable=SC1091
source "$root/pg/env"; source "$root/cluster/env"; source "$CH1_DIR/env"
export PGCH_SERVERS_DIR=$root
set +e
"$@"
status=$?
exit $status
