/*
 * resync — a table copied again by pgch run without readers seeing it empty
 * (ARCHITECTURE.md, "Resync"). The copy goes into a shadow table,
 * `<target>__pgch_resync_<generation>`, created with the table's current shape; while it is
 * copied the snapshot workers and the stream worker write the table's rows there (the
 * table's `target` names the shadow, `resync_target` keeps the real name), and readers
 * keep the old table's rows. When every partition is copied the stream worker is stopped
 * and the shadow swapped in with one statement: `EXCHANGE TABLES` where the database has
 * it (Atomic), else one multi-table `RENAME TABLE` (the old table becomes
 * `<target>__pgch_old_<generation>`). The old table is dropped, the table's `after`
 * statements run again, and on shards the Distributed table is made anew if its columns no
 * longer match. The stream worker then starts again from the slot; what it replays is
 * harmless by the version rules.
 *
 * The generation (milliseconds since the epoch) keeps each shadow's name, and so its
 * ZooKeeper path, distinct. On a cluster the shadow's replica path has {database} and
 * {table} written out, so the table keeps that path under its new name, also after a server
 * restart re-reads its definition. A run killed before the swap leaves the progress table
 * naming the shadow as the table's target: the next run copies the table again, dropping
 * every leftover `<target>__pgch_resync_*` and `<target>__pgch_old_*` first.
 */
#ifndef PGCH_RESYNC_H
#define PGCH_RESYNC_H

#include <stdbool.h>

#include "buf.h"
#include "catalog.h"
#include "ch.h"
#include "config.h"

#define RESYNC_SHADOW_MARK "__pgch_resync_"
#define RESYNC_OLD_MARK "__pgch_old_"

/* Is name a shadow table of target (recorded as a table's target by a resync)? */
bool resync_is_shadow_of(const char *name, const char *target);
/* The real target a shadow table's name belongs to (malloc'd), NULL if name is no shadow's. */
char *resync_real_target(const char *name);

typedef enum SwapHow {
	SWAP_EXCHANGE, /* EXCHANGE TABLES target AND shadow: the old rows end up under the shadow's name */
	SWAP_RENAME,   /* RENAME TABLE target TO old, shadow TO target */
	SWAP_MOVE,     /* no target (dropped behind pgch's back): RENAME TABLE shadow TO target */
} SwapHow;

/* The swap statement (pure, for the unit tests): on shards the local tables (`_local`) are
 * swapped and the Distributed table keeps naming them. ON CLUSTER on a cluster. */
void resync_swap_sql(const Config *cfg, const ChCaps *caps, const char *target, const char *shadow, const char *old,
		     SwapHow how, Buf *out);
/* The name holding the old rows after the swap, to drop; NULL after SWAP_MOVE (pure). */
const char *resync_old_holder(const char *shadow, const char *old, SwapHow how);

/* Start: drop the leftovers of earlier resyncs of t, create the shadow, point t at it. */
bool resync_begin(ChConn *ch, const Config *cfg, Table *t);
/* A resync begun again before its swap: t points at its real target again (the shadow is
 * a leftover for the next resync_begin). */
void resync_abandon(Table *t);
/* Every partition is in the shadow and nothing writes to it: swap it in, point t at its
 * real target, drop the old table, run the after statements again. */
bool resync_finish(ChConn *ch, const Config *cfg, Table *t);

#endif
