/*
 * sandbox — a limited, locked Lua state for configs and hooks; see sandbox.h.
 *
 * The state's allocator userdata is a Sandbox: it counts bytes, holds the limits and the
 * current call's budget, and is found from any C function with lua_getallocf. The limits
 * act through the count hook, which is the one place that may raise an error between
 * instructions: the allocator only notes that memory passed the limit and asks the hook to
 * look at the next instruction (an allocator must not raise). The message handler turns an
 * error into the one line that is logged and keeps the traceback for the debug lines.
 */
#include "sandbox.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"

#define SANDBOX_HOOK_PERIOD 10000       /* instructions between two looks at the limits */
#define SANDBOX_REPORT_SLACK (1u << 20) /* memory allowed past the ceiling to report a stop */
#define SANDBOX_FRAMES 16               /* stack levels searched for the script's own lines */
#define SANDBOX_CALLERS 3               /* callers named in an error line at most */

typedef struct Sandbox {
	lua_State *L;            /* NULL while lua_newstate runs */
	size_t used;             /* bytes the state has allocated */
	size_t memory_limit;     /* what a script may keep alive */
	size_t memory_check;     /* above this, the hook collects garbage and compares */
	size_t memory_ceiling;   /* the allocator refuses what would pass this */
	bool memory_pending;     /* memory_check was passed: the hook looks at the next instruction */
	long instruction_limit;  /* per sandbox_pcall */
	long instructions;       /* run in this call, counted per hook period */
	int period;              /* the count hook's period now */
	bool stopped;            /* a limit was hit: every instruction fails until the call ends */
	bool slack_given;        /* SANDBOX_REPORT_SLACK was added to the ceiling in this call */
	char stop[320];          /* that error, "file:line: more than ... (the limit): ..." */
	char where[LUA_IDSIZE + 24]; /* the script position the hook saw last, for out-of-memory */
	char script[LUA_IDSIZE]; /* the script loaded last, when no line is known */
	char *traceback;         /* of this call's error, from the message handler */
} Sandbox;

static Sandbox *sandbox_of(lua_State *L)
{
	void *ud;
	lua_getallocf(L, &ud);
	return ud;
}

/* ---------------------------------------------------------------- positions */

/* "file:line" of the innermost script frame ("@" chunk) from stack level `level` up, or "". */
static void script_where(lua_State *L, int level, char *out, size_t n)
{
	lua_Debug ar;
	out[0] = '\0';
	for (int i = level; i < level + SANDBOX_FRAMES && lua_getstack(L, i, &ar); i++)
		if (lua_getinfo(L, "Sl", &ar) && ar.source[0] == '@' && ar.currentline > 0) {
			snprintf(out, n, "%s:%d", ar.short_src, ar.currentline);
			return;
		}
}

/* Where the last call stopped: the line the hook saw last, else the script's name. */
static const char *stop_position(const Sandbox *sb)
{
	return sb->where[0] ? sb->where : sb->script;
}

static void memory_text(const Sandbox *sb, char *out, size_t n)
{
	if (sb->memory_limit % (1u << 20) == 0)
		snprintf(out, n, "more than %zu MB of Lua memory (the limit): is a table or string growing without end?",
			 sb->memory_limit >> 20);
	else
		snprintf(out, n, "more than %zu kB of Lua memory (the limit): is a table or string growing without end?",
			 sb->memory_limit >> 10);
}

/* ---------------------------------------------------------------- limits */

static void sandbox_count(lua_State *L, lua_Debug *ar);

static void hook_every(Sandbox *sb, int period)
{
	sb->period = period;
	lua_sethook(sb->L, sandbox_count, LUA_MASKCOUNT, period);
}

/* A fresh budget for a call (and a clean state after one). */
static void budget_reset(Sandbox *sb)
{
	sb->instructions = 0;
	sb->stopped = false;
	sb->where[0] = '\0';
	sb->memory_check = sb->memory_limit;
	sb->memory_ceiling = sb->memory_limit + sb->memory_limit / 2;
	sb->memory_pending = false;
	sb->slack_given = false;
	free(sb->traceback);
	sb->traceback = NULL;
	hook_every(sb, SANDBOX_HOOK_PERIOD);
}

/* Room past the ceiling to raise an error and report it, once a call. */
static void grant_report_slack(Sandbox *sb)
{
	if (!sb->slack_given)
		sb->memory_ceiling += SANDBOX_REPORT_SLACK;
	sb->slack_given = true;
}

