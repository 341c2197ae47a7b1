#!/usr/bin/env bash
# The command line: every command has a help page (pgch COMMAND --help, pgch help COMMAND) on
# stdout with exit 0; an option that does not apply to a command, an unknown command or a
# missing CONFIG is one line on stderr and exit 2, before any server is contacted.
. "$(dirname "$0")/lib.sh"

for cmd in check plan snapshot run status verify resync pause resume drop keygen; do
	out=$("$PGCH" "$cmd" --help 2>"$WORK/err")
	st=$?
	is "$st $(head -n 1 <<<"$out" | cut -d' ' -f1-3)" "0 Usage: pgch $cmd" "pgch $cmd --help: its page, exit 0"
	is "$(cat "$WORK/err")" "" "pgch $cmd --help: nothing on stderr"
	is "$("$PGCH" help "$cmd")" "$out" "pgch help $cmd prints the same page"
done
like "$("$PGCH" --help)" 'Commands:' "pgch --help lists the commands"
like "$("$PGCH" snapshot --help)" '--keep-slot' "snapshot's page documents --keep-slot"
# issue 12: the pages of the commands it added or changed
like "$("$PGCH" verify --help)" 'every replicated value' "verify's page: it compares every value"
like "$("$PGCH" verify --help)" 'snapshot of a temporary slot' "verify's page: it may run while the pipe streams"
like "$("$PGCH" verify --help)" '--table T' "verify's page documents --table"
like "$("$PGCH" resync --help)" 'shadow table .*' "resync's page: the copy goes into a shadow table"
like "$("$PGCH" resync --help | tr '\n' ' ')" 'never an +empty table' "resync's page: readers never see an empty table"
like "$("$PGCH" run --help)" 'SIGHUP re-reads CONFIG' "run's page: SIGHUP re-reads the config"

# bad ARGS... REGEX DESCRIPTION: exit 2, one line on stderr, nothing on stdout
bad() {
	local re=${*: -2:1} desc=${*: -1} out st
	out=$("$PGCH" "${@:1:$#-2}" 2>"$WORK/err")
	st=$?
	is "$st" 2 "$desc: exit 2"
	like "$(cat "$WORK/err")" "$re" "$desc: says why"
	is "$(grep -c . "$WORK/err") $out" "1 " "$desc: one line on stderr, nothing on stdout"
}
write_config "$WORK/c.lua" 'tables = { "public.*" }'
bad plan --keep-slot "$WORK/c.lua" '^pgch: error: --keep-slot does not apply to pgch plan' "an option of another command"
bad status --table public.t "$WORK/c.lua" '^pgch: error: --table does not apply to pgch status' "--table outside resync"
bad run --tables "$WORK/c.lua" '^pgch: error: --tables does not apply to pgch run' "--tables outside drop"
bad frobnicate "$WORK/c.lua" '^pgch: error: unknown command "frobnicate"' "an unknown command"
bad help frobnicate '^pgch: error: unknown command "frobnicate"' "help for an unknown command"
bad plan '^pgch: error: plan needs exactly one CONFIG' "a missing CONFIG"
bad plan "$WORK/c.lua" "$WORK/c.lua" '^pgch: error: plan needs exactly one CONFIG' "two CONFIGs"
bad plan --bogus "$WORK/c.lua" "^pgch: error: unknown option or value '--bogus'; try 'pgch --help'" "an unknown long option"
bad -x plan "$WORK/c.lua" "^pgch: error: unknown option '-x'" "an unknown short option"
bad plan --json=yes "$WORK/c.lua" "^pgch: error: unknown option or value '--json=yes'" "a value for an option that takes none"
bad resync "$WORK/c.lua" --table "^pgch: error: --table needs a value" "--table without its value"
bad plan "$WORK" "^pgch: error: $WORK: cannot read the configuration: Is a directory" "a directory for CONFIG"
bad plan "$WORK/nonexistent.lua" "^pgch: error: $WORK/nonexistent.lua: cannot read the configuration: No such file" "a CONFIG that does not exist"
done_testing
