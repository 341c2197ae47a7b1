/*
 * preflight_findings — the findings of `pgch check`; see preflight_findings.h.
 */
#include "preflight_findings.h"

#include <strings.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

void findings_init(Findings *f, const Config *cfg)
{
	memset(f, 0, sizeof *f);
	f->cfg = cfg;
}

void findings_add(Findings *f, const char *name, CheckStatus st, const char *fix, const char *fmt, ...)
{
	f->items = xrealloc(f->items, sizeof(Finding) * (size_t)(f->n + 1));
	Finding *it = &f->items[f->n++];
	Buf b;
	buf_init(&b);
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	it->name = xstrdup(name);
	it->status = st;
	it->detail = buf_steal(&b);
	it->fix = fix && st != CHECK_OK ? xstrdup(fix) : NULL;
}

void findings_free(Findings *f)
{
	for (int i = 0; i < f->n; i++) {
		free(f->items[i].name);
		free(f->items[i].detail);
		free(f->items[i].fix);
	}
	free(f->items);
	findings_captured_clear(&f->cap);
	memset(f, 0, sizeof *f);
}

void findings_capture_cb(void *ctx, LogLevel level, const char *msg)
{
	Captured *c = ctx;
	c->msg = xrealloc(c->msg, sizeof(char *) * (size_t)(c->n + 1));
	c->level = xrealloc(c->level, sizeof(LogLevel) * (size_t)(c->n + 1));
	c->msg[c->n] = xstrdup(msg);
	c->level[c->n++] = level;
}

void findings_captured_clear(Captured *c)
{
	for (int i = 0; i < c->n; i++)
		free(c->msg[i]);
	free(c->msg);
	free(c->level);
	memset(c, 0, sizeof *c);
}

LogCapture findings_capture(Findings *f)
{
	return log_capture((LogCapture){findings_capture_cb, &f->cap});
}

void preflight_split_fix(const char *msg, const char *config_path, char **detail, char **fix)
{
	/* "config.lua:12: " in front: the finding reads better without it */
	size_t n = config_path ? strlen(config_path) : 0;
	size_t loc = 0;
	if (n > 0 && strncmp(msg, config_path, n) == 0 && msg[n] == ':') {
		loc = n + 1 + strspn(msg + n + 1, "0123456789");
		if (msg[loc] == ':')
			loc++;
	}
	const char *body = msg + loc + strspn(msg + loc, " ");
	const char *f = strstr(body, ". Fix: ");
	if (f) {
		*detail = xstrndup(body, (size_t)(f - body));
		*fix = xstrdup(f + 7);
		return;
	}
	*detail = xstrdup(msg); /* no fix of its own: the location is the fix */
	*fix = loc ? xasprintf("change the config at %.*s", (int)(loc > 0 && msg[loc - 1] == ':' ? loc - 1 : loc), msg) : NULL;
}

void findings_add_captured_from(Findings *f, Captured *c, const char *name, const char *default_fix)
{
	for (int i = 0; i < c->n; i++) {
		char *detail, *fix;
		preflight_split_fix(c->msg[i], f->cfg->path, &detail, &fix);
		findings_add(f, name, c->level[i] >= LOG_ERROR ? CHECK_FAIL : CHECK_WARN, fix ? fix : default_fix, "%s", detail);
		free(detail);
		free(fix);
	}
	findings_captured_clear(c);
}

void findings_add_captured(Findings *f, const char *name, const char *default_fix)
{
	findings_add_captured_from(f, &f->cap, name, default_fix);
}

void findings_one_line(char *s)
{
	char *w = s;
	for (const char *r = s; *r; r++) {
		char ch = (*r == '\n' || *r == '\r' || *r == '\t') ? ' ' : *r;
		if (ch == ' ' && (w == s || w[-1] == ' '))
			continue;
		*w++ = ch;
	}
	while (w > s && w[-1] == ' ')
		w--;
	*w = '\0';
}

static const char *status_name(CheckStatus s)
{
	return s == CHECK_OK ? "OK" : s == CHECK_WARN ? "WARN" : "FAIL";
}

void findings_print(const Findings *f, bool json)
{
	Buf out;
	buf_init(&out);
	int counts[3] = {0, 0, 0};
	for (int i = 0; i < f->n; i++)
		counts[f->items[i].status]++;
	if (json) {
		buf_puts(&out, "{\"checks\": [");
		for (int i = 0; i < f->n; i++) {
			const Finding *it = &f->items[i];
			buf_puts(&out, i ? ",\n  {\"name\": " : "\n  {\"name\": ");
			buf_json_string(&out, it->name);
			buf_printf(&out, ", \"status\": \"%s\", \"detail\": ", status_name(it->status));
			buf_json_string(&out, it->detail);
			buf_puts(&out, ", \"fix\": ");
			if (it->fix)
				buf_json_string(&out, it->fix);
			else
				buf_puts(&out, "null");
			buf_put_u8(&out, '}');
		}
		buf_printf(&out, "\n], \"ok\": %s}\n", counts[CHECK_FAIL] ? "false" : "true");
	} else {
		for (int i = 0; i < f->n; i++) {
			const Finding *it = &f->items[i];
			buf_printf(&out, "%-5s %s\n", status_name(it->status), it->detail);
			if (it->fix)
				buf_printf(&out, "      fix: %s\n", it->fix);
		}
		buf_printf(&out, "\n%d OK, %d WARN, %d FAIL\n", counts[CHECK_OK], counts[CHECK_WARN], counts[CHECK_FAIL]);
	}
	fwrite(out.data, 1, out.len, stdout);
	fflush(stdout);
	buf_free(&out);
}

int findings_failed(const Findings *f)
{
	int fails = 0;
	for (int i = 0; i < f->n; i++)
		fails += f->items[i].status == CHECK_FAIL;
	return fails;
}

bool preflight_host_is_local(const char *host)
{
	return !host || !*host || host[0] == '/' || strcasecmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
	       strcmp(host, "::1") == 0 || strcmp(host, "[::1]") == 0;
}

CheckStatus preflight_tls_verdict(bool encrypted, int verified, const char *host, const char *what, const char *how,
				  char *msg, size_t msglen, const char **fix)
{
	*fix = NULL;
	bool local = preflight_host_is_local(host);
	if (encrypted && verified >= 2) {
		snprintf(msg, msglen, "%s connection encrypted, server certificate and host name verified", what);
		return CHECK_OK;
	}
	if (encrypted && verified == 1) {
		snprintf(msg, msglen, "%s connection encrypted, server certificate verified (not its host name)", what);
		return CHECK_OK;
	}
	if (local) {
		snprintf(msg, msglen, "%s connection %s, to a local host (%s)", what,
			 encrypted ? "encrypted but not verified" : "not encrypted", host && *host ? host : "Unix socket");
		return CHECK_OK;
	}
	snprintf(msg, msglen, "%s connection to %s is %s: what crosses the network can be read or altered", what, host,
		 encrypted ? "encrypted but the server is not verified" : "not encrypted");
	*fix = how;
	return CHECK_WARN;
}
