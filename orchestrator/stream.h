/*
 * stream — the streaming worker: START_REPLICATION from the pipe's slot with pgoutput,
 * decoded changes batched into ClickHouse INSERTs, feedback once ClickHouse has them.
 */
#ifndef PGCH_STREAM_H
#define PGCH_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "catalog.h"
#include "config.h"
#include "types.h"

/*
 * Consume the slot from its confirmed position until every transaction that committed
 * before `upto` is applied to ClickHouse, then confirm it and return (pgch snapshot's
 * catch-up after a partition was read under a later snapshot).
 */
bool stream_catch_up(const Config *cfg, const Catalog *cat, const ChCaps *caps, bool compress, uint64_t upto);

#endif
