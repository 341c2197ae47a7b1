/*
 * preflight_findings — what `pgch check` found: one finding per line of its report.
 *
 * Each check adds findings (OK, WARN or FAIL, a one-line detail and, unless OK, the exact
 * fix: a SQL statement, a config key or a server setting); nothing is printed until the
 * end, as aligned lines or as JSON. While check runs, the warnings and errors that the
 * modules it calls would have logged are captured instead (findings_capture) and become
 * findings too, split at ". Fix: " into detail and fix, so each problem is still described
 * once, by the code that found it.
 */
#ifndef PGCH_PREFLIGHT_FINDINGS_H
#define PGCH_PREFLIGHT_FINDINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "log.h"

typedef enum CheckStatus { CHECK_OK, CHECK_WARN, CHECK_FAIL } CheckStatus;

/*
 * Transport security of a connection, as pgch check reports it: encrypted (TLS in use),
 * verified (the server's certificate checked: 1 its CA, 2 its CA and host name), to a host
 * that is local (loopback or a Unix socket: nothing crosses a network). OK when verified
 * or local, WARN otherwise; *msg says which, *fix what to set (NULL for OK). `what` names
 * the side ("PostgreSQL", "ClickHouse"), `how` the setting that fixes it.
 */
CheckStatus preflight_tls_verdict(bool encrypted, int verified, const char *host, const char *what, const char *how,
				  char *msg, size_t msglen, const char **fix);
bool preflight_host_is_local(const char *host);

typedef struct Finding {
	char *name;     /* stable identifier for --json: "wal_level", "table public.t", ... */
	CheckStatus status;
	char *detail;
	char *fix;      /* NULL for OK */
} Finding;

/* Log lines captured while checking (warnings and errors, one line each). */
typedef struct Captured {
	char **msg;
	LogLevel *level;
	int n;
} Captured;

typedef struct Findings {
	const Config *cfg; /* its path names config locations in captured messages */
	Finding *items;
	int n;
	Captured cap;      /* logged since the last findings_add_captured */
} Findings;

void findings_init(Findings *f, const Config *cfg);
void findings_free(Findings *f);

/* Add a finding; fix is ignored for OK. */
void findings_add(Findings *f, const char *name, CheckStatus st, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Send warnings and errors into f->cap from now on; returns the capture it replaces. */
LogCapture findings_capture(Findings *f);
/* The capture callback itself (ctx: a Captured), for a capture of one's own. */
void findings_capture_cb(void *ctx, LogLevel level, const char *msg);
void findings_captured_clear(Captured *c);

/* The captured lines as findings named `name` (errors FAIL, warnings WARN), with the fix
 * each message carries, or default_fix; the capture is emptied. */
void findings_add_captured(Findings *f, const char *name, const char *default_fix);
void findings_add_captured_from(Findings *f, Captured *c, const char *name, const char *default_fix);

/* Print the findings on stdout, aligned or as JSON. */
void findings_print(const Findings *f, bool json);
int findings_failed(const Findings *f);

/* Split a logged problem into its finding and its fix: the text after ". Fix: " when there
 * is one; a config problem ("file:line: ...") gets "change the config at file:line"; other
 * messages get NULL. Both results are malloc'd. */
void preflight_split_fix(const char *msg, const char *config_path, char **detail, char **fix);

/* libpq messages span lines ("FATAL:  ...\n"): make one line, single blanks, none at the end. */
void findings_one_line(char *s);

#endif
