/*
 * config_text — where a mistake is in a config's text, and how it is reported.
 *
 * Every config message is one line "file:line: what is wrong; what to do". The line of a
 * key is found in the source text (`key =` after its section's line; a quoted string for a
 * table name), as Lua keeps no positions for table fields. A misspelt name gets "did you
 * mean" when a known one is within a small edit distance. Pure text functions apart from
 * the logging, shared by the loader's files (config.c, config_table.c) and catalog.c.
 */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>

#include "buf.h"
#include "log.h"

/* ---------------------------------------------------------------- reporting */

static void vreport(const Config *cfg, int line, const char *fmt, va_list ap)
{
	Buf b;
	buf_init(&b);
	if (cfg && cfg->path)
		buf_printf(&b, line > 0 ? "%s:%d: " : "%s: ", cfg->path, line);
	buf_vprintf(&b, fmt, ap);
	log_error("%s", b.data);
	buf_free(&b);
}

void config_error_at(const Config *cfg, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(cfg, line, fmt, ap);
	va_end(ap);
}

void config_parse_error(ConfigParser *p, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(p->cfg, line, fmt, ap);
	va_end(ap);
	p->ok = false;
}

void config_unknown_key(ConfigParser *p, int line, const char *section, const char *key, const char *const *known)
{
	const char *hint = config_closest(key, known);
	if (hint) {
		config_parse_error(p, line, "unknown key '%s' in %s; did you mean '%s'?", key, section, hint);
		return;
	}
	Buf list;
	buf_init(&list);
	for (int i = 0; known[i]; i++)
		buf_printf(&list, "%s%s", i ? ", " : "", known[i]);
	config_parse_error(p, line, "unknown key '%s' in %s (known keys: %s)", key, section, list.data);
	buf_free(&list);
}

/* ---------------------------------------------------------------- near misses */

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

const char *config_closest(const char *name, const char *const *names)
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

/* ---------------------------------------------------------------- positions */

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
int config_key_line(const Config *cfg, int from_line, const char *key)
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
	return config_key_line(cfg, 1, s);
}
