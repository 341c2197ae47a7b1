/*
 * log — stderr logging; see log.h. A line is formatted into a local buffer and written
 * with one write(2), so lines from concurrent worker processes do not interleave.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static char log_role[32] = "pgch";
static LogLevel log_level = LOG_INFO;
static void (*hook_before)(void);
static void (*hook_after)(void);
static bool log_plain = true;
static LogCapture capture;
static LogFormat log_format = LOG_FORMAT_TEXT;
static _Thread_local const char *log_table; /* per thread: the stream's sender thread logs without one */

void log_set_format(LogFormat format)
{
	log_format = format;
}

LogFormat log_get_format(void)
{
	return log_format;
}

bool log_parse_format(const char *name, LogFormat *out)
{
	if (strcmp(name, "text") == 0)
		*out = LOG_FORMAT_TEXT;
	else if (strcmp(name, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else
		return false;
	return true;
}

void log_set_table(const char *table)
{
	log_table = table;
}

/* Append s as a JSON string (quoted, escaped) at line[*n], within cap. */
static void json_put(char *line, size_t cap, size_t *n, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = *n;
	if (o + 2 >= cap)
		return;
	line[o++] = '"';
	for (size_t i = 0; i < len && o + 8 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			line[o++] = '\\';
			line[o++] = (char)c;
		} else if (c < 0x20) {
			line[o++] = '\\';
			line[o++] = 'u';
			line[o++] = '0';
			line[o++] = '0';
			line[o++] = hex[c >> 4];
			line[o++] = hex[c & 15];
		} else {
			line[o++] = (char)c;
		}
	}
	line[o++] = '"';
	*n = o;
}

/* The message (already in msg) as one JSON object in line; returns its length. */
static size_t json_line(char *line, size_t cap, LogLevel level, const char *msg, size_t mlen)
{
	static const char *names[] = {"debug", "info", "warning", "error"};
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	int w = snprintf(line, cap, "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\",\"level\":\"%s\",\"role\":",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000),
			 names[level]);
	size_t n = w < 0 ? 0 : (size_t)w;
	json_put(line, cap, &n, log_role, strlen(log_role));
	n += (size_t)snprintf(line + n, cap - n, ",\"pid\":%d", (int)getpid());
	if (log_table) {
		n += (size_t)snprintf(line + n, cap - n, ",\"table\":");
		json_put(line, cap, &n, log_table, strlen(log_table));
	}
	n += (size_t)snprintf(line + n, cap - n, ",\"msg\":");
	json_put(line, cap, &n, msg, mlen);
	if (n + 2 < cap)
		line[n++] = '}';
	return n;
}

void log_set_role(const char *role)
{
	snprintf(log_role, sizeof log_role, "%s", role);
}

void log_set_timestamps(bool on)
{
	log_plain = !on;
}

void log_set_level(LogLevel level)
{
	log_level = level;
}

LogLevel log_get_level(void)
{
	return log_level;
}

void log_set_hooks(void (*before)(void), void (*after)(void))
{
	hook_before = before;
	hook_after = after;
}

LogCapture log_capture(LogCapture next)
{
	LogCapture prev = capture;
	capture = next;
	return prev;
}

void log_msg(LogLevel level, const char *fmt, ...)
{
	static const char *names[] = {"debug", "info", "warning", "error"};
	if (level < log_level)
		return;
	char line[4096];
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	int n;
	if (log_plain)
		n = snprintf(line, sizeof line, "pgch: %s%s", level == LOG_INFO ? "" : names[level],
			     level == LOG_INFO ? "" : ": ");
	else
		n = snprintf(line, sizeof line, "%04d-%02d-%02d %02d:%02d:%02d.%03d %s[%d] %s: ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (int)(tv.tv_usec / 1000), log_role, (int)getpid(), names[level]);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof line - 2)
		len = sizeof line - 2;
	/* libpq messages end in a newline; keep one line per event. */
	while (len > (size_t)n && (line[len - 1] == '\n' || line[len - 1] == ' '))
		len--;
	for (size_t i = (size_t)n; i < len; i++)
		if (line[i] == '\n')
			line[i] = ' ';
	if (capture.fn && level >= LOG_WARN) {
		line[len] = '\0';
		capture.fn(capture.ctx, level, line + n);
		return;
	}
	char json[4096]; /* one write(2) up to PIPE_BUF: lines never interleave */
	char *out = line;
	if (log_format == LOG_FORMAT_JSON) {
		len = json_line(json, sizeof json - 1, level, line + n, len - (size_t)n);
		out = json;
	}
	out[len++] = '\n';
	if (hook_before)
		hook_before();
	ssize_t w = write(STDERR_FILENO, out, len);
	(void)w;
	if (hook_after)
		hook_after();
}
