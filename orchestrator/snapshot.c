/*
 * snapshot — the snapshot worker; see snapshot.h.
 *
 * COPY binary format (PostgreSQL docs, "COPY ... Binary Format"): an 11-byte signature
 * "PGCOPY\n\377\r\n\0", a 32-bit flags field, a 32-bit header-extension length and the
 * extension; then each tuple as a 16-bit field count followed by, per field, a 32-bit length
 * (-1 for NULL) and that many bytes; a 16-bit -1 ends the data. libpq hands over one
 * CopyData message per tuple; the header arrives in front of the first one.
 */
#include "snapshot.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch.h"
#include "log.h"
#include "native.h"
#include "pg.h"
#include "progress.h"
#include "rowfilter.h"
#include "rowbinary.h"
#include "rowhook.h"

volatile sig_atomic_t snapshot_stop;

#define FILL_CHUNK (512u << 10) /* hand curl about this much per read callback */

typedef struct Reader {
	const SnapshotJob *job;
	const Table *table;
	int part_index;
	PGconn *conn;
	ColConv *conv;
	NativeBlock *native; /* Native blocks (native_chosen); NULL: RowBinary rows */
	RowHook hook;        /* the table's row hook, if hook.on */
	int ncols;
	const char **fields;
	int *lens;
	bool header_done;
	bool eof;
	int fail;        /* WORKER_* code once failed */
	int64_t rows;
	uint64_t bytes;  /* RowBinary bytes produced */
	double last_report;
} Reader;

static const char copy_signature[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0'};

/* "id = 42, region = 'x'" for the current row's key, for messages. */
static void describe_key(Reader *r, char *out, size_t outlen)
{
	const Table *t = r->table;
	size_t used = 0;
	out[0] = '\0';
	for (int k = 0; k < t->nkey && used + 8 < outlen; k++) {
		int c = t->key[k];
		char val[96];
		rowbinary_describe(&r->conv[c], t->cols[c].binary, r->fields[c], r->lens[c], val, sizeof val);
		used += (size_t)snprintf(out + used, outlen - used, "%s%s = %s", k ? ", " : "", t->cols[c].name, val);
	}
}

/* Convert one CopyData message (a tuple or the trailer) and append RowBinary to out. */
static bool convert_message(Reader *r, const char *p, int n, Buf *out)
{
	const char *end = p + n;
	const Table *t = r->table;
	if (!r->header_done) {
		if (n < 19 || memcmp(p, copy_signature, 11) != 0) {
			log_error("%s: unexpected COPY header", t->display);
			r->fail = WORKER_FATAL;
			return false;
		}
		uint32_t ext = rd_be32(p + 15);
		if ((size_t)(end - p) < 19 + (size_t)ext) {
			log_error("%s: truncated COPY header", t->display);
			r->fail = WORKER_FATAL;
			return false;
		}
		p += 19 + ext;
		r->header_done = true;
	}
	while (p < end) {
		if (end - p < 2)
			goto truncated;
		int16_t nf = (int16_t)rd_be16(p);
		p += 2;
		if (nf == -1)
			return true; /* trailer */
		if (nf != r->ncols) {
			log_error("%s: COPY sent %d fields, expected %d", t->display, nf, r->ncols);
			r->fail = WORKER_FATAL;
			return false;
		}
		for (int i = 0; i < nf; i++) {
			if (end - p < 4)
				goto truncated;
			int32_t len = (int32_t)rd_be32(p);
			p += 4;
			if (len > 0 && end - p < len)
				goto truncated;
			r->fields[i] = p;
			r->lens[i] = len;
			if (len > 0)
				p += len;
		}
		/* the values to write: the row's, or what the table's row hook made of them */
		const char *const *f = (const char *const *)r->fields;
		const int *l = r->lens;
		if (r->hook.on) {
			RowHookResult hr = rowhook_run(&r->hook, f, l);
			if (hr == ROWHOOK_FAIL) {
				r->fail = WORKER_FATAL;
				return false;
			}
			if (hr == ROWHOOK_DROP)
				continue;
			f = r->hook.vals;
			l = r->hook.lens;
		}
		size_t row_start = out->len;
		for (int i = 0; i < nf; i++) {
			char err[512];
			uint64_t before = r->conv[i].unrep_count;
			ConvResult cr = r->native ? native_put(r->native, i, &r->conv[i], t->cols[i].binary, f[i], l[i], err, sizeof err)
						  : rowbinary_put(&r->conv[i], t->cols[i].binary, f[i], l[i], out, err, sizeof err);
			if (cr == CONV_OK && r->conv[i].unrep_count != before && r->conv[i].unrep_count <= 20) {
				char key[256], val[96];
				describe_key(r, key, sizeof key);
				rowbinary_describe(&r->conv[i], t->cols[i].binary, f[i], l[i], val, sizeof val);
				log_warn("%s.%s, row with %s: %s has no ClickHouse form; written as %s (on_unrepresentable)%s",
					 t->display, t->cols[i].name, key, val, r->conv[i].policy == UNREP_NULL ? "NULL" : "the nearest value",
					 r->conv[i].unrep_count == 20 ? "; further ones in this partition are counted, not logged" : "");
			}
			if (cr != CONV_OK) {
				out->len = row_start;
				char key[256];
				describe_key(r, key, sizeof key);
				if (cr == CONV_UNREP)
					log_error("%s.%s (%s), row with %s: %s. Choose what to write instead: on_unrepresentable = "
						  "\"null\" or \"clamp\" for this column, or types = { %s = \"String\" } in its "
						  "table entry",
						  t->display, t->cols[i].name, t->cols[i].type_name, key, err, t->cols[i].name);
				else
					log_error("%s.%s (%s), row with %s: cannot decode the value: %s", t->display, t->cols[i].name,
						  t->cols[i].type_name, key, err);
				r->fail = WORKER_FATAL;
				return false;
			}
		}
		if (r->native) {
			if (native_row_done(r->native))
				native_flush(r->native, out);
		} else {
			buf_put_le(out, r->job->version, 8);
			buf_put_u8(out, 0);
		}
		r->rows++;
	}
	return true;
truncated:
	log_error("%s: truncated COPY row", t->display);
	r->fail = WORKER_FATAL;
	return false;
}

/* The COPY ended: check its result. */
static bool copy_finished(Reader *r)
{
	PGresult *res = PQgetResult(r->conn);
	bool ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok) {
		log_error("%s: COPY failed: %s", r->table->display, res ? PQresultErrorMessage(res) : PQerrorMessage(r->conn));
		r->fail = WORKER_RETRY;
	}
	PQclear(res);
	while ((res = PQgetResult(r->conn)) != NULL)
		PQclear(res);
	return ok;
}

