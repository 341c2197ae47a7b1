/*
 * preflight_dest — the ClickHouse checks of `pgch check`; see preflight_dest.h.
 */
#include "preflight_dest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "cluster.h"
#include "types.h"

enum {
	CH_UNKNOWN_USER = 192,
	CH_WRONG_PASSWORD = 193,
	CH_REQUIRED_PASSWORD = 194,
	CH_IP_ADDRESS_NOT_ALLOWED = 195,
	CH_ACCESS_DENIED = 497,
	CH_AUTHENTICATION_FAILED = 516, /* 20.x and later, for an unknown user and a wrong password alike */
};

const char *preflight_ch_refusal_fix(long http_status, int code)
{
	switch (code) {
	case CH_UNKNOWN_USER:
	case CH_WRONG_PASSWORD:
	case CH_REQUIRED_PASSWORD:
	case CH_AUTHENTICATION_FAILED:
		return "check destination.user and destination.password: ClickHouse does not accept them";
	case CH_IP_ADDRESS_NOT_ALLOWED:
		return "allow this host for the ClickHouse user (<networks> in users.xml, or HOST in CREATE USER)";
	case CH_ACCESS_DENIED:
		return "grant the ClickHouse user what the finding names (SHOW GRANTS lists what it has)";
	}
	if (http_status == 0) /* no answer at all */
		return "check destination.url and that ClickHouse listens there";
	return NULL;
}

/* The privilege and its parents in ClickHouse's hierarchy, ending with ALL. */
static int access_chain(const char *access, const char **out)
{
	static const char *const chains[][6] = {
		{"CREATE TABLE", "CREATE", "ALL"},
		{"CREATE DATABASE", "CREATE", "ALL"},
		{"DROP TABLE", "DROP", "ALL"},
		{"ALTER ADD COLUMN", "ALTER COLUMN", "ALTER TABLE", "ALTER", "ALL"},
	};
	for (size_t i = 0; i < sizeof chains / sizeof chains[0]; i++)
		if (strcmp(chains[i][0], access) == 0) {
			int n = 0;
			while (n < 6 && chains[i][n])
				out[n] = chains[i][n], n++;
			return n;
		}
	out[0] = access;
	out[1] = "ALL";
	return 2;
}

/* Does a grant's database ("*", a name, or a "prefix*" wildcard) include `database`? */

/* https and a verified certificate (libcurl verifies unless destination.tls.verify = false). */
static void check_ch_tls(DestCheck *c)
{
	const char *url = c->ch.url;
	bool encrypted = strncmp(url, "https://", 8) == 0;
	const char *h = strstr(url, "://");
	h = h ? h + 3 : url;
	char host[256];
	size_t n = h[0] == '[' ? strcspn(h, "]") + 1 : strcspn(h, ":/");
	snprintf(host, sizeof host, "%.*s", (int)(n < sizeof host ? n : sizeof host - 1), h);
	char msg[512];
	const char *fix;
	CheckStatus st = preflight_tls_verdict(encrypted, encrypted && c->ch.tls_verify ? 2 : 0, host, "ClickHouse",
					       encrypted ? "remove destination.tls.verify = false and set destination.tls.ca_file"
							 : "use ClickHouse's https_port: an https:// destination.url (and "
							   "destination.tls.ca_file for a private CA)",
					       msg, sizeof msg, &fix);
	findings_add(c->out, "clickhouse tls", st, fix, "%s", msg);
}

static bool grant_db_matches(const char *pattern, const char *database)
{
	size_t n = strlen(pattern);
	if (strcmp(pattern, "*") == 0)
		return true;
	if (n > 0 && pattern[n - 1] == '*')
		return strncmp(pattern, database, n - 1) == 0;
	return strcmp(pattern, database) == 0;
}

bool preflight_ch_grant_covers(const ChGrant *grants, int n, const char *database, const char *access)
{
	const char *chain[6];
	int nchain = access_chain(access, chain);
	bool granted = false;
	for (int i = 0; i < n && !granted; i++)
		for (int k = 0; k < nchain; k++)
			if (!grants[i].revoke && strcasecmp(grants[i].access, chain[k]) == 0 &&
			    grant_db_matches(grants[i].database, database))
				granted = true;
	for (int i = 0; i < n && granted; i++)
		for (int k = 0; k < nchain; k++)
			if (grants[i].revoke && strcasecmp(grants[i].access, chain[k]) == 0 &&
			    (strcmp(grants[i].database, "*") == 0 || strcmp(grants[i].database, database) == 0) &&
			    strcmp(grants[i].table, "*") == 0)
				granted = false;
	return granted;
}

