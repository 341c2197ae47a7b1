/*
 * config — the Lua configuration loader; see config.h for the rules, sandbox.h for the sandbox.
 *
 * Layout: the config's globals (env, file, the pgch library, the known names), then the
 * declarative field tables of source.ssh and pipe and the field parser every section uses,
 * then the sections' parsers, then config_load. The destination section is config_dest.c's,
 * the tables section config_table.c's; positions in the text and the messages are
 * config_text.c's.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <lauxlib.h>
#include <libpq-fe.h>
#include <lua.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "metrics_http.h"
#include "lua_prelude.h" /* generated from lua/pgch.lua: LUA_PRELUDE */
#include "sandbox.h"

#define CONFIG_MEMORY_LIMIT (64u << 20)
#define CONFIG_INSTRUCTION_LIMIT 200000000L

/* ---------------------------------------------------------------- config globals */

/* env(name [, default]): an environment variable; unset without a default is an error. */
static int config_env(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	const char *v = getenv(name);
	if (v) {
		lua_pushstring(L, v);
		return 1;
	}
	if (lua_gettop(L) >= 2) {
		lua_pushvalue(L, 2);
		return 1;
	}
	return luaL_error(L, "environment variable %s is not set (export it, or give a default: env(\"%s\", \"\"))",
			  name, name);
}

/* file(path): the contents of a file (one trailing newline removed), relative to the config
 * (whose directory is the upvalue). */
static int config_file(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	const char *dir = lua_tostring(L, lua_upvalueindex(1));
	char *full = path[0] == '/' ? xstrdup(path) : xasprintf("%s/%s", dir, path);
	FILE *f = fopen(full, "rb");
	if (!f) {
		int e = errno;
		lua_pushfstring(L, "file(\"%s\"): cannot read %s: %s", path, full, strerror(e));
		free(full);
		return lua_error(L);
	}
	free(full);
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		luaL_addlstring(&b, chunk, n);
	fclose(f);
	luaL_pushresult(&b);
	size_t len;
	const char *s = lua_tolstring(L, -1, &len);
	if (len > 0 && s[len - 1] == '\n') {
		len -= (len > 1 && s[len - 2] == '\r') ? 2 : 1;
		lua_pushlstring(L, s, len);
	}
	return 1;
}

static const char *const known_globals[] = {"source", "destination", "pipe", "tables", "on_table", "on_row", "pgch", NULL};

static const SandboxGlobals config_globals = {
	known_globals,
	"a config sets source, destination, pipe, tables and hook functions such as on_table; use 'local' for helpers",
	config_closest,
};

/*
 * The config's own globals in a new sandbox: env, file (relative to dir), and pgch, the
 * helpers of the prelude (lua/pgch.lua) as a read-only library; then the globals are locked.
 */
static lua_State *config_sandbox(const char *dir)
{
	lua_State *L = sandbox_new(CONFIG_MEMORY_LIMIT, CONFIG_INSTRUCTION_LIMIT);
	if (!L)
		return NULL;
	lua_pushcfunction(L, config_env);
	lua_setglobal(L, "env");
	lua_pushstring(L, dir);
	lua_pushcclosure(L, config_file, 1);
	lua_setglobal(L, "file");
	if (!sandbox_load(L, LUA_PRELUDE, sizeof LUA_PRELUDE - 1, "=lua/pgch.lua") ||
	    !sandbox_pcall(L, 0, 1, "the built-in Lua prelude failed")) {
		sandbox_close(L);
		return NULL;
	}
	sandbox_protect_library(L, "pgch");
	lua_setglobal(L, "pgch");
	sandbox_lock_globals(L, &config_globals);
	return L;
}

/* ---------------------------------------------------------------- field tables */

