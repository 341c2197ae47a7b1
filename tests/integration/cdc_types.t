#!/usr/bin/env bash
# Every type of ARCHITECTURE.md, "Types" through the stream: rows inserted after the snapshot, updated to
# other values (NULLs, empty values, extremes) and back, deleted and inserted again, read back
# from ClickHouse value by value after each step. Twice: a table with types that have no
# binary decoder (the whole stream then travels as text) and a table of only binary-capable
# types (pgoutput's binary mode), so both decoding paths are covered.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"

fresh_dbs
# src holds the values (the rows of snapshot_types.t); it is not replicated.
COLUMNS='
  id int PRIMARY KEY,
  b bool, i2 int2, i4 int4, i8 int8, f4 real, f8 double precision,
  n numeric(12,4), n38 numeric(38,10), n60 numeric(60,10), nu numeric,
  t text, vc varchar(20), ch char(5), nm name, ci citext, js json, jb jsonb,
  by bytea, u uuid, d date, d_old date, ts timestamp, tstz timestamptz, tm time, ttz timetz, iv interval,
  e mood, dom posint, ip inet, cid cidr, mac macaddr, mo money, pt point, tsv tsvector, r int4range,
  hs hstore, comp pair, oid_col oid, ch1 "char",
  ai int[], at text[], ad date[], an numeric(10,2)[], a2 int[][]
'
pg <<'SQL'
CREATE EXTENSION IF NOT EXISTS hstore;
CREATE EXTENSION IF NOT EXISTS citext;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE pair AS (a int, b text);
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
SQL
# (written out twice, not LIKE: LIKE loses a2's declared dimensions)
pg -c "CREATE TABLE src ($COLUMNS)" -c "CREATE TABLE every_type ($COLUMNS)"
pg <<'SQL'
INSERT INTO src VALUES
(1, true, 1, 2, 3, 1.5, 2.5, 123.4500, 1234567890123456789012345678.0123456789, 12345678901234567890123456789012345678901234567890.0123456789,
 3.14159265358979323846264338327950288419716939937510,
 E'tab\there\nnew "quote" \\back\\ ''single''', 'varchar', 'ab', 'name', 'CiText', '{"a": [1, "x"]}', '{"b": {"c": null}}',
 '\x00ff00'::bytea, '6ba7b810-9dad-11d1-80b4-00c04fd430c8', '2024-02-29', '1812-06-24', '2024-01-02 03:04:05.678901', '1999-12-31 23:59:59.5+02',
 '13:14:15.5', '13:14:15+05', '1 year 2 mons 3 days 04:05:06.7', 'happy', 7, '10.0.0.1', '10.0.0.0/8', '08:00:2b:01:02:03', 12.34,
 '(1.5,2)', 'a fat cat', '[1,5)', 'k=>v, "x y"=>NULL', '(1,"two")', 4000000000, 'x',
 '{1,NULL,3}', '{"a,b","",NULL,"NULL","é"}', '{2024-01-01,NULL}', '{1.50,NULL}', '{{1,2},{3,4}}'),
(2, false, -32768, -2147483648, -9223372036854775808, 'NaN', '-Infinity',
 -99999999.9999, -0.0000000001, 0, 'NaN',
 '', '', '', '', '', 'null', '[]',
 '\x'::bytea, '00000000-0000-0000-0000-000000000000', '1970-01-01', '0044-03-15 BC', '1900-01-01 00:00:00', '0001-01-01 00:00:00+00 BC',
 '00:00:00', '00:00:00-11', '-1 days', 'sad', 1, '::1', '::/0', 'ff:ff:ff:ff:ff:ff', -0.01,
 '(0,0)', '', 'empty', '', '(,)', 0, ' ',
 '{}', '{}', '{}', '{}', '{}'),
(3, NULL, NULL, NULL, NULL, 'Infinity', 'NaN', NULL, NULL, NULL, NULL,
 NULL, NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, NULL, NULL, NULL, NULL),
(4, true, 32767, 2147483647, 9223372036854775807, 3.4028235e38, 1.7976931348623157e308,
 99999999.9999, 9999999999999999999999999999.9999999999, -1.5, -123456789012345678901234567890.123456789012345678901234567890,
 repeat('long ', 2000), 'x', 'abcde', repeat('n', 63), 'ÄÖÜ', '"just a string"', '123',
 decode(repeat('00', 300), 'hex'), 'ffffffff-ffff-ffff-ffff-ffffffffffff', '2105-12-31', '1969-12-31', '294276-12-31 23:59:59.999999', 'infinity',
 '24:00:00', '23:59:59.999999+14', '178000000 years', 'ok', 2147483647, '192.168.0.1/24', '192.168.0.0/24', '00:00:00:00:00:00', 0,
 '(-1e300,1e-300)', 'x:1A y:2B', '(,)', 'a=>b', '(,)', 1, 'é',
 '{-1}', '{"\"back\\slash\""}', '{1970-01-01}', '{-0.01}', '{{NULL}}');
