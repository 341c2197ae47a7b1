/*
 * config_table — the `tables` section of a config: names, patterns, exclusions and each
 * entry's options (target, order_by, exclude_columns, partition_by, where, types, columns,
 * on_unrepresentable, on_row) become TableRules; plus what the rules answer later (the policy for
 * a column's unrepresentable values, a column's ClickHouse name, glob matching).
 *
 * Only what the config text says is checked here; whether a pattern matches a table, a
 * named column exists or a type fits its values is for catalog.c, which has the database.
 */
#include "config.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* A list of strings at the top of the stack (a single string is accepted as a list of one). */
static char **parse_string_list(ConfigParser *p, const char *what, int line, int *n_out)
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
		config_parse_error(p, line, "%s must be a list of strings, got %s", what, luaL_typename(L, -1));
		return NULL;
	}
	lua_Integer n = luaL_len(L, -1);
	char **v = xcalloc((size_t)n + 1, sizeof(char *));
	int count = 0;
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) < 1 || lua_tointeger(L, -2) > n) {
			config_parse_error(p, line, "%s must be a list of strings (found key %s)", what, luaL_tolstring(L, -2, NULL));
			lua_pop(L, 1);
		} else if (lua_type(L, -1) != LUA_TSTRING) {
			config_parse_error(p, line, "%s[%d] must be a string, got %s", what, (int)lua_tointeger(L, -2),
			     luaL_typename(L, -1));
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
static KeyVal *parse_string_map(ConfigParser *p, const char *what, int line, int *n_out)
{
	lua_State *L = p->L;
	*n_out = 0;
	if (lua_type(L, -1) != LUA_TTABLE) {
		config_parse_error(p, line, "%s must be a table of column = value, got %s", what, luaL_typename(L, -1));
		return NULL;
	}
	int cap = 8, n = 0;
	KeyVal *kv = xcalloc((size_t)cap, sizeof *kv);
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING) {
			config_parse_error(p, line, "%s must map column names to strings", what);
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

static const char *const table_entry_keys[] = {"target", "order_by", "exclude_columns", "partition_by", "where", "types",
					       "columns", "on_unrepresentable", "on_row", "initial_load", NULL};

/*
 * A table entry's `columns = { source_name = "clickhouse_name" }` at the top of the stack.
 * Each value's own line is found by its key (`billing_city =`) from the `columns` line on.
 * Whether the columns exist and the names collide is for catalog.c, which has the table.
 */
static void parse_renames(ConfigParser *p, TableRule *r, const char *table, int line)
{
	lua_State *L = p->L;
	r->renames_line = line;
	if (lua_type(L, -1) != LUA_TTABLE) {
		config_parse_error(p, line, "%s: columns must map source column names to ClickHouse names, such as "
					    "columns = { billing_city = \"city\" }, got %s",
				   table, luaL_typename(L, -1));
		return;
	}
	int cap = 4;
	r->renames = xcalloc((size_t)cap, sizeof(KeyVal));
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		if (lua_type(L, -2) != LUA_TSTRING) {
			config_parse_error(p, line, "%s: columns must map source column names to ClickHouse names, such as "
						    "columns = { billing_city = \"city\" } (found a list entry or a key that is not a name)",
					   table);
			lua_pop(L, 1);
			continue;
		}
		const char *col = lua_tostring(L, -2);
		int cline = config_key_line(p->cfg, line, col);
		if (!cline)
			cline = line;
		if (lua_type(L, -1) != LUA_TSTRING) {
			config_parse_error(p, cline, "%s: columns.%s must be the column's ClickHouse name as a string, got %s", table,
					   col, luaL_typename(L, -1));
		} else if (lua_rawlen(L, -1) == 0 || strspn(lua_tostring(L, -1), " \t") == lua_rawlen(L, -1)) {
			config_parse_error(p, cline, "%s: columns.%s is an empty name: give the column's ClickHouse name, or "
						     "leave it out to keep \"%s\"",
					   table, col, col);
		} else if (strlen(lua_tostring(L, -1)) != lua_rawlen(L, -1) || strchr(lua_tostring(L, -1), '\n')) {
			config_parse_error(p, cline, "%s: columns.%s: a ClickHouse name cannot hold a NUL or a newline", table, col);
		} else {
			if (r->n_renames == cap) {
				cap *= 2;
				r->renames = xrealloc(r->renames, sizeof(KeyVal) * (size_t)cap);
			}
			r->renames[r->n_renames].key = xstrdup(col);
			r->renames[r->n_renames].val = xstrdup(lua_tostring(L, -1));
			r->n_renames++;
		}
		lua_pop(L, 1);
	}
}

static TableRule *add_rule(Config *cfg, const char *pattern, int line)
{
	cfg->rules = xrealloc(cfg->rules, sizeof(TableRule) * (size_t)(cfg->n_rules + 1));
	TableRule *r = &cfg->rules[cfg->n_rules++];
	memset(r, 0, sizeof *r);
	r->pattern = strchr(pattern, '.') ? xstrdup(pattern) : xasprintf("public.%s", pattern);
	r->wildcard = strpbrk(pattern, "*?") != NULL;
	r->line = line;
	r->initial_load = -1;
	return r;
}

static void parse_table_entry(ConfigParser *p, int line)
{
	lua_State *L = p->L;
	if (lua_rawgeti(L, -1, 1) != LUA_TSTRING) {
		config_parse_error(p, line, "a table entry in tables must start with the table name: { \"schema.table\", target = ... }");
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
		int kline = key ? config_key_line(p->cfg, eline, key) : eline;
		if (!kline)
			kline = eline;
		/* r may move when rules grow; only this entry adds rules here, so it is stable. */
		if (!key) {
			config_parse_error(p, eline, "table entry for %s: only the first element may be positional (the table name)", name);
		} else if (strcmp(key, "target") == 0 || strcmp(key, "partition_by") == 0) {
			if (lua_type(L, -1) != LUA_TSTRING)
				config_parse_error(p, kline, "%s: %s must be a string, got %s", name, key, luaL_typename(L, -1));
			else if (key[0] == 't')
				r->target = xstrdup(lua_tostring(L, -1));
			else
				r->partition_by = xstrdup(lua_tostring(L, -1));
		} else if (strcmp(key, "initial_load") == 0) {
			if (lua_type(L, -1) != LUA_TBOOLEAN)
				config_parse_error(p, kline, "%s: initial_load must be true or false, got %s", name, luaL_typename(L, -1));
			else
				r->initial_load = lua_toboolean(L, -1);
		} else if (strcmp(key, "where") == 0) {
			/* the text goes into SQL as one parenthesised predicate; PostgreSQL checks the rest */
			if (lua_type(L, -1) != LUA_TSTRING)
				config_parse_error(p, kline, "%s: where must be a SQL condition in a string such as "
							     "\"status <> 'draft'\", got %s",
						   name, luaL_typename(L, -1));
			else if (strspn(lua_tostring(L, -1), " \t\r\n") == strlen(lua_tostring(L, -1)))
				config_parse_error(p, kline, "%s: where is empty: leave it out to replicate every row", name);
			else if (strchr(lua_tostring(L, -1), ';'))
				config_parse_error(p, kline, "%s: where must be one SQL condition, without ';'", name);
			else {
				r->where = xstrdup(lua_tostring(L, -1));
				r->where_line = kline;
			}
		} else if (strcmp(key, "on_row") == 0) {
			if (lua_type(L, -1) != LUA_TFUNCTION) {
				config_parse_error(p, kline, "%s: on_row must be a function (t, row), got %s", name,
						   luaL_typename(L, -1));
			} else {
				lua_pushvalue(L, -1);
				r->on_row = luaL_ref(L, LUA_REGISTRYINDEX);
				r->has_on_row = true;
			}
		} else if (strcmp(key, "order_by") == 0) {
			r->order_by = parse_string_list(p, "order_by", kline, &r->n_order_by);
			if (r->order_by && r->n_order_by == 0)
				config_parse_error(p, kline, "%s: order_by must name at least one column", name);
		} else if (strcmp(key, "exclude_columns") == 0) {
			r->exclude_columns = parse_string_list(p, "exclude_columns", kline, &r->n_exclude_columns);
		} else if (strcmp(key, "types") == 0) {
			r->types = parse_string_map(p, "types", kline, &r->n_types);
		} else if (strcmp(key, "columns") == 0) {
			parse_renames(p, r, name, kline);
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
					config_parse_error(p, kline, "%s: on_unrepresentable must be \"error\", \"null\" or \"clamp\", got \"%s\"",
					     name, v);
			}
		} else {
			config_unknown_key(p, kline, "a table entry", key, table_entry_keys);
		}
		lua_pop(L, 1);
	}
	if (r->target && r->wildcard)
		config_parse_error(p, eline, "%s: target can only be set for one table, not a pattern", name);
}

