/*
 * ch_insert — streaming INSERTs to ClickHouse (see ch.h): the body is produced while it is
 * sent (a fill callback gives rows, zstd-compressed when the server takes it), chunked, with
 * no overall time limit but a stall limit: a node that takes the connection and then moves
 * no byte is given up and the next endpoint of destination.url gets the INSERT. Also the
 * URL settings every INSERT carries, chosen from the server's probed capabilities.
 */
#include "ch.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "ch_int.h"
#include "clock.h"
#include "log.h"

typedef struct Upload {
	ChFillFn fill;
	void *ctx;
	bool compress;
	ZSTD_CCtx *zc;
	Buf raw;      /* uncompressed rows from fill (compressing only) */
	Buf out;      /* bytes ready for curl */
	size_t out_off;
	bool fill_eof;
	bool done;
	bool failed;
	bool started;  /* curl asked for body bytes: the request reached a server */
	uint64_t bytes;
	double active;  /* when bytes last moved, or the producer last gave some (clock_now) */
	curl_off_t ulnow, dlnow;
	int stall;      /* seconds without either before the node is given up */
} Upload;

/* Make sure u->out has unread bytes, unless the body is complete. -1 on error. */
static int upload_more(Upload *u)
{
	while (u->out_off >= u->out.len) {
		if (u->done)
			return 0;
		buf_reset(&u->out);
		u->out_off = 0;
		if (!u->compress) {
			int r = u->fill(u->ctx, &u->out);
			if (r < 0)
				return -1;
			u->bytes += u->out.len;
			if (r == 0)
				u->done = true;
			continue;
		}
		buf_reset(&u->raw);
		if (!u->fill_eof) {
			int r = u->fill(u->ctx, &u->raw);
			if (r < 0)
				return -1;
			u->bytes += u->raw.len;
			if (r == 0)
				u->fill_eof = true;
		}
		ZSTD_inBuffer in = {u->raw.data, u->raw.len, 0};
		ZSTD_EndDirective mode = u->fill_eof ? ZSTD_e_end : ZSTD_e_continue;
		for (;;) {
			buf_reserve(&u->out, ZSTD_CStreamOutSize());
			ZSTD_outBuffer o = {u->out.data + u->out.len, u->out.cap - u->out.len - 1, 0};
			size_t rem = ZSTD_compressStream2(u->zc, &o, &in, mode);
			if (ZSTD_isError(rem)) {
				log_error("zstd compression failed: %s", ZSTD_getErrorName(rem));
				return -1;
			}
			u->out.len += o.pos;
			if (mode == ZSTD_e_end ? rem == 0 : in.pos == in.size)
				break;
		}
		if (u->fill_eof)
			u->done = true;
	}
	return 1;
}

static size_t read_cb(char *dst, size_t size, size_t nitems, void *ud)
{
	Upload *u = ud;
	u->started = true;
	int r = upload_more(u);
	if (r < 0) {
		u->failed = true;
		return CURL_READFUNC_ABORT;
	}
	if (r == 0)
		return 0;
	size_t n = u->out.len - u->out_off;
	if (n > size * nitems)
		n = size * nitems;
	memcpy(dst, u->out.data + u->out_off, n);
	u->out_off += n;
	u->active = clock_now(); /* time spent in fill (waiting for PostgreSQL) is not a stall */
	return n;
}

/* A node that takes the connection and then moves no byte (hung, stopped, cut off) is given
 * up after u->stall seconds; the producer's own waits do not count (curl is inside read_cb). */
static int stall_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal;
	(void)ultotal;
	Upload *u = ud;
	double now = clock_now();
	if (ulnow != u->ulnow || dlnow != u->dlnow || u->active == 0) {
		u->ulnow = ulnow;
		u->dlnow = dlnow;
		u->active = now;
	}
	return now - u->active > u->stall;
}

