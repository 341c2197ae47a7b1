/*
 * rowhook — the row hook on_row(t, row); see rowhook.h.
 */
#include "rowhook.h"

#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sandbox.h"

static int hook_ref(const Config *cfg, const Table *t)
{
	if (!cfg->L)
		return LUA_NOREF;
	if (t->rule && t->rule->has_on_row)
		return t->rule->on_row;
	return cfg->hook_on_row;
}

bool rowhook_enabled(const Config *cfg, const Table *t)
{
	return hook_ref(cfg, t) != LUA_NOREF;
}

void rowhook_init(RowHook *h, const Config *cfg, const Table *t)
{
	memset(h, 0, sizeof *h);
	h->cfg = cfg;
	h->t = t;
	h->fn = hook_ref(cfg, t);
	h->targ = LUA_NOREF;
	buf_init(&h->out);
	buf_init(&h->what);
	if (h->fn == LUA_NOREF)
		return;
	h->on = true;
	h->ncols = t->ncols;
	h->vals = xcalloc((size_t)t->ncols + 1, sizeof(char *));
	h->lens = xcalloc((size_t)t->ncols + 1, sizeof(int));
	h->offs = xcalloc((size_t)t->ncols + 1, sizeof(int));
	lua_State *L = cfg->L;
	lua_createtable(L, 0, 2);
	lua_pushstring(L, t->display);
	lua_setfield(L, -2, "source");
	lua_pushstring(L, t->target);
	lua_setfield(L, -2, "target");
	h->targ = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_Debug ar;
	lua_rawgeti(L, LUA_REGISTRYINDEX, h->fn);
	if (!lua_isfunction(L, -1))
		lua_pop(L, 1);
	else if (lua_getinfo(L, ">S", &ar) && ar.linedefined > 0) /* ">": pops the function */
		snprintf(h->defined, sizeof h->defined, "%s:%d", ar.short_src, ar.linedefined);
}

void rowhook_free(RowHook *h)
{
	if (h->targ != LUA_NOREF && h->cfg && h->cfg->L)
		luaL_unref(h->cfg->L, LUA_REGISTRYINDEX, h->targ);
	free(h->vals);
	free(h->lens);
	free(h->offs);
	buf_free(&h->out);
	buf_free(&h->what);
	memset(h, 0, sizeof *h);
	h->fn = LUA_NOREF;
	h->targ = LUA_NOREF;
}

/* A column whose values are Lua numbers or booleans rather than text. */
static bool is_int(const Column *c)
{
	return !c->ch.array && (c->kind == PG_INT2 || c->kind == PG_INT4 || c->kind == PG_INT8 || c->kind == PG_OID);
}
static bool is_float(const Column *c)
{
	return !c->ch.array && (c->kind == PG_FLOAT4 || c->kind == PG_FLOAT8);
}
static bool is_bool(const Column *c)
{
	return !c->ch.array && c->kind == PG_BOOL;
}

/* Push one text-form value as the hook sees it. */
static void push_value(lua_State *L, const Column *c, const char *s, int len)
{
	char tmp[64];
	if (len < 0) {
		lua_pushnil(L);
	} else if (is_bool(c)) {
		lua_pushboolean(L, len > 0 && s[0] == 't');
	} else if ((is_int(c) || is_float(c)) && len < (int)sizeof tmp) {
		memcpy(tmp, s, (size_t)len);
		tmp[len] = '\0';
		if (is_int(c))
			lua_pushinteger(L, (lua_Integer)strtoll(tmp, NULL, 10));
		else
			lua_pushnumber(L, strtod(tmp, NULL));
	} else {
		lua_pushlstring(L, s, (size_t)len);
	}
}

/* Is column c one whose value the hook may not change (replica identity or ORDER BY)? */
static bool fixed_column(const Table *t, int c)
{
	for (int k = 0; k < t->nkey; k++)
		if (t->key[k] == c)
			return true;
	for (int k = 0; k < t->norder; k++)
		if (t->order[k] == c)
			return true;
	return false;
}

/* The Lua value at the top of the stack as column c's text form, appended to h->out. */
static bool render(RowHook *h, lua_State *L, int c, bool *null)
{
	const Column *col = &h->t->cols[c];
	Buf *o = &h->out;
	*null = false;
	switch (lua_type(L, -1)) {
	case LUA_TNIL: *null = true; return true;
	case LUA_TBOOLEAN:
		buf_puts(o, lua_toboolean(L, -1) ? (is_bool(col) ? "t" : "true") : (is_bool(col) ? "f" : "false"));
		return true;
	case LUA_TNUMBER:
		if (lua_isinteger(L, -1)) {
			buf_printf(o, "%lld", (long long)lua_tointeger(L, -1));
		} else {
			double d = lua_tonumber(L, -1);
			if (isnan(d))
				buf_puts(o, "NaN");
			else if (isinf(d))
				buf_puts(o, d > 0 ? "Infinity" : "-Infinity");
			else if (is_int(col) && d == floor(d) && fabs(d) < 9.2e18)
				buf_printf(o, "%.0f", d); /* 4.0 from arithmetic on an integer column */
			else
				buf_printf(o, "%.17g", d);
		}
		return true;
	case LUA_TSTRING: {
		size_t n;
		const char *s = lua_tolstring(L, -1, &n);
		buf_put(o, s, n);
		return true;
	}
	default:
		snprintf(h->err, sizeof h->err, "row.%s is a %s; a value must be a string, number, boolean or nil",
			 col->name, luaL_typename(L, -1));
		return false;
	}
}

