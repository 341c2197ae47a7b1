# lib_cluster.sh — the cluster tests' ClickHouse cluster (scripts/cluster.sh), sourced after lib.sh
# (and lib_cdc.sh): the cluster of scripts/with-cluster.sh when CH1_URL is set, else one of
# the test's own, started now and stopped when the test exits. Sets CH_URL to node 1.
#
#   qn N SQL       node N's answer; fails (returns 1) on a ClickHouse or connection error
#   on_node N CMD  CMD with CH_URL set to node N (ch_ok, same_rows, wait_same read node N)
CLUSTER_SH=$ROOT/scripts/cluster.sh
if [ -z "${CH1_URL:-}" ]; then
	OWN_CLUSTER=$WORK/cluster
	eval "set -- $(trap -p EXIT)"
	CLUSTER_LIB_TRAP=${3:-}
	cluster_exit() {
		"$CLUSTER_SH" stop "$OWN_CLUSTER" >/dev/null 2>&1
		eval "$CLUSTER_LIB_TRAP"
	}
	trap cluster_exit EXIT
	t_cluster=$SECONDS
	"$CLUSTER_SH" start "$OWN_CLUSTER" >"$WORK/cluster-start.log" 2>&1 ||
		bail "cluster.sh start failed: $(cat "$WORK/cluster-start.log")"
	diag "$(cat "$WORK/cluster-start.log")"
	# shellcheck disable=SC1091
	source "$OWN_CLUSTER/env"
fi
[ -n "${CLUSTER_DIR:-}" ] || bail "CLUSTER_DIR is not set: run under scripts/with-cluster.sh or without CH1_URL"
CH_URL=$CH1_URL

qn() {
	local url out
	if [ "$1" = 1 ]; then url=$CH1_URL; else url=$CH2_URL; fi
	out=$(curl -sS --max-time 60 -w '\n%{http_code}' "$url/" --data-binary "$2") || return 1
	[ "${out##*$'\n'}" = 200 ] || { printf '%s\n' "${out%$'\n'*}" >&2; return 1; }
	printf '%s' "${out%$'\n'*}"
}
on_node() {
	local n=$1 saved=$CH_URL st
	shift
	if [ "$n" = 1 ]; then CH_URL=$CH1_URL; else CH_URL=$CH2_URL; fi
	"$@"
	st=$?
	CH_URL=$saved
	return $st
}
# The cluster's databases of an earlier run of this test are dropped on every node.
cluster_fresh() {
	qn 1 "DROP DATABASE IF EXISTS $CHDB ON CLUSTER $CH_CLUSTER_REPLICATED" >/dev/null 2>&1
	qn 1 "DROP DATABASE IF EXISTS $CHDB" >/dev/null 2>&1
	qn 2 "DROP DATABASE IF EXISTS $CHDB" >/dev/null 2>&1
}
