/*
 * sandbox — a Lua state for user code (a config and its hooks), with limits and locks.
 *
 * sandbox_new opens only the base, string, table, math and utf8 libraries, without file
 * loading (dofile, loadfile, load, require) or collectgarbage. In it:
 *
 * - Memory is capped by the allocator: past the limit the next Lua instruction stops the
 *   call with "file:line: more than N MB of Lua memory (the limit)" (after a full garbage
 *   collection, so only live data counts); an allocation that would pass the limit by half
 *   again is refused outright (Lua's own out-of-memory error, reported with the line the
 *   count hook saw last).
 * - Run time is capped by a count hook (every 10,000 instructions). Once a limit is hit the
 *   hook fails every further instruction until the call ends, so a pcall in the script
 *   cannot catch its way past the limit.
 * - Protected tables: a table whose metatable has a __metatable field cannot be changed by
 *   setmetatable (Lua's rule) nor read or written by rawget/rawset (wrapped here), and
 *   getmetatable shows only that field. The locked global table (sandbox_lock_globals), a
 *   read-only library (sandbox_protect_library) and the string metatable are protected, so
 *   `setmetatable(_G, nil)` or `rawset(_G, ...)` cannot turn a misspelt name back into a
 *   silent nil. setmetatable refuses a __gc field: finalizers run with hooks off, where
 *   neither limit reaches.
 * - print writes to the log (stderr, info level) with the script's file:line: stdout belongs
 *   to --json output.
 *
 * sandbox_pcall runs a function under a fresh budget and a message handler. A failure is
 * logged once, as one line whose first position is the script's file:line (prefixed when
 * the error was raised elsewhere, as in lua/pgch.lua or by error(x, 0)), followed by the
 * script lines that called it ("called from ..."); the whole Lua traceback follows at debug
 * level (-vv). Scripts are loaded with chunk names "@path" (sandbox_load); built-in code
 * uses "=name", so the script's own frames are the ones named.
 */
#ifndef PGCH_SANDBOX_H
#define PGCH_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

typedef struct lua_State lua_State;

/* The global names a script may use beyond the libraries (sandbox_lock_globals). */
typedef struct SandboxGlobals {
	const char *const *names; /* may be set, and read as nil while unset */
	const char *unknown_hint; /* after "unknown global 'x': " when no name is close */
	/* the known name closest to a misspelt one, for "did you mean"; NULL when none is */
	const char *(*closest)(const char *name, const char *const *names);
} SandboxGlobals;

/* A new state with the libraries and limits above; NULL (logged) if it cannot be made. */
lua_State *sandbox_new(size_t memory_limit, long instruction_limit);
void sandbox_close(lua_State *L);

/*
 * Lock the global table: assigning a name not in g->names, or reading a name that is not
 * set and not in g->names, is an error naming it. g must outlive the state.
 */
void sandbox_lock_globals(lua_State *L, const SandboxGlobals *g);

/*
 * Replace the table at the top of the stack by a read-only view of it named `name`:
 * reading a field it lacks or assigning any field is an error. name must outlive the state.
 */
void sandbox_protect_library(lua_State *L, const char *name);

/* Load text as a chunk (chunkname "@path" for a script); on failure log and return false. */
bool sandbox_load(lua_State *L, const char *text, size_t len, const char *chunkname);

/*
 * Call the function below the nargs arguments at the top of the stack, under a fresh
 * budget. On success its nresults results are left; on failure nothing is, the error has
 * been logged (after the prefix what, if not NULL, and ": "), and false is returned.
 */
bool sandbox_pcall(lua_State *L, int nargs, int nresults, const char *what);

#endif
