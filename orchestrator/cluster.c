/*
 * cluster — ON CLUSTER DDL, Replicated engines and the cluster's topology; see cluster.h.
 */
#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

#define CH_TIMEOUT_EXCEEDED 159

void cluster_on_clause(const DestConfig *d, Buf *out)
{
	if (!d->cluster)
		return;
	buf_puts(out, " ON CLUSTER ");
	ch_quote_ident(out, d->cluster);
}

void cluster_engine(const DestConfig *d, const char *engine, const char *args, bool shared, Buf *out)
{
	if (!d->cluster) {
		buf_printf(out, "%s(%s)", engine, args);
		return;
	}
	buf_printf(out, "Replicated%s(", engine);
	if (shared) /* every node a replica of one table: no shard in the path */
		ch_quote_string(out, "/clickhouse/pgch/{database}/{table}");
	else
		ch_quote_string(out, d->replica_path);
	buf_puts(out, ", ");
	ch_quote_string(out, d->replica_name);
	if (args && *args)
		buf_printf(out, ", %s", args);
	buf_put_u8(out, ')');
}

int cluster_path_macros(const char *s, char names[][64], int max)
{
	int n = 0;
	for (const char *p = s; (p = strchr(p, '{')) != NULL; p++) {
		const char *end = strchr(p, '}');
		if (!end)
			break;
		size_t len = (size_t)(end - p - 1);
		if (len == 0 || len >= 64)
			continue;
		char name[64];
		memcpy(name, p + 1, len);
		name[len] = '\0';
		if (strcmp(name, "database") == 0 || strcmp(name, "table") == 0)
			continue;
		bool seen = false;
		for (int i = 0; i < n; i++)
			seen = seen || strcmp(names[i], name) == 0;
		if (!seen && n < max)
			memcpy(names[n++], name, len + 1);
	}
	return n;
}

/* The value of macro name in TSV lines "name\tvalue", or NULL. */
static const char *macro_value(const char *tsv, const char *name, size_t *len)
{
	size_t n = strlen(name);
	for (const char *p = tsv; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, name, n) == 0 && p[n] == '\t') {
			const char *v = p + n + 1;
			*len = strcspn(v, "\n");
			return v;
		}
	}
	return NULL;
}

bool cluster_expand(const char *s, const char *macros_tsv, const char *database, const char *table, Buf *out,
		    char *missing, size_t missing_len)
{
	for (const char *p = s; *p;) {
		const char *end = *p == '{' ? strchr(p, '}') : NULL;
		if (!end) {
			buf_put_u8(out, (uint8_t)*p++);
			continue;
		}
		char name[64];
		snprintf(name, sizeof name, "%.*s", (int)(end - p - 1), p + 1);
		size_t len = 0;
		const char *v = strcmp(name, "database") == 0 ? database : strcmp(name, "table") == 0 ? table : NULL;
		if (v)
			len = strlen(v);
		else
			v = macro_value(macros_tsv, name, &len);
		if (!v) {
			snprintf(missing, missing_len, "%s", name);
			return false;
		}
		buf_put(out, v, len);
		p = end + 1;
	}
	return true;
}

bool cluster_nodes(ChConn *ch, Buf *out)
{
	Buf sql;
	buf_init(&sql);
	buf_puts(&sql, "SELECT shard_num, replica_num, host_name, port FROM system.clusters WHERE cluster = ");
	ch_quote_string(&sql, ch->cluster);
	buf_puts(&sql, " ORDER BY shard_num, replica_num FORMAT TabSeparated");
	bool ok = ch_query(ch, sql.data, out);
	buf_free(&sql);
	return ok;
}

/* "127%2E0%2E0%2E1:9000" (ZooKeeper's escaped host id) into "127.0.0.1:9000". */
static void unescape_host(const char *in, size_t len, Buf *out)
{
	for (size_t i = 0; i < len; i++) {
		unsigned v;
		if (in[i] == '%' && i + 2 < len && sscanf(in + i + 1, "%2x", &v) == 1) {
			buf_put_u8(out, (uint8_t)v);
			i += 2;
		} else {
			buf_put_u8(out, (uint8_t)in[i]);
		}
	}
}

/*
 * After a distributed DDL timed out: the task's hosts (its ZooKeeper node's value has
 * "hosts: ['h%2E1:9000','h%2E2:9000']") minus those under finished/, the first with a
 * non-zero status (the value of finished/<host> is "code\nmessage") into failed.
 */