static const Field pipe_fields[] = {
	FSTR("name", pipe.name),
	FSTR("slot", pipe.slot),
	FSTR("publication", pipe.publication),
	FNUM("sync_interval", pipe.sync_interval, 0.1, 86400),
	FLONG("batch_size", pipe.batch_size, 1, 100000000),
	FBYTES("max_batch_memory", pipe.max_batch_memory, 1 << 20, 1L << 40),
	FNUM("heartbeat_interval", pipe.heartbeat_interval, 0, 86400),
	FNUM("status_interval", pipe.status_interval, 1, 3600),
	FINT("max_retries", pipe.max_retries, 0, 1000),
	FENUM("on_unrepresentable", pipe.on_unrepresentable, "error|null|clamp"),
	FSTR("metrics", pipe.metrics),
	FBOOL("initial_load", pipe.initial_load),
	{NULL, F_STR, 0, 0, 0, NULL},
};

static const Field snapshot_fields[] = {
	FINT("workers", pipe.snapshot.workers, 1, 256),
	FLONG("rows_per_partition", pipe.snapshot.rows_per_partition, 1, 1000000000000L),
	FINT("tables_in_parallel", pipe.snapshot.tables_in_parallel, 1, 256),
	{NULL, F_STR, 0, 0, 0, NULL},
};

#define SFIELD(n, m) {n, F_STR, offsetof(SshConfig, m), 0, 0, NULL}
static const Field ssh_fields[] = {
	SFIELD("host", host),
	{"port", F_INT, offsetof(SshConfig, port), 1, 65535, NULL},
	SFIELD("user", user),
	SFIELD("private_key", private_key),
	SFIELD("passphrase", passphrase),
	SFIELD("known_hosts", known_hosts),
	{NULL, F_STR, 0, 0, 0, NULL},
};

/* ---------------------------------------------------------------- parsing */

/* An unknown key in a section with fields (and extra keys handled by the caller). */
static void unknown_key(ConfigParser *p, int line, const char *section, const char *key, const Field *fields,
			const char *const *extra)
{
	const char *names[64];
	int n = 0;
	for (int i = 0; fields && fields[i].name && n < 60; i++)
		names[n++] = fields[i].name;
	for (int i = 0; extra && extra[i] && n < 63; i++)
		names[n++] = extra[i];
	names[n] = NULL;
	config_unknown_key(p, line, section, key, names);
}

/*
 * A size: a number of bytes, or a string with a unit, "64MB", "512 kB", "2GiB" (units are
 * powers of 1024, as for memory). false if it is neither.
 */
static bool parse_bytes(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || v < 0)
		return false;
	while (*end == ' ')
		end++;
	static const char *const units[] = {"", "B", "kB", "KB", "KiB", "MB", "MiB", "GB", "GiB", "TB", "TiB"};
	static const double scale[] = {1, 1, 1024, 1024, 1024, 1048576, 1048576, 1073741824.0, 1073741824.0,
				       1099511627776.0, 1099511627776.0};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strcmp(end, units[i]) == 0) {
			*out = v * scale[i];
			return true;
		}
	return false;
}

