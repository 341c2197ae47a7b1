/*
 * config — the Lua configuration loader; see config.h for the rules, sandbox.h for the sandbox.
 *
 * Layout: the config's globals (env, file, the pgch library, the known names), then the
 * declarative field tables for each section, then the section parsers, then config_load.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <lauxlib.h>
#include <libpq-fe.h>
#include <limits.h>
#include <lua.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "log.h"
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

static const char *const known_globals[] = {"source", "destination", "pipe", "tables", "on_table", "pgch", NULL};

static const char *closest(const char *name, const char *const *names)
{
	const char *best = NULL;
	int bestd = INT_MAX;
	for (int i = 0; names[i]; i++) {
		int d = config_edit_distance(name, names[i]);
		if (d < bestd) {
			bestd = d;
			best = names[i];
		}
	}
	int len = (int)strlen(name);
	return (best && bestd <= (len < 6 ? 1 : 2)) ? best : NULL;
}

static const SandboxGlobals config_globals = {
	known_globals,
	"a config sets source, destination, pipe, tables and hook functions such as on_table; use 'local' for helpers",
	closest,
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

/* ---------------------------------------------------------------- messages */

static bool plain_stderr_error(const Config *cfg, int line, const char *fmt, va_list ap)
{
	Buf b;
	buf_init(&b);
	if (cfg && cfg->path)
		buf_printf(&b, line > 0 ? "%s:%d: " : "%s: ", cfg->path, line);
	buf_vprintf(&b, fmt, ap);
	log_error("%s", b.data);
	buf_free(&b);
	return false;
}

void config_error_at(const Config *cfg, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	plain_stderr_error(cfg, line, fmt, ap);
	va_end(ap);
}

int config_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return INT_MAX / 2;
	int prev[65], cur[65];
	for (size_t j = 0; j <= lb; j++)
		prev[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int cost = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ? 0 : 1;
			int v = prev[j - 1] + cost;
			if (prev[j] + 1 < v)
				v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			cur[j] = v;
		}
		memcpy(prev, cur, sizeof(int) * (lb + 1));
	}
	return prev[lb];
}

/* Line number (1-based) of offset `off` in text. */
static int line_at(const char *text, size_t off)
{
	int line = 1;
	for (size_t i = 0; i < off && text[i]; i++)
		if (text[i] == '\n')
			line++;
	return line;
}

static bool is_ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* Offset just after the start of the first line >= from_line, or 0. */
static size_t offset_of_line(const char *text, int from_line)
{
	size_t off = 0;
	for (int line = 1; line < from_line && text[off]; off++)
		if (text[off] == '\n')
			line++;
	return off;
}

/*
 * Find `key =` (an identifier followed by '=' but not '==') at or after line from_line,
 * skipping comments crudely (a "--" earlier on the same line).
 */
static int find_key_line(const Config *cfg, int from_line, const char *key)
{
	if (!cfg->text)
		return 0;
	const char *t = cfg->text;
	size_t klen = strlen(key);
	for (size_t off = offset_of_line(t, from_line > 0 ? from_line : 1); t[off]; off++) {
		if (strncmp(t + off, key, klen) != 0)
			continue;
		if (off > 0 && is_ident_char(t[off - 1]))
			continue;
		size_t e = off + klen;
		if (is_ident_char(t[e]))
			continue;
		while (t[e] == ' ' || t[e] == '\t' || t[e] == '"' || t[e] == '\'' || t[e] == ']')
			e++;
		if (t[e] != '=' || t[e + 1] == '=')
			continue;
		/* a comment marker earlier on this line? */
		size_t ls = off;
		while (ls > 0 && t[ls - 1] != '\n')
			ls--;
		bool comment = false;
		for (size_t i = ls; i + 1 < off; i++)
			if (t[i] == '-' && t[i + 1] == '-')
				comment = true;
		if (!comment)
			return line_at(t, off);
	}
	return 0;
}

int config_line_of_string(const Config *cfg, const char *s)
{
	if (!cfg->text)
		return 0;
	size_t n = strlen(s);
	for (const char *p = cfg->text; (p = strstr(p, s)) != NULL; p++) {
		if (p > cfg->text && (p[-1] == '"' || p[-1] == '\'') && (p[n] == p[-1]))
			return line_at(cfg->text, (size_t)(p - cfg->text));
	}
	return find_key_line(cfg, 1, s);
}