static bool ddl_unfinished(ChConn *ch, const char *task, Buf *unfinished, Buf *failed)
{
	const char *slash = strrchr(task, '/');
	if (!slash)
		return false;
	Buf sql, a, f;
	buf_init(&sql);
	buf_init(&a);
	buf_init(&f);
	/* TabSeparated escapes the value's newlines; joined with spaces instead */
	buf_puts(&sql, "SELECT replaceAll(value, '\\n', ' ') FROM system.zookeeper WHERE path = ");
	char *parent = xstrndup(task, (size_t)(slash - task));
	ch_quote_string(&sql, parent);
	free(parent);
	buf_puts(&sql, " AND name = ");
	ch_quote_string(&sql, slash + 1);
	ch->quiet = true;
	bool ok = ch_query(ch, sql.data, &a);
	buf_reset(&sql);
	buf_puts(&sql, "SELECT name, replaceAll(value, '\\n', ' ') FROM system.zookeeper WHERE path = ");
	char *fin = xasprintf("%s/finished", task);
	ch_quote_string(&sql, fin);
	free(fin);
	buf_puts(&sql, " FORMAT TabSeparated");
	ok = ok && ch_query(ch, sql.data, &f);
	ch->quiet = false;
	/* TabSeparated escapes the quotes around each host: unescape the value first */
	ChTsv tv;
	char *value = NULL;
	ch_tsv_init(&tv, &a);
	if (!ok || ch_tsv_next_line(&tv, &value, 1) < 1)
		value = NULL;
	const char *hosts = value ? strstr(value, "hosts: [") : NULL;
	/* finished/: one line per host, "name\tcode message" */
	int nfin = 0;
	char *(*fin_rows)[2] = NULL;
	ChTsv tf;
	char *ff[2];
	ch_tsv_init(&tf, &f);
	while (hosts && ch_tsv_next_line(&tf, ff, 2) == 2) {
		fin_rows = xrealloc(fin_rows, sizeof *fin_rows * (size_t)(nfin + 1));
		fin_rows[nfin][0] = ff[0];
		fin_rows[nfin][1] = ff[1];
		nfin++;
	}
	if (hosts) {
		const char *end = strchr(hosts, ']');
		for (const char *p = hosts + 8; end && p < end;) {
			const char *q1 = strchr(p, '\'');
			const char *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
			if (!q1 || !q2 || q2 > end)
				break;
			size_t len = (size_t)(q2 - q1 - 1);
			bool done = false;
			for (int i = 0; i < nfin; i++) {
				if (strlen(fin_rows[i][0]) != len || strncmp(fin_rows[i][0], q1 + 1, len) != 0)
					continue;
				done = true;
				if (atoi(fin_rows[i][1]) != 0 && failed->len == 0) {
					unescape_host(q1 + 1, len, failed);
					buf_printf(failed, ": %s", fin_rows[i][1]);
				}
			}
			if (!done) {
				if (unfinished->len)
					buf_puts(unfinished, ", ");
				unescape_host(q1 + 1, len, unfinished);
			}
			p = q2 + 1;
		}
	}
	free(fin_rows);
	buf_free(&sql);
	buf_free(&a);
	buf_free(&f);
	return hosts != NULL;
}

static bool ddl_one(ChConn *ch, const char *sql);

bool cluster_ddl(ChConn *ch, const char *sql)
{
	/* statements separated by PLAN_NEXT_STATEMENT, in order; the first failure stops */
	static const char sep[] = "\n;\n";
	bool ok = true;
	for (const char *p = sql; ok && p;) {
		const char *end = strstr(p, sep);
		char *one = end ? xstrndup(p, (size_t)(end - p)) : NULL;
		ok = ddl_one(ch, one ? one : p);
		free(one);
		p = end ? end + sizeof sep - 1 : NULL;
	}
	return ok;
}

