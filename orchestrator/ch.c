/*
 * ch — ClickHouse HTTP client; see ch.h.
 */
#include "ch.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <zstd.h>

#include "ch_int.h"
#include "log.h"

#define CH_MAX_ANSWER (256u << 20)

static size_t write_cb(char *p, size_t size, size_t n, void *ud)
{
	Buf *b = ud;
	size_t len = size * n;
	if (b->len + len > CH_MAX_ANSWER)
		return 0; /* makes curl fail: an answer this large is a bug */
	buf_put(b, p, len);
	return len;
}

/* ClickHouse names its error in a header (X-ClickHouse-Exception-Code, 19.x and later). */
static size_t header_cb(char *p, size_t size, size_t n, void *ud)
{
	ChConn *ch = ud;
	size_t len = size * n;
	static const char name[] = "X-ClickHouse-Exception-Code:";
	if (len > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0)
		ch->last_code = atoi(p + sizeof name - 1);
	return len;
}

int ch_error_code(const char *answer)
{
	/* "Code: 60. DB::Exception: ..." (the body of every error answer, all versions) */
	if (!answer || strncmp(answer, "Code: ", 6) != 0)
		return 0;
	return atoi(answer + 6);
}

/* The URL without "user:password@", for messages. */
static char *display_url(const char *url)
{
	const char *scheme = strstr(url, "://");
	const char *host = scheme ? scheme + 3 : url;
	const char *at = strchr(host, '@');
	const char *slash = strchr(host, '/');
	if (at && (!slash || at < slash))
		return xasprintf("%.*s%s", (int)(host - url), url, at + 1);
	return xstrdup(url);
}

bool ch_error_transient(int code)
{
	switch (code) {
	case 159: /* TIMEOUT_EXCEEDED */
	case 209: /* SOCKET_TIMEOUT */
	case 210: /* NETWORK_ERROR */
	case 225: /* NO_ZOOKEEPER */
	case 242: /* TABLE_IS_READ_ONLY: the replica lost its ZooKeeper session */
	case 279: /* ALL_CONNECTION_TRIES_FAILED: a shard is down (Distributed) */
	case 285: /* TOO_FEW_LIVE_REPLICAS (insert_quorum) */
	case 286: /* UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE */
	case 319: /* UNKNOWN_STATUS_OF_INSERT */
	case 999: /* KEEPER_EXCEPTION */
		return true;
	default: return false;
	}
}

/* Errors after which another endpoint may do better than this one: the node's own link to
 * ZooKeeper is broken (its tables are read-only). */
bool ch_node_unwell(int code)
{
	return code == 225 || code == 242 || code == 999;
}

/* Use the next endpoint (after a failure of the one in use); false if there is only one. */
bool ch_next_endpoint(ChConn *ch, const char *why)
{
	if (ch->n_urls < 2)
		return false;
	int from = ch->cur;
	ch->cur = (ch->cur + 1) % ch->n_urls;
	ch->url = ch->urls[ch->cur];
	ch->display = ch->displays[ch->cur];
	log_warn("%s; using ClickHouse at %s from now on (was %s)", why ? why : "no answer", ch->display, ch->displays[from]);
	return true;
}

bool ch_open(ChConn *ch, const DestConfig *cfg)
{
	memset(ch, 0, sizeof *ch);
	int nu = cfg->n_urls > 0 ? cfg->n_urls : 1;
	ch->urls = xcalloc((size_t)nu, sizeof(char *));
	ch->displays = xcalloc((size_t)nu, sizeof(char *));
	for (int i = 0; i < nu; i++) {
		const char *u = cfg->n_urls > 0 ? cfg->urls[i] : cfg->url;
		size_t n = strlen(u);
		while (n > 0 && u[n - 1] == '/')
			n--;
		ch->urls[i] = xstrndup(u, n);
		ch->displays[i] = display_url(ch->urls[i]);
	}
	ch->n_urls = nu;
	ch->url = ch->urls[0];
	ch->display = ch->displays[0];
	ch->cluster = cfg->cluster;
	ch->insert_quorum = cfg->insert_quorum;
	ch->user = xstrdup(cfg->user ? cfg->user : "default");
	ch->password = xstrdup(cfg->password ? cfg->password : "");
	ch->timeout = cfg->timeout;
	ch->query_limit = CH_QUERY_LIMIT_LONG;
	ch->compression = cfg->compression;
	ch->tls_ca = cfg->tls_ca_file ? xstrdup(cfg->tls_ca_file) : NULL;
	ch->tls_cert = cfg->tls_cert_file ? xstrdup(cfg->tls_cert_file) : NULL;
	ch->tls_key = cfg->tls_key_file ? xstrdup(cfg->tls_key_file) : NULL;
	ch->tls_verify = cfg->tls_verify || !cfg->has_tls;
	ch->curl = curl_easy_init();
	if (!ch->curl) {
		log_error("cannot initialise libcurl");
		return false;
	}
	return true;
}

