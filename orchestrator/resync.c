/*
 * resync — a table copied again into a shadow table and swapped in; see resync.h.
 */
#include "resync.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster.h"
#include "log.h"
#include "plan.h"
#include "target.h"

bool resync_is_shadow_of(const char *name, const char *target)
{
	size_t n = strlen(target), m = strlen(RESYNC_SHADOW_MARK);
	return name && strncmp(name, target, n) == 0 && strncmp(name + n, RESYNC_SHADOW_MARK, m) == 0 && name[n + m];
}

char *resync_real_target(const char *name)
{
	const char *mark = name ? strstr(name, RESYNC_SHADOW_MARK) : NULL;
	if (!mark || mark == name)
		return NULL;
	char *real = xstrndup(name, (size_t)(mark - name));
	if (!resync_is_shadow_of(name, real)) {
		free(real);
		return NULL;
	}
	return real;
}

/* The table that holds the rows: name, or on shards name_local (malloc'd). */
static char *stored_name(const char *name, const ChCaps *caps)
{
	return plan_sharded(caps) ? xasprintf("%s_local", name) : xstrdup(name);
}

static void qualified(const Config *cfg, const char *name, Buf *out)
{
	ch_quote_ident(out, cfg->dest.database);
	buf_put_u8(out, '.');
	ch_quote_ident(out, name);
}

static void qualified_stored(const Config *cfg, const ChCaps *caps, const char *name, Buf *out)
{
	char *s = stored_name(name, caps);
	qualified(cfg, s, out);
	free(s);
}

void resync_swap_sql(const Config *cfg, const ChCaps *caps, const char *target, const char *shadow, const char *old,
		     SwapHow how, Buf *out)
{
	if (how == SWAP_MOVE) {
		buf_puts(out, "RENAME TABLE ");
		qualified_stored(cfg, caps, shadow, out);
		buf_puts(out, " TO ");
		qualified_stored(cfg, caps, target, out);
	} else if (how == SWAP_EXCHANGE) {
		buf_puts(out, "EXCHANGE TABLES ");
		qualified_stored(cfg, caps, target, out);
		buf_puts(out, " AND ");
		qualified_stored(cfg, caps, shadow, out);
	} else {
		buf_puts(out, "RENAME TABLE ");
		qualified_stored(cfg, caps, target, out);
		buf_puts(out, " TO ");
		qualified_stored(cfg, caps, old, out);
		buf_puts(out, ", ");
		qualified_stored(cfg, caps, shadow, out);
		buf_puts(out, " TO ");
		qualified_stored(cfg, caps, target, out);
	}
	cluster_on_clause(&cfg->dest, out);
}

const char *resync_old_holder(const char *shadow, const char *old, SwapHow how)
{
	return how == SWAP_EXCHANGE ? shadow : how == SWAP_RENAME ? old : NULL;
}

/* ---------------------------------------------------------------- on the server */

static bool drop_table(ChConn *ch, const Config *cfg, const char *name)
{
	Buf sql;
	buf_init(&sql);
	buf_puts(&sql, "DROP TABLE IF EXISTS ");
	qualified(cfg, name, &sql);
	cluster_on_clause(&cfg->dest, &sql);
	bool ok = cluster_ddl(ch, sql.data);
	buf_free(&sql);
	return ok;
}

/* Tables of the destination database whose name starts with target then mark, dropped. */
static bool drop_named(ChConn *ch, const Config *cfg, const char *target, const char *mark)
{
	char *prefix = xasprintf("%s%s", target, mark);
	Buf sql, ans;
	buf_init(&sql);
	buf_init(&ans);
	buf_printf(&sql, "SELECT name FROM system.tables WHERE database = ");
	ch_quote_string(&sql, cfg->dest.database);
	buf_printf(&sql, " AND substring(name, 1, %zu) = ", strlen(prefix));
	ch_quote_string(&sql, prefix);
	buf_puts(&sql, " ORDER BY name DESC"); /* a Distributed shadow before its `_local` table */
	bool ok = ch_query(ch, sql.data, &ans);
	for (char *line = ans.data, *nl; ok && line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		log_info("dropping %s.%s, left by an earlier resync that did not finish", cfg->dest.database, line);
		ok = drop_table(ch, cfg, line);
	}
	buf_free(&ans);
	buf_free(&sql);
	free(prefix);
	return ok;
}

