/*
 * Unit tests of the state rows' encoding (state.c): every kind and status survives a round
 * trip through the TabSeparated line written to _pgch_state and read back (with ClickHouse's
 * escaping undone by the same reader pgch uses); the stored part numbers and status words are
 * the ones users' queries rely on; rows written by a pgch older than the typed columns (NULL
 * there, the facts in info) are read correctly, and only those.
 */
#include <stdlib.h>
#include <string.h>

#include "ch.h"
#include "state.h"
#include "tap.h"

/* Encode r, split the line as a loaded answer would be, decode it into out. The INSERT line
 * has pipe first and seq last; a loaded line lacks pipe and has updated_at last. */
static bool round_trip(const StateRecord *r, StateRecord *out, char *fields_text, size_t cap)
{
	Buf line;
	buf_init(&line);
	state_encode(r, "app", 1234, &line);
	snprintf(fields_text, cap, "%s", line.data);
	ChTsv tsv;
	ch_tsv_init(&tsv, &line);
	char *f[20];
	int nf = ch_tsv_next_line(&tsv, f, 20);
	bool ok = nf == 15 && strcmp(f[0], "app") == 0 && state_decode(f + 1, nf - 1, out);
	buf_free(&line);
	return ok;
}

/* The stored fields of an encoded row, split (no unescaping), for checking the contract. */
static int stored_fields(const StateRecord *r, char *text, size_t cap, char **f, int max)
{
	Buf line;
	buf_init(&line);
	state_encode(r, "app", 7, &line);
	snprintf(text, cap, "%s", line.data);
	buf_free(&line);
	int n = 0;
	char *p = text;
	f[n++] = p;
	for (; *p && *p != '\n'; p++)
		if (*p == '\t' && n < max) {
			*p = '\0';
			f[n++] = p + 1;
		}
	*p = '\0';
	return n;
}

static void test_status_words(void)
{
	static const char *const words[] = {"todo",         "copying",   "copied",  "done",      "needs_resync",
					    "resync_requested", "snapshotting", "streaming", "stopped", "forgotten",
					    "paused",       "running"};
	int n = (int)(sizeof words / sizeof words[0]);
	bool all = true;
	for (int i = 0; i < n; i++) {
		StateStatus s = state_status_parse(words[i]);
		all = all && s != STATE_UNKNOWN && strcmp(state_status_name(s), words[i]) == 0;
		if (s == STATE_UNKNOWN || strcmp(state_status_name(s), words[i]) != 0)
			printf("#   %s\n", words[i]);
	}
	ok(all, "every status word parses and names itself back (%d words)", n);
	is_int(state_status_parse("DONE"), STATE_UNKNOWN, "status words are case-sensitive");
	is_int(state_status_parse("something_new"), STATE_UNKNOWN, "a word of a newer pgch is STATE_UNKNOWN");
	is_int(state_status_parse(""), STATE_UNKNOWN, "an empty status is STATE_UNKNOWN");
	is_str(state_status_name((StateStatus)999), "unknown", "an out-of-range status has a name");
}

