/*
 * preflight — `pgch check` (ARCHITECTURE.md, "Contracts") and the refusal to replicate through a pooler.
 *
 * preflight_check runs every prerequisite of a pipe; each check adds findings of OK, WARN
 * or FAIL with a one-line detail and, for WARN and FAIL, the exact fix (a SQL statement, a
 * config key or a server setting). It changes nothing on either server.
 *
 * The work is split by job: preflight_source (PostgreSQL), preflight_dest (ClickHouse),
 * preflight_pooler (what lies between pgch and PostgreSQL; also preflight_refuse_pooler,
 * which every command that reads the source calls right after connecting) and
 * preflight_findings (the report). This header is the face of all of them.
 */
#ifndef PGCH_PREFLIGHT_H
#define PGCH_PREFLIGHT_H

#include <stdbool.h>

#include "config.h"
#include "preflight_dest.h"
#include "preflight_findings.h"
#include "preflight_pooler.h"

/* Run every check, print the findings (aligned lines, or JSON with `json`) on stdout and
 * return the exit status: 0 when nothing FAILs, 1 otherwise. */
int preflight_check(const Config *cfg, bool json);

#endif
