/*
 * Unit tests of the pgoutput decoder and replication framing: every message type, both
 * value kinds in one tuple, and malformed input (every truncation of every message, bad
 * kinds, negative and oversized lengths) rejected with a reason instead of read past.
 */
#include <stdint.h>
#include <stdlib.h>

#include "buf.h"
#include "pgoutput.h"
#include "tap.h"

static PgoDecoder dec;
static char *copies[64];
static int ncopies;

static void be16(Buf *b, uint16_t v)
{
	buf_put_u8(b, (uint8_t)(v >> 8));
	buf_put_u8(b, (uint8_t)v);
}
static void be32(Buf *b, uint32_t v)
{
	be16(b, (uint16_t)(v >> 16));
	be16(b, (uint16_t)v);
}
static void be64(Buf *b, uint64_t v)
{
	be32(b, (uint32_t)(v >> 32));
	be32(b, (uint32_t)v);
}
static void cstr(Buf *b, const char *s)
{
	buf_put(b, s, strlen(s) + 1);
}

static void msg_begin(Buf *b)
{
	buf_put_u8(b, 'B');
	be64(b, 0x16B3748);
	be64(b, 123456);
	be32(b, 777);
}
static void msg_commit(Buf *b)
{
	buf_put_u8(b, 'C');
	buf_put_u8(b, 0);
	be64(b, 0x16B3748);
	be64(b, 0x16B3778);
	be64(b, 123456);
}
static void msg_relation(Buf *b)
{
	buf_put_u8(b, 'R');
	be32(b, 16384);
	cstr(b, "public");
	cstr(b, "t");
	buf_put_u8(b, 'd');
	be16(b, 2);
	buf_put_u8(b, 1);
	cstr(b, "id");
	be32(b, 23);
	be32(b, 0xffffffff);
	buf_put_u8(b, 0);
	cstr(b, "body");
	be32(b, 25);
	be32(b, 0xffffffff);
}
static void tuple(Buf *b)
{
	be16(b, 4);
	buf_put_u8(b, 'b');
	be32(b, 4);
	be32(b, 42);
	buf_put_u8(b, 't');
	be32(b, 3);
	buf_put(b, "abc", 3);
	buf_put_u8(b, 'n');
	buf_put_u8(b, 'u');
}
static void msg_insert(Buf *b)
{
	buf_put_u8(b, 'I');
	be32(b, 16384);
	buf_put_u8(b, 'N');
	tuple(b);
}
static void msg_update(Buf *b)
{
	buf_put_u8(b, 'U');
	be32(b, 16384);
	buf_put_u8(b, 'K');
	tuple(b);
	buf_put_u8(b, 'N');
	tuple(b);
}
static void msg_delete(Buf *b)
{
	buf_put_u8(b, 'D');
	be32(b, 16384);
	buf_put_u8(b, 'O');
	tuple(b);
}
static void msg_truncate(Buf *b)
{
	buf_put_u8(b, 'T');
	be32(b, 2);
	buf_put_u8(b, 1);
	be32(b, 16384);
	be32(b, 16390);
}
static void msg_message(Buf *b)
{
	buf_put_u8(b, 'M');
	buf_put_u8(b, 0);
	be64(b, 99);
	cstr(b, "pgch_heartbeat");
	be32(b, 2);
	buf_put(b, "hi", 2);
}
static void msg_origin(Buf *b)
{
	buf_put_u8(b, 'O');
	be64(b, 5);
	cstr(b, "node1");
}
static void msg_type(Buf *b)
{
	buf_put_u8(b, 'Y');
	be32(b, 50000);
	cstr(b, "public");
	cstr(b, "mood");
}

typedef void (*Builder)(Buf *);

