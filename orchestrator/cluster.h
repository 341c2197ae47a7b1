/*
 * cluster — a ClickHouse cluster as the destination (destination.cluster): the ON CLUSTER
 * clause and Replicated engines of the DDL, running that DDL and reading each host's
 * outcome, and the cluster's shape and macros for `pgch check`.
 *
 * DDL on a cluster goes through ClickHouse's distributed DDL queue: the statement names
 * the cluster (`ON CLUSTER c`), every host runs it and the answer waits for all of them, at
 * most distributed_ddl_task_timeout seconds (sent as destination.timeout where the server
 * has the setting; its default, 180 s, otherwise). A host that failed is named in the error.
 * A host that did not finish in time (it is down) runs the statement when it is back, so
 * that is a warning naming the host, not a failure: the task in ZooKeeper lists the hosts
 * that were asked and those that finished.
 *
 * Tables are Replicated…MergeTree(replica_path, replica_name, …) with the configured
 * path and name; their macros ({shard}, {replica}, and the built-in {database} and {table})
 * are the servers' own. The progress table is one replicated table over every node of the
 * cluster (its path has no shard), so any node reads the pipe's progress. On a cluster of
 * more than one shard each target is a local table per shard, `<target>_local`, under a
 * Distributed table with the target's name, sharded by destination.sharding_key.
 */
#ifndef PGCH_CLUSTER_H
#define PGCH_CLUSTER_H

#include <stdbool.h>

#include "buf.h"
#include "catalog.h"
#include "ch.h"
#include "config.h"

/* " ON CLUSTER `c`", or nothing without a cluster. */
void cluster_on_clause(const DestConfig *d, Buf *out);

/*
 * The engine clause of a MergeTree-family table: "ReplacingMergeTree(args)", or on a
 * cluster "ReplicatedReplacingMergeTree('path', 'name', args)". shared: one replicated
 * table over every node (the progress table), whatever the shards.
 */
void cluster_engine(const DestConfig *d, const char *engine, const char *args, bool shared, Buf *out);

/* Run one DDL statement; with a cluster, wait for every host (see above). Errors logged. */
bool cluster_ddl(ChConn *ch, const char *sql);

/* The macros a path or name uses, other than the built-in {database} and {table}, into
 * names (without braces; pure, for the checks and the unit tests). Returns how many. */
int cluster_path_macros(const char *s, char names[][64], int max);

/* Expand {name} macros of s with a node's macros (TSV lines "name\tvalue"); {database} and
 * {table} with the given values. false if a macro is missing (its name in missing). */
bool cluster_expand(const char *s, const char *macros_tsv, const char *database, const char *table, Buf *out,
		    char *missing, size_t missing_len);

/* Is a sharding key a deterministic function of the table's ORDER BY columns only (so every
 * version and delete of a key lands on one shard)? If not, why (pure). */
bool cluster_check_sharding_key(const Table *t, const char *key, char *why, size_t whylen);

/* The topology: one line per node "shard\treplica\thost\tport" of system.clusters, into out. */
bool cluster_nodes(ChConn *ch, Buf *out);

/* What `pgch check` reports and a run refuses (runcheck): one item per fact or problem. */
typedef struct ClusterItem {
	const char *name; /* "clickhouse cluster", "clickhouse endpoint", "clickhouse macros", "clickhouse zookeeper",
			     "clickhouse sharding" */
	bool ok;
	bool warn;        /* not ok, but a run can go on (a node that is down: failover's case) */
	char *text;       /* a fact, or "what is wrong. Fix: what to do" */
} ClusterItem;

typedef struct ClusterReport {
	ClusterItem *items;
	int n;
	int problems;     /* items neither ok nor warn */
} ClusterReport;

/*
 * Inspect the cluster of destination.cluster through ch (probed): its shape (shards x
 * replicas, from system.clusters), each endpoint of destination.url answering, the macros
 * replica_path and replica_name need on every node (read with remote('host:port',
 * system.macros)) and the paths they give (replicas of a shard share one, shards differ),
 * ZooKeeper answering (system.zookeeper), and on more than one shard each table's sharding
 * key (cat may be NULL). endpoints: also try every URL (pgch check), not only the one in use.
 */
void cluster_inspect(ChConn *ch, const Config *cfg, const Catalog *cat, bool endpoints, ClusterReport *r);
void cluster_report_free(ClusterReport *r);

#endif