static bool ddl_one(ChConn *ch, const char *sql)
{
	if (!ch->cluster)
		return ch_query(ch, sql, NULL);
	char settings[64] = "";
	if (ch->caps.has_distributed_ddl_task_timeout)
		snprintf(settings, sizeof settings, "distributed_ddl_task_timeout=%d", ch->timeout);
	bool was_quiet = ch->quiet;
	ch->quiet = true;
	bool ok = ch_query_with(ch, sql, settings, NULL);
	ch->quiet = was_quiet;
	if (ok)
		return true;
	/* "Watching task /clickhouse/task_queue/ddl/query-0000000012 is executing longer than ..." */
	const char *w = ch->last_error ? strstr(ch->last_error, "Watching task /") : NULL;
	if (ch->last_code == CH_TIMEOUT_EXCEEDED && w) {
		char *task = xstrndup(w + 14, strcspn(w + 14, " "));
		Buf unfinished, failed;
		buf_init(&unfinished);
		buf_init(&failed);
		bool known = ddl_unfinished(ch, task, &unfinished, &failed);
		free(task);
		if (known && failed.len == 0) {
			log_warn("ClickHouse cluster %s: %s did not finish within %d s (down, or slow); it runs the statement "
				 "when it is back: %.120s",
				 ch->cluster, unfinished.len ? unfinished.data : "a host", ch->timeout, sql);
			ok = true;
		} else if (failed.len) {
			log_error("ClickHouse cluster %s: the statement failed on %s: %.120s", ch->cluster, failed.data, sql);
		}
		buf_free(&unfinished);
		buf_free(&failed);
		if (known)
			return ok;
	}
	if (!was_quiet)
		log_error("%s", ch->last_error ? ch->last_error : "ClickHouse DDL failed");
	return false;
}

/* ---------------------------------------------------------------- sharding keys */

/* A name at p: [A-Za-z_][A-Za-z0-9_]* or `quoted`, into name; its length in the text, 0 if none. */
static size_t ident_at(const char *p, char *name, size_t cap)
{
	size_t n = 0, len = 0;
	if (*p == '`') {
		for (len = 1; p[len] && p[len] != '`'; len++)
			if (n + 1 < cap)
				name[n++] = p[len];
		len += p[len] == '`';
	} else if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '_') {
		for (len = 0; (p[len] >= 'A' && p[len] <= 'Z') || (p[len] >= 'a' && p[len] <= 'z') || p[len] == '_' ||
			      (p[len] >= '0' && p[len] <= '9');
		     len++)
			if (n + 1 < cap)
				name[n++] = p[len];
	}
	name[n] = '\0';
	return len;
}

bool cluster_check_sharding_key(const Table *t, const char *key, char *why, size_t whylen)
{
	int columns = 0;
	for (const char *p = key; *p;) {
		if (*p == '\'') { /* a string literal */
			for (p++; *p && *p != '\''; p++)
				if (*p == '\\' && p[1])
					p++;
			p += *p == '\'';
			continue;
		}
		if (*p >= '0' && *p <= '9') { /* a number (1e3, 0x1F as one token) */
			while ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '.')
				p++;
			continue;
		}
		char name[256];
		size_t len = ident_at(p, name, sizeof name);
		if (len == 0) {
			p++;
			continue;
		}
		const char *after = p + len;
		while (*after == ' ' || *after == '\t' || *after == '\n')
			after++;
		if (*after == '(' && *p != '`') { /* a function */
			if (strcasecmp(name, "rand") == 0 || strcasecmp(name, "rand64") == 0 || strcasecmp(name, "now") == 0 ||
			    strcasecmp(name, "generateUUIDv4") == 0 || strcasecmp(name, "randConstant") == 0) {
				snprintf(why, whylen, "%s() is not deterministic: a key's versions and deletes would land on "
					 "different shards", name);
				return false;
			}
			p = after;
			continue;
		}
		bool in_key = false;
		for (int i = 0; i < t->norder && !in_key; i++)
			in_key = strcmp(t->cols[t->order[i]].ch_name, name) == 0;
		if (!in_key) {
			snprintf(why, whylen, "it uses column %s, which is not in the table's key (ORDER BY): an update of %s "
				 "would send the row's new version to another shard than its old one, and FINAL would keep both",
				 name, name);
			return false;
		}
		columns++;
		p += len;
	}
	if (columns == 0) {
		snprintf(why, whylen, "it uses no column of the table's key (ORDER BY)");
		return false;
	}
	return true;
}

/* ---------------------------------------------------------------- inspection */

static void report_add(ClusterReport *r, const char *name, bool ok, char *text)
{
	r->items = xrealloc(r->items, sizeof(ClusterItem) * (size_t)(r->n + 1));
	r->items[r->n++] = (ClusterItem){name, ok, false, text};
	r->problems += !ok;
}

/* A node that is down: reported, but pgch works through the others. */
static void report_warn(ClusterReport *r, const char *name, char *text)
{
	r->items = xrealloc(r->items, sizeof(ClusterItem) * (size_t)(r->n + 1));
	r->items[r->n++] = (ClusterItem){name, false, true, text};
}

void cluster_report_free(ClusterReport *r)
{
	for (int i = 0; i < r->n; i++)
		free(r->items[i].text);
	free(r->items);
	memset(r, 0, sizeof *r);
}