void preflight_dest_connect(DestCheck *c, const Config *cfg, Findings *out)
{
	memset(c, 0, sizeof *c);
	c->cfg = cfg;
	c->out = out;
	c->ch_open = ch_open(&c->ch, &cfg->dest);
	c->ch_ok = c->ch_open && ch_probe(&c->ch);
	c->probe = out->cap; /* reported after PostgreSQL */
	memset(&out->cap, 0, sizeof out->cap);
}

void preflight_dest_report_connect(DestCheck *c)
{
	if (!c->ch_ok) {
		const char *fix = c->ch_open ? preflight_ch_refusal_fix(c->ch.last_status, c->ch.last_code) : NULL;
		findings_add_captured_from(c->out, &c->probe, "clickhouse",
					   fix ? fix : "check destination.url, user and password, and that ClickHouse listens there");
		return;
	}
	findings_captured_clear(&c->probe);
	const ChCaps *k = &c->ch.caps;
	findings_add(c->out, "clickhouse", CHECK_OK, NULL, "ClickHouse %s at %s as %s", k->version, c->ch.display, c->ch.user);
	check_ch_tls(c);
	Buf have, lack;
	buf_init(&have);
	buf_init(&lack);
	struct {
		bool on;
		const char *name;
	} caps[] = {{k->has_bool, "Bool"},
		    {k->has_date32, "Date32"},
		    {k->has_datetime64, "DateTime64"},
		    {k->has_decimal256, "Decimal256"},
		    {k->has_low_cardinality, "LowCardinality"},
		    {k->has_nullable_in_array, "Array(Nullable)"},
		    {k->has_replacing_is_deleted, "ReplacingMergeTree(version, is_deleted)"},
		    {k->has_async_insert, "async_insert"},
		    {k->has_zstd_http, "zstd request bodies"}};
	for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
		Buf *b = caps[i].on ? &have : &lack;
		buf_printf(b, "%s%s", b->len ? ", " : "", caps[i].name);
	}
	findings_add(c->out, "clickhouse capabilities", CHECK_OK, NULL, "probed: %s%s%s%s%s", have.len ? "has " : "", have.data,
		     have.len && lack.len ? "; " : "", lack.len ? "lacks " : "", lack.data);
	buf_free(&have);
	buf_free(&lack);
}