static bool decode(Builder f, PgoMsg *m, char *err, size_t errlen)
{
	Buf b;
	buf_init(&b);
	f(&b);
	/* decode from an exact-size heap copy so any over-read is caught by ASan */
	char *copy = xmalloc(b.len);
	memcpy(copy, b.data, b.len);
	bool ok = pgo_decode(&dec, copy, b.len, m, err, errlen);
	copies[ncopies++] = copy; /* results point into it: freed at the end */
	buf_free(&b);
	return ok;
}

static void test_messages(void)
{
	PgoMsg m;
	char err[256];
	ok(decode(msg_begin, &m, err, sizeof err) && m.type == 'B' && m.final_lsn == 0x16B3748 && m.xid == 777, "Begin");
	ok(decode(msg_commit, &m, err, sizeof err) && m.commit_lsn == 0x16B3748 && m.end_lsn == 0x16B3778, "Commit");
	ok(decode(msg_relation, &m, err, sizeof err) && m.relid == 16384 && m.ncols == 2 && m.columns[0].key &&
		   !m.columns[1].key && strcmp(m.columns[1].name, "body") == 0 && m.columns[1].type_oid == 25 &&
		   m.columns[0].typmod == -1 && strcmp(m.relname, "t") == 0 && m.replident == 'd',
	   "Relation with key flag, names, types");
	ok(decode(msg_insert, &m, err, sizeof err) && m.new_tuple.ncols == 4 && m.new_tuple.cols[0].kind == 'b' &&
		   m.new_tuple.cols[0].len == 4 && m.new_tuple.cols[1].kind == 't' &&
		   memcmp(m.new_tuple.cols[1].data, "abc", 3) == 0 && m.new_tuple.cols[2].kind == 'n' &&
		   m.new_tuple.cols[3].kind == 'u',
	   "Insert with binary, text, null and unchanged values in one tuple");
	ok(decode(msg_update, &m, err, sizeof err) && m.old_kind == 'K' && m.old_tuple.ncols == 4 && m.new_tuple.ncols == 4,
	   "Update with key tuple");
	ok(decode(msg_delete, &m, err, sizeof err) && m.old_kind == 'O' && m.old_tuple.ncols == 4, "Delete with old tuple");
	ok(decode(msg_truncate, &m, err, sizeof err) && m.nrelids == 2 && pgo_truncate_relid(&m, 1) == 16390 &&
		   m.truncate_options == 1,
	   "Truncate of two relations");
	ok(decode(msg_message, &m, err, sizeof err) && !m.transactional && m.content_len == 2 &&
		   strcmp(m.prefix, "pgch_heartbeat") == 0,
	   "logical decoding Message");
	ok(decode(msg_origin, &m, err, sizeof err) && strcmp(m.origin, "node1") == 0, "Origin");
	ok(decode(msg_type, &m, err, sizeof err) && strcmp(m.type_name, "mood") == 0, "Type");
}

/* Every proper prefix of every message must be rejected, never read past. */
static void test_truncations(void)
{
	Builder all[] = {msg_begin, msg_commit, msg_relation, msg_insert, msg_update, msg_delete,
			 msg_truncate, msg_message, msg_origin, msg_type};
	int rejected = 0, total = 0;
	for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) {
		Buf b;
		buf_init(&b);
		all[k](&b);
		for (size_t n = 0; n < b.len; n++) {
			char *copy = xmalloc(n ? n : 1);
			memcpy(copy, b.data, n);
			PgoMsg m;
			char err[256];
			total++;
			rejected += !pgo_decode(&dec, copy, n, &m, err, sizeof err);
			free(copy);
		}
		/* and one byte too many */
		buf_put_u8(&b, 0);
		PgoMsg m;
		char err[256];
		total++;
		rejected += !pgo_decode(&dec, b.data, b.len, &m, err, sizeof err);
		buf_free(&b);
	}
	is_int(rejected, total, "all %d truncated or overlong messages rejected", total);
}

