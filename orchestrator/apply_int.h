/*
 * apply_int — what apply.c shares with apply_schema.c, and no other module uses.
 */
#ifndef PGCH_APPLY_INT_H
#define PGCH_APPLY_INT_H

#include <stdint.h>

#include "apply.h"

/* (Re)build a table's converters, INSERT statement and column maps after its columns changed. */
void apply_table_columns(Applier *a, ApplyTable *at);
/* The table of a relation id, or NULL when it is not replicated. */
ApplyTable *apply_table_by_relid(Applier *a, uint32_t relid);
/* The table's changes cannot be applied: set them aside and have it copied again. */
void apply_mark_resync(Applier *a, ApplyTable *at, const char *why);
/* A Relation message (apply_schema.c). */
bool apply_relation(Applier *a, const PgoMsg *m);

#endif
