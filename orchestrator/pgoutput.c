/*
 * pgoutput — bounds-checked, in-place decoding of pgoutput messages; see pgoutput.h.
 *
 * A Reader walks the buffer; every get_* checks the remaining length first and records the
 * first failure, so decoding functions read straight through and check once at the end.
 */
#include "pgoutput.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "buf.h"

typedef struct Reader {
	const char *p;
	const char *end;
	const char *failed; /* first problem, or NULL */
} Reader;

static bool need(Reader *r, size_t n, const char *what)
{
	if (r->failed)
		return false;
	if ((size_t)(r->end - r->p) < n) {
		r->failed = what;
		return false;
	}
	return true;
}

static uint8_t get_u8(Reader *r, const char *what)
{
	if (!need(r, 1, what))
		return 0;
	return (uint8_t)*r->p++;
}

static uint16_t get_u16(Reader *r, const char *what)
{
	if (!need(r, 2, what))
		return 0;
	uint16_t v = rd_be16(r->p);
	r->p += 2;
	return v;
}

static uint32_t get_u32(Reader *r, const char *what)
{
	if (!need(r, 4, what))
		return 0;
	uint32_t v = rd_be32(r->p);
	r->p += 4;
	return v;
}

static uint64_t get_u64(Reader *r, const char *what)
{
	if (!need(r, 8, what))
		return 0;
	uint64_t v = rd_be64(r->p);
	r->p += 8;
	return v;
}

/* A NUL-terminated string inside the buffer. */
static const char *get_str(Reader *r, const char *what)
{
	if (r->failed)
		return "";
	const char *nul = memchr(r->p, '\0', (size_t)(r->end - r->p));
	if (!nul) {
		r->failed = what;
		return "";
	}
	const char *s = r->p;
	r->p = nul + 1;
	return s;
}

static void get_tuple(Reader *r, PgoValue *store, PgoTuple *t)
{
	int n = (int16_t)get_u16(r, "tuple column count");
	if (r->failed)
		return;
	if (n < 0 || n > PGO_MAX_COLUMNS) {
		r->failed = "tuple column count out of range";
		return;
	}
	t->ncols = n;
	t->cols = store;
	for (int i = 0; i < n && !r->failed; i++) {
		PgoValue *v = &store[i];
		v->kind = (char)get_u8(r, "column kind");
		v->len = -1;
		v->data = NULL;
		switch (v->kind) {
		case 'n':
		case 'u': break;
		case 't':
		case 'b': {
			int32_t len = (int32_t)get_u32(r, "column length");
			if (r->failed)
				return;
			if (len < 0) {
				r->failed = "negative column length";
				return;
			}
			if (!need(r, (size_t)len, "column value"))
				return;
			v->len = len;
			v->data = r->p;
			r->p += len;
			break;
		}
		default:
			if (!r->failed)
				r->failed = "unknown column kind";
			return;
		}
	}
}

