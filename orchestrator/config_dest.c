/*
 * config_dest — the config's `destination` section: its fields, the url (one string or a
 * list of a cluster's endpoints), tls and pgch's own column names, and the checks that look
 * at several of them together (URLs without credentials, the keys that need a cluster, TLS
 * only over https://). Part of the loader (config.c); see config.h for the rules.
 */
#include "config.h"

#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

static const Field destination_fields[] = {
	FSTR("database", dest.database),
	FSTR("user", dest.user),
	FSTR("password", dest.password),
	FENUM("compression", dest.compression, "auto|zstd|none"),
	FINT("timeout", dest.timeout, 1, 86400),
	FENUM("timestamp_fallback", dest.timestamp_fallback, "string|datetime"),
	FENUM("numeric_unconstrained", dest.numeric_unconstrained, "string|decimal"),
	FSTR("state_table", dest.state_table),
	FSTR("cluster", dest.cluster),
	FSTR("replica_path", dest.replica_path),
	FSTR("replica_name", dest.replica_name),
	FSTR("sharding_key", dest.sharding_key),
	FINT("insert_quorum", dest.insert_quorum, 1, 255),
	{NULL, F_STR, 0, 0, 0, NULL},
};

static const Field destination_tls_fields[] = {
	FSTR("ca_file", dest.tls_ca_file),
	FSTR("cert_file", dest.tls_cert_file),
	FSTR("key_file", dest.tls_key_file),
	FBOOL("verify", dest.tls_verify),
	{NULL, F_STR, 0, 0, 0, NULL},
};

static const Field destination_columns_fields[] = {
	FSTR("version", dest.version_column),
	FSTR("is_deleted", dest.deleted_column),
	FSTR("synced_at", dest.synced_column),
	{NULL, F_STR, 0, 0, 0, NULL},
};

/* destination.url: a string, or a list of strings (the endpoints of one cluster, in order). */
static void parse_dest_url(ConfigParser *p, int line)
{
	lua_State *L = p->L;
	DestConfig *d = &p->cfg->dest;
	for (int i = 0; i < d->n_urls; i++)
		free(d->urls[i]);
	free(d->urls);
	d->urls = NULL;
	d->n_urls = 0;
	if (lua_type(L, -1) == LUA_TSTRING) {
		d->urls = xcalloc(1, sizeof(char *));
		d->urls[d->n_urls++] = xstrdup(lua_tostring(L, -1));
		return;
	}
	lua_Integer n = lua_type(L, -1) == LUA_TTABLE ? (lua_Integer)lua_rawlen(L, -1) : 0, keys = 0;
	if (lua_type(L, -1) == LUA_TTABLE) { /* a list: keys 1..n and nothing else */
		lua_pushnil(L);
		while (lua_next(L, -2)) {
			keys++;
			lua_pop(L, 1);
		}
	}
	if (n == 0 || keys != n) {
		config_parse_error(p, line, "destination.url must be a string or a list of strings, for example "
			      "url = { \"http://ch1:8123\", \"http://ch2:8123\" }; got %s",
		     lua_type(L, -1) != LUA_TTABLE ? luaL_typename(L, -1) : keys == 0 ? "an empty table" : "a table with named keys");
		return;
	}
	d->urls = xcalloc((size_t)n, sizeof(char *));
	for (lua_Integer i = 1; i <= n; i++) {
		if (lua_rawgeti(L, -1, i) != LUA_TSTRING)
			config_parse_error(p, line, "destination.url[%lld] must be a string, got %s", (long long)i, luaL_typename(L, -1));
		else
			d->urls[d->n_urls++] = xstrdup(lua_tostring(L, -1));
		lua_pop(L, 1);
	}
}

static void parse_dest_nested(ConfigParser *p, const char *key, int line)
{
	if (strcmp(key, "url") == 0) {
		parse_dest_url(p, line);
		return;
	}
	bool tls = strcmp(key, "tls") == 0;
	if (lua_type(p->L, -1) != LUA_TTABLE) {
		config_parse_error(p, line, "destination.%s must be a table, got %s", key, luaL_typename(p->L, -1));
		return;
	}
	if (tls) {
		p->cfg->dest.has_tls = true;
		config_parse_fields(p, "destination.tls", line, destination_tls_fields, p->cfg, NULL, NULL);
	} else {
		config_parse_fields(p, "destination.columns", line, destination_columns_fields, p->cfg, NULL, NULL);
	}
}

