/*
 * test_sandbox — the Lua sandbox of configs and hooks (orchestrator/sandbox.c): the locked
 * global table and protected tables stay locked whatever the script tries (setmetatable,
 * rawset, rawget, getmetatable, __gc), print goes to the log on stderr and never stdout,
 * errors are one line starting with the script's file:line plus a traceback at debug level,
 * and runaway loops and allocations stop with an error naming the line and the limit (also
 * when the script wraps them in pcall), with a fresh budget for each call.
 */
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"
#include "tap.h"

#define MB (1u << 20)

static const char *const names[] = {"tables", "lib", "hook", NULL};

static const char *closest(const char *name, const char *const *known)
{
	(void)known;
	return strncmp(name, "tab", 3) == 0 ? "tables" : NULL;
}

static const SandboxGlobals globals = {names, "use 'local' for helpers", closest};

/* What a run printed: fd 1 and fd 2 captured around it. */
typedef struct Run {
	bool ok;
	double seconds;
	char out[4096];
	char err[16384];
} Run;

static void slurp(FILE *f, char *buf, size_t n)
{
	rewind(f);
	size_t got = fread(buf, 1, n - 1, f);
	buf[got] = '\0';
	fclose(f);
}

/* Load code as the script "test.lua" and run it with sandbox_pcall (what: the prefix). */
static Run run_as(lua_State *L, const char *code, const char *what)
{
	Run r;
	FILE *out = tmpfile(), *err = tmpfile();
	fflush(stdout);
	int saved_out = dup(1), saved_err = dup(2);
	dup2(fileno(out), 1);
	dup2(fileno(err), 2);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int top = lua_gettop(L);
	r.ok = sandbox_load(L, code, strlen(code), "@test.lua") && sandbox_pcall(L, 0, 0, what);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	int left = lua_gettop(L) - top;
	fflush(stdout);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);
	r.seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	slurp(out, r.out, sizeof r.out);
	slurp(err, r.err, sizeof r.err);
	if (left != 0)
		printf("# the stack grew by %d\n", left);
	return r;
}

