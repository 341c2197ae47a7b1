#!/usr/bin/env bash
# The binary and text paths write identical values: every type with a binary converter is
# read from PostgreSQL in both forms and converted; the RowBinary must match byte for byte.
. "$(dirname "$0")/lib.sh"
TOOLS=${PGCH_TOOLS:-$ROOT/build/tests}

fresh_dbs
pg <<'SQL'
CREATE EXTENSION IF NOT EXISTS citext;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE v (
  id int PRIMARY KEY, b bool, i2 int2, i4 int4, i8 int8, f4 real, f8 float8, n numeric(20,6), nu numeric,
  t text, vc varchar(9), c char(4), nm name, ci citext, e mood, js json, jb jsonb, by bytea, u uuid, o oid, ch "char",
  d date, ts timestamp, tz timestamptz, ai int[], at text[], an numeric(6,2)[], ad date[]
);
INSERT INTO v VALUES
 (1, true, -7, 2147483647, -9223372036854775808, 1.5, -2.25e-300, 12345678901234.123456, 'NaN',
  E'a\tb\\c"''é', 'x', 'ab', 'nm', 'MiXeD', 'ok', '{"k": [1]}', '{"b": 2, "a": 1}', '\x00ff', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 7, 'z',
  '1999-12-31', '1970-01-01 00:00:00.000001', '2024-06-30 23:59:59.999999+05', '{1,NULL,-3}', '{"a b",NULL,"\"q\""}', '{1.25,NULL}', '{2000-01-01}'),
 (2, false, 0, 0, 0, 'Infinity', 'NaN', -0.000001, 1e-30, '', '', '', '', '', 'sad', 'null', '[]', '\x', '00000000-0000-0000-0000-000000000000', 0, ' ',
  '2105-12-31', '2000-02-29 12:00:00', '1970-01-01 00:00:00+00', '{}', '{}', '{}', '{}'),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, true, 32767, -1, 1, '-Infinity', 1e308, 99999999999999.999999, -12345678901234567890.123456789, repeat('y', 3000), 'abcdefghi', 'abcd', 'n',
  'ÄÖ', 'happy', '"s"', '"s"', decode(repeat('ab', 100), 'hex'), 'ffffffff-ffff-ffff-ffff-ffffffffffff', 4294967295, 'é',
  '1970-01-02', '2105-12-31 23:59:59', '2000-01-01 00:00:00.5+00', '{2147483647}', '{""}', '{-0.01}', '{NULL}');
SQL
write_config "$WORK/c.lua" 'tables = { "public.v" }'
"$TOOLS/convcheck" "$WORK/c.lua"