/* Did the hook give a fixed column the value it had? Floats compare as numbers. */
static bool same_value(const Column *c, const char *a, int alen, const char *b, int blen)
{
	if (alen < 0 || blen < 0)
		return alen == blen;
	if (is_float(c) && alen < 64 && blen < 64) {
		char x[64], y[64];
		memcpy(x, a, (size_t)alen);
		x[alen] = '\0';
		memcpy(y, b, (size_t)blen);
		y[blen] = '\0';
		return strtod(x, NULL) == strtod(y, NULL);
	}
	return alen == blen && memcmp(a, b, (size_t)alen) == 0;
}

/* Read the hook's result (at the top of the stack) into h->vals / lens. */
static void read_result(RowHook *h, lua_State *L)
{
	const Table *t = h->t;
	if (lua_isnil(L, -1)) {
		h->result = ROWHOOK_DROP;
		return;
	}
	if (!lua_istable(L, -1)) {
		snprintf(h->err, sizeof h->err, "on_row must return the row (a table) or nil, not a %s", luaL_typename(L, -1));
		return;
	}
	buf_reset(&h->out);
	int present = 0;
	for (int c = 0; c < t->ncols; c++) {
		lua_getfield(L, -1, t->cols[c].name);
		bool null;
		size_t at = h->out.len;
		if (!render(h, L, c, &null))
			return;
		lua_pop(L, 1);
		present += !null;
		h->offs[c] = null ? -1 : (int)at;
		h->lens[c] = null ? -1 : (int)(h->out.len - at);
		if (fixed_column(t, c)) {
			const char *now = h->out.data + at;
			if (!same_value(&t->cols[c], h->in[c], h->inlens[c], now, h->lens[c])) {
				snprintf(h->err, sizeof h->err,
					 "on_row changed %s, a key (replica identity or ORDER BY) column, to %.*s: a row hook may "
					 "not change key columns (deletes carry the source's values)",
					 t->cols[c].name, h->lens[c] < 0 ? 4 : h->lens[c] > 100 ? 100 : h->lens[c],
					 h->lens[c] < 0 ? "NULL" : now);
				return;
			}
			/* the source's own text, byte for byte */
			h->out.len = at;
			if (h->inlens[c] >= 0)
				buf_put(&h->out, h->in[c], (size_t)h->inlens[c]);
		}
	}
	/* a field that is no column (a misspelt name) would be dropped without a word */
	int fields = 0;
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		lua_pop(L, 1);
		fields++;
	}
	if (fields != present) {
		lua_pushnil(L);
		while (lua_next(L, -2)) {
			lua_pop(L, 1);
			bool known = false;
			const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
			for (int c = 0; k && c < t->ncols && !known; c++)
				known = strcmp(t->cols[c].name, k) == 0;
			if (!known) {
				snprintf(h->err, sizeof h->err, "the returned row has a field %s, which is not a column of %s",
					 k ? k : "that is not a name", t->display);
				lua_pop(L, 1);
				return;
			}
		}
	}
	for (int c = 0; c < t->ncols; c++)
		h->vals[c] = h->offs[c] < 0 ? NULL : h->out.data + h->offs[c];
	h->result = ROWHOOK_ROW;
}

/* Under sandbox_pcall with the RowHook as light userdata: build row, call, read the result. */
static int call_on_row(lua_State *L)
{
	RowHook *h = lua_touserdata(L, 1);
	const Table *t = h->t;
	lua_rawgeti(L, LUA_REGISTRYINDEX, h->fn);
	lua_rawgeti(L, LUA_REGISTRYINDEX, h->targ);
	lua_createtable(L, 0, t->ncols);
	for (int c = 0; c < t->ncols; c++) {
		push_value(L, &t->cols[c], h->in[c], h->inlens[c]);
		lua_setfield(L, -2, t->cols[c].name);
	}
	lua_call(L, 2, 1);
	read_result(h, L);
	return 0;
}

RowHookResult rowhook_run(RowHook *h, const char *const *in, const int *inlens)
{
	const Table *t = h->t;
	h->in = in;
	h->inlens = inlens;
	h->result = ROWHOOK_FAIL;
	h->err[0] = '\0';
	buf_reset(&h->what);
	buf_printf(&h->what, "on_row(%s), row with ", t->display);
	for (int k = 0; k < t->nkey; k++) {
		int c = t->key[k];
		buf_printf(&h->what, "%s%s = %.*s", k ? ", " : "", t->cols[c].name, inlens[c] < 0 ? 4 : inlens[c] > 100 ? 100 : inlens[c],
			   inlens[c] < 0 ? "NULL" : in[c]);
	}
	lua_State *L = h->cfg->L;
	lua_pushcfunction(L, call_on_row);
	lua_pushlightuserdata(L, h);
	if (!sandbox_pcall(L, 1, 0, h->what.data))
		return ROWHOOK_FAIL; /* logged */
	if (h->result == ROWHOOK_FAIL)
		log_error("%s: %s%s%s%s", h->what.data, h->err, h->defined[0] ? " (on_row at " : "", h->defined,
			  h->defined[0] ? ")" : "");
	return h->result;
}