static void report(Reader *r, bool force)
{
	double now = progress_now();
	if (!force && now - r->last_report < 0.5)
		return;
	r->last_report = now;
	progress_send_part(r->job->progress_fd, PROG_PART_ROWS, r->part_index, r->rows, (int64_t)r->bytes);
}

/* libcurl asks for more upload data: pull COPY rows until a chunk is ready. */
static int fill(void *ctx, Buf *out)
{
	Reader *r = ctx;
	if (r->eof)
		return 0;
	while (out->len < FILL_CHUNK) {
		if (snapshot_stop) {
			r->fail = WORKER_STOPPED;
			return -1;
		}
		char *msg = NULL;
		int n = PQgetCopyData(r->conn, &msg, 1);
		if (n > 0) {
			bool ok = convert_message(r, msg, n, out);
			PQfreemem(msg);
			if (!ok)
				return -1;
			continue;
		}
		if (n == 0) {
			if (out->len > 0)
				break;
			struct pollfd pfd = {PQsocket(r->conn), POLLIN, 0};
			poll(&pfd, 1, 1000);
			if (!PQconsumeInput(r->conn)) {
				log_error("%s: lost the PostgreSQL connection: %s", r->table->display, PQerrorMessage(r->conn));
				r->fail = WORKER_RETRY;
				return -1;
			}
			report(r, false);
			continue;
		}
		if (n == -1) {
			if (!copy_finished(r))
				return -1;
			if (r->native)
				native_flush(r->native, out);
			r->eof = true;
			break;
		}
		log_error("%s: COPY failed: %s", r->table->display, PQerrorMessage(r->conn));
		r->fail = WORKER_RETRY;
		return -1;
	}
	r->bytes += out->len;
	report(r, false);
	return r->eof && out->len == 0 ? 0 : 1;
}

