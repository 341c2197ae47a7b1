/*
 * reload — pgch run re-reads its config on SIGHUP.
 *
 * reload_prepare loads the config file again and discovers its tables while the pipe keeps
 * running; only when both work, and the pipe's identity (name, slot, publication, source,
 * destination) is unchanged, does the supervisor stop its workers (the stream flushes and
 * confirms) and the run start over with the new config: prepare_run puts added tables in
 * the publication and copies them while the stream carries on with the others, and takes
 * removed ones out of it (their ClickHouse tables stay). A config that no longer loads, or
 * that changes what only a restart can, is reported and the running pipe keeps its config.
 */
#ifndef PGCH_RELOAD_H
#define PGCH_RELOAD_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "catalog.h"
#include "ch.h"
#include "config.h"

/* The new config and its catalog in *cfg_out and *cat_out; false (logged): keep the old. */
bool reload_prepare(const Config *cur, const Catalog *cur_cat, PGconn *pg, const ChCaps *caps, Config **cfg_out,
		    Catalog *cat_out);

#endif