-- only the types pgoutput can send in binary (no text-only type, no 2-D array)
CREATE TABLE bin_type AS SELECT id, b, i2, i4, i8, f4, f8, n, n38, n60, nu, t, vc, ch, nm, ci, js, jb, by, u, d, d_old,
  ts, tstz, e, dom, oid_col, ch1, ai, at, ad, an FROM src WITH NO DATA;
ALTER TABLE bin_type ADD PRIMARY KEY (id);
-- id 100 is copied by the snapshot, then changed by the stream
INSERT INTO every_type SELECT * FROM src WHERE id = 1;
UPDATE every_type SET id = 100;
INSERT INTO bin_type SELECT id, b, i2, i4, i8, f4, f8, n, n38, n60, nu, t, vc, ch, nm, ci, js, jb, by, u, d, d_old,
  ts, tstz, e, dom, oid_col, ch1, ai, at, ad, an FROM every_type;
-- which source row each row takes its values from, per step
CREATE TABLE step (name text, id int, from_id int);
INSERT INTO step VALUES ('rotate', 1, 2), ('rotate', 2, 3), ('rotate', 3, 4), ('rotate', 4, 1), ('rotate', 100, 3),
  ('back', 1, 1), ('back', 2, 2), ('back', 3, 3), ('back', 4, 4), ('back', 100, 1);
SQL

# Each check: a PostgreSQL expression and a ClickHouse expression that print the same text
# (no tabs or newlines: text is compared as hex). check_all reads all of them in one query
# per side, then compares column by column.
check() { # check COLUMN PG_EXPR CH_EXPR
	has_col "$1" || return 0
	C_NAMES+=("$1")
	C_PG+=("$2")
	C_CH+=("$3")
}
has_col() { [[ " $COLS " == *" $1 "* ]]; }
hexpg() { echo "CASE WHEN num_nulls($1) = 0 THEN encode(convert_to(format('%s', $1), 'UTF8'), 'hex') END"; }
hexch() { echo "lower(hex($1))"; }
compare_checks() {
	local pgq="SELECT id" chq="SELECT id" i want got w g
	for i in "${!C_NAMES[@]}"; do
		pgq="$pgq, ${C_PG[$i]}"
		chq="$chq, ${C_CH[$i]}"
	done
	want=$(pg_tsv "$pgq FROM $TBL ORDER BY id") || { ok 1 "$TBL $PHASE: PostgreSQL query failed"; return; }
	got=$(ch_ok "$chq FROM $CHDB.$TBL FINAL WHERE _pgch_is_deleted = 0 ORDER BY id FORMAT TabSeparated") ||
		{ ok 1 "$TBL $PHASE: ClickHouse query failed"; return; }
	[ -n "$want" ] || { ok 1 "$TBL $PHASE: no rows to compare"; return; }
	# split both answers into fields without forking (tab is whitespace to read: use \x1f)
	local -a W G wf gf
	local r line us=$'\x1f'
	mapfile -t W <<<"$want"
	mapfile -t G <<<"$got"
	local -A WC GC
	for r in "${!W[@]}"; do
		line=${W[$r]}
		IFS=$us read -r -a wf <<<"${line//$'\t'/$us}$us"
		for i in "${!C_NAMES[@]}"; do WC[$i]+="${wf[0]}	${wf[$((i + 1))]}"$'\n'; done
	done
	for r in "${!G[@]}"; do
		line=${G[$r]}
		IFS=$us read -r -a gf <<<"${line//$'\t'/$us}$us"
		for i in "${!C_NAMES[@]}"; do GC[$i]+="${gf[0]}	${gf[$((i + 1))]}"$'\n'; done
	done
	for i in "${!C_NAMES[@]}"; do
		if [ "${WC[$i]}" = "${GC[$i]}" ]; then ok 0 "$TBL $PHASE: column ${C_NAMES[$i]}"; else
			ok 1 "$TBL $PHASE: column ${C_NAMES[$i]}"
			diff <(printf '%s' "${WC[$i]}") <(printf '%s' "${GC[$i]}") | head -20 | sed 's/^/# /'
		fi
	done
}

