/*
 * ch_int — what ch.c shares with ch_insert.c, and no other module uses: one request's set-up
 * and outcome, and moving to the next endpoint.
 */
#ifndef PGCH_CH_INT_H
#define PGCH_CH_INT_H

#include <curl/curl.h>
#include <stdbool.h>

#include "buf.h"
#include "ch.h"

/* Common options for every request (the curl handle is reset first). */
void ch_setup(ChConn *ch, const char *url, Buf *answer, char *errbuf);
/* Check a request's outcome (rc: its CURLcode); log once on failure unless ch->quiet. */
bool ch_finish(ChConn *ch, CURLcode rc, const char *errbuf, Buf *answer, const char *what);
void ch_set_error(ChConn *ch, const char *msg);
/* Errors after which another endpoint may do better: the node's link to ZooKeeper is broken. */
bool ch_node_unwell(int code);
/* Use the next endpoint after a failure of the one in use; false if there is only one. */
bool ch_next_endpoint(ChConn *ch, const char *why);

#endif
