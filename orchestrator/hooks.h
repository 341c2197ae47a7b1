/*
 * hooks — run a config's data-modelling hooks (on_table) over the planned tables.
 */
#ifndef PGCH_HOOKS_H
#define PGCH_HOOKS_H

#include <stdbool.h>

#include "catalog.h"
#include "config.h"
#include "types.h"

/* Call on_table(t) if the config defines it; apply and validate its changes. */
bool hooks_on_table(const Config *cfg, const ChCaps *caps, Table *t);

#endif