/* May the user create the database and tables and write them? */
static void check_ch_grants(DestCheck *c, bool db_exists)
{
	const char *db = c->cfg->dest.database, *user = c->ch.user;
	Buf a, sql;
	buf_init(&a);
	buf_init(&sql);
	int readonly, allow_ddl;
	if (!ch_user_limits(&c->ch, &readonly, &allow_ddl)) {
		findings_add_captured(c->out, "clickhouse grants", "see the finding");
		goto out;
	}
	if (readonly != 0 || allow_ddl == 0) {
		char fix[256];
		snprintf(fix, sizeof fix, "set %s for user %s in its ClickHouse settings profile (users.xml or SETTINGS PROFILE)",
			 readonly ? "readonly = 0" : "allow_ddl = 1", user);
		findings_add(c->out, "clickhouse grants", CHECK_FAIL, fix, "ClickHouse user %s has %s = %d: pgch cannot create tables%s",
			     user, readonly ? "readonly" : "allow_ddl", readonly ? readonly : allow_ddl, readonly ? " or insert" : "");
		goto out;
	}
	buf_reset(&a);
	if (!ch_query(&c->ch, "SELECT count() FROM system.tables WHERE database = 'system' AND name = 'grants'", &a)) {
		findings_add_captured(c->out, "clickhouse grants", "see the finding");
		goto out;
	}
	if (atoi(a.data) == 0) {
		/* 18.x–19.x: no access control beyond readonly/allow_ddl and users.xml's allow_databases */
		bool usable = false;
		if (db_exists) {
			buf_puts(&sql, "SHOW TABLES FROM ");
			ch_quote_ident(&sql, db);
			c->ch.quiet = true;
			usable = ch_query(&c->ch, sql.data, NULL);
			c->ch.quiet = false;
		}
		if (usable) {
			findings_add(c->out, "clickhouse grants", CHECK_OK, NULL,
				     "user %s may use database %s (readonly = 0, allow_ddl = 1; this server has no per-user grants)", user,
				     db);
		} else {
			char fix[512];
			snprintf(fix, sizeof fix,
				 "if pgch cannot create it, run CREATE DATABASE IF NOT EXISTS `%s` as a user who may, and allow "
				 "database %s for user %s (users.xml allow_databases)",
				 db, db, user);
			findings_add(c->out, "clickhouse grants", CHECK_WARN, fix,
				     "could not verify that user %s may %s database %s: ClickHouse %s has no system.grants (readonly = 0 "
				     "and allow_ddl = 1 do allow DDL)",
				     user, db_exists ? "use" : "create", db, c->ch.caps.version);
		}
		goto out;
	}
	buf_reset(&a);
	if (!ch_query(&c->ch,
		      "SELECT toString(access_type), ifNull(database, '*'), ifNull(table, '*'), is_partial_revoke FROM "
		      "system.grants WHERE user_name = currentUser() OR role_name IN (SELECT arrayJoin(enabledRoles()))",
		      &a)) {
		findings_add_captured(c->out, "clickhouse grants",
				      c->ch.last_code == CH_ACCESS_DENIED
					      ? "grant the user SHOW USERS, or check its grants by hand (SHOW GRANTS)"
					      : "see the finding");
		goto out;
	}
	ChGrant *g = NULL;
	int n = 0;
	ChTsv t;
	ch_tsv_init(&t, &a);
	char *row[4];
	while (ch_tsv_next_line(&t, row, 4) == 4) {
		g = xrealloc(g, sizeof(ChGrant) * (size_t)(n + 1));
		g[n].access = row[0];
		g[n].database = row[1];
		g[n].table = row[2];
		g[n].revoke = atoi(row[3]) != 0;
		n++;
	}
	if (n == 0) {
		findings_add(c->out, "clickhouse grants", CHECK_WARN, "check the user's grants by hand: SHOW GRANTS",
			     "could not verify the grants of user %s: system.grants shows none for it or its roles", user);
		free(g);
		goto out;
	}
	static const char *const needed[] = {"CREATE DATABASE", "CREATE TABLE", "INSERT", "SELECT"};
	static const char *const wanted[] = {"ALTER ADD COLUMN", "TRUNCATE", "DROP TABLE"};
	Buf miss, miss_opt;
	buf_init(&miss);
	buf_init(&miss_opt);
	for (size_t i = db_exists ? 1 : 0; i < sizeof needed / sizeof needed[0]; i++)
		if (!preflight_ch_grant_covers(g, n, db, needed[i]))
			buf_printf(&miss, "%s%s", miss.len ? ", " : "", needed[i]);
	for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++)
		if (!preflight_ch_grant_covers(g, n, db, wanted[i]))
			buf_printf(&miss_opt, "%s%s", miss_opt.len ? ", " : "", wanted[i]);
	char *fix;
	if (miss.len) {
		fix = xasprintf("GRANT %s ON `%s`.* TO `%s`", miss.data, db, user);
		findings_add(c->out, "clickhouse grants", CHECK_FAIL, fix, "ClickHouse user %s lacks %s on database %s", user, miss.data,
			     db);
		free(fix);
	} else if (miss_opt.len) {
		fix = xasprintf("GRANT %s ON `%s`.* TO `%s`", miss_opt.data, db, user);
		findings_add(c->out, "clickhouse grants", CHECK_WARN, fix,
			     "ClickHouse user %s may create and write tables in %s but lacks %s (new columns, TRUNCATE, --restart)",
			     user, db, miss_opt.data);
		free(fix);
	} else {
		findings_add(c->out, "clickhouse grants", CHECK_OK, NULL, "ClickHouse user %s may create, write and alter tables in %s",
			     user, db);
	}
	buf_free(&miss);
	buf_free(&miss_opt);
	free(g);
out:
	buf_free(&a);
	buf_free(&sql);
}

/* Is the engine a ReplacingMergeTree (plain, Replicated..., Shared...)? */
static bool replacing_engine(const char *engine)
{
	size_t n = strlen(engine), m = strlen("ReplacingMergeTree");
	return n >= m && strcasecmp(engine + n - m, "ReplacingMergeTree") == 0;
}

/* Strip backticks and blanks, for comparing key expressions as ClickHouse prints them. */
static void squeeze(const char *in, Buf *out)
{
	for (const char *p = in; *p; p++)
		if (*p != '`' && *p != ' ')
			buf_put_u8(out, (uint8_t)*p);
}

/* Is `version` one of the arguments of the ReplacingMergeTree(...) in engine_full? */
static bool engine_versioned_by(const char *engine_full, const char *version)
{
	const char *p = strstr(engine_full, "ReplacingMergeTree(");
	if (!p)
		return false;
	p += strlen("ReplacingMergeTree(");
	while (*p && *p != ')') {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, ",)");
		char *raw = xstrndup(p, n);
		Buf arg;
		buf_init(&arg);
		squeeze(raw, &arg);
		bool same = arg.data && strcmp(arg.data, version) == 0;
		buf_free(&arg);
		free(raw);
		if (same)
			return true;
		p += n;
		if (*p == ',')
			p++;
	}
	return false;
}