void ch_close(ChConn *ch)
{
	if (ch->curl)
		curl_easy_cleanup(ch->curl);
	if (ch->headers)
		curl_slist_free_all(ch->headers);
	for (int i = 0; i < ch->n_urls; i++) {
		free(ch->urls[i]);
		free(ch->displays[i]);
	}
	free(ch->urls);
	free(ch->displays);
	if (ch->password)
		memset(ch->password, 0, strlen(ch->password));
	free(ch->user);
	free(ch->password);
	free(ch->tls_ca);
	free(ch->tls_cert);
	free(ch->tls_key);
	free(ch->last_error);
	memset(ch, 0, sizeof *ch);
}

void ch_set_error(ChConn *ch, const char *msg)
{
	free(ch->last_error);
	ch->last_error = xstrdup(msg);
}

/* Common options for every request; the handle is reset first so uploads and queries mix. */
void ch_setup(ChConn *ch, const char *url, Buf *answer, char *errbuf)
{
	CURL *c = ch->curl;
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)ch->timeout);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 10L);
	curl_easy_setopt(c, CURLOPT_USERNAME, ch->user);
	curl_easy_setopt(c, CURLOPT_PASSWORD, ch->password);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, answer);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, ch);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	ch->last_code = 0;
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	if (ch->tls_ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, ch->tls_ca);
	if (ch->tls_cert) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, ch->tls_cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, ch->tls_key);
	}
	if (!ch->tls_verify) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	errbuf[0] = '\0';
}

/* What to do about a failure (a node that stopped answering; TLS), by libcurl's code and
 * OpenSSL's verification result (X509_V_ERR_*: 10 expired, 9 not yet valid; 62/64 host name or IP address mismatch, and
 * 1 or 0 with a failed verification: libcurl's own host name check; the rest: the chain). */
static const char *failure_fix(const ChConn *ch, CURLcode rc, long verify)
{
	static const char client_cert[] = " (if the server asks for a client certificate: set destination.tls.cert_file "
					  "and key_file)";
	bool https = strncmp(ch->url, "https://", 8) == 0;
	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
		if (verify == 10 || verify == 9)
			return ". Fix: the server's certificate is expired or not yet valid: renew it on the ClickHouse server";
		if (verify == 0 || verify == 1 || verify == 62 || verify == 64)
			return ". Fix: destination.url must use a host name the server's certificate names (its subjectAltName)";
		return ". Fix: set destination.tls.ca_file to the CA that signed the server's certificate";
	case CURLE_SSL_CACERT_BADFILE: return ". Fix: destination.tls.ca_file must be a PEM file of CA certificates";
	case CURLE_SSL_CERTPROBLEM:
		return ". Fix: destination.tls.cert_file and key_file must be a PEM certificate and its private key";
	case CURLE_SSL_CONNECT_ERROR: /* the handshake failed */
	case CURLE_RECV_ERROR: /* TLS 1.3: a missing client certificate is an alert after the handshake, */
	case CURLE_SEND_ERROR: /* or the server closes while the request is sent */
		return https && !ch->tls_cert ? client_cert : "";
	case CURLE_ABORTED_BY_CALLBACK: /* an INSERT's stall limit */
		return ": the node took the connection and then stopped answering (hung, stopped or cut off); "
		       "destination.timeout sets how long pgch waits";
	case CURLE_OPERATION_TIMEDOUT: /* a query's overall limit */
		return ": the node took the connection and then did not answer in time (hung, stopped or cut off)";
	default: return "";
	}
}