static Run run(lua_State *L, const char *code)
{
	return run_as(L, code, NULL);
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* A run that must fail with exactly one line on stderr containing want. */
static void fails(lua_State *L, const char *code, const char *want, const char *what)
{
	Run r = run(L, code);
	if (!ok(!r.ok && strstr(r.err, want) && count_lines(r.err) == 1 && r.out[0] == '\0', "%s", what))
		printf("#   code: %s\n#   stderr: %s#   want: %s\n", code, r.err, want);
}

static void passes(lua_State *L, const char *code, const char *what)
{
	Run r = run(L, code);
	if (!ok(r.ok && r.err[0] == '\0', "%s", what))
		printf("#   code: %s\n#   stderr: %s\n", code, r.err);
}

/* A sandbox with the test's globals and a protected library `lib` = { f = function }. */
static lua_State *new_sandbox(size_t memory, long instructions)
{
	lua_State *L = sandbox_new(memory, instructions);
	if (!L)
		return NULL;
	const char *lib = "return { f = function() return 1 end }";
	if (!sandbox_load(L, lib, strlen(lib), "=lib") || !sandbox_pcall(L, 0, 1, NULL)) {
		sandbox_close(L);
		return NULL;
	}
	sandbox_protect_library(L, "lib");
	lua_setglobal(L, "lib");
	sandbox_lock_globals(L, &globals);
	return L;
}

static void test_locked_globals(void)
{
	lua_State *L = new_sandbox(64 * MB, 100000000L);
	ok(L != NULL, "a sandbox is created");
	fails(L, "tabels = {}", "test.lua:1: unknown global 'tabels'; did you mean 'tables'?",
	      "a misspelt global is an error naming it");
	fails(L, "local x = undefined_name", "test.lua:1: undefined variable 'undefined_name'",
	      "reading an undefined global is an error naming it");
	passes(L, "tables = { 'a' } assert(tables[1] == 'a') assert(hook == nil)",
	       "a known global can be set, and read as nil while unset");
	fails(L, "setmetatable(_G, nil)", "test.lua:1: cannot change a protected metatable",
	      "setmetatable(_G, nil) is refused");
	fails(L, "pcall(setmetatable, _G, nil)\ntabels = 1", "test.lua:2: unknown global 'tabels'",
	      "after a caught setmetatable(_G, nil), a misspelt global is still an error");
	fails(L, "pcall(setmetatable, _G, {})\nlocal y = tabels", "test.lua:2: undefined variable 'tabels'",
	      "after a caught setmetatable(_G, {}), an undefined name is still an error");
	fails(L, "rawset(_G, 'tabels', 1)", "test.lua:1: rawset cannot change a protected table",
	      "rawset on the global table is refused");
	fails(L, "pcall(rawset, _G, 'tabels', 1)\nlocal y = tabels", "test.lua:2: undefined variable 'tabels'",
	      "a caught rawset(_G, ...) set nothing");
	fails(L, "local v = rawget(_G, 'tabels')", "test.lua:1: rawget cannot read a protected table",
	      "rawget on the global table is refused (no silent nil)");
	passes(L, "assert(getmetatable(_G) == 'locked')", "getmetatable(_G) shows only the lock, not the metatable");
	passes(L, "assert(getmetatable('') == 'protected')", "getmetatable on a string shows only the lock");
	fails(L, "getmetatable('').__index.rep = nil", "test.lua:1: attempt to index",
	      "the string metatable cannot be reached to change string methods");
	passes(L, "local t = setmetatable({}, { __index = function() return 7 end })\n"
		  "assert(t.x == 7) rawset(t, 'x', 1) assert(rawget(t, 'x') == 1) assert(t.x == 1)\n"
		  "assert(getmetatable(setmetatable(t, nil)) == nil)",
	       "setmetatable, rawset and rawget still work on a script's own tables");
	fails(L, "local t = setmetatable({}, { __gc = function() end })", "test.lua:1: setmetatable: __gc is not available",
	      "a __gc metamethod is refused (finalizers run outside the limits)");
	static const char *const removed[] = {"load", "dofile", "loadfile", "require", "collectgarbage", "io", "os",
					      "debug", "package", "coroutine", NULL};
	for (int i = 0; removed[i]; i++) {
		char code[64], want[96];
		snprintf(code, sizeof code, "local f = %s", removed[i]);
		snprintf(want, sizeof want, "undefined variable '%s'", removed[i]);
		fails(L, code, want, removed[i]);
	}
	sandbox_close(L);
}

static void test_library(void)
{
	lua_State *L = new_sandbox(64 * MB, 100000000L);
	passes(L, "assert(lib.f() == 1)", "a protected library's functions are callable");
	fails(L, "lib.g()", "test.lua:1: lib has no field g (it has f)", "a missing library field is an error listing the fields");
	fails(L, "lib.f = function() return 2 end", "test.lua:1: lib is read-only", "a library field cannot be replaced");
	fails(L, "lib.extra = 1", "test.lua:1: lib is read-only", "a library cannot be added to");
	fails(L, "setmetatable(lib, nil)", "test.lua:1: cannot change a protected metatable",
	      "setmetatable on the library is refused");
	fails(L, "rawset(lib, 'f', 1)", "test.lua:1: rawset cannot change a protected table", "rawset on the library is refused");
	fails(L, "local f = rawget(lib, 'f')", "test.lua:1: rawget cannot read a protected table", "rawget on the library is refused");
	passes(L, "assert(getmetatable(lib) == 'locked')", "getmetatable on the library shows only the lock");
	sandbox_close(L);
}

static void test_print(void)
{
	lua_State *L = new_sandbox(64 * MB, 100000000L);
	Run r = run(L, "local x = 1\nprint('hello', 42, nil, true)");
	ok(r.ok, "print runs");
	is_str(r.out, "", "print writes nothing to stdout (it belongs to --json output)");
	is_str(r.err, "pgch: test.lua:2: hello\t42\tnil\ttrue\n", "print writes one log line on stderr with the caller's file:line");
	log_set_level(LOG_WARN);
	r = run(L, "print('quiet')");
	is_str(r.out, "", "with --quiet, print writes nothing to stdout");
	is_str(r.err, "", "with --quiet, print writes nothing to stderr either (it logs at info level)");
	log_set_level(LOG_INFO);
	sandbox_close(L);
}

static void test_errors(void)
{
	lua_State *L = new_sandbox(64 * MB, 100000000L);
	const char *code = "local function inner(x)\n"
			   "  error('boom')\n"
			   "end\n"
			   "local function outer() inner(1) end\n"
			   "outer()\n";
	Run r = run(L, code);
	is_str(r.err, "pgch: error: test.lua:2: boom (called from test.lua:4, test.lua:5)\n",
	       "a runtime error is one line: its file:line first, then the script lines that called it");
	log_set_level(LOG_DEBUG);
	r = run(L, code);
	const char *tb = strstr(r.err, "\npgch: debug: stack traceback:\n");
	ok(strncmp(r.err, "pgch: error: test.lua:2: boom", 29) == 0 && tb, "at debug level the error line comes first, then the traceback");
	ok(tb && strstr(tb, "pgch: debug:   test.lua:2: in ") && strstr(tb, "pgch: debug:   test.lua:4: in ") &&
		   strstr(tb, "pgch: debug:   test.lua:5: in main chunk"),
	   "the traceback names each file:line of the call chain");
	if (!tb)
		printf("#   stderr: %s", r.err);
	log_set_level(LOG_INFO);
	fails(L, "local x = 1\nerror('no position', 0)", "pgch: error: test.lua:2: no position\n",
	      "an error without a position gets the script's file:line");
	fails(L, "error({})", "pgch: error: test.lua:1: (error object is a table value)\n",
	      "an error object that is not a string is named by its type, at its file:line");
	fails(L, "error(setmetatable({}, { __tostring = function() return 'custom' end }))", "test.lua:1: custom",
	      "an error object's __tostring is used");
	fails(L, "local s = ('x'):rep(3)\nlocal n = s.nope.deeper", "test.lua:2: attempt to index a nil value",
	      "a Lua runtime error names its line");
	r = run_as(L, "local t = nil\nlocal y = t.x", "on_table(public.t) failed");
	is_str(r.err, "pgch: error: on_table(public.t) failed: test.lua:2: attempt to index a nil value (local 't')\n",
	       "a caller's prefix comes before the script's position");
	r = run(L, "x = = 1");
	ok(!r.ok && strstr(r.err, "pgch: error: syntax error: test.lua:1: unexpected symbol near '='") &&
		   count_lines(r.err) == 1,
	   "a syntax error is one line with its file:line");
	sandbox_close(L);
}

static void test_instruction_limit(void)
{
	lua_State *L = new_sandbox(64 * MB, 1000000L);
	const char *limit = "more than 1 million Lua instructions (the limit): is there an endless loop?";
	Run r = run(L, "local n = 0\nwhile true do n = n + 1 end");
	ok(!r.ok && strstr(r.err, "test.lua:2: more than 1 million Lua instructions (the limit)") && count_lines(r.err) == 1,
	   "a runaway loop stops with one error naming its line and the limit");
	ok(r.seconds < 5, "and stops quickly (%.2f s)", r.seconds);
	fails(L, "local function spin() while true do end end\nwhile true do pcall(spin) end", limit,
	      "a pcall in the script cannot catch its way past the limit");
	fails(L, "local function spin() while true do end end\n"
		 "while true do xpcall(spin, function(e) while true do end end) end",
	      limit, "nor can an xpcall whose handler loops too");
	fails(L, "local x <close> = setmetatable({}, { __close = function() while true do end end })\nwhile true do end",
	      limit, "nor can a __close handler that loops while the error unwinds");
	/* each call has its own budget: 600,000 instructions twice is within 1 million each time */
	passes(L, "hook = function() local n = 0 for i = 1, 150000 do n = n + i end return n end", "a function is defined");
	bool both = true;
	for (int i = 0; i < 2; i++) {
		lua_getglobal(L, "hook");
		both = both && sandbox_pcall(L, 0, 1, "call");
		both = both && lua_tointeger(L, -1) == 150000LL * 150001 / 2;
		lua_settop(L, 0);
	}
	ok(both, "every call gets a fresh instruction budget");
	passes(L, "local n = 0 for i = 1, 1000 do n = n + i end assert(n == 500500)", "after a stop, the sandbox runs code again");
	sandbox_close(L);
}

static void test_memory_limit(void)
{
	lua_State *L = new_sandbox(4 * MB, 100000000L);
	fails(L, "local t = {}\nwhile true do t[#t + 1] = ('x'):rep(1000) .. #t end",
	      "test.lua:2: more than 4 MB of Lua memory (the limit): is a table or string growing without end?",
	      "a runaway allocation in small pieces stops with one error naming its line and the limit");
	fails(L, "local t = {}\nwhile true do\n  t[#t + 1] = ('y'):rep(1 << 20) .. #t\nend",
	      "test.lua:3: more than 4 MB of Lua memory (the limit)", "a runaway allocation in 1 MB pieces names its line and the limit");
	fails(L, "local t = {}\nwhile true do t[#t + 1] = #t end", "test.lua:2: more than 4 MB of Lua memory (the limit)",
	      "a table growing without end names its line and the limit");
	fails(L, "local t = {}\nwhile true do pcall(function() t[#t + 1] = ('z'):rep(1000) .. #t end) end",
	      "test.lua:2: more than 4 MB of Lua memory (the limit)", "a pcall in the script cannot catch its way past the memory limit");
	fails(L, "local s = ('x'):rep(1 << 30)", "test.lua: more than 4 MB of Lua memory (the limit)",
	      "one allocation far past the limit is refused with one error naming the file and the limit");
	passes(L, "local n = 0\nfor i = 1, 3000 do local s = ('x'):rep(10000) .. i n = n + #s end",
	       "garbage does not count: 30 MB of short-lived strings pass a 4 MB limit");
	passes(L, "local keep = ('k'):rep(2 << 20)", "after a stop, the sandbox runs code that fits again");
	sandbox_close(L);
}

int main(void)
{
	alarm(120); /* a limit that does not stop its loop fails the test instead of hanging it */
	test_locked_globals();
	test_library();
	test_print();
	test_errors();
	test_instruction_limit();
	test_memory_limit();
	return done_testing();
}
