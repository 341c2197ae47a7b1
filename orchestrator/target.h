/*
 * target — the pipe's tables in ClickHouse: created (then the statements their hooks
 * added), emptied or recreated before a new copy, dropped. The statements' text is plan.c's;
 * this module runs them through cluster_ddl (on a cluster: ON CLUSTER, waiting for every host).
 */
#ifndef PGCH_TARGET_H
#define PGCH_TARGET_H

#include <stdbool.h>

#include "catalog.h"
#include "ch.h"
#include "config.h"

/* The database and every table (IF NOT EXISTS). */
bool target_create_all(ChConn *ch, const Config *cfg, const Catalog *cat);
/* One table (IF NOT EXISTS), then its hooks' statements. */
bool target_create(ChConn *ch, const Config *cfg, const Table *t);
/* Every table of the catalog (IF EXISTS). */
bool target_drop_all(ChConn *ch, const Config *cfg, const Catalog *cat);
/* Before a table is copied again: emptied (and created first if it was dropped behind pgch's
 * back, perhaps why it is copied), or dropped and created anew when its columns changed. */
bool target_reset(ChConn *ch, const Config *cfg, const Table *t, bool changed);

#endif