static void test_kinds_stored(void)
{
	char text[512], *f[20];
	StateRecord r;
	memset(&r, 0, sizeof r);

	r.kind = STATE_PIPE;
	r.status = STATE_SNAPSHOTTING;
	r.table = "ignored";
	r.lsn = 42;
	int n = stored_fields(&r, text, sizeof text, f, 20);
	is_int(n, 15, "a row has 15 fields");
	ok(strcmp(f[1], "") == 0 && strcmp(f[2], "-1") == 0, "pipe row: source_table '' and part -1 (got '%s', %s)", f[1],
	   f[2]);
	is_str(f[7], "snapshotting", "pipe row: its status word");
	is_str(f[9], "42", "pipe row: snapshot_lsn");
	is_str(f[13], "", "pipe row: no endpoint unless given");
	r.endpoint = "http://ch2:8123";
	stored_fields(&r, text, sizeof text, f, 20);
	is_str(f[13], "http://ch2:8123", "pipe row: the stream's endpoint in its own column");

	memset(&r, 0, sizeof r);
	r.kind = STATE_TABLE;
	r.status = STATE_NEEDS_RESYNC;
	r.table = "public.t";
	r.target = "t";
	r.unrepresentable = 5;
	stored_fields(&r, text, sizeof text, f, 20);
	ok(strcmp(f[1], "public.t") == 0 && strcmp(f[2], "-1") == 0, "table row: its name and part -1");
	is_str(f[7], "needs_resync", "table row: its status word");
	is_str(f[12], "5", "table row: unrepresentable in its own column");
	is_str(f[10], "", "table row: nothing in info unless given");

	memset(&r, 0, sizeof r);
	r.kind = STATE_PARTITION;
	r.status = STATE_TODO;
	r.table = "public.t";
	r.part = 3;
	r.leaf = "\"public\".\"t\"";
	r.start = 10;
	r.end = 20;
	stored_fields(&r, text, sizeof text, f, 20);
	ok(strcmp(f[2], "3") == 0 && strcmp(f[5], "10") == 0 && strcmp(f[6], "20") == 0 && strcmp(f[7], "todo") == 0,
	   "partition row: part, range and status");

	memset(&r, 0, sizeof r);
	r.kind = STATE_REQUEST;
	r.status = STATE_PAUSED;
	r.table = "ignored";
	stored_fields(&r, text, sizeof text, f, 20);
	ok(strcmp(f[1], "") == 0 && strcmp(f[2], "-2") == 0 && strcmp(f[7], "paused") == 0,
	   "request row: source_table '', part -2, status paused");
}

static void test_round_trips(void)
{
	char text[512];
	StateRecord in, out;
	memset(&in, 0, sizeof in);
	in.kind = STATE_PARTITION;
	in.status = STATE_DONE;
	in.table = "public.orders";
	in.part = 7;
	in.target = "orders";
	in.leaf = "\"public\".\"orders_2024\"";
	in.start = 4096;
	in.end = 8192;
	in.rows = 123456789012ULL;
	in.lsn = 0x16B374D848ULL;
	bool ok_ = round_trip(&in, &out, text, sizeof text);
	ok(ok_, "a partition row decodes");
	ok(ok_ && out.kind == STATE_PARTITION && out.status == STATE_DONE && out.part == 7 &&
		   strcmp(out.table, in.table) == 0 && strcmp(out.target, in.target) == 0 && strcmp(out.leaf, in.leaf) == 0 &&
		   out.start == 4096 && out.end == 8192 && out.rows == in.rows && out.lsn == in.lsn,
	   "partition row: every field survives the round trip");
	state_record_free(&out);

	memset(&in, 0, sizeof in);
	in.kind = STATE_TABLE;
	in.status = STATE_NEEDS_RESYNC;
	in.table = "we\tird\\name\nhere";
	in.target = "t";
	in.info = "ClickHouse keeps rejecting\tits rows: \\N and a\nnewline";
	in.unrepresentable = 3;
	ok_ = round_trip(&in, &out, text, sizeof text);
	ok(ok_ && out.kind == STATE_TABLE && out.status == STATE_NEEDS_RESYNC && strcmp(out.table, in.table) == 0 &&
		   strcmp(out.info, in.info) == 0 && out.unrepresentable == 3,
	   "table row: tabs, newlines and backslashes in names and info survive");
	state_record_free(&out);

	memset(&in, 0, sizeof in);
	in.kind = STATE_PIPE;
	in.status = STATE_DONE;
	in.slot_kept = true;
	in.lsn = 99;
	in.info = "slot kept";
	ok_ = round_trip(&in, &out, text, sizeof text);
	ok(ok_ && out.kind == STATE_PIPE && out.status == STATE_DONE && out.slot_kept && out.lsn == 99 &&
		   out.table[0] == '\0',
	   "pipe row: done with the slot kept");
	state_record_free(&out);

	in.slot_kept = false;
	in.info = "slot kept"; /* free text: what it says does not count for a typed row */
	ok_ = round_trip(&in, &out, text, sizeof text);
	ok(ok_ && !out.slot_kept, "pipe row: slot_kept comes from its column, not from info");
	state_record_free(&out);

	in.slot_foreign = true; /* a DBA's slot: kept whatever slot_kept says, stored as slot_kept = 2 */
	ok_ = round_trip(&in, &out, text, sizeof text);
	ok(ok_ && out.slot_foreign && out.slot_kept && strstr(text, "\t2\t0\t") != NULL,
	   "pipe row: a slot pgch did not create round-trips as slot_kept = 2 (an older pgch reads it as kept)");
	state_record_free(&out);
	in.slot_foreign = false;

	in.endpoint = "https://ch-2.example:8443/path";
	ok_ = round_trip(&in, &out, text, sizeof text);
	ok(ok_ && strcmp(out.endpoint, in.endpoint) == 0, "pipe row: the stream's endpoint round-trips");
	state_record_free(&out);
	in.endpoint = NULL;

	memset(&in, 0, sizeof in);
	in.kind = STATE_REQUEST;
	in.status = STATE_RUNNING;
	in.info = "pgch resume";
	ok_ = round_trip(&in, &out, text, sizeof text);
	ok(ok_ && out.kind == STATE_REQUEST && out.status == STATE_RUNNING, "request row: resume");
	state_record_free(&out);

	memset(&in, 0, sizeof in);
	in.kind = STATE_TABLE;
	in.status = STATE_COPYING;
	in.table = "public.t";
	in.info = "unrepresentable values: 12";
	in.unrepresentable = 0;
	ok_ = round_trip(&in, &out, text, sizeof text);
	ok(ok_ && out.unrepresentable == 0 && strcmp(out.info, in.info) == 0,
	   "table row: unrepresentable comes from its column; info text stays text");
	state_record_free(&out);
}

