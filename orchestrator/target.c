/*
 * target — DDL on the pipe's ClickHouse tables; see target.h.
 */
#include "target.h"

#include "buf.h"
#include "cluster.h"
#include "log.h"
#include "plan.h"

/* Run the statement that fill appends (for table t). */
static bool run_ddl(ChConn *ch, const Config *cfg, const Table *t,
		    void (*fill)(const Table *, const Config *, const ChCaps *, Buf *))
{
	Buf sql;
	buf_init(&sql);
	fill(t, cfg, &ch->caps, &sql);
	bool ok = cluster_ddl(ch, sql.data);
	buf_free(&sql);
	return ok;
}

bool target_create(ChConn *ch, const Config *cfg, const Table *t)
{
	Buf sql;
	buf_init(&sql);
	plan_create_table(t, cfg, &ch->caps, &sql);
	bool ok = cluster_ddl(ch, sql.data);
	for (int k = 0; ok && k < t->nafter; k++)
		ok = cluster_ddl(ch, t->after[k]);
	buf_free(&sql);
	return ok;
}

bool target_create_all(ChConn *ch, const Config *cfg, const Catalog *cat)
{
	Buf sql;
	buf_init(&sql);
	plan_create_database(cfg, &sql);
	bool ok = cluster_ddl(ch, sql.data);
	buf_free(&sql);
	for (int i = 0; ok && i < cat->ntables; i++)
		ok = target_create(ch, cfg, &cat->tables[i]);
	return ok;
}

bool target_drop_all(ChConn *ch, const Config *cfg, const Catalog *cat)
{
	bool ok = true;
	for (int i = 0; ok && i < cat->ntables; i++)
		ok = run_ddl(ch, cfg, &cat->tables[i], plan_drop_sql);
	return ok;
}

bool target_reset(ChConn *ch, const Config *cfg, const Table *t, bool changed)
{
	if (!changed)
		return target_create(ch, cfg, t) && run_ddl(ch, cfg, t, plan_truncate_sql);
	log_info("%s: its columns changed; recreating its ClickHouse table", t->display);
	return run_ddl(ch, cfg, t, plan_drop_sql) && target_create(ch, cfg, t);
}
