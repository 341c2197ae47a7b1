/*
 * hooks — the data-modelling hook `on_table(t)` of a config (ARCHITECTURE.md, "Contracts").
 *
 * For each selected table the hook receives a Lua table describing it:
 *
 *   t.source        "public.orders"            (read-only)
 *   t.target        "orders"                   ClickHouse table name
 *   t.database      destination database       (read-only)
 *   t.columns       { { name, ch_name, pg_type, ch_type, nullable, key }, ... }  ch_type may be
 *                                              changed; name is the source's, ch_name the ClickHouse
 *                                              name (read-only: renames are the config's columns = {})
 *   t.order_by      { "customer_id", "id" }    source names; may be changed (the same checks apply)
 *   t.partition_by  nil or an expression       may be set (a ClickHouse expression: ClickHouse names)
 *   t.after         {}                         ClickHouse statements to run after CREATE TABLE
 *   t.derived       {}                         columns ClickHouse computes, { name, ch_type,
 *                                              expression, kind }, added by pgch.add_column
 *   t.version_column, t.is_deleted_column, t.synced_at_column   pgch's own columns (read-only)
 *   t.cluster       destination.cluster, "" without one (read-only): after-statements go ON CLUSTER
 *
 * and may change it in place (or return a replacement). The result goes through the same
 * validation as the config's own table options; a Lua error is reported with its line. Each
 * call runs under the sandbox's memory and instruction limits (sandbox.h), with a fresh
 * instruction budget.
 */
#include "hooks.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "rowhook.h"
#include "sandbox.h"

static void push_string_list(lua_State *L, char **v, int n)
{
	lua_createtable(L, n, 0);
	for (int i = 0; i < n; i++) {
		lua_pushstring(L, v[i]);
		lua_rawseti(L, -2, i + 1);
	}
}

static void push_table(lua_State *L, const Table *t, const Config *cfg)
{
	lua_newtable(L);
	lua_pushstring(L, t->display);
	lua_setfield(L, -2, "source");
	lua_pushstring(L, t->target);
	lua_setfield(L, -2, "target");
	lua_pushstring(L, cfg->dest.database);
	lua_setfield(L, -2, "database");
	lua_pushstring(L, cfg->dest.version_column);
	lua_setfield(L, -2, "version_column");
	lua_pushstring(L, cfg->dest.deleted_column);
	lua_setfield(L, -2, "is_deleted_column");
	lua_pushstring(L, cfg->dest.synced_column);
	lua_setfield(L, -2, "synced_at_column");
	lua_pushstring(L, cfg->dest.cluster ? cfg->dest.cluster : "");
	lua_setfield(L, -2, "cluster");
	lua_createtable(L, t->ncols, 0);
	for (int i = 0; i < t->ncols; i++) {
		const Column *c = &t->cols[i];
		lua_newtable(L);
		lua_pushstring(L, c->name);
		lua_setfield(L, -2, "name");
		lua_pushstring(L, c->ch_name);
		lua_setfield(L, -2, "ch_name");
		lua_pushstring(L, c->type_name);
		lua_setfield(L, -2, "pg_type");
		Buf n;
		buf_init(&n);
		types_ch_name(&c->ch, &n);
		lua_pushstring(L, n.data);
		lua_setfield(L, -2, "ch_type");
		buf_free(&n);
		lua_pushboolean(L, !c->notnull);
		lua_setfield(L, -2, "nullable");
		bool key = false;
		for (int k = 0; k < t->nkey; k++)
			key = key || t->key[k] == i;
		lua_pushboolean(L, key);
		lua_setfield(L, -2, "key");
		lua_rawseti(L, -2, i + 1);
	}
	lua_setfield(L, -2, "columns");
	char **names = xcalloc((size_t)t->norder + 1, sizeof(char *));
	for (int i = 0; i < t->norder; i++)
		names[i] = t->cols[t->order[i]].name;
	push_string_list(L, names, t->norder);
	free(names);
	lua_setfield(L, -2, "order_by");
	if (t->partition_by) {
		lua_pushstring(L, t->partition_by);
		lua_setfield(L, -2, "partition_by");
	}
	lua_newtable(L);
	lua_setfield(L, -2, "after");
	lua_newtable(L);
	lua_setfield(L, -2, "derived");
}

