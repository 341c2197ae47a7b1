#!/usr/bin/env bash
# pgch snapshot interrupted (SIGTERM) after some partitions are done, the table changed, then run
# again: the second run resumes with the stored plan (same partitions, same ctid ranges, even
# though a fresh plan would now differ), does not copy the done partitions again, and applies
# the changes made in between from the slot ("catch-up") so the contents end exactly equal.
. "$(dirname "$0")/lib.sh"

fresh_dbs
pg <<'SQL'
CREATE TABLE big (id bigint NOT NULL, v text NOT NULL, n int);
INSERT INTO big SELECT g, md5(g::text), g % 1000 FROM generate_series(1, 400000) g;
ALTER TABLE big ADD PRIMARY KEY (id);
ALTER TABLE big SET (autovacuum_enabled = false);
ANALYZE big;
SQL
write_config "$WORK/r.lua" \
	'pipe = { snapshot = { workers = 2, rows_per_partition = 25000 } }' \
	'tables = { "public.big" }'
STATE="$CHDB._pgch_state FINAL WHERE source_table = 'public.big' AND part >= 0"
parts_tsv() { ch_ok "SELECT part, range_start, range_end, status, rows, snapshot_lsn FROM $STATE ORDER BY part FORMAT TabSeparated"; }
done_count() { ch "SELECT count() FROM $STATE AND status = 'done'" 2>/dev/null; }
two_done() { [ "$(done_count)" -ge 2 ] 2>/dev/null; }

# ---- first run, interrupted once two partitions are done
"$PGCH" snapshot "$WORK/r.lua" 2>"$WORK/run1.log" &
sup=$!
T_PIDS+=("$sup")
poll_until 60 two_done
kill -TERM "$sup"
wait_pid "$sup" 60
is "$WAIT_STATUS" 3 "the interrupted run exits 3 (stopped before the end: not a finished copy)"
log1=$(cat "$WORK/run1.log")
like "$log1" 'snapshot incomplete: [0-9]+ partitions? remain; run the same command again' "it says the snapshot is incomplete"

state1=$(parts_tsv)
total=$(printf '%s\n' "$state1" | grep -c .)
done1=$(printf '%s\n' "$state1" | awk -F'\t' '$4 == "done"' | grep -c .)
ok $((!(total >= 12))) "the plan has many partitions ($total)"
ok $((!(done1 >= 2 && done1 < total))) "some but not all partitions are done ($done1 of $total)"
[ "$done1" -ge 2 ] && [ "$done1" -lt "$total" ] || { diag "$log1"; bail "the first run was not interrupted mid-way"; }
is "$(printf '%s\n' "$state1" | awk -F'\t' '$4 != "done" && $4 != "todo"' | grep -c .)" 0 "the other partitions are recorded to do"
is "$(ch "SELECT status FROM $CHDB._pgch_state FINAL WHERE source_table = '' AND part = -1")" snapshotting "the pipe is recorded as snapshotting"
is "$(pg -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgch_r' AND NOT active")" 1 "the slot is kept for the next run"
v1=$(printf '%s\n' "$state1" | awk -F'\t' '$4 == "done" {print $6}' | sort -u)
is "$(printf '%s\n' "$v1" | grep -c .)" 1 "the done partitions were read under one snapshot"
# The table was loaded in id order, so each done partition's ctid range is an id range. An
# abandoned partition may have left some rows too (an aborted HTTP INSERT is not atomic).
want_done= got_done=
while IFS=$'\t' read -r part start end status rows _; do
	[ "$status" = done ] || continue
	[ "$end" = 0 ] && end=4294967295
	read -r lo hi <<<"$(pg -F ' ' -c "SELECT min(id), max(id) FROM big WHERE ctid >= '($start,0)' AND ctid < '($end,0)'")"
	want_done+="$part:$rows "
	got_done+="$part:$(ch "SELECT count() FROM $CHDB.big WHERE _pgch_version = $v1 - 1 AND id BETWEEN $lo AND $hi") "
done <<<"$state1"
is "$got_done" "$want_done" "ClickHouse holds each done partition's rows once, with the snapshot's version"
todo1=$(printf '%s\n' "$state1" | awk -F'\t' '$4 != "done" {print $1}' | tr '\n' ' ')