/* Hit a limit: from now on every instruction fails with text, at the position seen last. */
static void budget_stop(Sandbox *sb, const char *text)
{
	const char *pos = stop_position(sb);
	snprintf(sb->stop, sizeof sb->stop, "%s%s%s", pos, pos[0] ? ": " : "", text);
	sb->stopped = true;
	grant_report_slack(sb);
	hook_every(sb, 1);
}

static void *sandbox_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	Sandbox *sb = ud;
	if (ptr == NULL)
		osize = 0;
	if (nsize == 0) {
		free(ptr);
		sb->used -= osize;
		return NULL;
	}
	if (nsize > osize && sb->used + (nsize - osize) > sb->memory_ceiling)
		return NULL; /* Lua collects garbage and tries once more before its out-of-memory error */
	void *p = realloc(ptr, nsize);
	if (!p)
		return NULL;
	sb->used = sb->used - osize + nsize;
	if (sb->used > sb->memory_check && !sb->memory_pending && !sb->stopped && sb->L) {
		sb->memory_pending = true;
		hook_every(sb, 1); /* only sets the hook's fields: safe from inside an allocation */
	}
	return p;
}

/* Memory passed memory_check: garbage counts until collected, so collect, then compare. */
static void memory_look(lua_State *L, Sandbox *sb)
{
	sb->memory_pending = false;
	lua_gc(L, LUA_GCCOLLECT);
	if (sb->used > sb->memory_limit) {
		char text[200];
		memory_text(sb, text, sizeof text);
		budget_stop(sb, text);
		return;
	}
	/* collect again only after a quarter of the limit more, not at every allocation */
	size_t next = sb->used + sb->memory_limit / 4;
	sb->memory_check = next > sb->memory_limit ? next : sb->memory_limit;
	hook_every(sb, SANDBOX_HOOK_PERIOD);
}

static void sandbox_count(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	Sandbox *sb = sandbox_of(L);
	sb->instructions += sb->period;
	if (!sb->stopped) {
		script_where(L, 0, sb->where, sizeof sb->where);
		if (sb->memory_pending)
			memory_look(L, sb);
		if (!sb->stopped && sb->instructions > sb->instruction_limit) {
			char text[200];
			if (sb->instruction_limit % 1000000 == 0)
				snprintf(text, sizeof text,
					 "more than %ld million Lua instructions (the limit): is there an endless loop?",
					 sb->instruction_limit / 1000000);
			else
				snprintf(text, sizeof text, "more than %ld Lua instructions (the limit): is there an endless loop?",
					 sb->instruction_limit);
			budget_stop(sb, text);
		}
	}
	if (sb->stopped) {
		lua_pushstring(L, sb->stop);
		lua_error(L);
	}
}

/* ---------------------------------------------------------------- library */

/* A metatable with a __metatable field marks a protected table (Lua's own convention). */
static bool is_protected(lua_State *L, int idx)
{
	if (!lua_getmetatable(L, idx))
		return false;
	lua_pushliteral(L, "__metatable");
	bool p = lua_rawget(L, -2) != LUA_TNIL;
	lua_pop(L, 2);
	return p;
}

static int sandbox_rawget(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	luaL_checkany(L, 2);
	if (is_protected(L, 1))
		return luaL_error(L, "rawget cannot read a protected table such as the global table: use the name itself");
	lua_settop(L, 2);
	lua_rawget(L, 1);
	return 1;
}

static int sandbox_rawset(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	luaL_checkany(L, 2);
	luaL_checkany(L, 3);
	if (is_protected(L, 1))
		return luaL_error(L, "rawset cannot change a protected table such as the global table: "
				     "use 'local' for your own names");
	lua_settop(L, 3);
	lua_rawset(L, 1);
	return 1;
}

/* setmetatable(t, mt): Lua's, plus no __gc (finalizers run with hooks off, past the limits). */
static int sandbox_setmetatable(lua_State *L)
{
	int t = lua_type(L, 2);
	luaL_checktype(L, 1, LUA_TTABLE);
	luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
	if (is_protected(L, 1))
		return luaL_error(L, "cannot change a protected metatable: the global table and pgch's tables stay "
				     "locked (use 'local' for your own names)");
	if (t == LUA_TTABLE) {
		lua_pushliteral(L, "__gc");
		if (lua_rawget(L, 2) != LUA_TNIL)
			return luaL_error(L, "setmetatable: __gc is not available here (finalizers would run outside "
					     "the sandbox's limits)");
		lua_pop(L, 1);
	}
	lua_settop(L, 2);
	lua_setmetatable(L, 1);
	return 1;
}