/* Store the value at the top of the stack into field f of base. */
static void store_field(ConfigParser *p, const char *section, const Field *f, void *base, int line)
{
	lua_State *L = p->L;
	char *slot = (char *)base + f->offset;
	switch (f->type) {
	case F_STR:
	case F_ENUM: {
		if (lua_type(L, -1) != LUA_TSTRING) {
			config_parse_error(p, line, "%s.%s must be a string, got %s", section, f->name, luaL_typename(L, -1));
			return;
		}
		const char *s = lua_tostring(L, -1);
		if (f->type == F_ENUM) {
			bool found = false;
			size_t n = strlen(s);
			for (const char *c = f->choices; *c;) {
				const char *bar = strchr(c, '|');
				size_t len = bar ? (size_t)(bar - c) : strlen(c);
				if (len == n && strncmp(c, s, n) == 0)
					found = true;
				c += len + (bar ? 1 : 0);
			}
			if (!found) {
				config_parse_error(p, line, "%s.%s must be one of %s, got \"%s\"", section, f->name, f->choices, s);
				return;
			}
		}
		free(*(char **)slot);
		*(char **)slot = xstrdup(s);
		return;
	}
	case F_BOOL:
		if (lua_type(L, -1) != LUA_TBOOLEAN) {
			config_parse_error(p, line, "%s.%s must be true or false, got %s", section, f->name, luaL_typename(L, -1));
			return;
		}
		*(bool *)slot = lua_toboolean(L, -1);
		return;
	case F_BYTES: {
		double v = 0;
		if (lua_type(L, -1) == LUA_TNUMBER) {
			v = lua_tonumber(L, -1);
		} else if (lua_type(L, -1) != LUA_TSTRING || !parse_bytes(lua_tostring(L, -1), &v)) {
			config_parse_error(p, line, "%s.%s must be a size: a number of bytes or a string such as \"64MB\" (kB, MB, GB, TB), "
				      "got %s",
			     section, f->name, lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : luaL_typename(L, -1));
			return;
		}
		if (v < f->min || v > f->max) {
			config_parse_error(p, line, "%s.%s must be between 1MB and 1TB, got %.0f bytes", section, f->name, v);
			return;
		}
		*(long *)slot = (long)v;
		return;
	}
	case F_INT:
	case F_LONG:
	case F_NUM: {
		if (lua_type(L, -1) != LUA_TNUMBER) {
			config_parse_error(p, line, "%s.%s must be a number, got %s", section, f->name, luaL_typename(L, -1));
			return;
		}
		double v = lua_tonumber(L, -1);
		if (f->type != F_NUM && !lua_isinteger(L, -1) && v != (double)(long long)v) {
			config_parse_error(p, line, "%s.%s must be a whole number, got %g", section, f->name, v);
			return;
		}
		if (v < f->min || v > f->max) {
			config_parse_error(p, line, "%s.%s must be between %g and %g, got %g", section, f->name, f->min, f->max, v);
			return;
		}
		if (f->type == F_INT)
			*(int *)slot = (int)v;
		else if (f->type == F_LONG)
			*(long *)slot = (long)v;
		else
			*(double *)slot = v;
		return;
	}
	}
}

void config_parse_fields(ConfigParser *p, const char *section, int section_line, const Field *fields, void *base,
			 const char *const *nested, ConfigNestedFn nested_cb)
{
	lua_State *L = p->L;
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		if (lua_type(L, -2) != LUA_TSTRING) {
			config_parse_error(p, section_line, "%s must only have named keys (found a list entry)", section);
			lua_pop(L, 1);
			continue;
		}
		const char *key = lua_tostring(L, -2);
		int line = config_key_line(p->cfg, section_line, key);
		if (!line)
			line = section_line;
		const Field *f = NULL;
		for (int i = 0; fields[i].name; i++)
			if (strcmp(fields[i].name, key) == 0)
				f = &fields[i];
		bool is_nested = false;
		for (int i = 0; nested && nested[i]; i++)
			if (strcmp(nested[i], key) == 0)
				is_nested = true;
		if (f)
			store_field(p, section, f, base, line);
		else if (is_nested)
			nested_cb(p, key, line);
		else
			unknown_key(p, line, section, key, fields, nested);
		lua_pop(L, 1);
	}
}

static void parse_ssh(ConfigParser *p, const char *key, int line)
{
	(void)key;
	if (lua_type(p->L, -1) != LUA_TTABLE) {
		config_parse_error(p, line, "source.ssh must be a table, got %s", luaL_typename(p->L, -1));
		return;
	}
	SshConfig *ssh = &p->cfg->source.ssh;
	ssh->port = 22;
	p->cfg->source.has_ssh = true;
	config_parse_fields(p, "source.ssh", line, ssh_fields, ssh, NULL, NULL);
	if (!ssh->host)
		config_parse_error(p, line, "source.ssh.host is required (the bastion to tunnel through)");
	if (!ssh->user)
		config_parse_error(p, line, "source.ssh.user is required");
	if (!ssh->private_key)
		config_parse_error(p, line, "source.ssh.private_key is required (key authentication only; create one with 'pgch keygen PATH')");
	if (!ssh->known_hosts)
		config_parse_error(p, line, "source.ssh.known_hosts is required: pgch verifies the bastion's host key "
			      "(ssh-keyscan -p PORT HOST > known_hosts)");
}