# ---- changes between the runs: deletes and updates inside done ranges, many new rows
read -r d_start d_end <<<"$(printf '%s\n' "$state1" | awk -F'\t' '$4 == "done" {print $2, $3; exit}')"
[ "$d_end" = 0 ] && d_end=4294967295
pg <<SQL
DELETE FROM big WHERE ctid >= '($d_start,0)' AND ctid < '($d_end,0)' AND id % 10 = 0;
UPDATE big SET v = 'changed', n = -1 WHERE ctid >= '($d_start,0)' AND ctid < '($d_end,0)' AND id % 10 = 1;
INSERT INTO big SELECT g, md5(g::text), 7 FROM generate_series(400001, 500000) g;
ANALYZE big;
SQL
changed=$(pg -c "SELECT count(*) FROM big WHERE v = 'changed'")
ok $((!(changed > 0))) "set-up: $changed rows of a done partition were updated (and as many deleted)"
fresh=$("$PGCH" plan "$WORK/r.lua" 2>&1 | grep -c '^  partition [0-9]*: "public"."big"')
ok $((!(fresh > total))) "a fresh plan would now have more partitions ($fresh > $total)"

# ---- second run
"$PGCH" snapshot "$WORK/r.lua" 2>"$WORK/run2.log" &
wait_pid $! 120
st2=$WAIT_STATUS
log2=$(cat "$WORK/run2.log")
like "$log2" 'resuming: slot pgch_r is at' "the second run resumes from the kept slot"
like "$log2" "copying 1 table in $total partitions \\($((total - done1)) to do\\)" "it uses the stored plan and has $((total - done1)) partitions to do"
copied2=$(printf '%s\n' "$log2" | sed -n 's/.*public\.big partition \([0-9]*\) ([0-9]*\/[0-9]*): .*/\1/p' | sort -n | tr '\n' ' ')
is "$copied2" "$todo1" "it copies exactly the partitions not done before"

state2=$(parts_tsv)
is "$(printf '%s\n' "$state2" | cut -f1-3)" "$(printf '%s\n' "$state1" | cut -f1-3)" "the partition ranges are the same as in the first run"
is "$(printf '%s\n' "$state2" | awk -F'\t' '$4 == "done"' | grep -c .)" "$total" "every partition is done"
is "$(printf '%s\n' "$state2" | awk -F'\t' -v v="$v1" '$6 == v {print $1}' | tr '\n' ' ')" \
	"$(printf '%s\n' "$state1" | awk -F'\t' '$4 == "done" {print $1}' | tr '\n' ' ')" \
	"the partitions done by the first run keep its snapshot (they were not copied again)"
# rows per later snapshot version equal what that snapshot's partitions recorded: a done
# partition copied again would add rows under a later snapshot's version
per_version=$(printf '%s\n' "$state2" | awk -F'\t' -v v1="$v1" '$6 != v1 {s[$6] += $5} END {for (v in s) print v "\t" s[v]}' | sort)
versions=$(printf '%s\n' "$per_version" | cut -f1 | paste -sd, -)
got=$(ch_ok "SELECT toString(_pgch_version + 1) AS v, count() FROM $CHDB.big WHERE _pgch_version + 1 IN ($versions) GROUP BY v ORDER BY v FORMAT TabSeparated")
is "$got" "$per_version" "ClickHouse rows per later snapshot version equal the rows recorded for its partitions"

is "$st2" 0 "the second run exits 0"
[ "$st2" = 0 ] || diag "$(printf '%s\n' "$log2" | grep -E 'error|warning' | head -5)"
want=$(pg -c "SELECT count(*) FROM big")
is "$(ch "SELECT count() FROM $CHDB.big FINAL WHERE _pgch_is_deleted = 0")" "$want" "row count equals PostgreSQL's ($want)"
is "$(ch "SELECT sum(id) FROM $CHDB.big FINAL WHERE _pgch_is_deleted = 0")" "$(pg -c "SELECT sum(id) FROM big")" "sum of ids equals PostgreSQL's"
same_rows "SELECT count(*), sum(n), sum(length(v)), count(*) FILTER (WHERE v = 'changed') FROM big" \
	"SELECT count(), sum(n), sum(length(v)), countIf(v = 'changed') FROM $CHDB.big FINAL WHERE _pgch_is_deleted = 0" \
	"column sums (including the updated and deleted rows) equal PostgreSQL's"
same_rows "SELECT id, v, n FROM big WHERE id % 10 = 1 AND v = 'changed' ORDER BY id LIMIT 50" \
	"SELECT id, v, n FROM $CHDB.big FINAL WHERE _pgch_is_deleted = 0 AND id % 10 = 1 AND v = 'changed' ORDER BY id LIMIT 50" \
	"rows updated between the runs have their new values"
is "$(ch "SELECT status FROM $CHDB._pgch_state FINAL WHERE source_table = '' AND part = -1")" done "the pipe is recorded done"
is "$(pg -c "SELECT count(*) FROM pg_replication_slots WHERE database = '$DB'")" 0 "no replication slot is left"
pg -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '$DB' AND NOT active" >/dev/null
done_testing
