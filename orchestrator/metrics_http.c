/*
 * metrics_http — libmicrohttpd in external epoll mode behind pgch's own socket; see
 * metrics_http.h.
 */
#include "metrics_http.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

bool metrics_http_parse(const char *addr, char *host, size_t hostlen, int *port, char *err, size_t errlen)
{
	const char *colon = strrchr(addr, ':');
	if (!colon) {
		snprintf(err, errlen, "has no port: write HOST:PORT, e.g. \"127.0.0.1:9187\"");
		return false;
	}
	const char *h = addr;
	size_t n = (size_t)(colon - addr);
	if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
		h++;
		n -= 2;
	} else if (memchr(h, ':', n)) {
		snprintf(err, errlen, "has an IPv6 address without brackets: write \"[::1]:9187\"");
		return false;
	}
	if (n >= hostlen) {
		snprintf(err, errlen, "has a host name too long");
		return false;
	}
	memcpy(host, h, n);
	host[n] = '\0';
	char *end;
	errno = 0;
	long p = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno || p < 1 || p > 65535) {
		snprintf(err, errlen, "has no valid port (1 to 65535) after the last ':'");
		return false;
	}
	*port = (int)p;
	return true;
}

/* The listening socket, or -1 (logged). */
static int listen_on(const char *addr)
{
	char host[256], err[128], portbuf[16];
	int port;
	if (!metrics_http_parse(addr, host, sizeof host, &port, err, sizeof err)) {
		log_error("pipe.metrics = \"%s\" %s", addr, err);
		return -1;
	}
	snprintf(portbuf, sizeof portbuf, "%d", port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai;
	int rc = getaddrinfo(host[0] ? host : NULL, portbuf, &hints, &ai);
	if (rc != 0) {
		log_error("pipe.metrics = \"%s\": cannot resolve %s: %s", addr, host, gai_strerror(rc));
		return -1;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 16) != 0) {
		log_error("pipe.metrics: cannot listen on %s: %s; choose a free port or stop what uses it", addr,
			  strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[256];
	vsnprintf(msg, sizeof msg, fmt, ap);
	size_t n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_debug("metrics endpoint: %s", msg);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	MetricsHttp *h = cls;
	(void)version;
	(void)upload_data;
	if (*upload_data_size) {
		*upload_data_size = 0; /* a body is not read */
		return MHD_YES;
	}
	Buf body;
	buf_init(&body);
	const char *type = "text/plain; charset=utf-8";
	int status;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		buf_printf(&body, "only GET and HEAD\n");
	} else {
		status = h->answer(h->ctx, url, &body, &type);
	}
	struct MHD_Response *r = MHD_create_response_from_buffer(body.len, body.data ? body.data : (char *)"",
								 MHD_RESPMEM_MUST_COPY);
	buf_free(&body);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, "Allow", "GET, HEAD");
	enum MHD_Result ok = MHD_queue_response(conn, (unsigned)status, r);
	MHD_destroy_response(r);
	(void)con_cls;
	return ok;
}

bool metrics_http_start(MetricsHttp *h, const char *addr, MetricsAnswerFn answer, void *ctx)
{
	memset(h, 0, sizeof *h);
	h->listen_fd = -1;
	h->answer = answer;
	h->ctx = ctx;
	int fd = listen_on(addr);
	if (fd < 0)
		return false;
	h->daemon = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, h,
				     MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_CONNECTION_LIMIT,
				     (unsigned)32, MHD_OPTION_END);
	if (!h->daemon) {
		log_error("pipe.metrics: cannot serve on %s (libmicrohttpd refused the socket)", addr);
		close(fd);
		return false;
	}
	h->listen_fd = fd;
	return true;
}

void metrics_http_stop(MetricsHttp *h)
{
	if (h->daemon)
		MHD_stop_daemon(h->daemon); /* closes the listening socket it was given */
	h->daemon = NULL;
	h->listen_fd = -1;
}

int metrics_http_fd(const MetricsHttp *h)
{
	if (!h->daemon)
		return -1;
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	return info ? info->epoll_fd : -1;
}

void metrics_http_run(MetricsHttp *h)
{
	if (h->daemon)
		MHD_run(h->daemon);
}