void config_parse_destination(ConfigParser *p)
{
	lua_State *L = p->L;
	int line = config_key_line(p->cfg, 1, "destination");
	if (lua_getglobal(L, "destination") != LUA_TTABLE) {
		if (lua_isnil(L, -1))
			config_parse_error(p, 0, "destination is not set: add destination = { url = \"http://host:8123\", database = ... }");
		else
			config_parse_error(p, line, "destination must be a table, got %s", luaL_typename(L, -1));
		lua_pop(L, 1);
		return;
	}
	static const char *const nested[] = {"url", "columns", "tls", NULL};
	config_parse_fields(p, "destination", line, destination_fields, p->cfg, nested, parse_dest_nested);
	lua_pop(L, 1);
}

/*
 * destination.url: http(s)://host[:port][/path]. Credentials belong in destination.user and
 * .password (libcurl would let those override the URL's silently), and the query string is
 * pgch's own; the URL is never echoed, as it may hold a password.
 */
static void check_url(ConfigParser *p, const char *url, const char *name)
{
	int line = config_key_line(p->cfg, 1, "url");
	const char *rest = strncmp(url, "http://", 7) == 0 ? url + 7 : strncmp(url, "https://", 8) == 0 ? url + 8 : NULL;
	if (!rest) {
		const char *sep = strstr(url, "://");
		if (sep)
			config_parse_error(p, line, "%s must start with http:// or https://, not %.*s", name, (int)(sep - url + 3), url);
		else
			config_parse_error(p, line, "%s must start with http:// or https:// (for example http://127.0.0.1:8123)", name);
		return;
	}
	size_t auth = strcspn(rest, "/?#");
	if (memchr(rest, '@', auth))
		config_parse_error(p, line, "%s must not hold a user or password: set destination.user and "
			      "destination.password (for example password = env(\"CH_PASSWORD\"))", name);
	else if (auth == 0)
		config_parse_error(p, line, "%s has no host (for example http://127.0.0.1:8123)", name);
	else if (strpbrk(rest, "?#"))
		config_parse_error(p, line, "%s must not have a query string or fragment: set the database with "
			      "destination.database and the rest is pgch's own", name);
}

/* Every URL of destination.url; then url is the first. */
static void check_dest_urls(ConfigParser *p)
{
	DestConfig *d = &p->cfg->dest;
	for (int i = 0; i < d->n_urls; i++) {
		char name[48];
		if (d->n_urls > 1)
			snprintf(name, sizeof name, "destination.url[%d]", i + 1);
		else
			snprintf(name, sizeof name, "destination.url");
		check_url(p, d->urls[i], name);
	}
	free(d->url);
	d->url = d->n_urls ? xstrdup(d->urls[0]) : NULL;
}

/*
 * destination.cluster and the keys that only mean something on a cluster. Several URLs are
 * endpoints of one cluster: failing over between servers that do not replicate to each
 * other would scatter the rows.
 */
