#!/usr/bin/env bash
# wide.sh — SQL for a wide table of mixed column types, as real users have (issue 7):
#
#   scripts/wide.sh TABLE ROWS | psql ...
#   scripts/wide.sh --check pg|ch     the select list that checks a copy (see below)
#
# TABLE gets `id int PRIMARY KEY` and 63 more columns, seven each of int, bigint,
# numeric(14,2), date, timestamp, text, boolean, double precision and varchar(40), about a
# tenth of each column NULL, filled with ROWS rows by generate_series and analysed. The
# values are deterministic, so two runs make the same table. Used by tests and by bench.
#
# --check prints, for PostgreSQL or ClickHouse, a select list over such a table: the row
# count, then per column its non-NULL count and a sum (the value; days for dates; 7 x the
# value, rounded, for doubles, whose sums could differ in the last bit by summing order;
# byte length for text and timestamps, which ClickHouse 18.16 holds as PostgreSQL's text).
# Equal answers from both sides mean an equal copy, as far as aggregates can tell.
set -euo pipefail
types=("int" "bigint" "numeric(14,2)" "date" "timestamp" "text" "boolean" "double precision" "varchar(40)")
if [ "${1:-}" = --check ]; then
	side=${2:?usage: wide.sh --check pg|ch}
	list="count(*)"
	[ "$side" = ch ] && list="count()"
	for k in $(seq 1 63); do
		case $side:${types[$(((k - 1) % 9))]} in
		*:int | *:bigint | *:numeric*) e="sum(c$k)" ;;
		pg:date) e="sum(c$k - date '1970-01-01')" ;;
		ch:date) e="sum(toUInt32(c$k))" ;;
		pg:boolean) e="sum(c$k::int)" ;;
		ch:boolean) e="sum(c$k)" ;;
		pg:double*) e="sum(round((c$k * 7)::numeric))" ;;
		ch:double*) e="sum(toInt64(round(c$k * 7)))" ;;
		pg:*) e="sum(octet_length(c$k::text))" ;;
		ch:*) e="sum(length(c$k))" ;;
		esac
		list="$list, count(c$k), $e"
	done
	echo "$list"
	exit 0
fi
t=${1:?usage: wide.sh TABLE ROWS}
n=${2:?usage: wide.sh TABLE ROWS}
cols="id int PRIMARY KEY"
vals="g"
for k in $(seq 1 63); do
	ty=${types[$(((k - 1) % 9))]}
	case $ty in
	int) v="(g * $k) % 100000" ;;
	bigint) v="g::bigint * 1000003 + $k" ;;
	numeric*) v="((g * $k) % 1000000) / 100.0" ;;
	date) v="date '2000-01-01' + (g + $k) % 9000" ;;
	timestamp) v="timestamp '2020-01-01' + ((g * 7 + $k) % 100000000) * interval '1 second'" ;;
	text) v="'text value ' || g || ' of column $k'" ;;
	boolean) v="(g + $k) % 3 = 0" ;;
	double*) v="(g * $k) / 7.0" ;;
	varchar*) v="'v' || md5((g + $k)::text)" ;;
	esac
	cols="$cols, c$k $ty"
	vals="$vals, CASE WHEN (g + $k) % 10 = 0 THEN NULL ELSE $v END"
done
echo "CREATE TABLE $t ($cols);"
echo "INSERT INTO $t SELECT $vals FROM generate_series(1, $n) g;"
echo "ANALYZE $t;"