/* Each URL of destination.url answers SELECT 1. */
static void inspect_endpoints(const Config *cfg, ClusterReport *r)
{
	for (int i = 0; i < cfg->dest.n_urls; i++) {
		DestConfig d = cfg->dest;
		d.urls = &cfg->dest.urls[i];
		d.n_urls = 1;
		d.url = cfg->dest.urls[i];
		ChConn one;
		bool ok = ch_open(&one, &d);
		one.quiet = true;
		ok = ok && ch_query(&one, "SELECT 1", NULL);
		if (ok)
			report_add(r, "clickhouse endpoint", true, xasprintf("%s answers", one.display));
		else
			report_warn(r, "clickhouse endpoint",
				   xasprintf("%s does not answer (pgch uses the other endpoints): %s. Fix: start that node, or "
					     "remove it from destination.url",
					     one.display ? one.display : d.url, one.last_error ? one.last_error : "no answer"));
		ch_close(&one);
	}
}

/* Every node has the macros of replica_path and replica_name; replicas of a shard share the
 * path and differ in name, shards differ in path. */
static void inspect_macros(ChConn *ch, const Config *cfg, const char *nodes, ClusterReport *r)
{
	Buf copy, sql, macros, path, name;
	buf_init(&copy);
	buf_init(&sql);
	buf_init(&macros);
	buf_init(&path);
	buf_init(&name);
	buf_put(&copy, nodes, strlen(nodes));
	typedef struct Node {
		int shard;
		char *addr, *path, *name;
	} Node;
	Node *nn = NULL;
	int n = 0, bad = 0;
	ChTsv t;
	char *f[4];
	ch_tsv_init(&t, &copy);
	while (ch_tsv_next_line(&t, f, 4) == 4) {
		char *addr = xasprintf("%s:%s", f[2], f[3]);
		buf_reset(&sql);
		buf_reset(&macros);
		buf_puts(&sql, "SELECT macro, substitution FROM remote(");
		ch_quote_string(&sql, addr);
		buf_puts(&sql, ", system.macros) FORMAT TabSeparated");
		ch->quiet = true;
		bool ok = ch_query(ch, sql.data, &macros);
		ch->quiet = false;
		if (!ok) {
			report_warn(r, "clickhouse macros",
				    xasprintf("cannot read the macros of node %s (down?): %s. Fix: start that node; until then "
					      "ON CLUSTER DDL waits destination.timeout for it and it runs the DDL when back",
					      addr, ch->last_error ? ch->last_error : "no answer"));
			bad++;
			free(addr);
			continue;
		}
		char missing[64];
		buf_reset(&path);
		buf_reset(&name);
		const char *which = "replica_path";
		ok = cluster_expand(cfg->dest.replica_path, macros.data, cfg->dest.database, "t", &path, missing, sizeof missing);
		if (ok) {
			which = "replica_name";
			ok = cluster_expand(cfg->dest.replica_name, macros.data, cfg->dest.database, "t", &name, missing,
					    sizeof missing);
		}
		if (!ok) {
			report_add(r, "clickhouse macros", false,
				   xasprintf("node %s has no macro {%s}, which destination.%s uses. Fix: add <macros><%s>...</%s>"
					     "</macros> to that server's config, or change destination.%s",
					     addr, missing, which, missing, missing, which));
			bad++;
			free(addr);
			continue;
		}
		nn = xrealloc(nn, sizeof(Node) * (size_t)(n + 1));
		nn[n++] = (Node){atoi(f[0]), addr, xstrdup(path.data), xstrdup(name.data)};
	}
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++) {
			bool same_shard = nn[i].shard == nn[j].shard, same_path = strcmp(nn[i].path, nn[j].path) == 0;
			if (same_shard && !same_path) {
				report_add(r, "clickhouse macros", false,
					   xasprintf("nodes %s and %s are replicas of shard %d but destination.replica_path gives "
						     "them different paths (%s, %s): they would never replicate to each other. Fix: "
						     "use a macro in replica_path that is the same on the replicas of a shard",
						     nn[i].addr, nn[j].addr, nn[i].shard, nn[i].path, nn[j].path));
				bad++;
			} else if (!same_shard && same_path) {
				report_add(r, "clickhouse macros", false,
					   xasprintf("nodes %s and %s are in different shards but destination.replica_path gives "
						     "both %s: the shards would replicate each other's rows. Fix: use a macro in "
						     "replica_path that differs per shard, such as {shard}",
						     nn[i].addr, nn[j].addr, nn[i].path));
				bad++;
			} else if (same_shard && strcmp(nn[i].name, nn[j].name) == 0) {
				report_add(r, "clickhouse macros", false,
					   xasprintf("nodes %s and %s, replicas of shard %d, have the same replica name %s. Fix: "
						     "use a macro in destination.replica_name that differs per node, such as {replica}",
						     nn[i].addr, nn[j].addr, nn[i].shard, nn[i].name));
				bad++;
			}
		}
	if (!bad && n > 0)
		report_add(r, "clickhouse macros", true,
			   xasprintf("every node has the macros of replica_path %s and replica_name %s (for table t on %s: %s, %s)",
				     cfg->dest.replica_path, cfg->dest.replica_name, nn[0].addr, nn[0].path, nn[0].name));
	for (int i = 0; i < n; i++) {
		free(nn[i].addr);
		free(nn[i].path);
		free(nn[i].name);
	}
	free(nn);
	buf_free(&copy);
	buf_free(&sql);
	buf_free(&macros);
	buf_free(&path);
	buf_free(&name);
}