check_all() {
	PHASE=$1
	C_NAMES=() C_PG=() C_CH=()
	check b "b::int" "b"
	check i2 "i2" "i2"
	check i4 "i4" "i4"
	check i8 "i8" "i8"
	check f4 "encode(float4send(f4), 'hex')" "lower(hex(reverse(reinterpretAsString(f4))))"
	check f8 "encode(float8send(f8), 'hex')" "lower(hex(reverse(reinterpretAsString(f8))))"
	check n "n" "toString(n)"
	check n38 "n38" "n38" # (18.16's toString of a wide Decimal128 is broken; its TSV output is not)
	for c in n60 nu t vc ch nm ci js jb ts tstz tm ttz iv e ip cid mac mo pt tsv r hs comp ch1 a2 d_old; do
		check "$c" "$(hexpg "$c")" "$(hexch "$c")"
	done
	check dom "dom" "dom"
	check oid_col "oid_col" "oid_col"
	check by "encode(by, 'hex')" "lower(hex(by))"
	check u "u" "toString(u)"
	check d "d - date '1970-01-01'" "toInt32(d)" # days: 18.16 prints day 0 as 0000-00-00
	check ai "'[' || coalesce(array_to_string(ai, ',', 'NULL'), '') || ']'" "toString(ai)"
	check at "coalesce((SELECT string_agg(coalesce(encode(convert_to(x, 'UTF8'), 'hex'), 'N'), ',' ORDER BY o) FROM unnest(at) WITH ORDINALITY AS u(x, o)), '')" \
		"arrayStringConcat(arrayMap(x -> ifNull(lower(hex(x)), 'N'), at), ',')"
	check ad "'[' || coalesce(array_to_string(array(SELECT coalesce((x - date '1970-01-01')::text, 'NULL') FROM unnest(ad) WITH ORDINALITY AS u(x, o) ORDER BY o), ','), '') || ']'" \
		"toString(arrayMap(x -> toInt32(x), ad))"
	check an "'[' || coalesce(array_to_string(an, ',', 'NULL'), '') || ']'" "toString(an)"
	compare_checks
}

# the rows' identity and a few distinguishing values: what to wait for after each step
wait_rows() {
	wait_same 60 "SELECT id, i4, i8, md5(t) FROM $TBL ORDER BY id" \
		"SELECT id, i4, i8, lower(hex(MD5(t))) FROM $CHDB.$TBL FINAL WHERE _pgch_is_deleted = 0 ORDER BY id" \
		"$TBL $1: the changes reached ClickHouse"
}

apply_step() { # apply_step NAME: set every non-key column of each row from its source row
	pg -c "UPDATE $TBL t SET ($COLLIST) = (SELECT $COLLIST FROM src s WHERE s.id = m.from_id) FROM step m WHERE m.name = '$1' AND m.id = t.id"
	is "$(pg -c "SELECT count(*) FROM $TBL t JOIN step m ON m.id = t.id AND m.name = '$1' JOIN src s ON s.id = m.from_id WHERE t.i8 IS NOT DISTINCT FROM s.i8 AND t.t IS NOT DISTINCT FROM s.t")" \
		"$(pg -c "SELECT count(*) FROM $TBL")" "$TBL $1: every row changed in PostgreSQL"
}

for TBL in every_type bin_type; do
	COLS=$(pg -c "SELECT string_agg(attname, ' ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = '$TBL'::regclass AND attnum > 0 AND NOT attisdropped")
	COLLIST=$(pg -c "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = '$TBL'::regclass AND attnum > 1 AND NOT attisdropped")
	RUN_LOG=$WORK/run_$TBL.log
	write_config "$WORK/$TBL.lua" "pipe = { name = \"${DB}_$TBL\", sync_interval = 1 }" \
		"tables = { { \"public.$TBL\", types = { d_old = \"String\" } } }"
	run_start "$WORK/$TBL.lua"
	wait_streaming
	if [ "$TBL" = every_type ]; then mode=text; else mode=binary; fi
	ok "$(log_has "streaming from slot .*\($mode values\)"; echo $?)" "$TBL streams $mode values"
	is "$(ch "SELECT count() FROM $CHDB.$TBL FINAL WHERE _pgch_is_deleted = 0")" 1 "$TBL: the snapshot copied its one row"

	# inserts of every value
	pg -c "INSERT INTO $TBL SELECT ${COLS// /, } FROM src"
	wait_rows "inserts"
	check_all "after inserts"

	# every row takes another row's values: NULLs over values, values over NULLs, extremes
	apply_step rotate
	wait_rows "updates"
	check_all "after updates"

	# and back (id 100 back to the snapshot's values)
	apply_step back
	wait_rows "updates back"
	check_all "after updates back"

	# deletes, one row inserted again under a deleted key
	pg -c "DELETE FROM $TBL WHERE id IN (2, 4)"
	pg -c "INSERT INTO $TBL SELECT ${COLS// /, } FROM src WHERE id = 4"
	is "$(pg -c "SELECT string_agg(id::text, ',' ORDER BY id) FROM $TBL")" "1,3,4,100" "$TBL: rows 2 and 4 deleted, 4 inserted again in PostgreSQL"
	wait_rows "deletes"
	check_all "after deletes"
	is "$(ch "SELECT count() FROM $CHDB.$TBL FINAL WHERE _pgch_is_deleted = 1")" 1 "$TBL: the deleted row 2 is a delete row in ClickHouse"
	run_stop
done
done_testing