static void test_malformed(void)
{
	PgoMsg m;
	char err[256];
	Buf b;
	buf_init(&b);
	buf_put_u8(&b, 'I');
	be32(&b, 1);
	buf_put_u8(&b, 'N');
	be16(&b, 1);
	buf_put_u8(&b, 'x');
	ok(!pgo_decode(&dec, b.data, b.len, &m, err, sizeof err) && strstr(err, "unknown column kind"), "bad value kind: %s", err);
	buf_reset(&b);
	buf_put_u8(&b, 'I');
	be32(&b, 1);
	buf_put_u8(&b, 'N');
	be16(&b, 1);
	buf_put_u8(&b, 't');
	be32(&b, 0x80000000u);
	ok(!pgo_decode(&dec, b.data, b.len, &m, err, sizeof err), "negative length rejected: %s", err);
	buf_reset(&b);
	buf_put_u8(&b, 'I');
	be32(&b, 1);
	buf_put_u8(&b, 'N');
	be16(&b, 1);
	buf_put_u8(&b, 't');
	be32(&b, 0x7fffffff);
	ok(!pgo_decode(&dec, b.data, b.len, &m, err, sizeof err), "length past the end rejected: %s", err);
	buf_reset(&b);
	buf_put_u8(&b, 'I');
	be32(&b, 1);
	buf_put_u8(&b, 'N');
	be16(&b, 30000);
	ok(!pgo_decode(&dec, b.data, b.len, &m, err, sizeof err) && strstr(err, "out of range"),
	   "column count above the maximum rejected: %s", err);
	buf_reset(&b);
	buf_put_u8(&b, 'T');
	be32(&b, 0x40000000u);
	buf_put_u8(&b, 0);
	ok(!pgo_decode(&dec, b.data, b.len, &m, err, sizeof err), "huge truncate count rejected: %s", err);
	buf_reset(&b);
	buf_put_u8(&b, 'R');
	be32(&b, 1);
	buf_put(&b, "public", 6); /* no terminating NUL */
	ok(!pgo_decode(&dec, b.data, b.len, &m, err, sizeof err), "unterminated string rejected: %s", err);
	buf_reset(&b);
	buf_put_u8(&b, 'Z');
	ok(!pgo_decode(&dec, b.data, b.len, &m, err, sizeof err) && strstr(err, "unknown"), "unknown type rejected: %s", err);
	ok(!pgo_decode(&dec, b.data, 0, &m, err, sizeof err), "empty message rejected");
	buf_free(&b);
}

static void test_framing(void)
{
	Buf b;
	buf_init(&b);
	buf_put_u8(&b, 'k');
	be64(&b, 0x1000);
	be64(&b, 5);
	buf_put_u8(&b, 1);
	PgoFrame f;
	char err[256];
	ok(pgo_frame(b.data, b.len, &f, err, sizeof err) && f.type == 'k' && f.wal_end == 0x1000 && f.reply_requested,
	   "keepalive with reply requested");
	ok(!pgo_frame(b.data, b.len - 1, &f, err, sizeof err), "truncated keepalive rejected");
	buf_reset(&b);
	buf_put_u8(&b, 'w');
	be64(&b, 0x10);
	be64(&b, 0x20);
	be64(&b, 7);
	buf_put(&b, "B", 1);
	ok(pgo_frame(b.data, b.len, &f, err, sizeof err) && f.wal_start == 0x10 && f.payload_len == 1 && f.payload[0] == 'B',
	   "XLogData header and payload");
	char st[34];
	pgo_status_update(st, 0x0102030405060708ULL, 0x10, 0x20, 0x30, true);
	ok(st[0] == 'r' && st[1] == 1 && st[8] == 8 && st[16] == 0x10 && st[24] == 0x20 && st[32] == 0x30 && st[33] == 1,
	   "standby status update is 34 big-endian bytes");
	buf_free(&b);
}

int main(void)
{
	test_messages();
	test_truncations();
	test_malformed();
	test_framing();
	for (int i = 0; i < ncopies; i++)
		free(copies[i]);
	return done_testing();
}