bool pgo_decode(PgoDecoder *d, const char *buf, size_t len, PgoMsg *m, char *err, size_t errlen)
{
	memset(m, 0, sizeof *m);
	Reader r = {buf, buf + len, NULL};
	m->type = (char)get_u8(&r, "message type");
	switch (m->type) {
	case 'B':
		m->final_lsn = get_u64(&r, "Begin final LSN");
		m->commit_time = (int64_t)get_u64(&r, "Begin commit time");
		m->xid = get_u32(&r, "Begin xid");
		break;
	case 'C':
		m->flags = get_u8(&r, "Commit flags");
		m->commit_lsn = get_u64(&r, "Commit LSN");
		m->end_lsn = get_u64(&r, "Commit end LSN");
		m->commit_time = (int64_t)get_u64(&r, "Commit time");
		break;
	case 'O':
		m->commit_lsn = get_u64(&r, "Origin LSN");
		m->origin = get_str(&r, "Origin name");
		break;
	case 'R': {
		m->relid = get_u32(&r, "Relation id");
		m->nspname = get_str(&r, "Relation namespace");
		m->relname = get_str(&r, "Relation name");
		m->replident = (char)get_u8(&r, "Relation replica identity");
		int n = (int16_t)get_u16(&r, "Relation column count");
		if (!r.failed && (n < 0 || n > PGO_MAX_COLUMNS))
			r.failed = "Relation column count out of range";
		m->ncols = n;
		m->columns = d->rel_cols;
		for (int i = 0; i < n && !r.failed; i++) {
			PgoRelColumn *c = &d->rel_cols[i];
			c->key = get_u8(&r, "column flags") & 1;
			c->name = get_str(&r, "column name");
			c->type_oid = get_u32(&r, "column type");
			c->typmod = (int32_t)get_u32(&r, "column typmod");
		}
		break;
	}
	case 'Y':
		m->relid = get_u32(&r, "Type id");
		m->nspname = get_str(&r, "Type namespace");
		m->type_name = get_str(&r, "Type name");
		break;
	case 'I': {
		m->relid = get_u32(&r, "Insert relation");
		char n = (char)get_u8(&r, "Insert tuple marker");
		if (!r.failed && n != 'N')
			r.failed = "Insert without a new tuple";
		get_tuple(&r, d->new_cols, &m->new_tuple);
		break;
	}
	case 'U': {
		m->relid = get_u32(&r, "Update relation");
		char k = (char)get_u8(&r, "Update tuple marker");
		if (!r.failed && (k == 'K' || k == 'O')) {
			m->old_kind = k;
			get_tuple(&r, d->old_cols, &m->old_tuple);
			k = (char)get_u8(&r, "Update new tuple marker");
		}
		if (!r.failed && k != 'N')
			r.failed = "Update without a new tuple";
		get_tuple(&r, d->new_cols, &m->new_tuple);
		break;
	}
	case 'D': {
		m->relid = get_u32(&r, "Delete relation");
		char k = (char)get_u8(&r, "Delete tuple marker");
		if (!r.failed && k != 'K' && k != 'O')
			r.failed = "Delete without a key or old tuple";
		m->old_kind = k;
		get_tuple(&r, d->old_cols, &m->old_tuple);
		break;
	}
	case 'T': {
		int n = (int32_t)get_u32(&r, "Truncate relation count");
		m->truncate_options = get_u8(&r, "Truncate options");
		if (!r.failed && (n < 0 || (size_t)n > (size_t)(r.end - r.p) / 4))
			r.failed = "Truncate relation count out of range";
		if (!r.failed) {
			m->nrelids = n;
			m->relids = r.p;
			r.p += 4 * (size_t)n;
		}
		break;
	}
	case 'M': {
		m->transactional = get_u8(&r, "Message flags") & 1;
		m->message_lsn = get_u64(&r, "Message LSN");
		m->prefix = get_str(&r, "Message prefix");
		m->content_len = (int32_t)get_u32(&r, "Message length");
		if (!r.failed && m->content_len < 0)
			r.failed = "negative message length";
		if (!r.failed && need(&r, (size_t)m->content_len, "Message content")) {
			m->content = r.p;
			r.p += m->content_len;
		}
		break;
	}
	default:
		if (!r.failed)
			snprintf(err, errlen, "unknown pgoutput message type 0x%02x", (unsigned char)m->type);
		return false;
	}
	if (r.failed) {
		snprintf(err, errlen, "malformed pgoutput '%c' message: %s", m->type, r.failed);
		return false;
	}
	if (r.p != r.end) {
		snprintf(err, errlen, "malformed pgoutput '%c' message: %zu trailing bytes", m->type, (size_t)(r.end - r.p));
		return false;
	}
	return true;
}

uint32_t pgo_truncate_relid(const PgoMsg *m, int i)
{
	return rd_be32(m->relids + 4 * i);
}

bool pgo_frame(const char *buf, size_t len, PgoFrame *f, char *err, size_t errlen)
{
	memset(f, 0, sizeof *f);
	Reader r = {buf, buf + len, NULL};
	f->type = (char)get_u8(&r, "frame type");
	if (f->type == 'w') {
		f->wal_start = get_u64(&r, "XLogData start");
		f->wal_end = get_u64(&r, "XLogData end");
		f->send_time = (int64_t)get_u64(&r, "XLogData time");
		f->payload = r.p;
		f->payload_len = r.failed ? 0 : (size_t)(r.end - r.p);
	} else if (f->type == 'k') {
		f->wal_end = get_u64(&r, "keepalive WAL end");
		f->send_time = (int64_t)get_u64(&r, "keepalive time");
		f->reply_requested = get_u8(&r, "keepalive reply flag") != 0;
	} else {
		snprintf(err, errlen, "unexpected replication message type 0x%02x", (unsigned char)f->type);
		return false;
	}
	if (r.failed) {
		snprintf(err, errlen, "malformed replication message: %s", r.failed);
		return false;
	}
	return true;
}

static void put_be64(char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (char)(v >> (56 - 8 * i));
}

void pgo_status_update(char out[34], uint64_t written, uint64_t flushed, uint64_t applied, int64_t now_pg_us,
		       bool reply_requested)
{
	out[0] = 'r';
	put_be64(out + 1, written);
	put_be64(out + 9, flushed);
	put_be64(out + 17, applied);
	put_be64(out + 25, (uint64_t)now_pg_us);
	out[33] = reply_requested ? 1 : 0;
}

int64_t pgo_now(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return ((int64_t)tv.tv_sec - INT64_C(946684800)) * 1000000 + tv.tv_usec;
}