static void parse_source(ConfigParser *p)
{
	lua_State *L = p->L;
	int line = config_key_line(p->cfg, 1, "source");
	if (lua_getglobal(L, "source") != LUA_TTABLE) {
		if (lua_isnil(L, -1))
			config_parse_error(p, 0, "source is not set: add source = { host = ..., dbname = ..., user = ... }");
		else
			config_parse_error(p, line, "source must be a table of libpq connection keywords, got %s", luaL_typename(L, -1));
		lua_pop(L, 1);
		return;
	}
	PQconninfoOption *defs = PQconndefaults();
	SourceConfig *src = &p->cfg->source;
	int cap = 16;
	src->params = xcalloc((size_t)cap, sizeof(KeyVal));
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
		int kline = key ? config_key_line(p->cfg, line, key) : line;
		if (!kline)
			kline = line;
		if (!key) {
			config_parse_error(p, line, "source must only have named keys");
		} else if (strcmp(key, "ssh") == 0) {
			parse_ssh(p, key, kline);
		} else {
			bool known = false;
			const char *names[128];
			int nn = 0;
			for (PQconninfoOption *o = defs; o && o->keyword; o++) {
				if (strcmp(o->keyword, key) == 0)
					known = true;
				if (nn < 126 && strcmp(o->keyword, "replication") != 0)
					names[nn++] = o->keyword;
			}
			names[nn] = NULL;
			if (!known || strcmp(key, "replication") == 0) {
				const char *hint = config_closest(key, names);
				if (hint)
					config_parse_error(p, kline, "unknown key '%s' in source; did you mean '%s'?", key, hint);
				else
					config_parse_error(p, kline, "unknown key '%s' in source: source takes libpq connection keywords "
						       "(host, port, dbname, user, password, sslmode, ...) and ssh",
					     key);
			} else if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER) {
				config_parse_error(p, kline, "source.%s must be a string or number, got %s", key, luaL_typename(L, -1));
			} else {
				if (src->n_params == cap) {
					cap *= 2;
					src->params = xrealloc(src->params, sizeof(KeyVal) * (size_t)cap);
				}
				src->params[src->n_params].key = xstrdup(key);
				if (lua_isinteger(L, -1))
					src->params[src->n_params].val = xasprintf("%lld", (long long)lua_tointeger(L, -1));
				else
					src->params[src->n_params].val = xstrdup(lua_tostring(L, -1));
				src->n_params++;
			}
		}
		lua_pop(L, 1);
	}
	PQconninfoFree(defs);
	lua_pop(L, 1);
}

static void parse_pipe_nested(ConfigParser *p, const char *key, int line)
{
	(void)key;
	if (lua_type(p->L, -1) != LUA_TTABLE) {
		config_parse_error(p, line, "pipe.snapshot must be a table, got %s", luaL_typename(p->L, -1));
		return;
	}
	config_parse_fields(p, "pipe.snapshot", line, snapshot_fields, p->cfg, NULL, NULL);
}

static void parse_pipe(ConfigParser *p)
{
	lua_State *L = p->L;
	int line = config_key_line(p->cfg, 1, "pipe");
	int t = lua_getglobal(L, "pipe");
	if (t == LUA_TTABLE) {
		static const char *const nested[] = {"snapshot", NULL};
		config_parse_fields(p, "pipe", line, pipe_fields, p->cfg, nested, parse_pipe_nested);
	} else if (t != LUA_TNIL) {
		config_parse_error(p, line, "pipe must be a table, got %s", luaL_typename(L, -1));
	}
	lua_pop(L, 1);
}

static void parse_hooks(ConfigParser *p)
{
	lua_State *L = p->L;
	static const char *const names[] = {"on_table", "on_row"};
	int *refs[] = {&p->cfg->hook_on_table, &p->cfg->hook_on_row};
	for (int i = 0; i < 2; i++) {
		int t = lua_getglobal(L, names[i]);
		if (t == LUA_TFUNCTION) {
			*refs[i] = luaL_ref(L, LUA_REGISTRYINDEX);
			continue;
		}
		if (t != LUA_TNIL)
			config_parse_error(p, config_key_line(p->cfg, 1, names[i]), "%s must be a function, got %s", names[i],
					   luaL_typename(L, -1));
		lua_pop(L, 1);
	}
}

