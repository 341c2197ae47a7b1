# bench_lib.sh — sourced by the CDC benchmarks (bench_cdc.sh, bench_catchup.sh): how they
# tell that pgch has caught up without loading ClickHouse while it works.
#
# Polling `sum(...) FROM t FINAL` every 0.1 s, as the benchmarks did, cost ClickHouse about
# 1.4 CPU seconds per wide catch-up (system.query_log): CPU taken from PostgreSQL's decoder
# and from pgch on a 2-core machine, so it measured the poll as much as pgch. Instead:
#
#   floor=$(update_in_one_txn DB "UPDATE ...")  run the UPDATE in one transaction and print
#                                               the WAL insert position read inside it,
#                                               before COMMIT (numeric)
#   wait_versions CH_URL TABLE FLOOR ROWS SECS  wait until TABLE holds ROWS rows with a
#                                               _pgch_version >= FLOOR (no FINAL: one
#                                               UInt64 column scanned), polling every 50 ms
#
# The transaction's rows carry its commit LSN as _pgch_version: where its commit record
# starts, so no lower than the insert position read just before COMMIT (measured: equal to
# it); earlier versions, the copy's included, are below any position read inside it. The caller checks the values exactly (with FINAL) once, afterwards.

update_in_one_txn() { # DB SQL
	psql -X -q -At -d "$1" -c "BEGIN" -c "$2" -c "SELECT pg_current_wal_insert_lsn() - '0/0'" -c "COMMIT" | tail -n 1
}

wait_versions() { # CH_URL TABLE FLOOR ROWS SECS
	local n i
	for ((i = 0; i < $5 * 20; i++)); do
		n=$(curl -sS "$1/" --data-binary "SELECT count() FROM $2 WHERE _pgch_version >= $3" 2>/dev/null || echo 0)
		[ "${n:-0}" -ge "$4" ] 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