/* A loaded line: source_table, part, target, leaf, start, end, status, rows, lsn, info,
 * slot_kept, unrepresentable, endpoint, updated_at. */
static bool decode_line(const char *text, StateRecord *out)
{
	Buf b;
	buf_init(&b);
	buf_puts(&b, text);
	ChTsv tsv;
	ch_tsv_init(&tsv, &b);
	char *f[20];
	int nf = ch_tsv_next_line(&tsv, f, 20);
	bool ok_ = state_decode(f, nf, out);
	buf_free(&b);
	return ok_;
}

static void test_old_rows(void)
{
	StateRecord r;
	/* rows as a pgch before the typed columns wrote them: NULL there (loaded as "") */
	ok(decode_line("\t-1\t\t\t0\t0\tdone\t0\t100\tslot kept\t\t\t\t2026-01-01 00:00:00\n", &r) && r.kind == STATE_PIPE &&
		   r.slot_kept,
	   "an old pipe row's \"slot kept\" reads as slot_kept");
	state_record_free(&r);
	ok(decode_line("\t-1\t\t\t0\t0\tdone\t0\t100\tslot dropped\t\t\t\t2026-01-01 00:00:00\n", &r) && !r.slot_kept,
	   "an old pipe row's \"slot dropped\" reads as not kept");
	state_record_free(&r);
	ok(decode_line("public.t\t-1\tt\t\t0\t0\tcopying\t10\t0\tunrepresentable values: 17\t\t\t\tx\n", &r) &&
		   r.kind == STATE_TABLE && r.unrepresentable == 17 && r.info[0] == '\0',
	   "an old table row's \"unrepresentable values: 17\" reads as 17, and is not left as info");
	state_record_free(&r);
	ok(decode_line("public.t\t-1\tt\t\t0\t0\tcopying\t10\t0\tunrepresentable values: 17\t0\t2\t\tx\n", &r) &&
		   r.unrepresentable == 2 && strcmp(r.info, "unrepresentable values: 17") == 0,
	   "a typed row's unrepresentable column wins over text in info");
	state_record_free(&r);
	ok(decode_line("public.t\t-1\tt\t\t0\t0\tdone\t10\t0\tslot kept\t0\t0\t\tx\n", &r) && !r.slot_kept,
	   "a typed row's slot_kept = 0 wins over text in info");
	state_record_free(&r);
	ok(!decode_line("public.t\t-3\tt\t\t0\t0\tdone\t10\t0\t\t0\t0\t\tx\n", &r), "a part below -2 is not a row this version knows");
	ok(!decode_line("\t-2\tt\t\t0\t0\tpaused\t0\t0\t\t\n", &r), "a line with missing fields is skipped");
	ok(decode_line("\t-2\t\t\t0\t0\tpaused\t0\t0\tpgch pause\t\t\t\tx\n", &r) && r.kind == STATE_REQUEST &&
		   r.status == STATE_PAUSED,
	   "an old pause request reads as a paused request");
	state_record_free(&r);
}