/* ---------------------------------------------------------------- field tables */

typedef enum FieldType { F_STR, F_INT, F_LONG, F_NUM, F_ENUM, F_BYTES } FieldType;

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

static const Field destination_fields[] = {
	FSTR("url", dest.url),
	FSTR("database", dest.database),
	FSTR("user", dest.user),
	FSTR("password", dest.password),
	FENUM("compression", dest.compression, "auto|zstd|none"),
	FINT("timeout", dest.timeout, 1, 86400),
	FENUM("timestamp_fallback", dest.timestamp_fallback, "string|datetime"),
	FENUM("numeric_unconstrained", dest.numeric_unconstrained, "string|decimal"),
	FSTR("state_table", dest.state_table),
	{NULL, F_STR, 0, 0, 0, NULL},
};

static const Field destination_columns_fields[] = {
	FSTR("version", dest.version_column),
	FSTR("is_deleted", dest.deleted_column),
	FSTR("synced_at", dest.synced_column),
	{NULL, F_STR, 0, 0, 0, NULL},
};

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

typedef struct Parser {
	Config *cfg;
	lua_State *L;
	bool ok;
} Parser;

static void perr(Parser *p, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void perr(Parser *p, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	plain_stderr_error(p->cfg, line, fmt, ap);
	va_end(ap);
	p->ok = false;
}

static const char *lua_typename_at(lua_State *L, int idx)
{
	return lua_typename(L, lua_type(L, idx));
}

static void unknown_key(Parser *p, int line, const char *section, const char *key, const Field *fields,
			const char *const *extra)
{
	const char *names[64];
	int n = 0;
	for (int i = 0; fields && fields[i].name && n < 60; i++)
		names[n++] = fields[i].name;
	for (int i = 0; extra && extra[i] && n < 63; i++)
		names[n++] = extra[i];
	names[n] = NULL;
	const char *hint = closest(key, names);
	Buf list;
	buf_init(&list);
	for (int i = 0; i < n; i++)
		buf_printf(&list, "%s%s", i ? ", " : "", names[i]);
	if (hint)
		perr(p, line, "unknown key '%s' in %s; did you mean '%s'?", key, section, hint);
	else
		perr(p, line, "unknown key '%s' in %s (known keys: %s)", key, section, list.data);
	buf_free(&list);
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
static void store_field(Parser *p, const char *section, const Field *f, void *base, int line)
{
	lua_State *L = p->L;
	char *slot = (char *)base + f->offset;
	switch (f->type) {
	case F_STR:
	case F_ENUM: {
		if (lua_type(L, -1) != LUA_TSTRING) {
			perr(p, line, "%s.%s must be a string, got %s", section, f->name, lua_typename_at(L, -1));
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
				perr(p, line, "%s.%s must be one of %s, got \"%s\"", section, f->name, f->choices, s);
				return;
			}
		}
		free(*(char **)slot);
		*(char **)slot = xstrdup(s);
		return;
	}
	case F_BYTES: {
		double v = 0;
		if (lua_type(L, -1) == LUA_TNUMBER) {
			v = lua_tonumber(L, -1);
		} else if (lua_type(L, -1) != LUA_TSTRING || !parse_bytes(lua_tostring(L, -1), &v)) {
			perr(p, line, "%s.%s must be a size: a number of bytes or a string such as \"64MB\" (kB, MB, GB, TB), "
				      "got %s",
			     section, f->name, lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : lua_typename_at(L, -1));
			return;
		}
		if (v < f->min || v > f->max) {
			perr(p, line, "%s.%s must be between 1MB and 1TB, got %.0f bytes", section, f->name, v);
			return;
		}
		*(long *)slot = (long)v;
		return;
	}
	case F_INT:
	case F_LONG:
	case F_NUM: {
		if (lua_type(L, -1) != LUA_TNUMBER) {
			perr(p, line, "%s.%s must be a number, got %s", section, f->name, lua_typename_at(L, -1));
			return;
		}
		double v = lua_tonumber(L, -1);
		if (f->type != F_NUM && !lua_isinteger(L, -1) && v != (double)(long long)v) {
			perr(p, line, "%s.%s must be a whole number, got %g", section, f->name, v);
			return;
		}
		if (v < f->min || v > f->max) {
			perr(p, line, "%s.%s must be between %g and %g, got %g", section, f->name, f->min, f->max, v);
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

/*
 * Parse the table at the top of the stack against a field list. Keys listed in `nested`
 * are left for the caller: for each one found, nested_cb is called with the value on top.
 */
typedef void (*NestedFn)(Parser *p, const char *key, int line);

static void parse_fields(Parser *p, const char *section, int section_line, const Field *fields, void *base,
			 const char *const *nested, NestedFn nested_cb)
{
	lua_State *L = p->L;
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		if (lua_type(L, -2) != LUA_TSTRING) {
			perr(p, section_line, "%s must only have named keys (found a list entry)", section);
			lua_pop(L, 1);
			continue;
		}
		const char *key = lua_tostring(L, -2);
		int line = find_key_line(p->cfg, section_line, key);
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

static int global_line(Parser *p, const char *name)
{
	int line = find_key_line(p->cfg, 1, name);
	return line;
}

/* A list of strings at the top of the stack (a single string is accepted as a list of one). */
static char **parse_string_list(Parser *p, const char *what, int line, int *n_out)
{
	lua_State *L = p->L;
	*n_out = 0;
	if (lua_type(L, -1) == LUA_TSTRING) {
		char **v = xcalloc(1, sizeof(char *));
		v[0] = xstrdup(lua_tostring(L, -1));
		*n_out = 1;
		return v;
	}
	if (lua_type(L, -1) != LUA_TTABLE) {
		perr(p, line, "%s must be a list of strings, got %s", what, lua_typename_at(L, -1));
		return NULL;
	}
	lua_Integer n = luaL_len(L, -1);
	char **v = xcalloc((size_t)n + 1, sizeof(char *));
	int count = 0;
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) < 1 || lua_tointeger(L, -2) > n) {
			perr(p, line, "%s must be a list of strings (found key %s)", what, luaL_tolstring(L, -2, NULL));
			lua_pop(L, 1);
		} else if (lua_type(L, -1) != LUA_TSTRING) {
			perr(p, line, "%s[%d] must be a string, got %s", what, (int)lua_tointeger(L, -2),
			     lua_typename_at(L, -1));
		} else {
			v[lua_tointeger(L, -2) - 1] = xstrdup(lua_tostring(L, -1));
			count++;
		}
		lua_pop(L, 1);
	}
	*n_out = (int)n;
	if (count != n)
		p->ok = false;
	return v;
}

/* A map of string -> string at the top of the stack. */
static KeyVal *parse_string_map(Parser *p, const char *what, int line, int *n_out)
{
	lua_State *L = p->L;
	*n_out = 0;
	if (lua_type(L, -1) != LUA_TTABLE) {
		perr(p, line, "%s must be a table of column = value, got %s", what, lua_typename_at(L, -1));
		return NULL;
	}
	int cap = 8, n = 0;
	KeyVal *kv = xcalloc((size_t)cap, sizeof *kv);
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING) {
			perr(p, line, "%s must map column names to strings", what);
		} else {
			if (n == cap) {
				cap *= 2;
				kv = xrealloc(kv, sizeof *kv * (size_t)cap);
			}
			kv[n].key = xstrdup(lua_tostring(L, -2));
			kv[n].val = xstrdup(lua_tostring(L, -1));
			n++;
		}
		lua_pop(L, 1);
	}
	*n_out = n;
	return kv;
}

static void parse_ssh(Parser *p, const char *key, int line)
{
	(void)key;
	if (lua_type(p->L, -1) != LUA_TTABLE) {
		perr(p, line, "source.ssh must be a table, got %s", lua_typename_at(p->L, -1));
		return;
	}
	SshConfig *ssh = &p->cfg->source.ssh;
	ssh->port = 22;
	p->cfg->source.has_ssh = true;
	parse_fields(p, "source.ssh", line, ssh_fields, ssh, NULL, NULL);
	if (!ssh->host)
		perr(p, line, "source.ssh.host is required (the bastion to tunnel through)");
	if (!ssh->user)
		perr(p, line, "source.ssh.user is required");
	if (!ssh->private_key)
		perr(p, line, "source.ssh.private_key is required (key authentication only; create one with 'pgch keygen PATH')");
	if (!ssh->known_hosts)
		perr(p, line, "source.ssh.known_hosts is required: pgch verifies the bastion's host key "
			      "(ssh-keyscan -p PORT HOST > known_hosts)");
}

static void parse_source(Parser *p)
{
	lua_State *L = p->L;
	int line = global_line(p, "source");
	if (lua_getglobal(L, "source") != LUA_TTABLE) {
		if (lua_isnil(L, -1))
			perr(p, 0, "source is not set: add source = { host = ..., dbname = ..., user = ... }");
		else
			perr(p, line, "source must be a table of libpq connection keywords, got %s", lua_typename_at(L, -1));
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
		int kline = key ? find_key_line(p->cfg, line, key) : line;
		if (!kline)
			kline = line;
		if (!key) {
			perr(p, line, "source must only have named keys");
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
				const char *hint = closest(key, names);
				if (hint)
					perr(p, kline, "unknown key '%s' in source; did you mean '%s'?", key, hint);
				else
					perr(p, kline, "unknown key '%s' in source: source takes libpq connection keywords "
						       "(host, port, dbname, user, password, sslmode, ...) and ssh",
					     key);
			} else if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER) {
				perr(p, kline, "source.%s must be a string or number, got %s", key, lua_typename_at(L, -1));
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

static void parse_dest_nested(Parser *p, const char *key, int line)
{
	(void)key;
	if (lua_type(p->L, -1) != LUA_TTABLE) {
		perr(p, line, "destination.columns must be a table, got %s", lua_typename_at(p->L, -1));
		return;
	}
	parse_fields(p, "destination.columns", line, destination_columns_fields, p->cfg, NULL, NULL);
}

static void parse_destination(Parser *p)
{
	lua_State *L = p->L;
	int line = global_line(p, "destination");
	if (lua_getglobal(L, "destination") != LUA_TTABLE) {
		if (lua_isnil(L, -1))
			perr(p, 0, "destination is not set: add destination = { url = \"http://host:8123\", database = ... }");
		else
			perr(p, line, "destination must be a table, got %s", lua_typename_at(L, -1));
		lua_pop(L, 1);
		return;
	}
	static const char *const nested[] = {"columns", NULL};
	parse_fields(p, "destination", line, destination_fields, p->cfg, nested, parse_dest_nested);
	lua_pop(L, 1);
}

static void parse_pipe_nested(Parser *p, const char *key, int line)
{
	(void)key;
	if (lua_type(p->L, -1) != LUA_TTABLE) {
		perr(p, line, "pipe.snapshot must be a table, got %s", lua_typename_at(p->L, -1));
		return;
	}
	parse_fields(p, "pipe.snapshot", line, snapshot_fields, p->cfg, NULL, NULL);
}

static void parse_pipe(Parser *p)
{
	lua_State *L = p->L;
	int line = global_line(p, "pipe");
	int t = lua_getglobal(L, "pipe");
	if (t == LUA_TTABLE) {
		static const char *const nested[] = {"snapshot", NULL};
		parse_fields(p, "pipe", line, pipe_fields, p->cfg, nested, parse_pipe_nested);
	} else if (t != LUA_TNIL) {
		perr(p, line, "pipe must be a table, got %s", lua_typename_at(L, -1));
	}
	lua_pop(L, 1);
}

static const char *const table_entry_keys[] = {"target",	"order_by", "exclude_columns", "partition_by",
					       "types",		"on_unrepresentable", NULL};

static TableRule *add_rule(Config *cfg, const char *pattern, int line)
{
	cfg->rules = xrealloc(cfg->rules, sizeof(TableRule) * (size_t)(cfg->n_rules + 1));
	TableRule *r = &cfg->rules[cfg->n_rules++];
	memset(r, 0, sizeof *r);
	r->pattern = strchr(pattern, '.') ? xstrdup(pattern) : xasprintf("public.%s", pattern);
	r->wildcard = strpbrk(pattern, "*?") != NULL;
	r->line = line;
	return r;
}

static void parse_table_entry(Parser *p, int line)
{
	lua_State *L = p->L;
	if (lua_rawgeti(L, -1, 1) != LUA_TSTRING) {
		perr(p, line, "a table entry in tables must start with the table name: { \"schema.table\", target = ... }");
		lua_pop(L, 1);
		return;
	}
	const char *name = lua_tostring(L, -1);
	int eline = config_line_of_string(p->cfg, name);
	if (!eline)
		eline = line;
	TableRule *r = add_rule(p->cfg, name, eline);
	lua_pop(L, 1);
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		if (lua_isinteger(L, -2) && lua_tointeger(L, -2) == 1) {
			lua_pop(L, 1);
			continue;
		}
		const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
		int kline = key ? find_key_line(p->cfg, eline, key) : eline;
		if (!kline)
			kline = eline;
		/* r may move when rules grow; only this entry adds rules here, so it is stable. */
		if (!key) {
			perr(p, eline, "table entry for %s: only the first element may be positional (the table name)", name);
		} else if (strcmp(key, "target") == 0 || strcmp(key, "partition_by") == 0) {
			if (lua_type(L, -1) != LUA_TSTRING)
				perr(p, kline, "%s: %s must be a string, got %s", name, key, lua_typename_at(L, -1));
			else if (key[0] == 't')
				r->target = xstrdup(lua_tostring(L, -1));
			else
				r->partition_by = xstrdup(lua_tostring(L, -1));
		} else if (strcmp(key, "order_by") == 0) {
			r->order_by = parse_string_list(p, "order_by", kline, &r->n_order_by);
			if (r->order_by && r->n_order_by == 0)
				perr(p, kline, "%s: order_by must name at least one column", name);
		} else if (strcmp(key, "exclude_columns") == 0) {
			r->exclude_columns = parse_string_list(p, "exclude_columns", kline, &r->n_exclude_columns);
		} else if (strcmp(key, "types") == 0) {
			r->types = parse_string_map(p, "types", kline, &r->n_types);
		} else if (strcmp(key, "on_unrepresentable") == 0) {
			if (lua_type(L, -1) == LUA_TSTRING) {
				r->unrep = xcalloc(1, sizeof(KeyVal));
				r->unrep[0].key = xstrdup("*");
				r->unrep[0].val = xstrdup(lua_tostring(L, -1));
				r->n_unrep = 1;
			} else {
				r->unrep = parse_string_map(p, "on_unrepresentable", kline, &r->n_unrep);
			}
			for (int i = 0; i < r->n_unrep; i++) {
				const char *v = r->unrep[i].val;
				if (strcmp(v, "error") && strcmp(v, "null") && strcmp(v, "clamp"))
					perr(p, kline, "%s: on_unrepresentable must be \"error\", \"null\" or \"clamp\", got \"%s\"",
					     name, v);
			}
		} else {
			unknown_key(p, kline, "a table entry", key, NULL, table_entry_keys);
		}
		lua_pop(L, 1);
	}
	if (r->target && r->wildcard)
		perr(p, eline, "%s: target can only be set for one table, not a pattern", name);
}

static void parse_tables(Parser *p)
{
	lua_State *L = p->L;
	int line = global_line(p, "tables");
	if (lua_getglobal(L, "tables") != LUA_TTABLE) {
		if (lua_isnil(L, -1))
			perr(p, 0, "tables is not set: add tables = { \"public.*\" } or a list of table names");
		else
			perr(p, line, "tables must be a list of table names and patterns, got %s", lua_typename_at(L, -1));
		lua_pop(L, 1);
		return;
	}
	lua_Integer n = luaL_len(L, -1);
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		if (lua_type(L, -2) == LUA_TSTRING) {
			const char *key = lua_tostring(L, -2);
			int kline = find_key_line(p->cfg, line, key);
			if (strcmp(key, "exclude") == 0) {
				int ne = 0;
				char **ex = parse_string_list(p, "tables.exclude", kline ? kline : line, &ne);
				for (int i = 0; ex && i < ne; i++) {
					if (ex[i]) {
						int eline = config_line_of_string(p->cfg, ex[i]);
						add_rule(p->cfg, ex[i], eline ? eline : line)->excluded = true;
					}
					free(ex[i]);
				}
				free(ex);
			} else {
				static const char *const keys[] = {"exclude", NULL};
				unknown_key(p, kline ? kline : line, "tables", key, NULL, keys);
			}
		} else if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) < 1 || lua_tointeger(L, -2) > n) {
			perr(p, line, "tables must be a list (found a non-list key)");
		}
		lua_pop(L, 1);
	}
	for (lua_Integer i = 1; i <= n; i++) {
		int t = lua_rawgeti(L, -1, i);
		if (t == LUA_TSTRING) {
			const char *s = lua_tostring(L, -1);
			int sline = config_line_of_string(p->cfg, s);
			add_rule(p->cfg, s, sline ? sline : line);
		} else if (t == LUA_TTABLE) {
			parse_table_entry(p, line);
		} else {
			perr(p, line, "tables[%d] must be a table name, a pattern or { \"name\", options... }, got %s", (int)i,
			     lua_typename_at(L, -1));
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	/* one table named twice: which entry's options would win is not for pgch to guess */
	for (int i = 0; i < p->cfg->n_rules; i++)
		for (int j = 0; j < i; j++) {
			const TableRule *a = &p->cfg->rules[j], *b = &p->cfg->rules[i];
			if (!a->wildcard && !b->wildcard && a->excluded == b->excluded && strcmp(a->pattern, b->pattern) == 0) {
				if (a->line != b->line)
					perr(p, b->line, "%s is listed twice in tables%s (lines %d and %d): keep one entry",
					     b->pattern, b->excluded ? ".exclude" : "", a->line, b->line);
				else
					perr(p, b->line, "%s is listed twice in tables%s: keep one entry", b->pattern,
					     b->excluded ? ".exclude" : "");
				break;
			}
		}
	int includes = 0;
	for (int i = 0; i < p->cfg->n_rules; i++)
		includes += !p->cfg->rules[i].excluded;
	if (p->ok && includes == 0)
		perr(p, line, "tables selects nothing: list table names or patterns such as \"public.*\"");
}

static void parse_hooks(Parser *p)
{
	lua_State *L = p->L;
	int t = lua_getglobal(L, "on_table");
	if (t == LUA_TFUNCTION) {
		p->cfg->hook_on_table = luaL_ref(L, LUA_REGISTRYINDEX);
		return;
	}
	if (t != LUA_TNIL)
		perr(p, global_line(p, "on_table"), "on_table must be a function, got %s", lua_typename_at(L, -1));
	lua_pop(L, 1);
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
	cfg->dest.url = xstrdup("http://127.0.0.1:8123");
	cfg->dest.version_column = xstrdup("_pgch_version");
	cfg->dest.deleted_column = xstrdup("_pgch_is_deleted");
	cfg->dest.synced_column = xstrdup("_pgch_synced_at");
	cfg->dest.timestamp_fallback = xstrdup("string");
	cfg->dest.numeric_unconstrained = xstrdup("string");
	cfg->dest.state_table = xstrdup("_pgch_state");
	cfg->pipe.sync_interval = 10;
	cfg->pipe.batch_size = 100000;
	cfg->pipe.max_batch_memory = 64L << 20;
	cfg->pipe.heartbeat_interval = 60;
	cfg->pipe.status_interval = 10;
	cfg->pipe.max_retries = 5;
	cfg->pipe.on_unrepresentable = xstrdup("error");
	cfg->pipe.snapshot.workers = 4;
	cfg->pipe.snapshot.rows_per_partition = 1000000;
	cfg->pipe.snapshot.tables_in_parallel = 2;
	cfg->hook_on_table = LUA_NOREF;
}

/*
 * destination.url: http(s)://host[:port][/path]. Credentials belong in destination.user and
 * .password (libcurl would let those override the URL's silently), and the query string is
 * pgch's own; the URL is never echoed, as it may hold a password.
 */
static void check_url(Parser *p)
{
	const char *url = p->cfg->dest.url;
	int line = find_key_line(p->cfg, 1, "url");
	const char *rest = strncmp(url, "http://", 7) == 0 ? url + 7 : strncmp(url, "https://", 8) == 0 ? url + 8 : NULL;
	if (!rest) {
		const char *sep = strstr(url, "://");
		if (sep)
			perr(p, line, "destination.url must start with http:// or https://, not %.*s", (int)(sep - url + 3), url);
		else
			perr(p, line, "destination.url must start with http:// or https:// (for example http://127.0.0.1:8123)");
		return;
	}
	size_t auth = strcspn(rest, "/?#");
	if (memchr(rest, '@', auth))
		perr(p, line, "destination.url must not hold a user or password: set destination.user and "
			      "destination.password (for example password = env(\"CH_PASSWORD\"))");
	else if (auth == 0)
		perr(p, line, "destination.url has no host (for example http://127.0.0.1:8123)");
	else if (strpbrk(rest, "?#"))
		perr(p, line, "destination.url must not have a query string or fragment: set the database with "
			      "destination.database and the rest is pgch's own");
}

/* Defaults that depend on other settings, and cross-field checks. */
static void finish(Parser *p)
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
		perr(p, find_key_line(cfg, 1, cfg->pipe.slot == NULL ? "slot" : "name"),
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
	check_url(p);
	const char *cols[] = {cfg->dest.version_column, cfg->dest.deleted_column, cfg->dest.synced_column};
	static const char *const col_keys[] = {"version", "is_deleted", "synced_at"};
	for (int i = 0; i < 3; i++) {
		if (cols[i][0] == '\0')
			perr(p, find_key_line(cfg, 1, col_keys[i]), "destination.columns.%s must not be empty", col_keys[i]);
		for (int j = i + 1; j < 3; j++)
			if (strcmp(cols[i], cols[j]) == 0)
				perr(p, find_key_line(cfg, 1, "columns"), "destination.columns: two columns are both named \"%s\"",
				     cols[i]);
	}
	if (cfg->dest.database[0] == '\0')
		perr(p, find_key_line(cfg, 1, "database"), "destination.database must not be empty");
	if (cfg->dest.state_table[0] == '\0')
		perr(p, find_key_line(cfg, 1, "state_table"), "destination.state_table must not be empty");
	for (int i = 0; i < cfg->n_rules; i++)
		if (cfg->rules[i].target && cfg->rules[i].target[0] == '\0')
			perr(p, cfg->rules[i].line, "%s: target must not be empty", cfg->rules[i].pattern);
}

/* ---------------------------------------------------------------- public */

/*
 * Read the globals the config set into the Config (the Parser is the light userdata
 * argument). It runs under sandbox_pcall: a metamethod of a config's table is Lua code.
 */
static int parse_globals(lua_State *L)
{
	Parser *p = lua_touserdata(L, 1);
	lua_pop(L, 1);
	parse_source(p);
	parse_destination(p);
	parse_pipe(p);
	parse_tables(p);
	parse_hooks(p);
	return 0;
}

Config *config_load(const char *path)
{
	Config *cfg = xcalloc(1, sizeof *cfg);
	cfg->path = xstrdup(path);
	set_defaults(cfg);
	Parser p = {cfg, NULL, true};

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

static void free_rule(TableRule *r)
{
	free(r->pattern);
	free(r->target);
	free(r->partition_by);
	for (int i = 0; i < r->n_order_by; i++)
		free(r->order_by[i]);
	free(r->order_by);
	for (int i = 0; i < r->n_exclude_columns; i++)
		free(r->exclude_columns[i]);
	free(r->exclude_columns);
	for (int i = 0; i < r->n_types; i++) {
		free(r->types[i].key);
		free(r->types[i].val);
	}
	free(r->types);
	for (int i = 0; i < r->n_unrep; i++) {
		free(r->unrep[i].key);
		free(r->unrep[i].val);
	}
	free(r->unrep);
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
	char **strs[] = {&d->url, &d->database, &d->user, &d->password, &d->compression, &d->version_column,
			 &d->deleted_column, &d->synced_column, &d->timestamp_fallback, &d->numeric_unconstrained,
			 &d->state_table, &cfg->pipe.name, &cfg->pipe.slot, &cfg->pipe.publication,
			 &cfg->pipe.on_unrepresentable, &cfg->path, &cfg->text};
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
		free(*strs[i]);
	for (int i = 0; i < cfg->n_rules; i++)
		free_rule(&cfg->rules[i]);
	free(cfg->rules);
	free(cfg);
}

Unrepresentable config_unrep_policy(const Config *cfg, const TableRule *rule, const char *column)
{
	const char *v = cfg->pipe.on_unrepresentable;
	for (int pass = 0; rule && pass < 2; pass++)
		for (int i = 0; i < rule->n_unrep; i++)
			if (strcmp(rule->unrep[i].key, pass == 0 ? column : "*") == 0) {
				v = rule->unrep[i].val;
				pass = 2;
				break;
			}
	if (strcmp(v, "null") == 0)
		return UNREP_NULL;
	if (strcmp(v, "clamp") == 0)
		return UNREP_CLAMP;
	return UNREP_ERROR;
}

bool config_glob_match(const char *pat, const char *name)
{
	/* iterative glob with single-star backtracking */
	const char *star = NULL, *resume = NULL;
	while (*name) {
		if (*pat == '*') {
			star = pat++;
			resume = name;
		} else if (*pat == '?' || *pat == *name) {
			pat++;
			name++;
		} else if (star) {
			pat = star + 1;
			name = ++resume;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}