/* Check the outcome of a request; log once on failure. */
bool ch_finish(ChConn *ch, CURLcode rc, const char *errbuf, Buf *answer, const char *what)
{
	long status = 0;
	curl_easy_getinfo(ch->curl, CURLINFO_RESPONSE_CODE, &status);
	ch->last_status = status;
	if (rc == CURLE_OK && status == 200) {
		free(ch->last_error);
		ch->last_error = NULL;
		ch->last_code = 0;
		return true;
	}
	char msg[1024];
	long verify = 0;
	curl_easy_getinfo(ch->curl, CURLINFO_SSL_VERIFYRESULT, &verify);
	if (status != 0 && status != 200) {
		if (ch->last_code == 0)
			ch->last_code = ch_error_code(answer->data);
		/* ClickHouse's answer: "Code: 60. DB::Exception: ..." — keep the first line */
		size_t len = strcspn(answer->data, "\n");
		if (len > 700)
			len = 700;
		snprintf(msg, sizeof msg, "ClickHouse %s failed (HTTP %ld): %.*s", what, status, (int)len, answer->data);
	} else {
		snprintf(msg, sizeof msg, "ClickHouse at %s: %s failed: %s%s", ch->display, what,
			 errbuf[0] ? errbuf : curl_easy_strerror(rc), failure_fix(ch, rc, verify));
	}
	ch_set_error(ch, msg);
	if (!ch->quiet)
		log_error("%s", msg);
	return false;
}

