/*
 * config — load a pipe's Lua configuration (ARCHITECTURE.md, "Contracts") into a Config.
 *
 * The file runs in a sandbox (sandbox.h): only the base (minus file loading), string, table,
 * math and utf8 libraries, plus env(name[, default]) and file(path) to read secrets and the
 * read-only helper library pgch (lua/pgch.lua). Memory is capped at 64 MB and run time at
 * 200 million instructions, for the config and again for each hook call. The global table
 * is locked: reading an undefined name or assigning an unknown global is an error, so a typo
 * is reported instead of silently becoming nil; print writes to the log on stderr.
 *
 * After the chunk runs, the globals are validated against declarative field tables; every
 * mistake (unknown key, wrong type, out-of-range value, duplicate target) produces one
 * message of the form "file:line: what is wrong; what to do" and config_load fails. The
 * line of a key is found by looking for `key =` in the source text after its section.
 * Checks that need the database (a pattern matching no table, a table without a key)
 * happen in catalog.c, which reports through config_error_at for the same format.
 */
#ifndef PGCH_CONFIG_H
#define PGCH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

typedef struct lua_State lua_State;

typedef enum Unrepresentable { UNREP_ERROR, UNREP_NULL, UNREP_CLAMP } Unrepresentable;

typedef struct KeyVal {
	char *key;
	char *val;
} KeyVal;

typedef struct SshConfig {
	char *host;
	int port;
	char *user;
	char *private_key;
	char *passphrase;
	char *known_hosts;
} SshConfig;

typedef struct SourceConfig {
	KeyVal *params; /* libpq connection keywords, validated against PQconndefaults() */
	int n_params;
	bool has_ssh;
	SshConfig ssh;
} SourceConfig;

typedef struct DestConfig {
	char *url;                   /* the first of urls */
	char **urls;                 /* destination.url: one string, or a list tried in order (failover) */
	int n_urls;
	/* a ClickHouse cluster (cluster.h): NULL for one server */
	char *cluster;               /* a name from the servers' remote_servers */
	char *replica_path;          /* ZooKeeper path of a Replicated table, with macros */
	char *replica_name;          /* default "{replica}" */
	char *sharding_key;          /* NULL: cityHash64 of the ORDER BY key (more than one shard) */
	int insert_quorum;           /* 0: not set */
	char *database;
	char *user;
	char *password;
	char *compression;           /* "auto" | "zstd" | "none" */
	int timeout;                 /* seconds for connect and for a stalled transfer */
	char *version_column;        /* default _pgch_version */
	char *deleted_column;        /* default _pgch_is_deleted */
	char *synced_column;         /* default _pgch_synced_at */
	char *timestamp_fallback;    /* servers without DateTime64: "string" | "datetime" */
	char *numeric_unconstrained; /* numeric without typmod: "string" | "decimal" */
	char *state_table;           /* default _pgch_state */
	/* destination.tls, for https:// URLs */
	char *tls_ca_file;           /* CA bundle that signed the server's certificate (default: the system's) */
	char *tls_cert_file;         /* client certificate, with tls_key_file */
	char *tls_key_file;
	bool tls_verify;             /* check the server's certificate and host name (default true) */
	bool has_tls;
} DestConfig;

typedef struct TableRule {
	char *pattern;      /* schema.table, may contain * and ? */
	int line;           /* where it appears in the config, for messages */
	bool wildcard;
	bool excluded;      /* from tables.exclude */
	char *target;
	char **order_by;
	int n_order_by;
	char **exclude_columns;
	int n_exclude_columns;
	char *partition_by;
	char *where;        /* row filter: a SQL predicate over the table's columns (rowfilter.h) */
	int where_line;
	KeyVal *types;      /* column -> ClickHouse type override */
	int n_types;
	KeyVal *renames;    /* columns = { source_name = "clickhouse_name" } */
	int n_renames;
	int renames_line;   /* the line of `columns =`, for messages */
	KeyVal *unrep;      /* column -> "error" | "null" | "clamp" ("*" = every column) */
	int n_unrep;
	int initial_load;   /* 1: copy its rows first, 0: changes only (CDC-only), -1: as pipe.initial_load */
	bool has_on_row;    /* the entry's own row hook (rowhook.h) */
	int on_row;         /* its registry reference */
	int matches;        /* filled by catalog selection */
} TableRule;

