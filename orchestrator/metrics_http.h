/*
 * metrics_http — the HTTP side of the metrics endpoint, on libmicrohttpd.
 *
 * pgch opens the listening socket itself (so a port in use is reported with its errno and
 * the address) and hands it to libmicrohttpd in external-polling epoll mode: no thread,
 * no second event loop. The supervisor waits on metrics_http_fd together with its own
 * descriptors and calls metrics_http_run, which answers what is waiting through the
 * answer callback. Only GET and HEAD are served; the body is built per request.
 */
#ifndef PGCH_METRICS_HTTP_H
#define PGCH_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Fill `body` for `path`; return the HTTP status and set *content_type. */
typedef int (*MetricsAnswerFn)(void *ctx, const char *path, Buf *body, const char **content_type);

typedef struct MetricsHttp {
	void *daemon; /* struct MHD_Daemon * */
	int listen_fd;
	MetricsAnswerFn answer;
	void *ctx;
} MetricsHttp;

/* Parse "HOST:PORT", "[IPV6]:PORT" or ":PORT" (every interface). false: err says why. */
bool metrics_http_parse(const char *addr, char *host, size_t hostlen, int *port, char *err, size_t errlen);

/* Listen on addr (as pipe.metrics). false (logged with the address and the fix). */
bool metrics_http_start(MetricsHttp *h, const char *addr, MetricsAnswerFn answer, void *ctx);
void metrics_http_stop(MetricsHttp *h);
/* The descriptor that becomes readable when a request needs work (-1: not started). */
int metrics_http_fd(const MetricsHttp *h);
/* Do what is waiting: accept, read, answer; never blocks. */
void metrics_http_run(MetricsHttp *h);

#endif
