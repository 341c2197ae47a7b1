/*
 * verify — compare source and destination row by row, every column (pgch verify); how it
 * stays exact while the pipe streams is in verify.c.
 */
#ifndef PGCH_VERIFY_H
#define PGCH_VERIFY_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "catalog.h"
#include "ch.h"
#include "config.h"

/* Print the comparison of every table, or only the one named `only` (source name, with or
 * without its schema, or target); returns the exit status (1 if any table differs or fails,
 * 2 if `only` names none of the pipe's tables). */
int verify_run(const Config *cfg, PGconn *pg, ChConn *ch, Catalog *cat, const char *only, bool json);

#endif
