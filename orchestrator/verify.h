/*
 * verify — compare source and destination table by table (pgch verify).
 */
#ifndef PGCH_VERIFY_H
#define PGCH_VERIFY_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "catalog.h"
#include "ch.h"
#include "config.h"

/* Print the comparison; returns the exit status (1 if any table differs or fails). */
int verify_run(const Config *cfg, PGconn *pg, ChConn *ch, Catalog *cat, bool json);

#endif