void cluster_inspect(ChConn *ch, const Config *cfg, const Catalog *cat, bool endpoints, ClusterReport *r)
{
	memset(r, 0, sizeof *r);
	if (!cfg->dest.cluster)
		return;
	if (endpoints)
		inspect_endpoints(cfg, r);
	Buf nodes, a;
	buf_init(&nodes);
	buf_init(&a);
	const ChCaps *k = &ch->caps;
	if (!cluster_nodes(ch, &nodes)) {
		report_add(r, "clickhouse cluster", false,
			   xasprintf("cannot read system.clusters at %s: %s", ch->display, ch->last_error ? ch->last_error : "no answer"));
		goto out;
	}
	if (k->cluster_shards == 0 || nodes.len == 0) {
		ch->quiet = true;
		ch_query(ch, "SELECT arrayStringConcat(groupUniqArray(cluster), ', ') FROM system.clusters", &a);
		ch->quiet = false;
		report_add(r, "clickhouse cluster", false,
			   xasprintf("ClickHouse at %s has no cluster %s (its clusters: %.*s). Fix: set destination.cluster to one "
				     "of the servers' <remote_servers>", ch->display, cfg->dest.cluster,
				     (int)strcspn(a.data ? a.data : "", "\n"), a.data ? a.data : ""));
		goto out;
	}
	{
		Buf list;
		buf_init(&list);
		for (const char *l = nodes.data; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
			const char *h = strchr(l, '\t');
			h = h ? strchr(h + 1, '\t') : NULL;
			if (!h)
				continue;
			size_t len = strcspn(h + 1, "\n");
			buf_printf(&list, "%s%.*s", list.len ? ", " : "", (int)len, h + 1);
		}
		for (char *c = list.data; c && *c; c++)
			if (*c == '\t')
				*c = ':';
		report_add(r, "clickhouse cluster", true,
			   xasprintf("cluster %s: %d shard%s x %d replica%s (%s)%s", cfg->dest.cluster, k->cluster_shards,
				     k->cluster_shards == 1 ? "" : "s", k->cluster_replicas, k->cluster_replicas == 1 ? "" : "s",
				     list.data, k->cluster_shards > 1 ? "; each target is a Distributed table over <target>_local" : ""));
		buf_free(&list);
	}
	buf_reset(&a);
	ch->quiet = true;
	bool zk = ch_query(ch, "SELECT count() FROM system.zookeeper WHERE path = '/'", &a);
	ch->quiet = false;
	if (zk)
		report_add(r, "clickhouse zookeeper", true, xasprintf("ClickHouse at %s reaches ZooKeeper", ch->display));
	else
		report_add(r, "clickhouse zookeeper", false,
			   xasprintf("ClickHouse at %s cannot reach ZooKeeper: %s. Fix: start ZooKeeper (or ClickHouse Keeper) "
				     "and check <zookeeper> in the servers' config; Replicated tables and ON CLUSTER DDL need it",
				     ch->display, ch->last_error ? ch->last_error : "no answer"));
	inspect_macros(ch, cfg, nodes.data, r);
	if (k->cluster_shards > 1 && cat && cfg->dest.sharding_key)
		for (int i = 0; i < cat->ntables; i++) {
			char why[400];
			if (!cluster_check_sharding_key(&cat->tables[i], cfg->dest.sharding_key, why, sizeof why))
				report_add(r, "clickhouse sharding", false,
					   xasprintf("destination.sharding_key %s cannot shard %s: %s. Fix: use a function of its "
						     "ORDER BY columns, or remove sharding_key for cityHash64 of them",
						     cfg->dest.sharding_key, cat->tables[i].display, why));
		}
out:
	buf_free(&nodes);
	buf_free(&a);
}