/* Existing target tables must have the planned columns, types, engine and ORDER BY. */
static void check_ch_targets(DestCheck *c, const Catalog *cat)
{
	const Config *cfg = c->cfg;
	Buf sql, tabs, cols;
	buf_init(&sql);
	buf_init(&tabs);
	buf_init(&cols);
	buf_puts(&sql, "SELECT name, engine, engine_full, sorting_key FROM system.tables WHERE database = ");
	ch_quote_string(&sql, cfg->dest.database);
	bool ok = ch_query(&c->ch, sql.data, &tabs);
	buf_reset(&sql);
	buf_puts(&sql, "SELECT table, name, type FROM system.columns WHERE database = ");
	ch_quote_string(&sql, cfg->dest.database);
	ok = ok && ch_query(&c->ch, sql.data, &cols);
	if (!ok) {
		findings_add_captured(c->out, "clickhouse tables", "see the finding");
		goto out;
	}
	/* rows: [table, engine, engine_full, sorting_key] and [table, column, type] */
	int ntab = 0, ncol = 0;
	char *(*trow)[4] = NULL, *(*crow)[3] = NULL;
	ChTsv t;
	char *f[4];
	ch_tsv_init(&t, &tabs);
	while (ch_tsv_next_line(&t, f, 4) == 4) {
		trow = xrealloc(trow, sizeof *trow * (size_t)(ntab + 1));
		memcpy(trow[ntab++], f, sizeof f);
	}
	ch_tsv_init(&t, &cols);
	while (ch_tsv_next_line(&t, f, 3) == 3) {
		crow = xrealloc(crow, sizeof *crow * (size_t)(ncol + 1));
		memcpy(crow[ncol++], f, sizeof(char *) * 3);
	}
	int existing = 0, fresh = 0, bad = 0;
	for (int ti = 0; ti < cat->ntables; ti++) {
		const Table *tb = &cat->tables[ti];
		if (tb->refused)
			continue;
		int tr = -1;
		for (int i = 0; i < ntab; i++)
			if (strcmp(trow[i][0], tb->target) == 0)
				tr = i;
		if (tr < 0) {
			fresh++;
			continue;
		}
		existing++;
		char name[300], fix[1024];
		snprintf(name, sizeof name, "target %s.%s", cfg->dest.database, tb->target);
		snprintf(fix, sizeof fix, "DROP TABLE `%s`.`%s` so pgch creates it (pgch snapshot --restart does), or set target "
					  "for %s to another name",
			 cfg->dest.database, tb->target, tb->display);
		int problems = 0;
		if (!replacing_engine(trow[tr][1]) ||
		    !engine_versioned_by(trow[tr][2], cfg->dest.version_column)) {
			findings_add(c->out, name, CHECK_FAIL, fix,
				     "ClickHouse table %s.%s exists with engine %s, not ReplacingMergeTree(%s): updates and deletes "
				     "would not replace the rows they change",
				     cfg->dest.database, tb->target, trow[tr][1], cfg->dest.version_column);
			problems++;
		}
		Buf want, got, order;
		buf_init(&want);
		buf_init(&got);
		buf_init(&order);
		for (int i = 0; i < tb->norder; i++)
			buf_printf(&order, "%s%s", i ? ", " : "", tb->cols[tb->order[i]].ch_name);
		squeeze(order.data ? order.data : "", &want);
		squeeze(trow[tr][3], &got);
		if (strcmp(want.data ? want.data : "", got.data ? got.data : "") != 0) {
			findings_add(c->out, name, CHECK_FAIL, fix,
				     "ClickHouse table %s.%s is ordered by (%s), pgch needs (%s): rows are deduplicated by ORDER BY",
				     cfg->dest.database, tb->target, trow[tr][3], order.data);
			problems++;
		}
		buf_free(&want);
		buf_free(&got);
		buf_free(&order);
		/* planned columns: the table's, then the three of pgch */
		for (int ci = 0; ci < tb->ncols + 3; ci++) {
			Buf type;
			buf_init(&type);
			const char *col, *src = NULL; /* src: the source column's name when renamed */
			if (ci < tb->ncols) {
				col = tb->cols[ci].ch_name;
				if (strcmp(col, tb->cols[ci].name) != 0)
					src = tb->cols[ci].name;
				types_ch_name(&tb->cols[ci].ch, &type);
			} else {
				col = ci == tb->ncols ? cfg->dest.version_column
				      : ci == tb->ncols + 1 ? cfg->dest.deleted_column
							    : cfg->dest.synced_column;
				buf_puts(&type, ci == tb->ncols ? "UInt64" : ci == tb->ncols + 1 ? "UInt8" : "DateTime");
			}
			const char *have = NULL;
			for (int i = 0; i < ncol; i++)
				if (strcmp(crow[i][0], tb->target) == 0 && strcmp(crow[i][1], col) == 0)
					have = crow[i][2];
			if (!have) {
				char *cfix = xasprintf("ALTER TABLE `%s`.`%s` ADD COLUMN `%s` %s, or %s", cfg->dest.database,
						       tb->target, col, type.data, fix);
				findings_add(c->out, name, CHECK_FAIL, cfix, "ClickHouse table %s.%s exists without column %s (%s)%s%s%s",
					     cfg->dest.database, tb->target, col, type.data,
					     src ? ", the ClickHouse name of source column " : "", src ? src : "",
					     src ? " (columns = { ... }): was the rename changed? pgch run copies the table again" : "");
				free(cfix);
				problems++;
			} else if (strcmp(have, type.data) != 0) {
				char *cfix = ci < tb->ncols
						     ? xasprintf("%s; or keep it with types = { %s = \"%s\" } in the entry for %s",
								 fix, tb->cols[ci].name, have, tb->display)
						     : xstrdup(fix);
				findings_add(c->out, name, CHECK_FAIL, cfix,
					     "ClickHouse table %s.%s has column %s as %s, pgch writes %s", cfg->dest.database, tb->target,
					     col, have, type.data);
				free(cfix);
				problems++;
			}
			buf_free(&type);
		}
		bad += problems > 0;
	}
	if (existing - bad > 0 || fresh > 0) {
		Buf d;
		buf_init(&d);
		if (existing - bad > 0)
			buf_printf(&d, "%d existing target table%s match%s the plan", existing - bad, existing - bad == 1 ? "" : "s",
				   existing - bad == 1 ? "es" : "");
		if (fresh > 0)
			buf_printf(&d, "%s%d target table%s will be created", d.len ? "; " : "", fresh, fresh == 1 ? "" : "s");
		findings_add(c->out, "clickhouse tables", CHECK_OK, NULL, "%s in %s", d.data, cfg->dest.database);
		buf_free(&d);
	}
	free(trow);
	free(crow);
out:
	buf_free(&sql);
	buf_free(&tabs);
	buf_free(&cols);
}