static bool valid_slot_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63)
		return false;
	for (; *s; s++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_'))
			return false;
	return true;
}

static void set_defaults(Config *cfg)
{
	cfg->dest.compression = xstrdup("auto");
	cfg->dest.timeout = 30;
	cfg->dest.user = xstrdup("default");
	cfg->dest.urls = xcalloc(1, sizeof(char *));
	cfg->dest.urls[cfg->dest.n_urls++] = xstrdup("http://127.0.0.1:8123");
	cfg->dest.version_column = xstrdup("_pgch_version");
	cfg->dest.deleted_column = xstrdup("_pgch_is_deleted");
	cfg->dest.synced_column = xstrdup("_pgch_synced_at");
	cfg->dest.timestamp_fallback = xstrdup("string");
	cfg->dest.numeric_unconstrained = xstrdup("string");
	cfg->dest.state_table = xstrdup("_pgch_state");
	cfg->dest.tls_verify = true;
	cfg->pipe.sync_interval = 10;
	cfg->pipe.batch_size = 100000;
	cfg->pipe.max_batch_memory = 64L << 20;
	cfg->pipe.heartbeat_interval = 60;
	cfg->pipe.status_interval = 10;
	cfg->pipe.max_retries = 5;
	cfg->pipe.initial_load = true;
	cfg->pipe.on_unrepresentable = xstrdup("error");
	cfg->pipe.snapshot.workers = 4;
	cfg->pipe.snapshot.rows_per_partition = 0; /* auto: plan_rows_per_partition */
	cfg->pipe.snapshot.tables_in_parallel = 2;
	cfg->hook_on_table = LUA_NOREF;
	cfg->hook_on_row = LUA_NOREF;
}

/* Defaults that depend on other settings, and cross-field checks. */
static void finish(ConfigParser *p)
{
	Config *cfg = p->cfg;
	if (!cfg->pipe.name) {
		/* the file's base name, made into a valid slot-name fragment */
		const char *base = strrchr(cfg->path, '/');
		base = base ? base + 1 : cfg->path;
		Buf b;
		buf_init(&b);
		for (const char *c = base; *c && *c != '.'; c++)
			buf_put_u8(&b, isalnum((unsigned char)*c) ? (uint8_t)tolower((unsigned char)*c) : '_');
		cfg->pipe.name = buf_steal(&b);
		if (!cfg->pipe.name[0]) {
			free(cfg->pipe.name);
			cfg->pipe.name = xstrdup("pipe");
		}
	}
	if (!cfg->pipe.slot)
		cfg->pipe.slot = xasprintf("pgch_%s", cfg->pipe.name);
	if (!cfg->pipe.publication)
		cfg->pipe.publication = xasprintf("pgch_%s", cfg->pipe.name);
	if (!valid_slot_name(cfg->pipe.slot))
		config_parse_error(p, config_key_line(cfg, 1, cfg->pipe.slot == NULL ? "slot" : "name"),
		     "replication slot name \"%s\" is invalid: use lower-case letters, digits and _ (at most 63); "
		     "set pipe.name or pipe.slot",
		     cfg->pipe.slot);
	if (!cfg->dest.database) {
		const char *db = NULL;
		for (int i = 0; i < cfg->source.n_params; i++)
			if (strcmp(cfg->source.params[i].key, "dbname") == 0)
				db = cfg->source.params[i].val;
		cfg->dest.database = xstrdup(db && !strchr(db, '=') ? db : "default");
	}
	config_check_destination(p);
	char mhost[256], merr[128];
	int mport;
	if (cfg->pipe.metrics && !metrics_http_parse(cfg->pipe.metrics, mhost, sizeof mhost, &mport, merr, sizeof merr))
		config_parse_error(p, config_key_line(cfg, 1, "metrics"), "pipe.metrics = \"%s\" %s", cfg->pipe.metrics, merr);
	for (int i = 0; i < cfg->n_rules; i++)
		if (cfg->rules[i].target && cfg->rules[i].target[0] == '\0')
			config_parse_error(p, cfg->rules[i].line, "%s: target must not be empty", cfg->rules[i].pattern);
}