/*
 * The message handler of a script's xpcall: the script's own, unless a limit stopped the
 * call. Lua runs a message handler before unwinding, so for an error the count hook raised
 * it would run inside the hook, where hooks are off and no limit applies.
 */
static int xpcall_handler(lua_State *L)
{
	if (sandbox_of(L)->stopped)
		return 1; /* the limit's error, unchanged */
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	return 1;
}

/* xpcall(f, msgh, ...): Lua's (without yields: there are no coroutines), msgh wrapped. */
static int sandbox_xpcall(lua_State *L)
{
	int n = lua_gettop(L);
	luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_pushvalue(L, 2);
	lua_pushcclosure(L, xpcall_handler, 1);
	lua_replace(L, 2);
	lua_pushboolean(L, 1); /* the first result if all goes well */
	lua_pushvalue(L, 1);   /* the function */
	lua_rotate(L, 3, 2);   /* both below the function's arguments */
	if (lua_pcall(L, n - 2, LUA_MULTRET, 2) != LUA_OK) {
		lua_pushboolean(L, 0);
		lua_pushvalue(L, -2);
		return 2; /* false, the error */
	}
	return lua_gettop(L) - 2; /* true, the results */
}

/* print(...): to the log with the caller's file:line; stdout belongs to --json output. */
static int sandbox_print(lua_State *L)
{
	int n = lua_gettop(L);
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	for (int i = 1; i <= n; i++) {
		if (i > 1)
			luaL_addchar(&b, '\t');
		luaL_tolstring(L, i, NULL);
		luaL_addvalue(&b);
	}
	luaL_pushresult(&b);
	char where[LUA_IDSIZE + 24];
	script_where(L, 1, where, sizeof where);
	log_info("%s%s%s", where, where[0] ? ": " : "", lua_tostring(L, -1));
	return 0;
}

static int open_libraries(lua_State *L)
{
	static const luaL_Reg libs[] = {{LUA_GNAME, luaopen_base},	    {LUA_STRLIBNAME, luaopen_string},
					{LUA_TABLIBNAME, luaopen_table},    {LUA_MATHLIBNAME, luaopen_math},
					{LUA_UTF8LIBNAME, luaopen_utf8},    {NULL, NULL}};
	for (const luaL_Reg *lib = libs; lib->func; lib++) {
		luaL_requiref(L, lib->name, lib->func, 1);
		lua_pop(L, 1);
	}
	static const char *const removed[] = {"dofile", "loadfile", "load", "require", "collectgarbage", NULL};
	for (int i = 0; removed[i]; i++) {
		lua_pushnil(L);
		lua_setglobal(L, removed[i]);
	}
	static const luaL_Reg replaced[] = {{"print", sandbox_print},
					    {"rawget", sandbox_rawget},
					    {"rawset", sandbox_rawset},
					    {"setmetatable", sandbox_setmetatable},
					    {"xpcall", sandbox_xpcall},
					    {NULL, NULL}};
	for (const luaL_Reg *f = replaced; f->func; f++) {
		lua_pushcfunction(L, f->func);
		lua_setglobal(L, f->name);
	}
	/* the string metatable (s:gsub and friends) is protected too */
	lua_pushliteral(L, "");
	lua_getmetatable(L, -1);
	lua_pushliteral(L, "protected");
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 2);
	return 0;
}

/* Only a bug in pgch gets here: every call into user code is protected. */
static int sandbox_panic(lua_State *L)
{
	const char *msg = lua_tostring(L, -1);
	log_error("internal error: a Lua error outside a protected call: %s", msg ? msg : "(not a string)");
	abort();
}

lua_State *sandbox_new(size_t memory_limit, long instruction_limit)
{
	Sandbox *sb = xcalloc(1, sizeof *sb);
	sb->memory_limit = memory_limit;
	sb->memory_check = memory_limit;
	sb->memory_ceiling = memory_limit + memory_limit / 2;
	sb->instruction_limit = instruction_limit;
	lua_State *L = lua_newstate(sandbox_alloc, sb);
	if (!L) {
		log_error("cannot create the Lua state");
		free(sb);
		return NULL;
	}
	sb->L = L;
	lua_atpanic(L, sandbox_panic);
	budget_reset(sb);
	lua_pushcfunction(L, open_libraries);
	if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
		log_error("cannot open the Lua libraries: %s", lua_tostring(L, -1));
		sandbox_close(L);
		return NULL;
	}
	return L;
}

void sandbox_close(lua_State *L)
{
	if (!L)
		return;
	Sandbox *sb = sandbox_of(L);
	lua_close(L);
	free(sb->traceback);
	free(sb);
}