/* One INSERT to the endpoint in use; *reached: the server asked for the body. */
static bool insert_once(ChConn *ch, const char *insert_sql, const char *settings, ChFillFn fill, void *ctx,
			uint64_t *bytes_out, bool quiet, bool *reached)
{
	Upload u;
	memset(&u, 0, sizeof u);
	u.fill = fill;
	u.ctx = ctx;
	u.compress = ch->compress;
	buf_init(&u.raw);
	buf_init(&u.out);
	if (u.compress) {
		u.zc = ZSTD_createCCtx();
		ZSTD_CCtx_setParameter(u.zc, ZSTD_c_compressionLevel, 1);
	}
	char *q = curl_easy_escape(ch->curl, insert_sql, 0);
	char *url = xasprintf("%s/?query=%s%s%s", ch->url, q, settings && *settings ? "&" : "", settings ? settings : "");
	curl_free(q);
	Buf answer;
	buf_init(&answer);
	char errbuf[CURL_ERROR_SIZE];
	ch_setup(ch, url, &answer, errbuf);
	struct curl_slist *h = NULL;
	h = curl_slist_append(h, "Transfer-Encoding: chunked");
	h = curl_slist_append(h, "Expect:");
	h = curl_slist_append(h, "Content-Type: application/octet-stream");
	if (u.compress)
		h = curl_slist_append(h, "Content-Encoding: zstd");
	curl_easy_setopt(ch->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(ch->curl, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(ch->curl, CURLOPT_READDATA, &u);
	curl_easy_setopt(ch->curl, CURLOPT_UPLOAD_BUFFERSIZE, 1L << 20);
	/* no overall limit (a partition's INSERT may take long), but a stall limit */
	u.stall = ch_insert_stall_seconds(ch);
	curl_easy_setopt(ch->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(ch->curl, CURLOPT_XFERINFOFUNCTION, stall_cb);
	curl_easy_setopt(ch->curl, CURLOPT_XFERINFODATA, &u);
	CURLcode rc = curl_easy_perform(ch->curl);
	if (rc == CURLE_ABORTED_BY_CALLBACK && !u.failed)
		snprintf(errbuf, CURL_ERROR_SIZE, "no byte moved for %d s", u.stall);
	free(url);
	bool ok;
	if (u.failed) {
		ok = false; /* the producer failed and logged why */
		ch_set_error(ch, "upload aborted by its producer");
	} else {
		char what[80];
		const char *into = strstr(insert_sql, "INTO ");
		snprintf(what, sizeof what, "insert into %.*s", (int)strcspn(into ? into + 5 : insert_sql, " ("),
			 into ? into + 5 : insert_sql);
		bool was_quiet = ch->quiet;
		ch->quiet = ch->quiet || quiet;
		ok = ch_finish(ch, rc, errbuf, &answer, what);
		ch->quiet = was_quiet;
	}
	*reached = u.started || u.failed;
	if (bytes_out)
		*bytes_out = u.bytes;
	curl_slist_free_all(h);
	buf_free(&answer);
	buf_free(&u.raw);
	buf_free(&u.out);
	if (u.zc)
		ZSTD_freeCCtx(u.zc);
	return ok;
}

bool ch_insert(ChConn *ch, const char *insert_sql, const char *settings, ChFillFn fill, void *ctx,
	       uint64_t *bytes_out)
{
	/* An endpoint that refuses the connection never read the body: the next one gets the same
	 * INSERT at once. One that fails later leaves the retry to the caller (the producer cannot
	 * rewind), on the next endpoint. */
	for (int tries = 1;; tries++) {
		bool last = tries >= ch->n_urls, reached = false;
		if (insert_once(ch, insert_sql, settings, fill, ctx, bytes_out, !last, &reached))
			return true;
		bool elsewhere = ch->last_status == 0 || ch_node_unwell(ch->last_code);
		if (last || reached || !elsewhere) {
			if (!last && !ch->quiet && ch->last_error)
				log_error("%s", ch->last_error);
			if (elsewhere && ch->last_error && strcmp(ch->last_error, "upload aborted by its producer") != 0)
				ch_next_endpoint(ch, ch->last_error);
			return false;
		}
		ch_next_endpoint(ch, ch->last_error);
	}
}

int ch_insert_stall_seconds(const ChConn *ch)
{
	return ch->insert_quorum > 0 ? 2 * ch->timeout : ch->timeout;
}

void ch_insert_settings(const ChConn *ch, bool partitioned, char *out, size_t outlen)
{
	const ChCaps *c = &ch->caps;
	char quorum[96] = "";
	/* a quorum not met makes the server wait without a word: it gives up first (an error pgch
	 * retries), before pgch's own stall limit (ch_insert_stall_seconds) */
	if (ch->insert_quorum > 0 && c->has_insert_quorum_timeout)
		snprintf(quorum, sizeof quorum, "insert_quorum=%d&insert_quorum_timeout=%ld&", ch->insert_quorum,
			 (long)ch->timeout * 1000);
	else if (ch->insert_quorum > 0)
		snprintf(quorum, sizeof quorum, "insert_quorum=%d&", ch->insert_quorum);
	snprintf(out, outlen, "%s%s%s%s%s", c->has_async_insert ? "async_insert=0&" : "",
		 c->has_insert_deduplicate ? "insert_deduplicate=0&" : "",
		 partitioned && c->has_max_partitions_per_insert_block ? "max_partitions_per_insert_block=0&" : "",
		 c->cluster_shards > 1 && c->has_insert_distributed_sync ? "insert_distributed_sync=1&" : "", quorum);
	size_t n = strlen(out);
	if (n > 0)
		out[n - 1] = '\0';
}