/* destination.cluster: shape, endpoints, ZooKeeper, macros, sharding keys (cluster.h). */
static void check_ch_cluster(DestCheck *c, const Catalog *cat)
{
	ClusterReport cr;
	cluster_inspect(&c->ch, c->cfg, cat, true, &cr);
	for (int i = 0; i < cr.n; i++) {
		ClusterItem *it = &cr.items[i];
		if (it->ok) {
			findings_add(c->out, it->name, CHECK_OK, NULL, "%s", it->text);
			continue;
		}
		char *fix = strstr(it->text, ". Fix: ");
		if (fix) {
			*fix = '\0';
			fix += 7;
		}
		findings_add(c->out, it->name, it->warn ? CHECK_WARN : CHECK_FAIL, fix ? fix : "see the finding", "%s", it->text);
	}
	cluster_report_free(&cr);
}

void preflight_dest_check(DestCheck *c, const Catalog *cat)
{
	const char *db = c->cfg->dest.database;
	Buf sql, a;
	buf_init(&sql);
	buf_init(&a);
	buf_puts(&sql, "SELECT count() FROM system.databases WHERE name = ");
	ch_quote_string(&sql, db);
	if (!ch_query(&c->ch, sql.data, &a)) {
		findings_add_captured(c->out, "clickhouse database", "see the finding");
		goto out;
	}
	bool exists = atoi(a.data) > 0;
	findings_add(c->out, "clickhouse database", CHECK_OK, NULL,
		     exists ? "ClickHouse database %s exists" : "ClickHouse database %s does not exist yet; pgch creates it", db);
	check_ch_grants(c, exists);
	check_ch_cluster(c, cat);
	if (exists && cat)
		check_ch_targets(c, cat);
out:
	buf_free(&sql);
	buf_free(&a);
}

void preflight_dest_close(DestCheck *c)
{
	findings_captured_clear(&c->probe);
	if (c->ch_open)
		ch_close(&c->ch);
}