void config_parse_tables(ConfigParser *p)
{
	lua_State *L = p->L;
	int line = config_key_line(p->cfg, 1, "tables");
	if (lua_getglobal(L, "tables") != LUA_TTABLE) {
		if (lua_isnil(L, -1))
			config_parse_error(p, 0, "tables is not set: add tables = { \"public.*\" } or a list of table names");
		else
			config_parse_error(p, line, "tables must be a list of table names and patterns, got %s", luaL_typename(L, -1));
		lua_pop(L, 1);
		return;
	}
	lua_Integer n = luaL_len(L, -1);
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		if (lua_type(L, -2) == LUA_TSTRING) {
			const char *key = lua_tostring(L, -2);
			int kline = config_key_line(p->cfg, line, key);
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
				config_unknown_key(p, kline ? kline : line, "tables", key, keys);
			}
		} else if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) < 1 || lua_tointeger(L, -2) > n) {
			config_parse_error(p, line, "tables must be a list (found a non-list key)");
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
			config_parse_error(p, line, "tables[%d] must be a table name, a pattern or { \"name\", options... }, got %s", (int)i,
			     luaL_typename(L, -1));
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
					config_parse_error(p, b->line, "%s is listed twice in tables%s (lines %d and %d): keep one entry",
					     b->pattern, b->excluded ? ".exclude" : "", a->line, b->line);
				else
					config_parse_error(p, b->line, "%s is listed twice in tables%s: keep one entry", b->pattern,
					     b->excluded ? ".exclude" : "");
				break;
			}
		}
	int includes = 0;
	for (int i = 0; i < p->cfg->n_rules; i++)
		includes += !p->cfg->rules[i].excluded;
	if (p->ok && includes == 0)
		config_parse_error(p, line, "tables selects nothing: list table names or patterns such as \"public.*\"");
}