static void check_cluster(ConfigParser *p)
{
	DestConfig *d = &p->cfg->dest;
	const Config *cfg = p->cfg;
	if (d->cluster && d->cluster[0] == '\0') {
		config_parse_error(p, config_key_line(cfg, 1, "cluster"), "destination.cluster must not be empty: name a cluster of "
			      "the servers' remote_servers (SELECT DISTINCT cluster FROM system.clusters), or remove the key");
		return;
	}
	if (!d->cluster) {
		if (d->n_urls > 1)
			config_parse_error(p, config_key_line(cfg, 1, "url"), "destination.url lists %d servers but destination.cluster "
				      "is not set: several URLs are endpoints of one ClickHouse cluster; set cluster = \"name\" "
				      "(from the servers' remote_servers) or give one URL", d->n_urls);
		static const char *const only[] = {"replica_path", "replica_name", "sharding_key", "insert_quorum"};
		const bool set[] = {d->replica_path != NULL, d->replica_name != NULL, d->sharding_key != NULL, d->insert_quorum > 0};
		for (int i = 0; i < 4; i++)
			if (set[i])
				config_parse_error(p, config_key_line(cfg, 1, only[i]), "destination.%s applies to a ClickHouse cluster: "
					      "set destination.cluster, or remove %s", only[i], only[i]);
		return;
	}
	if (!d->replica_path)
		d->replica_path = xstrdup("/clickhouse/tables/{shard}/{database}/{table}");
	if (!d->replica_name)
		d->replica_name = xstrdup("{replica}");
	if (!strstr(d->replica_path, "{table}"))
		config_parse_error(p, config_key_line(cfg, 1, "replica_path"), "destination.replica_path must contain {table}: "
			      "each table needs a ZooKeeper path of its own (default \"/clickhouse/tables/{shard}/{database}/{table}\")");
	else if (d->replica_path[0] != '/')
		config_parse_error(p, config_key_line(cfg, 1, "replica_path"), "destination.replica_path must be an absolute "
			      "ZooKeeper path, starting with /");
	if (d->replica_name[0] == '\0')
		config_parse_error(p, config_key_line(cfg, 1, "replica_name"), "destination.replica_name must not be empty: "
			      "use a macro that differs per server, such as \"{replica}\"");
	if (d->sharding_key && d->sharding_key[0] == '\0')
		config_parse_error(p, config_key_line(cfg, 1, "sharding_key"), "destination.sharding_key must not be empty: "
			      "remove it for the default (cityHash64 of the primary key)");
}

/* destination.tls: only for https://, a client certificate with its key, files readable. */
static void check_tls(ConfigParser *p)
{
	const DestConfig *d = &p->cfg->dest;
	if (!d->has_tls)
		return;
	int line = config_key_line(p->cfg, 1, "tls");
	for (int i = 0; i < d->n_urls; i++)
		if (strncmp(d->urls[i], "https://", 8) != 0) {
			config_parse_error(p, line, "destination.tls applies to https:// URLs; destination.url%s is http://",
				     d->n_urls > 1 ? "'s list has one that" : "");
			return;
		}
	if (!d->tls_cert_file != !d->tls_key_file) {
		config_parse_error(p, line, "destination.tls: a client certificate needs both cert_file and key_file");
		return;
	}
	const char *files[][2] = {{"ca_file", d->tls_ca_file}, {"cert_file", d->tls_cert_file}, {"key_file", d->tls_key_file}};
	for (int i = 0; i < 3; i++)
		if (files[i][1] && access(files[i][1], R_OK) != 0)
			config_parse_error(p, line, "destination.tls.%s: cannot read %s: %s", files[i][0], files[i][1], strerror(errno));
}

/* After the whole config is read: the destination's defaults and cross-field checks. */
void config_check_destination(ConfigParser *p)
{
	Config *cfg = p->cfg;
	check_dest_urls(p);
	check_cluster(p);
	check_tls(p);
	const char *cols[] = {cfg->dest.version_column, cfg->dest.deleted_column, cfg->dest.synced_column};
	static const char *const col_keys[] = {"version", "is_deleted", "synced_at"};
	for (int i = 0; i < 3; i++) {
		if (cols[i][0] == '\0')
			config_parse_error(p, config_key_line(cfg, 1, col_keys[i]), "destination.columns.%s must not be empty", col_keys[i]);
		for (int j = i + 1; j < 3; j++)
			if (strcmp(cols[i], cols[j]) == 0)
				config_parse_error(p, config_key_line(cfg, 1, "columns"), "destination.columns: two columns are both named \"%s\"",
				     cols[i]);
	}
	if (cfg->dest.database[0] == '\0')
		config_parse_error(p, config_key_line(cfg, 1, "database"), "destination.database must not be empty");
	if (cfg->dest.state_table[0] == '\0')
		config_parse_error(p, config_key_line(cfg, 1, "state_table"), "destination.state_table must not be empty");
}
