#!/usr/bin/env bash
# The data-modelling hook on_table(t) and the built-in pgch.* helpers (lua/pgch.lua): what a
# hook changes reaches ClickHouse (types, ORDER BY, PARTITION BY, target, statements after
# CREATE TABLE, live views over renamed pgch columns), the rows read back equal PostgreSQL's,
# and each mistake in a hook is one error line with the config's line, exit non-zero, nothing
# created.
. "$(dirname "$0")/lib.sh"

fresh_dbs
pg <<'SQL'
CREATE TABLE h1 (id int PRIMARY KEY, grp int NOT NULL, amount numeric(12,2), note text);
-- ordering by grp, which is not in the key, is safe only when UPDATEs carry the old row
ALTER TABLE h1 REPLICA IDENTITY FULL;
INSERT INTO h1 SELECT g, g % 7, g * 1.25, 'n' || g FROM generate_series(1, 5000) g;
CREATE TABLE h2 (id bigint PRIMARY KEY, v text);
INSERT INTO h2 SELECT g, md5(g::text) FROM generate_series(1, 300) g;
DELETE FROM h2 WHERE id > 250;
SQL

# ---------------------------------------------------------------- a hook that works
write_config "$WORK/hk.lua" \
	'destination.columns = { is_deleted = "_deleted" }' \
	'tables = { "public.h1", "public.h2" }' \
	'function on_table(t)' \
	'  assert(t.is_deleted_column == "_deleted" and t.version_column == "_pgch_version")' \
	'  if t.source == "public.h1" then' \
	'    pgch.set_type(t, "amount", "Nullable(String)")' \
	'    t.order_by = { "grp", "id" }' \
	'    t.partition_by = "grp"' \
	'    pgch.live_view(t)' \
	'    table.insert(t.after, ("CREATE VIEW IF NOT EXISTS %s.h1_groups AS SELECT grp, count() AS n FROM %s.%s FINAL GROUP BY grp")' \
	'      :format(pgch.ident(t.database), pgch.ident(t.database), pgch.ident(t.target)))' \
	'  else' \
	'    t.target = "h2_renamed"' \
	'    pgch.live_view(t, "h2 current")' \
	'    return { target = t.target, after = t.after }' \
	'  end' \
	'end'

plan=$("$PGCH" plan "$WORK/hk.lua" 2>&1)
ok $? "plan with the hook exits 0"
[ $? = 0 ] || diag "$plan"
like "$plan" 'PARTITION BY grp'$'\n''ORDER BY \(`grp`, `id`\)' "the plan shows the hook's ORDER BY and PARTITION BY"
like "$plan" 'CREATE VIEW IF NOT EXISTS `t_hooks`.`h1_live` AS SELECT \* FROM `t_hooks`.`h1` FINAL WHERE `_deleted` = 0' \
	"the plan shows pgch.live_view's statement, over the renamed is_deleted column"
like "$plan" 'public\.h2 -> [^ ]*h2_renamed' "a returned table replaces the argument (target h2_renamed)"

out=$("$PGCH" snapshot "$WORK/hk.lua" 2>&1)
st=$?
is "$st" 0 "snapshot with the hook exits 0"
[ "$st" = 0 ] || diag "$out"
is "$(ch "SELECT type FROM system.columns WHERE database = '$CHDB' AND table = 'h1' AND name = 'amount'")" "Nullable(String)" \
	"pgch.set_type: h1.amount is a Nullable(String)"
like "$(ch "SHOW CREATE TABLE $CHDB.h1")" 'PARTITION BY grp ORDER BY \(grp, id\)' "h1 is partitioned and ordered as the hook says"
same_rows "SELECT id, grp, amount, note FROM h1 ORDER BY id" \
	"SELECT id, grp, amount, note FROM $CHDB.h1_live ORDER BY id" "h1_live equals PostgreSQL's h1, amounts in their text form"
same_rows "SELECT grp, count(*) FROM h1 GROUP BY grp ORDER BY grp" \
	"SELECT grp, n FROM $CHDB.h1_groups ORDER BY grp" "the hook's own after statement made h1_groups, which counts like PostgreSQL"
same_rows "SELECT id, v FROM h2 ORDER BY id" \
	"SELECT id, v FROM $CHDB.\`h2 current\` ORDER BY id" "the view named by pgch.live_view(t, \"h2 current\") reads h2_renamed's rows"
is "$(ch "SELECT count() FROM system.tables WHERE database = '$CHDB' AND name = 'h2'")" 0 "no table under h2's own name"

# ---------------------------------------------------------------- mistakes in hooks
fresh_dbs
pg -c "CREATE TABLE h1 (id int PRIMARY KEY, grp int NOT NULL, note text)" >/dev/null
# hookbad EXIT REGEX DESCRIPTION LUA-LINES...: plan and snapshot fail with one line, nothing created
hookbad() {
	local want_st=$1 re=$2 desc=$3 cmd st err
	shift 3
	write_config "$WORK/bad.lua" 'tables = { "public.h1" }' "$@"
	for cmd in plan snapshot; do
		"$PGCH" "$cmd" "$WORK/bad.lua" >"$WORK/out" 2>"$WORK/err"
		st=$?
		err=$(cat "$WORK/err")
		is "$st" "$want_st" "$desc: $cmd exits $want_st"
		like "$err" "$re" "$desc: $cmd says so"
		is "$(grep -c . "$WORK/err")" 1 "$desc: $cmd writes one line"
	done
	is "$(ch "SELECT count() FROM system.databases WHERE name = '$CHDB'") $(pg -F ' ' -c "SELECT (SELECT count(*) FROM pg_publication), (SELECT count(*) FROM pg_replication_slots WHERE database = '$DB')")" \
		"0 0 0" "$desc: nothing created"
}
# write_config and hookbad write three lines before the caller's, so those start at line 4
hookbad 2 'bad\.lua:6: public\.h1 has no replicated column "nope" \(its columns: id, grp, note\)' \
	"pgch.column of a column that does not exist" \
	'function on_table(t)' '  local keep = 1' '  pgch.set_type(t, "nope", "String")' 'end'
hookbad 2 'on_table\(public\.h1\): column grp: ch_type "Date"' \
	"a ch_type the column's values cannot be written as" \
	'function on_table(t) pgch.column(t, "grp").ch_type = "Date" end'
hookbad 2 'on_table\(public\.h1\): column grp: ch_type must be a string such as "String", got number' \
	"a ch_type that is not a string" \
	'function on_table(t) pgch.column(t, "grp").ch_type = 5 end'
hookbad 2 'on_table\(public\.h1\): t\.columns must stay the list of columns' \
	"t.columns replaced by something else" \
	'function on_table(t) t.columns = "none" end'
hookbad 2 'on_table\(public\.h1\): t\.partition is not a field pgch reads' \
	"a misspelt field" \
	'function on_table(t) t.partition = "grp" end'
hookbad 2 'on_table\(public\.h1\): t\.database is read-only' \
	"a read-only field changed" \
	'function on_table(t) t.database = "elsewhere" end'
hookbad 2 'public\.h1.*(ORDER BY|order_by).*id' \
	"an ORDER BY that leaves out the primary key" \
	'function on_table(t) t.order_by = { "grp" } end'
hookbad 2 'bad\.lua:5: attempt to index a nil value' \
	"a Lua error in the hook names its line" \
	'function on_table(t)' '  local x = t.nothing.field' 'end'
done_testing