/* s with {database} and {table} written out (malloc'd). */
static char *expand_names(const char *s, const char *database, const char *table)
{
	Buf out;
	buf_init(&out);
	while (*s) {
		if (strncmp(s, "{database}", 10) == 0) {
			buf_puts(&out, database);
			s += 10;
		} else if (strncmp(s, "{table}", 7) == 0) {
			buf_puts(&out, table);
			s += 7;
		} else {
			buf_put_u8(&out, (uint8_t)*s++);
		}
	}
	return buf_steal(&out);
}

bool resync_begin(ChConn *ch, const Config *cfg, Table *t)
{
	if (t->resync_target)
		resync_abandon(t);
	if (!drop_named(ch, cfg, t->target, RESYNC_SHADOW_MARK) || !drop_named(ch, cfg, t->target, RESYNC_OLD_MARK))
		return false;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	long long gen = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	char *shadow = xasprintf("%s%s%lld", t->target, RESYNC_SHADOW_MARK, gen);
	/* the shadow's ZooKeeper path must stay its own once it is renamed: macros written out */
	Config c = *cfg;
	char *stored = stored_name(shadow, &ch->caps);
	char *path = cfg->dest.cluster ? expand_names(cfg->dest.replica_path, cfg->dest.database, stored) : NULL;
	if (path)
		c.dest.replica_path = path;
	Table s = *t;
	s.target = shadow;
	Buf sql;
	buf_init(&sql);
	plan_create_table(&s, &c, &ch->caps, &sql);
	bool ok = cluster_ddl(ch, sql.data);
	buf_free(&sql);
	free(path);
	free(stored);
	if (!ok) {
		free(shadow);
		return false;
	}
	log_info("%s: copying it again into %s.%s; readers keep %s.%s until it is swapped in", t->display,
		 cfg->dest.database, shadow, cfg->dest.database, t->target);
	t->resync_target = t->target;
	t->target = shadow;
	return true;
}

void resync_abandon(Table *t)
{
	if (!t->resync_target)
		return;
	free(t->target);
	t->target = t->resync_target;
	t->resync_target = NULL;
}

/* How the swap is done here: the target gone (dropped behind pgch's back): the shadow
 * renamed; else EXCHANGE TABLES where the database's engine has it (Atomic, or Replicated
 * built on it), else RENAME TABLE. */
static bool swap_how(ChConn *ch, const Config *cfg, const char *target, SwapHow *how)
{
	Buf sql, ans;
	buf_init(&sql);
	buf_init(&ans);
	buf_puts(&sql, "SELECT (SELECT engine FROM system.databases WHERE name = ");
	ch_quote_string(&sql, cfg->dest.database);
	buf_puts(&sql, "), (SELECT count() FROM system.tables WHERE database = ");
	ch_quote_string(&sql, cfg->dest.database);
	buf_puts(&sql, " AND name = ");
	char *stored = stored_name(target, &ch->caps);
	ch_quote_string(&sql, stored);
	free(stored);
	buf_puts(&sql, ")");
	bool ok = ch_query(ch, sql.data, &ans);
	if (ok) {
		bool atomic = strncmp(ans.data, "Atomic\t", 7) == 0 || strncmp(ans.data, "Replicated\t", 11) == 0;
		const char *tab = strchr(ans.data, '\t');
		*how = tab && tab[1] == '0' ? SWAP_MOVE : atomic ? SWAP_EXCHANGE : SWAP_RENAME;
	}
	buf_free(&ans);
	buf_free(&sql);
	return ok;
}