/* Import the snapshot; WORKER_SNAPSHOT_GONE when it no longer exists. */
static int begin_snapshot(PGconn *conn, const SnapshotJob *job)
{
	if (!pg_exec(conn, "SET statement_timeout = 0; SET lock_timeout = 0; SET idle_in_transaction_session_timeout = 0"))
		return WORKER_RETRY;
	if (!pg_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
		return WORKER_RETRY;
	char *lit = pg_quote_literal(conn, job->snapshot_name);
	char *sql = xasprintf("SET TRANSACTION SNAPSHOT %s", lit);
	free(lit);
	PGresult *res = PQexec(conn, sql);
	free(sql);
	int rc = WORKER_OK;
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
		/* 22023: invalid snapshot identifier — its exporting connection is gone */
		if (strcmp(pg_sqlstate(res), "22023") == 0) {
			log_info("snapshot %s is gone: the partition will be read under a new one", job->snapshot_name);
			rc = WORKER_SNAPSHOT_GONE;
		} else {
			log_error("cannot import snapshot %s: %s", job->snapshot_name,
				  res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
			rc = WORKER_RETRY;
		}
	}
	PQclear(res);
	return rc;
}

/* Copy one partition over the worker's open connections; returns a WORKER_* code. */
static int copy_partition(const SnapshotJob *job, PGconn *conn, ChConn *ch, int pi)
{
	const Partition *p = &job->parts[pi];
	const Table *t = &job->cat->tables[p->table];
	const Leaf *leaf = &t->leaves[p->leaf];
	double started = progress_now();
	log_set_table(t->display);
	Buf sql;
	buf_init(&sql);
	char *cols = catalog_select_list(t);
	buf_printf(&sql, "COPY (SELECT %s FROM ONLY %s", cols, leaf->qualified);
	free(cols);
	size_t before = sql.len;
	plan_where(p, &sql);
	rowfilter_sql(t, sql.len > before, &sql); /* the table's own filter, as the publication has it */
	buf_puts(&sql, ") TO STDOUT (FORMAT binary)");
	PGresult *res = PQexec(conn, sql.data);
	if (!res || PQresultStatus(res) != PGRES_COPY_OUT) {
		/* 42703 undefined column: dropped or renamed at the source since the plan was made */
		bool schema = strcmp(pg_sqlstate(res), "42703") == 0;
		if (schema)
			log_warn("%s: its columns changed at the source during the copy (%s)", t->display,
				 PQresultErrorMessage(res));
		else
			log_error("%s: cannot start COPY: %s", t->display, res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
		PQclear(res);
		buf_free(&sql);
		return schema ? WORKER_SCHEMA : WORKER_RETRY;
	}
	PQclear(res);

	Reader r;
	memset(&r, 0, sizeof r);
	r.job = job;
	r.table = t;
	r.part_index = pi;
	r.conn = conn;
	r.ncols = t->ncols;
	r.conv = xcalloc((size_t)t->ncols, sizeof(ColConv));
	r.fields = xcalloc((size_t)t->ncols, sizeof(char *));
	r.lens = xcalloc((size_t)t->ncols, sizeof(int));
	for (int i = 0; i < t->ncols; i++)
		catalog_conv_init(&t->cols[i], job->caps, &r.conv[i]);
	rowhook_init(&r.hook, job->cfg, t);
	NativeBlock block;
	if (native_chosen(job->caps)) {
		native_init(&block, t, job->cfg, job->version);
		r.native = &block;
	}
	char *insert = plan_insert_sql(t, job->cfg, r.native ? "Native" : "RowBinary");
	char settings[256];
	ch_insert_settings(ch, t->partition_by != NULL, settings, sizeof settings);
	bool ok = ch_insert(ch, insert, settings, fill, &r, NULL);
	free(insert);
	if (!ok && !r.fail)
		r.fail = WORKER_RETRY;
	buf_free(&sql);

	if (ok && !r.fail) {
		for (int i = 0; i < t->ncols; i++)
			if (r.conv[i].unrep_count) {
				log_warn("%s.%s: %llu value%s without a ClickHouse form written as %s", t->display, t->cols[i].name,
					 (unsigned long long)r.conv[i].unrep_count, r.conv[i].unrep_count == 1 ? "" : "s",
					 r.conv[i].policy == UNREP_NULL ? "NULL" : "the nearest value");
				progress_send_unrep(job->progress_fd, PROG_PART_UNREP, pi, i, (int64_t)r.conv[i].unrep_count);
			}
		progress_send_part(job->progress_fd, PROG_PART_DONE, pi, r.rows, (int64_t)r.bytes);
		log_debug("%s partition %d: %lld rows in %.1f s", t->display, p->number, (long long)r.rows,
			  progress_now() - started);
	}
	for (int i = 0; i < t->ncols; i++)
		rowbinary_free(&r.conv[i]);
	if (r.native)
		native_free(r.native);
	rowhook_free(&r.hook);
	free(r.conv);
	free(r.fields);
	free(r.lens);
	return r.fail ? r.fail : WORKER_OK;
}

/* The next partition from the supervisor: its index, or -1 when there is no more work. */
static int next_job(const SnapshotJob *job)
{
	int32_t pi;
	size_t got = 0;
	while (got < sizeof pi) {
		ssize_t n = read(job->cmd_fd, (char *)&pi + got, sizeof pi - got);
		if (n > 0) {
			got += (size_t)n;
		} else if (n < 0 && errno == EINTR && !snapshot_stop) {
			continue;
		} else {
			return -1; /* end of work (EOF), or asked to stop */
		}
	}
	return pi;
}

int snapshot_worker_run(const SnapshotJob *job)
{
	PGconn *conn = pg_connect(job->cfg, PG_CONN_NORMAL, "snapshot");
	if (!conn)
		return WORKER_RETRY;
	int rc = begin_snapshot(conn, job);
	ChConn ch;
	memset(&ch, 0, sizeof ch);
	if (rc == WORKER_OK && !ch_open(&ch, &job->cfg->dest))
		rc = WORKER_RETRY;
	if (rc == WORKER_OK) {
		ch.caps = *job->caps;
		ch.probed = true;
		ch.compress = job->compress;
		/* one backend and one snapshot for every partition this worker gets */
		for (int pi = job->first; pi >= 0; pi = next_job(job)) {
			rc = copy_partition(job, conn, &ch, pi);
			if (rc != WORKER_OK)
				break; /* the partition in hand failed: the supervisor sees it by the exit code */
		}
		if (rc == WORKER_OK && snapshot_stop)
			rc = WORKER_STOPPED;
	}
	ch_close(&ch);
	PQfinish(conn);
	return rc;
}