static void test_rows_from_plan(void)
{
	Leaf leaves[1] = {{.qualified = "\"public\".\"t\""}};
	Table t = {.display = "public.t", .target = "t", .leaves = leaves, .nleaves = 1};
	Partition parts[3] = {
		{.table = 0, .number = 0, .rows = 10, .snapshot_lsn = 5, .status = PART_DONE},
		{.table = 1, .number = 0, .rows = 1000, .snapshot_lsn = 99},
		{.table = 0, .number = 1, .rows = 20, .snapshot_lsn = 7, .start = 3, .end = 6},
	};
	Plan plan = {parts, 3};
	StateRecord r;
	state_row_table(&r, &t, 0, &plan, STATE_COPIED, 4);
	ok(r.kind == STATE_TABLE && r.rows == 30 && r.lsn == 7 && r.unrepresentable == 4 && r.status == STATE_COPIED,
	   "a table's row sums its own partitions' rows and takes their newest snapshot");
	state_row_partition(&r, &t, &parts[2], STATE_DONE);
	ok(r.kind == STATE_PARTITION && r.part == 1 && r.start == 3 && r.end == 6 && r.rows == 20 && r.lsn == 7 &&
		   strcmp(r.leaf, "\"public\".\"t\"") == 0,
	   "a partition's row carries its range, leaf, rows and snapshot");
	state_row_pipe(&r, STATE_DONE, 8, true, "slot kept");
	ok(r.kind == STATE_PIPE && r.slot_kept && r.lsn == 8, "the pipe's row");
}

static void test_find(void)
{
	StateRecord rows[4];
	memset(rows, 0, sizeof rows);
	rows[0] = (StateRecord){.kind = STATE_PIPE, .table = "", .status = STATE_STREAMING};
	rows[1] = (StateRecord){.kind = STATE_TABLE, .table = "public.a", .status = STATE_DONE};
	rows[2] = (StateRecord){.kind = STATE_PARTITION, .table = "public.a", .part = 0, .status = STATE_DONE};
	rows[3] = (StateRecord){.kind = STATE_REQUEST, .table = "", .status = STATE_PAUSED};
	State st = {rows, 4};
	ok(state_find(&st, STATE_PIPE, NULL, 0) == &rows[0], "finds the pipe row");
	ok(state_find(&st, STATE_TABLE, "public.a", 0) == &rows[1], "finds a table row");
	ok(state_find(&st, STATE_PARTITION, "public.a", 0) == &rows[2], "finds a partition row");
	ok(state_find(&st, STATE_PARTITION, "public.a", 1) == NULL, "no partition 1");
	ok(state_find(&st, STATE_TABLE, "public.b", 0) == NULL, "no other table");
	ok(state_find(&st, STATE_REQUEST, NULL, 0) == &rows[3], "finds the request row");
}

int main(void)
{
	test_status_words();
	test_kinds_stored();
	test_round_trips();
	test_old_rows();
	test_rows_from_plan();
	test_find();
	return done_testing();
}