typedef struct Config {
	char *path;
	char *text;         /* the source, for line look-ups */
	SourceConfig source;
	DestConfig dest;
	struct {
		char *name;
		char *slot;
		char *publication;
		double sync_interval;
		long batch_size;
		long max_batch_memory; /* bytes of pending changes in the stream before a flush */
		double heartbeat_interval;
		double status_interval;
		int max_retries;
		char *on_unrepresentable;
		char *metrics;      /* "HOST:PORT" of the Prometheus endpoint; NULL: none */
		bool initial_load;  /* copy the tables' rows before streaming (false: changes only) */
		struct {
			int workers;
			long rows_per_partition;
			int tables_in_parallel;
		} snapshot;
	} pipe;
	TableRule *rules;
	int n_rules;
	lua_State *L;       /* the sandbox, kept open for hooks */
	int hook_on_table;  /* registry ref or LUA_NOREF */
	int hook_on_row;    /* the global on_row (rowhook.h): registry ref or LUA_NOREF */
} Config;

/* Load and validate; on failure the error has been printed and NULL is returned. */
Config *config_load(const char *path);
void config_free(Config *cfg);

/* Report a config problem at a line ("file:line: message"); line 0 means no line. */
void config_error_at(const Config *cfg, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Line of the first occurrence of a quoted string literal, or of `key =`, 0 if not found. */
int config_line_of_string(const Config *cfg, const char *s);

/* Line of `key =` (not `==`, not in a comment) at or after from_line, 0 if not found. */
int config_key_line(const Config *cfg, int from_line, const char *key);

/* The name in names (NULL-terminated) close enough to name to suggest it, or NULL. */
const char *config_closest(const char *name, const char *const *names);

/* The ClickHouse name of a source column under a rule's `columns` renames (the column's own
 * name when it is not renamed). */
const char *config_ch_name(const TableRule *rule, const char *column);
/* The source column a rule renames to ClickHouse name ch_name, or NULL. */
const char *config_renamed_from(const TableRule *rule, const char *ch_name);
/* Line of the rename of column in the config (the `columns =` line when not found). */
int config_rename_line(const Config *cfg, const TableRule *rule, const char *column);

/* Policy for one column of a rule (falls back to "*" in the rule, then pipe.on_unrepresentable). */
Unrepresentable config_unrep_policy(const Config *cfg, const TableRule *rule, const char *column);

/* Does a glob pattern (`*`, `?`) match a name? */
bool config_glob_match(const char *pattern, const char *name);

/* Levenshtein distance, for "did you mean" suggestions. */
int config_edit_distance(const char *a, const char *b);

/*
 * The loader's own, shared by its files: config.c (the sandbox, source, pipe, hooks, the
 * field machinery, config_load), config_dest.c (the destination section), config_table.c (the
 * tables section), config_text.c (positions and messages). Not for other modules.
 */
typedef struct ConfigParser {
	Config *cfg;
	lua_State *L;
	bool ok; /* false after the first mistake; every mistake is still reported */
} ConfigParser;

/* Report a mistake at a line (as config_error_at) and remember that the config is wrong. */
void config_parse_error(ConfigParser *p, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* "unknown key 'k' in section" with "did you mean" or the list of known keys. */
void config_unknown_key(ConfigParser *p, int line, const char *section, const char *key, const char *const *known);

/* Declarative fields of a section: name, type, where in Config it goes, and bounds. */
typedef enum FieldType { F_STR, F_INT, F_LONG, F_NUM, F_ENUM, F_BYTES, F_BOOL } FieldType;

typedef struct Field {
	const char *name;
	FieldType type;
	size_t offset;
	double min, max;
	const char *choices; /* F_ENUM: "a|b|c" */
} Field;

#define FSTR(n, m) {n, F_STR, offsetof(Config, m), 0, 0, NULL}
#define FINT(n, m, lo, hi) {n, F_INT, offsetof(Config, m), lo, hi, NULL}
#define FLONG(n, m, lo, hi) {n, F_LONG, offsetof(Config, m), lo, hi, NULL}
#define FNUM(n, m, lo, hi) {n, F_NUM, offsetof(Config, m), lo, hi, NULL}
#define FENUM(n, m, c) {n, F_ENUM, offsetof(Config, m), 0, 0, c}
#define FBYTES(n, m, lo, hi) {n, F_BYTES, offsetof(Config, m), lo, hi, NULL}
#define FBOOL(n, m) {n, F_BOOL, offsetof(Config, m), 0, 0, NULL}

/*
 * Parse the table at the top of the stack against a field list. Keys listed in `nested`
 * are left for the caller: for each one found, nested_cb is called with the value on top.
 */
typedef void (*ConfigNestedFn)(ConfigParser *p, const char *key, int line);
void config_parse_fields(ConfigParser *p, const char *section, int section_line, const Field *fields, void *base,
			 const char *const *nested, ConfigNestedFn nested_cb);

/* The global `destination` (config_dest.c), and its defaults and checks once all is read. */
void config_parse_destination(ConfigParser *p);
void config_check_destination(ConfigParser *p);

/* The global `tables` into cfg->rules (config_table.c). */
void config_parse_tables(ConfigParser *p);
void config_free_rule(TableRule *r);

#endif
