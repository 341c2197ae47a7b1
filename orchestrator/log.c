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
	line[len++] = '\n';
	if (hook_before)
		hook_before();
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
	if (hook_after)
		hook_after();
}