/* ---------------------------------------------------------------- locks */

static int globals_newindex(lua_State *L)
{
	const SandboxGlobals *g = lua_touserdata(L, lua_upvalueindex(1));
	const char *name = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
	for (int i = 0; name && g->names[i]; i++)
		if (strcmp(g->names[i], name) == 0) {
			lua_rawset(L, 1);
			return 0;
		}
	luaL_where(L, 1);
	const char *hint = name && g->closest ? g->closest(name, g->names) : NULL;
	if (hint)
		lua_pushfstring(L, "unknown global '%s'; did you mean '%s'?", name, hint);
	else
		lua_pushfstring(L, "unknown global '%s': %s", name ? name : "?", g->unknown_hint);
	lua_concat(L, 2);
	return lua_error(L);
}

static int globals_index(lua_State *L)
{
	const SandboxGlobals *g = lua_touserdata(L, lua_upvalueindex(1));
	const char *name = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
	for (int i = 0; name && g->names[i]; i++)
		if (strcmp(g->names[i], name) == 0)
			return 0; /* a known name not set reads as nil */
	luaL_where(L, 1);
	lua_pushfstring(L, "undefined variable '%s'", name ? name : "?");
	lua_concat(L, 2);
	return lua_error(L);
}

void sandbox_lock_globals(lua_State *L, const SandboxGlobals *g)
{
	lua_pushglobaltable(L);
	lua_createtable(L, 0, 3);
	lua_pushlightuserdata(L, (void *)g);
	lua_pushcclosure(L, globals_newindex, 1);
	lua_setfield(L, -2, "__newindex");
	lua_pushlightuserdata(L, (void *)g);
	lua_pushcclosure(L, globals_index, 1);
	lua_setfield(L, -2, "__index");
	lua_pushliteral(L, "locked");
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, -2);
	lua_pop(L, 1);
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Upvalues: the library table and its name. A missing field is an error listing the fields. */
static int library_index(lua_State *L)
{
	lua_pushvalue(L, 2);
	if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
		return 1;
	const char *names[32];
	int n = 0;
	lua_pushnil(L);
	while (n < 32 && lua_next(L, lua_upvalueindex(1))) {
		lua_pop(L, 1);
		if (lua_type(L, -1) == LUA_TSTRING)
			names[n++] = lua_tostring(L, -1);
	}
	qsort(names, (size_t)n, sizeof names[0], compare_names);
	const char *lib = lua_tostring(L, lua_upvalueindex(2));
	luaL_where(L, 1);
	lua_pushfstring(L, "%s has no field %s%s (it has", lib, lua_type(L, 2) == LUA_TSTRING ? "" : "of type ",
			lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : luaL_typename(L, 2));
	for (int i = 0; i < n; i++)
		lua_pushfstring(L, "%s %s", i ? "," : "", names[i]);
	lua_pushliteral(L, ")");
	lua_concat(L, n + 3);
	return lua_error(L);
}

static int library_newindex(lua_State *L)
{
	luaL_where(L, 1);
	lua_pushfstring(L, "%s is read-only: its fields cannot be replaced or added to (use a local table for "
			   "your own helpers)",
			lua_tostring(L, lua_upvalueindex(1)));
	lua_concat(L, 2);
	return lua_error(L);
}

void sandbox_protect_library(lua_State *L, const char *name)
{
	int lib = lua_gettop(L);
	lua_newtable(L); /* the view */
	lua_createtable(L, 0, 3);
	lua_pushvalue(L, lib);
	lua_pushstring(L, name);
	lua_pushcclosure(L, library_index, 2);
	lua_setfield(L, -2, "__index");
	lua_pushstring(L, name);
	lua_pushcclosure(L, library_newindex, 1);
	lua_setfield(L, -2, "__newindex");
	lua_pushliteral(L, "locked");
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, -2);
	lua_replace(L, lib);
}

/* ---------------------------------------------------------------- calls */

bool sandbox_load(lua_State *L, const char *text, size_t len, const char *chunkname)
{
	Sandbox *sb = sandbox_of(L);
	if (chunkname[0] == '@')
		snprintf(sb->script, sizeof sb->script, "%s", chunkname + 1);
	int rc = luaL_loadbufferx(L, text, len, chunkname, "t");
	if (rc == LUA_OK)
		return true;
	if (rc == LUA_ERRMEM) {
		char text_[200];
		memory_text(sb, text_, sizeof text_);
		log_error("%s: %s", chunkname + 1, text_);
	} else {
		log_error("syntax error: %s", lua_tostring(L, -1));
	}
	lua_pop(L, 1);
	return false;
}