/* One query to the endpoint in use. */
static bool query_once(ChConn *ch, const char *sql, const char *settings, Buf *out, bool quiet)
{
	Buf answer;
	buf_init(&answer);
	char errbuf[CURL_ERROR_SIZE];
	char *url = xasprintf("%s/?wait_end_of_query=1%s%s", ch->url, settings && *settings ? "&" : "",
			      settings ? settings : "");
	ch_setup(ch, url, &answer, errbuf);
	curl_easy_setopt(ch->curl, CURLOPT_POSTFIELDS, sql);
	curl_easy_setopt(ch->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(sql));
	curl_easy_setopt(ch->curl, CURLOPT_TIMEOUT, (long)ch->query_limit);
	CURLcode rc = curl_easy_perform(ch->curl);
	free(url);
	char what[80];
	snprintf(what, sizeof what, "query \"%.50s%s\"", sql, strlen(sql) > 50 ? "..." : "");
	for (char *p = what; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	bool was_quiet = ch->quiet;
	ch->quiet = ch->quiet || quiet;
	bool ok = ch_finish(ch, rc, errbuf, &answer, what);
	ch->quiet = was_quiet;
	if (ok && out)
		buf_put(out, answer.data, answer.len);
	buf_free(&answer);
	return ok;
}

bool ch_query_with(ChConn *ch, const char *sql, const char *settings, Buf *out)
{
	/* a connection error tries the other endpoints once each; the last failure is logged */
	for (int tries = 1;; tries++) {
		bool last = tries >= ch->n_urls;
		if (query_once(ch, sql, settings, out, !last))
			return true;
		bool elsewhere = ch->last_status == 0 || ch_node_unwell(ch->last_code);
		if (last || !elsewhere) {
			if (!last && !ch->quiet && ch->last_error)
				log_error("%s", ch->last_error); /* query_once kept it quiet */
			return false;
		}
		ch_next_endpoint(ch, ch->last_error);
	}
}

void ch_limit_queries(ChConn *ch)
{
	int limit = 3 * ch->timeout < 30 ? 30 : 3 * ch->timeout;
	if (ch->probed && ch->cluster && !ch->caps.has_distributed_ddl_task_timeout && limit < 200)
		limit = 200; /* ON CLUSTER DDL waits the server's own 180 s for a node that is down */
	ch->query_limit = limit < CH_QUERY_LIMIT_LONG ? limit : CH_QUERY_LIMIT_LONG;
}

const char *ch_endpoint(const ChConn *ch)
{
	return ch->display;
}

typedef struct Stream {
	ChSinkFn sink;
	void *ctx;
	Buf *error;    /* the answer of a failed query (ClickHouse's message) */
	long status;   /* HTTP status, once known */
	bool aborted;
	CURL *curl;
} Stream;

static size_t stream_cb(char *p, size_t size, size_t n, void *ud)
{
	Stream *st = ud;
	size_t len = size * n;
	if (st->status == 0)
		curl_easy_getinfo(st->curl, CURLINFO_RESPONSE_CODE, &st->status);
	if (st->status != 200) { /* an error answer: keep its text for the message */
		if (st->error->len < 4096)
			buf_put(st->error, p, len);
		return len;
	}
	if (!st->sink(st->ctx, p, len)) {
		st->aborted = true;
		return 0;
	}
	return len;
}

bool ch_query_stream(ChConn *ch, const char *sql, ChSinkFn sink, void *ctx)
{
	Buf error;
	buf_init(&error);
	char errbuf[CURL_ERROR_SIZE];
	char *url = xasprintf("%s/", ch->url);
	ch_setup(ch, url, &error, errbuf);
	Stream st = {sink, ctx, &error, 0, false, ch->curl};
	curl_easy_setopt(ch->curl, CURLOPT_WRITEFUNCTION, stream_cb);
	curl_easy_setopt(ch->curl, CURLOPT_WRITEDATA, &st);
	curl_easy_setopt(ch->curl, CURLOPT_POSTFIELDS, sql);
	curl_easy_setopt(ch->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(sql));
	CURLcode rc = curl_easy_perform(ch->curl);
	free(url);
	bool ok;
	if (st.aborted) {
		ok = false; /* the sink said why */
	} else {
		char what[80];
		snprintf(what, sizeof what, "query \"%.50s%s\"", sql, strlen(sql) > 50 ? "..." : "");
		for (char *p = what; *p; p++)
			if (*p == '\n' || *p == '\t')
				*p = ' ';
		ok = ch_finish(ch, rc, errbuf, &error, what);
	}
	buf_free(&error);
	return ok;
}

bool ch_columns(ChConn *ch, const char *database, const char *table, Buf *out)
{
	Buf sql;
	buf_init(&sql);
	buf_puts(&sql, "SELECT name FROM system.columns WHERE database = ");
	ch_quote_string(&sql, database);
	buf_puts(&sql, " AND table = ");
	ch_quote_string(&sql, table);
	buf_puts(&sql, " FORMAT TabSeparated");
	bool ok = ch_query(ch, sql.data, out);
	buf_free(&sql);
	return ok;
}

bool ch_user_limits(ChConn *ch, int *readonly, int *allow_ddl)
{
	Buf a;
	buf_init(&a);
	*readonly = 0;
	*allow_ddl = 1;
	bool ok = ch_query(ch, "SELECT name, value FROM system.settings WHERE name IN ('readonly', 'allow_ddl') "
			       "FORMAT TabSeparated",
			   &a);
	if (ok) {
		ChTsv t;
		char *f[2];
		ch_tsv_init(&t, &a);
		while (ch_tsv_next_line(&t, f, 2) == 2) {
			if (strcmp(f[0], "readonly") == 0)
				*readonly = atoi(f[1]);
			else if (strcmp(f[0], "allow_ddl") == 0)
				*allow_ddl = atoi(f[1]);
		}
	}
	buf_free(&a);
	return ok;
}

bool ch_query(ChConn *ch, const char *sql, Buf *out)
{
	return ch_query_with(ch, sql, NULL, out);
}

/* ---------------------------------------------------------------- probing */

static bool probe_zstd(ChConn *ch)
{
	const char *sql = "SELECT 1";
	char z[64];
	size_t zn = ZSTD_compress(z, sizeof z, sql, strlen(sql), 1);
	if (ZSTD_isError(zn))
		return false;
	Buf answer;
	buf_init(&answer);
	char errbuf[CURL_ERROR_SIZE];
	ch_setup(ch, ch->url, &answer, errbuf);
	struct curl_slist *h = curl_slist_append(NULL, "Content-Encoding: zstd");
	curl_easy_setopt(ch->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(ch->curl, CURLOPT_POSTFIELDS, z);
	curl_easy_setopt(ch->curl, CURLOPT_POSTFIELDSIZE, (long)zn);
	curl_easy_setopt(ch->curl, CURLOPT_TIMEOUT, (long)ch->timeout);
	CURLcode rc = curl_easy_perform(ch->curl);
	long status = 0;
	curl_easy_getinfo(ch->curl, CURLINFO_RESPONSE_CODE, &status);
	bool ok = rc == CURLE_OK && status == 200 && strncmp(answer.data, "1", 1) == 0;
	curl_slist_free_all(h);
	buf_free(&answer);
	return ok;
}

static bool has_line(const char *answer, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = answer; (p = strstr(p, name)) != NULL; p += n)
		if ((p == answer || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\t' || p[n] == '\0'))
			return true;
	return false;
}

/* Days and microseconds since 1970 of ClickHouse's answer "YYYY-MM-DD[ hh:mm:ss[.ffffff]]". */
static bool parse_ch_datetime(const char *s, int64_t *days, int64_t *us)
{
	int y, m, d, hh = 0, mi = 0, ss = 0, fr = 0;
	int n = sscanf(s, "%d-%d-%d %d:%d:%d.%d", &y, &m, &d, &hh, &mi, &ss, &fr);
	if (n < 3)
		return false;
	int64_t yy = y - (m <= 2);
	int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
	int64_t yoe = yy - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	*days = era * 146097 + doe - 719468;
	if (us)
		*us = (*days * 86400 + hh * 3600 + mi * 60 + ss) * INT64_C(1000000) + fr;
	return true;
}

bool ch_probe(ChConn *ch)
{
	Buf a;
	buf_init(&a);
	ChCaps *c = &ch->caps;
	memset(c, 0, sizeof *c);
	bool ok = ch_query(ch, "SELECT version()", &a);
	if (!ok)
		goto out;
	snprintf(c->version, sizeof c->version, "%.*s", (int)strcspn(a.data, "\n"), a.data);

	buf_reset(&a);
	ok = ch_query(ch,
		      "SELECT name FROM system.data_type_families WHERE name IN "
		      "('Bool','Date32','DateTime64','Decimal256','LowCardinality','JSON')",
		      &a);
	if (!ok)
		goto out;
	bool fam_bool = has_line(a.data, "Bool"), fam_date32 = has_line(a.data, "Date32");
	bool fam_dt64 = has_line(a.data, "DateTime64"), fam_dec256 = has_line(a.data, "Decimal256");
	bool fam_lc = has_line(a.data, "LowCardinality");

	buf_reset(&a);
	ok = ch_query(ch,
		      "SELECT name, value FROM system.settings WHERE name IN ('async_insert',"
		      "'max_partitions_per_insert_block','insert_deduplicate','allow_experimental_low_cardinality_type',"
		      "'allow_experimental_bigint_types','distributed_ddl_task_timeout','insert_distributed_sync',"
		      "'insert_quorum_timeout')",
		      &a);
	if (!ok)
		goto out;
	c->has_async_insert = has_line(a.data, "async_insert");
	c->has_max_partitions_per_insert_block = has_line(a.data, "max_partitions_per_insert_block");
	c->has_insert_deduplicate = has_line(a.data, "insert_deduplicate");
	c->has_distributed_ddl_task_timeout = has_line(a.data, "distributed_ddl_task_timeout");
	c->has_insert_distributed_sync = has_line(a.data, "insert_distributed_sync");
	c->has_insert_quorum_timeout = has_line(a.data, "insert_quorum_timeout");
	if (ch->cluster) { /* the shape; an unknown cluster is pgch check's and the run's refusal */
		Buf sql;
		buf_init(&sql);
		buf_puts(&sql, "SELECT uniqExact(shard_num), max(replica_num) FROM system.clusters WHERE cluster = ");
		ch_quote_string(&sql, ch->cluster);
		buf_reset(&a);
		ok = ch_query(ch, sql.data, &a);
		buf_free(&sql);
		if (!ok)
			goto out;
		sscanf(a.data, "%d\t%d", &c->cluster_shards, &c->cluster_replicas);
	}
	/* LowCardinality was experimental (off by default) in 18.x: usable only when allowed. */
	c->has_low_cardinality = fam_lc && (strstr(a.data, "allow_experimental_low_cardinality_type\t0") == NULL);

	buf_reset(&a);
	ok = ch_query(ch, "SELECT name FROM system.merge_tree_settings WHERE name IN "
			  "('clean_deleted_rows','allow_experimental_replacing_merge_with_cleanup')",
		      &a);
	if (!ok)
		goto out;
	c->has_replacing_is_deleted = a.len > 0;

	/* Types that exist may still be disabled or narrower: ask the server to use them. */
	ch->quiet = true;
	c->has_nullable_in_array = ch_query(ch, "SELECT CAST([1, NULL] AS Array(Nullable(Int32)))", NULL);
	if (fam_bool)
		c->has_bool = ch_query(ch, "SELECT CAST(1 AS Bool)", NULL);
	if (fam_dec256)
		c->has_decimal256 = ch_query(ch, "SELECT CAST('1.5' AS Decimal(76, 2))", NULL);
	if (fam_date32) {
		buf_reset(&a);
		if (ch_query(ch, "SELECT toDate32('1000-01-01'), toDate32('3000-12-31')", &a)) {
			char *tab = strchr(a.data, '\t');
			int64_t lo, hi;
			if (tab && parse_ch_datetime(a.data, &lo, NULL) && parse_ch_datetime(tab + 1, &hi, NULL)) {
				c->has_date32 = true;
				c->date32_min = (int32_t)lo;
				c->date32_max = (int32_t)hi;
			}
		}
	}
	if (fam_dt64) {
		buf_reset(&a);
		if (ch_query(ch,
			     "SELECT toDateTime64('1000-01-01 00:00:00', 6, 'UTC'), "
			     "toDateTime64('3000-12-31 23:59:59.999999', 6, 'UTC')",
			     &a)) {
			char *tab = strchr(a.data, '\t');
			int64_t d, lo, hi;
			if (tab && parse_ch_datetime(a.data, &d, &lo) && parse_ch_datetime(tab + 1, &d, &hi)) {
				c->has_datetime64 = true;
				c->dt64_min = lo;
				c->dt64_max = hi;
			}
		}
	}
	ch->quiet = false;
	c->has_zstd_http = probe_zstd(ch);
	ch->probed = true;
	if (strcmp(ch->compression, "zstd") == 0 && !c->has_zstd_http) {
		log_error("destination.compression = \"zstd\" but ClickHouse %s at %s does not accept zstd request "
			  "bodies; set compression = \"auto\" or \"none\"",
			  c->version, ch->display);
		ok = false;
		goto out;
	}
	ch->compress = strcmp(ch->compression, "none") != 0 && c->has_zstd_http;
out:
	ch->quiet = false;
	buf_free(&a);
	return ok;
}

/* ---------------------------------------------------------------- quoting and TSV */

void ch_quote_ident(Buf *out, const char *name)
{
	buf_put_u8(out, '`');
	for (const char *p = name; *p; p++) {
		if (*p == '`' || *p == '\\')
			buf_put_u8(out, '\\');
		buf_put_u8(out, (uint8_t)*p);
	}
	buf_put_u8(out, '`');
}

void ch_quote_string(Buf *out, const char *s)
{
	buf_put_u8(out, '\'');
	for (const char *p = s; *p; p++) {
		if (*p == '\n') { /* escaped: a statement separator (plan.h) never occurs in a literal */
			buf_puts(out, "\\n");
			continue;
		}
		if (*p == '\'' || *p == '\\')
			buf_put_u8(out, '\\');
		buf_put_u8(out, (uint8_t)*p);
	}
	buf_put_u8(out, '\'');
}

void ch_tsv_init(ChTsv *t, Buf *b)
{
	t->p = b->data;
	t->end = b->data + b->len;
}

int ch_tsv_next_line(ChTsv *t, char **fields, int max_fields)
{
	if (t->p >= t->end)
		return -1;
	int n = 0;
	char *w = t->p;
	fields[n++] = w;
	char *r = t->p;
	while (r < t->end && *r != '\n') {
		if (*r == '\t') {
			*w++ = '\0';
			r++;
			if (n < max_fields)
				fields[n++] = w;
			continue;
		}
		if (*r == '\\' && r + 1 < t->end) {
			r++;
			switch (*r) {
			case 'n': *w++ = '\n'; break;
			case 't': *w++ = '\t'; break;
			case 'r': *w++ = '\r'; break;
			case 'b': *w++ = '\b'; break;
			case 'f': *w++ = '\f'; break;
			case '0': *w++ = '\0'; break;
			default: *w++ = *r; break;
			}
			r++;
			continue;
		}
		*w++ = *r++;
	}
	*w = '\0';
	t->p = r < t->end ? r + 1 : t->end;
	return n;
}