void config_free_rule(TableRule *r)
{
	free(r->pattern);
	free(r->target);
	free(r->partition_by);
	free(r->where);
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
	for (int i = 0; i < r->n_renames; i++) {
		free(r->renames[i].key);
		free(r->renames[i].val);
	}
	free(r->renames);
	for (int i = 0; i < r->n_unrep; i++) {
		free(r->unrep[i].key);
		free(r->unrep[i].val);
	}
	free(r->unrep);
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

const char *config_ch_name(const TableRule *rule, const char *column)
{
	for (int i = 0; rule && i < rule->n_renames; i++)
		if (strcmp(rule->renames[i].key, column) == 0)
			return rule->renames[i].val;
	return column;
}

const char *config_renamed_from(const TableRule *rule, const char *ch_name)
{
	for (int i = 0; rule && i < rule->n_renames; i++)
		if (strcmp(rule->renames[i].val, ch_name) == 0 && strcmp(rule->renames[i].key, ch_name) != 0)
			return rule->renames[i].key;
	return NULL;
}

int config_rename_line(const Config *cfg, const TableRule *rule, const char *column)
{
	if (!rule)
		return 0;
	int line = config_key_line(cfg, rule->renames_line, column);
	return line ? line : rule->renames_line ? rule->renames_line : rule->line;
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