/* Read the hook's result (at the top of the stack) back into t. */
/*
 * Fields of the result that pgch does not read, or read-only ones changed, are errors: a
 * misspelt field (t.partition = ...) would otherwise be ignored without a word.
 */
static bool check_fields(lua_State *L, const Config *cfg, const Table *t)
{
	static const char *const writable[] = {"target", "columns", "order_by", "partition_by", "after", "derived", NULL};
	static const char *const readonly[] = {"source", "database", "version_column", "is_deleted_column",
					       "synced_at_column", "cluster", NULL};
	const char *const current[] = {t->display, cfg->dest.database, cfg->dest.version_column,
				       cfg->dest.deleted_column, cfg->dest.synced_column,
				       cfg->dest.cluster ? cfg->dest.cluster : ""};
	bool ok = true;
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		lua_pop(L, 1); /* the value; the key stays for lua_next */
		if (lua_type(L, -1) != LUA_TSTRING) {
			log_error("on_table(%s): the table has a key that is not a field name", t->display);
			ok = false;
			continue;
		}
		const char *k = lua_tostring(L, -1);
		bool known = false;
		for (int i = 0; writable[i]; i++)
			known = known || strcmp(k, writable[i]) == 0;
		for (int i = 0; readonly[i] && !known; i++) {
			if (strcmp(k, readonly[i]) != 0)
				continue;
			known = true;
			lua_getfield(L, -2, k); /* the table, below the key */
			if (!lua_isstring(L, -1) || strcmp(lua_tostring(L, -1), current[i]) != 0) {
				log_error("on_table(%s): t.%s is read-only", t->display, k);
				ok = false;
			}
			lua_pop(L, 1);
		}
		if (!known) {
			log_error("on_table(%s): t.%s is not a field pgch reads (it reads target, columns, order_by, "
				  "partition_by, after and derived)",
				  t->display, k);
			ok = false;
		}
	}
	return ok;
}

/* A string field of the table at the top of the stack, or NULL. */
static const char *string_field(lua_State *L, const char *name)
{
	lua_getfield(L, -1, name);
	const char *s = lua_type(L, -1) == LUA_TSTRING && lua_rawlen(L, -1) > 0 ? lua_tostring(L, -1) : NULL;
	lua_pop(L, 1); /* the string stays alive: the entry still refers to it */
	return s;
}

/* Is name one of t's ClickHouse columns: a replicated one, a derived one, or pgch's own? */
static bool name_taken(const Config *cfg, const Table *t, const char *name)
{
	if (strcmp(name, cfg->dest.version_column) == 0 || strcmp(name, cfg->dest.deleted_column) == 0 ||
	    strcmp(name, cfg->dest.synced_column) == 0)
		return true;
	for (int c = 0; c < t->ncols; c++)
		if (strcmp(t->cols[c].ch_name, name) == 0)
			return true;
	for (int d = 0; d < t->nderived; d++)
		if (strcmp(t->derived[d].name, name) == 0)
			return true;
	return false;
}

/* t.derived (pgch.add_column's entries; checked again here, as a hook may write them itself). */
static bool read_derived(lua_State *L, const Config *cfg, Table *t)
{
	bool ok = true;
	if (lua_getfield(L, -1, "derived") == LUA_TTABLE) {
		int n = (int)luaL_len(L, -1);
		for (int i = 0; i < n; i++) {
			lua_rawgeti(L, -1, i + 1);
			const char *name = NULL, *type = NULL, *expr = NULL, *kind = NULL;
			if (lua_istable(L, -1)) {
				name = string_field(L, "name");
				type = string_field(L, "ch_type");
				expr = string_field(L, "expression");
				kind = string_field(L, "kind");
			}
			if (!name || !type || !expr) {
				log_error("on_table(%s): derived[%d] must be { name = ..., ch_type = ..., expression = ... } "
					  "(use pgch.add_column)",
					  t->display, i + 1);
				ok = false;
			} else if (kind && strcmp(kind, "materialized") != 0 && strcmp(kind, "default") != 0) {
				log_error("on_table(%s): derived column %s: kind must be \"materialized\" or \"default\"",
					  t->display, name);
				ok = false;
			} else if (name_taken(cfg, t, name)) {
				log_error("on_table(%s): derived column %s: %s already has a column of that name", t->display,
					  name, t->target);
				ok = false;
			} else {
				t->derived = xrealloc(t->derived, sizeof(Derived) * (size_t)(t->nderived + 1));
				Derived *d = &t->derived[t->nderived++];
				d->name = xstrdup(name);
				d->ch_type = xstrdup(type);
				d->expr = xstrdup(expr);
				d->materialized = !kind || strcmp(kind, "materialized") == 0;
			}
			lua_pop(L, 1);
		}
	} else if (!lua_isnil(L, -1)) {
		log_error("on_table(%s): t.derived must stay a list (add to it with pgch.add_column)", t->display);
		ok = false;
	}
	lua_pop(L, 1);
	return ok;
}