/* ---------------------------------------------------------------- public */

/*
 * Read the globals the config set into the Config (the ConfigParser is the light userdata
 * argument). It runs under sandbox_pcall: a metamethod of a config's table is Lua code.
 */
static int parse_globals(lua_State *L)
{
	ConfigParser *p = lua_touserdata(L, 1);
	lua_pop(L, 1);
	parse_source(p);
	config_parse_destination(p);
	parse_pipe(p);
	config_parse_tables(p);
	parse_hooks(p);
	return 0;
}

Config *config_load(const char *path)
{
	Config *cfg = xcalloc(1, sizeof *cfg);
	cfg->path = xstrdup(path);
	set_defaults(cfg);
	ConfigParser p = {cfg, NULL, true};

	FILE *f = fopen(path, "rb");
	struct stat sst;
	if (f && fstat(fileno(f), &sst) == 0 && S_ISDIR(sst.st_mode)) { /* fopen lets a directory through */
		fclose(f);
		f = NULL;
		errno = EISDIR;
	}
	if (!f) {
		log_error("%s: cannot read the configuration: %s", path, strerror(errno));
		config_free(cfg);
		return NULL;
	}
	Buf text;
	buf_init(&text);
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_put(&text, chunk, n);
	fclose(f);
	cfg->text = buf_steal(&text);

	const char *slash = strrchr(path, '/');
	char *dir = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
	cfg->L = config_sandbox(dir);
	free(dir);
	if (!cfg->L) {
		config_free(cfg);
		return NULL;
	}
	p.L = cfg->L;

	char *chunkname = xasprintf("@%s", path);
	bool ran = sandbox_load(p.L, cfg->text, strlen(cfg->text), chunkname) && sandbox_pcall(p.L, 0, 0, NULL);
	free(chunkname);
	if (!ran) {
		config_free(cfg);
		return NULL;
	}
	lua_pushcfunction(p.L, parse_globals);
	lua_pushlightuserdata(p.L, &p);
	if (!sandbox_pcall(p.L, 1, 0, NULL))
		p.ok = false;
	if (p.ok)
		finish(&p);
	if (!p.ok) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

void config_free(Config *cfg)
{
	if (!cfg)
		return;
	sandbox_close(cfg->L);
	for (int i = 0; i < cfg->source.n_params; i++) {
		free(cfg->source.params[i].key);
		free(cfg->source.params[i].val);
	}
	free(cfg->source.params);
	SshConfig *s = &cfg->source.ssh;
	free(s->host);
	free(s->user);
	free(s->private_key);
	free(s->passphrase);
	free(s->known_hosts);
	DestConfig *d = &cfg->dest;
	for (int i = 0; i < d->n_urls; i++)
		free(d->urls[i]);
	free(d->urls);
	free(d->cluster);
	free(d->replica_path);
	free(d->replica_name);
	free(d->sharding_key);
	char **strs[] = {&d->url, &d->database, &d->user, &d->password, &d->compression, &d->version_column,
			 &d->deleted_column, &d->synced_column, &d->timestamp_fallback, &d->numeric_unconstrained,
			 &d->state_table, &d->tls_ca_file, &d->tls_cert_file, &d->tls_key_file, &cfg->pipe.name, &cfg->pipe.slot, &cfg->pipe.publication,
			 &cfg->pipe.on_unrepresentable, &cfg->pipe.metrics, &cfg->path, &cfg->text};
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
		free(*strs[i]);
	for (int i = 0; i < cfg->n_rules; i++)
		config_free_rule(&cfg->rules[i]);
	free(cfg->rules);
	free(cfg);
}