/* Add the positions after `from` to line as " (called from a, b, ...)", repeats once. */
static void add_callers(Buf *line, char pos[][LUA_IDSIZE + 24], int from, int n, bool more)
{
	int named = 0;
	for (int i = from; i < n; i++) {
		if (strcmp(pos[i], pos[i - 1]) == 0)
			continue;
		if (named == SANDBOX_CALLERS) {
			more = true;
			break;
		}
		buf_printf(line, "%s%s", named ? ", " : " (called from ", pos[i]);
		named++;
	}
	if (named)
		buf_puts(line, more ? ", ...)" : ")");
}

/*
 * The message handler: the error as one line that starts with the script's file:line and
 * names the script lines that called it; the traceback is kept for the debug lines.
 */
static int sandbox_msgh(lua_State *L)
{
	Sandbox *sb = sandbox_of(L);
	grant_report_slack(sb);
	const char *msg = lua_tostring(L, 1);
	if (!msg && luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
		msg = lua_tostring(L, -1);
	if (!msg)
		msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));

	/* the script's frames among the innermost levels (lua_getstack costs the level: a deep
	 * stack, as after a stack overflow, is not walked to its bottom) */
	char pos[SANDBOX_FRAMES][LUA_IDSIZE + 24];
	int n = 0, level = 1;
	lua_Debug ar;
	for (; n < SANDBOX_FRAMES && level <= 4 * SANDBOX_FRAMES && lua_getstack(L, level, &ar); level++)
		if (lua_getinfo(L, "Sl", &ar) && ar.source[0] == '@' && ar.currentline > 0)
			snprintf(pos[n++], sizeof pos[0], "%s:%d", ar.short_src, ar.currentline);
	bool more = lua_getstack(L, level, &ar) != 0;
	int named = -1; /* the frame the message already names, if any */
	for (int i = 0; i < n && named < 0; i++) {
		size_t len = strlen(pos[i]);
		if (strncmp(msg, pos[i], len) == 0 && msg[len] == ':')
			named = i;
	}
	Buf line;
	buf_init(&line);
	if (named < 0 && n > 0)
		buf_printf(&line, "%s: ", pos[0]);
	buf_puts(&line, msg);
	add_callers(&line, pos, named < 0 ? 1 : named + 1, n, more);

	luaL_traceback(L, L, NULL, 1);
	free(sb->traceback);
	sb->traceback = xstrdup(lua_tostring(L, -1));
	lua_pushstring(L, line.data);
	buf_free(&line);
	return 1;
}

/* Log the failure of a call: one error line, then the traceback at debug level. */
static void report(lua_State *L, Sandbox *sb, int rc, const char *what)
{
	char text[400];
	const char *msg = lua_tostring(L, -1);
	if (sb->stopped && (rc != LUA_ERRRUN || !msg)) {
		msg = sb->stop;
	} else if (rc == LUA_ERRMEM) {
		char mem[200];
		const char *pos = stop_position(sb);
		memory_text(sb, mem, sizeof mem);
		snprintf(text, sizeof text, "%s%s%s", pos, pos[0] ? ": " : "", mem);
		msg = text;
	} else if (rc == LUA_ERRERR) {
		snprintf(text, sizeof text, "error while reporting an error: %s", msg ? msg : "?");
		msg = text;
	} else if (!msg) {
		msg = "(error object is not a string)";
	}
	log_error("%s%s%s", what ? what : "", what ? ": " : "", msg);
	if (!sb->traceback || log_get_level() > LOG_DEBUG)
		return;
	for (char *s = sb->traceback; *s;) {
		size_t len = strcspn(s, "\n");
		log_debug("%s%.*s", *s == '\t' ? "  " : "", (int)(len - (*s == '\t')), s + (*s == '\t'));
		s += len + (s[len] == '\n');
	}
}

bool sandbox_pcall(lua_State *L, int nargs, int nresults, const char *what)
{
	Sandbox *sb = sandbox_of(L);
	budget_reset(sb);
	int handler = lua_gettop(L) - nargs; /* the function's place; the handler goes below it */
	lua_pushcfunction(L, sandbox_msgh);
	lua_insert(L, handler);
	int rc = lua_pcall(L, nargs, nresults, handler);
	lua_remove(L, handler);
	if (rc != LUA_OK) {
		report(L, sb, rc, what);
		lua_pop(L, 1);
	}
	budget_reset(sb);
	return rc == LUA_OK;
}
