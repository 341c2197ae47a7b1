/*
 * log — one line per event on stderr: time, process role, level, message.
 *
 *   2026-11-25 11:40:00.123 snapshot[1234] info: public.orders part 3/8: 1000000 rows in 4.2 s
 *
 * or, with --log-format json (PGCH_LOG_FORMAT=json), one JSON object per line for log
 * shippers, with the table being worked on when there is one:
 *
 *   {"time":"2026-11-25T11:40:00.123Z","level":"info","role":"snapshot","pid":1234,
 *    "table":"public.orders","msg":"public.orders part 3/8: 1000000 rows in 4.2 s"}
 *
 * Each process sets its role after fork (log_set_role). Errors are logged once, where
 * they happen; callers that merely propagate failure do not log again. Messages must not
 * contain secrets: nothing here sees a password, and callers never format one.
 */
#ifndef PGCH_LOG_H
#define PGCH_LOG_H

#include <stdbool.h>

typedef enum LogLevel { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } LogLevel;
typedef enum LogFormat { LOG_FORMAT_TEXT, LOG_FORMAT_JSON } LogFormat;

void log_set_format(LogFormat format);
LogFormat log_get_format(void);
/* "text" or "json"; false if neither. */
bool log_parse_format(const char *name, LogFormat *out);
/* The table the process works on now (NULL: none), for the JSON "table" field. The string
 * must outlive its use (a catalog name). */
void log_set_table(const char *table);

void log_set_role(const char *role);
void log_set_level(LogLevel level);
/* Off (the default): "pgch: error: ..." for interactive commands; on: timestamped lines for
 * long-running work (snapshot, run) whose logs are kept. */
void log_set_timestamps(bool on);
LogLevel log_get_level(void);
/* When a progress display owns the terminal, it is told before and after each log line. */
void log_set_hooks(void (*before)(void), void (*after)(void));
/*
 * Hand warnings and errors to fn (the bare message, one line, no prefix) instead of writing
 * them: `pgch check` turns what the modules it calls would have logged into findings, so
 * every problem is still described once, by the code that found it. {NULL, NULL} writes
 * them again. Returns the capture it replaces, for the caller to restore.
 */
typedef struct LogCapture {
	void (*fn)(void *ctx, LogLevel level, const char *msg);
	void *ctx;
} LogCapture;
LogCapture log_capture(LogCapture next);

void log_msg(LogLevel level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