/* name and type of each column of a table, in order. */
static bool column_types(ChConn *ch, const Config *cfg, const char *table, Buf *out)
{
	Buf sql;
	buf_init(&sql);
	buf_puts(&sql, "DESCRIBE TABLE ");
	qualified(cfg, table, &sql);
	bool ok = ch_query(ch, sql.data, out);
	buf_free(&sql);
	/* keep name and type (the first two fields) of each line */
	char *w = out->data;
	for (char *line = out->data, *nl; ok && line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		char *tab = strchr(line, '\t');
		char *tab2 = tab && (!nl || tab < nl) ? strchr(tab + 1, '\t') : NULL;
		size_t len = tab2 && (!nl || tab2 < nl) ? (size_t)(tab2 - line) : nl ? (size_t)(nl - line) : strlen(line);
		memmove(w, line, len);
		w += len;
		*w++ = '\n';
	}
	if (ok) {
		*w = '\0';
		out->len = (size_t)(w - out->data);
	}
	return ok;
}

/* On shards: the Distributed table made anew when the new local tables' columns differ. */
static bool match_distributed(ChConn *ch, const Config *cfg, const Table *t)
{
	if (!plan_sharded(&ch->caps))
		return true;
	Buf dist, local;
	buf_init(&dist);
	buf_init(&local);
	char *stored = stored_name(t->target, &ch->caps);
	bool ok = column_types(ch, cfg, t->target, &dist) && column_types(ch, cfg, stored, &local);
	if (ok && strcmp(dist.data, local.data) != 0) {
		Buf sql;
		buf_init(&sql);
		plan_distributed_sql(t, cfg, &ch->caps, &sql);
		log_info("%s: its columns changed; recreating the Distributed table %s.%s", t->display, cfg->dest.database,
			 t->target);
		ok = cluster_ddl(ch, sql.data);
		buf_free(&sql);
	}
	free(stored);
	buf_free(&local);
	buf_free(&dist);
	return ok;
}

bool resync_finish(ChConn *ch, const Config *cfg, Table *t)
{
	if (!t->resync_target)
		return true;
	const char *shadow = t->target, *gen = t->target + strlen(t->resync_target) + strlen(RESYNC_SHADOW_MARK);
	SwapHow how;
	if (!swap_how(ch, cfg, t->resync_target, &how))
		return false;
	char *old = xasprintf("%s%s%s", t->resync_target, RESYNC_OLD_MARK, gen);
	Buf sql;
	buf_init(&sql);
	resync_swap_sql(cfg, &ch->caps, t->resync_target, shadow, old, how, &sql);
	bool ok = cluster_ddl(ch, sql.data);
	buf_free(&sql);
	if (!ok) {
		free(old);
		return false;
	}
	static const char *const said[] = {[SWAP_EXCHANGE] = "EXCHANGE TABLES", [SWAP_RENAME] = "RENAME TABLE",
					   [SWAP_MOVE] = "RENAME TABLE; there was no old table"};
	log_info("%s: the new copy is swapped in (%s)", t->display, said[how]);
	const char *holder = resync_old_holder(shadow, old, how);
	char *stored = holder ? stored_name(holder, &ch->caps) : NULL;
	bool dropped = (!stored || drop_table(ch, cfg, stored)) && (!plan_sharded(&ch->caps) || drop_table(ch, cfg, shadow));
	free(stored);
	free(old);
	resync_abandon(t); /* t names its real target again */
	if (!dropped)
		log_warn("%s: the old table stays for now; the next resync of it drops it", t->display);
	/* on shards a Distributed table dropped behind pgch's back is created; the after
	 * statements run again (the views over the table name it, so they read the new one) */
	return target_create(ch, cfg, t) && match_distributed(ch, cfg, t);
}