/* columns[i] (at the top of the stack) keeps its ClickHouse name: renames are the config's
 * (`columns = { ... }` in the table's entry), so that the stream and a copy made again, which
 * do not run on_table, name the same columns. */
static bool ch_name_kept(lua_State *L, const Table *t, int i)
{
	int ft = lua_getfield(L, -1, "ch_name");
	bool kept = ft == LUA_TNIL || (ft == LUA_TSTRING && strcmp(lua_tostring(L, -1), t->cols[i].ch_name) == 0);
	if (!kept)
		log_error("on_table(%s): column %s: ch_name is read-only; rename a column in the table's entry with "
			  "columns = { %s = \"...\" }",
			  t->display, t->cols[i].name, t->cols[i].name);
	lua_pop(L, 1);
	return kept;
}

static bool read_back(lua_State *L, const Config *cfg, const ChCaps *caps, Table *t)
{
	bool ok = check_fields(L, cfg, t);
	if (lua_getfield(L, -1, "target") == LUA_TSTRING && strcmp(lua_tostring(L, -1), t->target) != 0) {
		free(t->target);
		t->target = xstrdup(lua_tostring(L, -1));
	}
	lua_pop(L, 1);
	int pt = lua_getfield(L, -1, "partition_by");
	if (pt == LUA_TSTRING) {
		free(t->partition_by);
		t->partition_by = xstrdup(lua_tostring(L, -1));
	} else if (pt == LUA_TNIL) {
		free(t->partition_by);
		t->partition_by = NULL;
	} else {
		log_error("on_table(%s): partition_by must be a string or nil", t->display);
		ok = false;
	}
	lua_pop(L, 1);
	if (lua_getfield(L, -1, "columns") == LUA_TTABLE) {
		for (int i = 0; i < t->ncols; i++) {
			lua_rawgeti(L, -1, i + 1); /* columns[i] */
			if (lua_istable(L, -1) && !ch_name_kept(L, t, i))
				ok = false;
			int ft = LUA_TNIL;
			if (lua_istable(L, -1))
				ft = lua_getfield(L, -1, "ch_type");
			else
				lua_pushnil(L);
			if (ft == LUA_TSTRING) {
				const char *want = lua_tostring(L, -1);
				Buf cur;
				buf_init(&cur);
				types_ch_name(&t->cols[i].ch, &cur);
				if (strcmp(cur.data, want) != 0) {
					ChType ch;
					char err[256];
					if (!types_parse(want, caps, &ch, err, sizeof err) ||
					    !types_compatible(t->cols[i].kind, &ch, err, sizeof err)) {
						log_error("on_table(%s): column %s: ch_type \"%s\": %s", t->display, t->cols[i].name,
							  want, err);
						ok = false;
					} else {
						ch.text_form = ch.kind == CH_STRING && t->cols[i].kind != PG_TEXT &&
							       t->cols[i].kind != PG_BYTEA && t->cols[i].kind != PG_JSONB;
						t->cols[i].ch = ch;
						t->cols[i].overridden = true;
						t->cols[i].binary = types_binary_ok(t->cols[i].kind, &ch) && !rowhook_enabled(cfg, t);
					}
				}
				buf_free(&cur);
			} else if (ft != LUA_TNIL) {
				log_error("on_table(%s): column %s: ch_type must be a string such as \"String\", got %s",
					  t->display, t->cols[i].name, lua_typename(L, ft));
				ok = false;
			}
			lua_pop(L, 2); /* ch_type (or nil), columns[i] */
		}
	} else if (!lua_isnil(L, -1)) {
		log_error("on_table(%s): t.columns must stay the list of columns (change a column's ch_type in place), got %s",
			  t->display, luaL_typename(L, -1));
		ok = false;
	}
	lua_pop(L, 1);
	if (lua_getfield(L, -1, "order_by") == LUA_TTABLE) {
		int n = (int)luaL_len(L, -1);
		int *order = xcalloc((size_t)n + 1, sizeof(int));
		for (int i = 0; i < n; i++) {
			lua_rawgeti(L, -1, i + 1);
			const char *name = lua_tostring(L, -1);
			order[i] = -1;
			for (int c = 0; name && c < t->ncols; c++)
				if (strcmp(t->cols[c].name, name) == 0)
					order[i] = c;
			const char *from = NULL; /* a ClickHouse name given instead of the source's */
			for (int c = 0; name && order[i] < 0 && c < t->ncols; c++)
				if (strcmp(t->cols[c].ch_name, name) == 0 && strcmp(t->cols[c].name, name) != 0)
					from = t->cols[c].name;
			if (order[i] < 0) {
				log_error("on_table(%s): order_by names \"%s\", which is not a replicated column%s%s%s", t->display,
					  name ? name : "?", from ? " (t.order_by names source columns: write " : "",
					  from ? from : "", from ? ")" : "");
				ok = false;
			}
			lua_pop(L, 1);
		}
		if (ok) {
			free(t->order);
			t->order = order;
			t->norder = n;
		} else {
			free(order);
		}
	}
	lua_pop(L, 1);
	if (lua_getfield(L, -1, "after") == LUA_TTABLE) {
		int n = (int)luaL_len(L, -1);
		for (int i = 0; i < n; i++) {
			lua_rawgeti(L, -1, i + 1);
			if (lua_type(L, -1) == LUA_TSTRING) {
				t->after = xrealloc(t->after, sizeof(char *) * (size_t)(t->nafter + 1));
				t->after[t->nafter++] = xstrdup(lua_tostring(L, -1));
			} else {
				log_error("on_table(%s): after[%d] must be a SQL string", t->display, i + 1);
				ok = false;
			}
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);
	return read_derived(L, cfg, t) && ok;
}

typedef struct HookCall {
	const Config *cfg;
	const ChCaps *caps;
	Table *t;
	bool ok; /* the result passed the checks */
} HookCall;

/*
 * Under sandbox_pcall, with the HookCall as the light userdata argument: build t, call
 * on_table(t), read the result back. All of it is protected, as building t allocates within
 * the sandbox's memory limit and reading the result may run the result's metamethods.
 */
static int call_on_table(lua_State *L)
{
	HookCall *hc = lua_touserdata(L, 1);
	lua_rawgeti(L, LUA_REGISTRYINDEX, hc->cfg->hook_on_table);
	push_table(L, hc->t, hc->cfg);
	lua_pushvalue(L, -1);
	lua_rotate(L, -3, 1); /* keep the argument below the call: t, function, t */
	lua_call(L, 1, 1);
	if (!lua_istable(L, -1))
		lua_pop(L, 1); /* nothing returned: the argument was changed in place */
	hc->ok = read_back(L, hc->cfg, hc->caps, hc->t);
	return 0;
}

bool hooks_on_table(const Config *cfg, const ChCaps *caps, Table *t)
{
	if (cfg->hook_on_table == LUA_NOREF || !cfg->L)
		return true;
	HookCall hc = {cfg, caps, t, false};
	char *what = xasprintf("on_table(%s) failed", t->display);
	lua_pushcfunction(cfg->L, call_on_table);
	lua_pushlightuserdata(cfg->L, &hc);
	bool ran = sandbox_pcall(cfg->L, 1, 0, what);
	free(what);
	return ran && hc.ok;
}
