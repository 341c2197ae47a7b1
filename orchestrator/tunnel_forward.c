/*
 * tunnel_forward — the forwarding loop of the tunnel process; see tunnel_forward.h.
 *
 * The loop. One poll() covers the listening socket, the SSH socket and the local sockets.
 * Each accepted connection is a Conn: a local socket, a channel, and one buffer per
 * direction. libssh2 opens one channel at a time per session, so new connections queue
 * (CONN_WAITING) and the first of them is the one being opened. After every wake-up the
 * loop pumps all connections in passes until a pass moves nothing: then every connection
 * waits for something poll() can see (a local socket, or the SSH socket), because a
 * buffer is only refilled once it is empty and every libssh2 call has returned EAGAIN.
 * libssh2 keeps data read for other channels in memory, bounded by each channel's
 * window, so a slow local client throttles only its own channel.
 *
 * Input from the bastion is always read. Usually a connection's libssh2 call reads it;
 * when none does (no connections, or all of them stalled behind slow clients) a "ping"
 * does: opening a channel of a type the server does not know, which it refuses with a
 * reply that libssh2 reads together with everything before it. Without that, the
 * bastion's ClientAlive probes would go unanswered and it would drop an idle tunnel.
 *
 * One packet at a time. libssh2 keeps one partly sent packet per session, and after
 * EAGAIN the call that began it must be repeated before any other packet is sent (others
 * fail with BAD_USE, channel opens with a misleading send error). So `owner` records the
 * call that left a packet half sent; until it completes, only that call is made and the
 * SSH socket is polled for room only. Keepalives, whose packet libssh2 does not keep, go
 * only when nothing is half sent and the kernel has room for them.
 *
 * Liveness: libssh2 keepalives every KEEPALIVE_S seconds, and TCP keepalive plus
 * TCP_USER_TIMEOUT on the bastion's socket (set by tunnel_ssh) turn a silently dead
 * network into a socket error. Any session-level error ends the loop with one log line
 * saying the session to the bastion was lost, and the process with exit status 1; its
 * listening port closes with it, so new connections are refused.
 */
#include "tunnel_forward.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

#define KEEPALIVE_S 20
#define STOP_GRACE_S 30          /* after SIGTERM, how long open connections may finish */
#define MAX_CONNS 1000
#define MAX_PASSES 16            /* pump passes per wake-up before poll() looks again */
#define UP_BUF 16384             /* local client -> PostgreSQL: queries, small */
#define DOWN_BUF 65536           /* PostgreSQL -> local client: COPY data, bulk */

typedef enum ConnState {
	CONN_WAITING, /* accepted; its channel is not open yet */
	CONN_OPEN,    /* forwarding */
	CONN_CLOSING, /* local socket closed; freeing the channel */
} ConnState;

/* The libssh2 call of a connection that left a packet half sent (see the top of the file). */
typedef enum SshCall { CALL_NONE, CALL_OPEN, CALL_WRITE, CALL_EOF, CALL_READ, CALL_FREE } SshCall;

typedef struct Conn {
	ConnState state;
	SshCall unfinished;
	int fd;                  /* the local client's socket, -1 once closed */
	int sport;               /* its port, sent to the bastion as the originator */
	LIBSSH2_CHANNEL *ch;
	size_t up_off, up_len;   /* up[up_off..up_len) still to write to the channel */
	size_t down_off, down_len;
	bool local_eof;          /* the client will send nothing more */
	bool eof_sent;           /* ... and the bastion has been told */
	bool remote_eof;         /* PostgreSQL will send nothing more */
	bool local_shut;         /* ... and the client has been told (shutdown SHUT_WR) */
	char up[UP_BUF];
	char down[DOWN_BUF];
} Conn;

typedef struct Tunnel {
	TunnelSsh *s;            /* the session, the bastion's socket, the listener */
	pid_t parent;
	Conn **conns;            /* in accept order: the first CONN_WAITING one is being opened */
	int nconns;
	struct pollfd *pfds;     /* [0] listener, [1] SSH socket, [2 + i] conns[i] */
	const void *owner;       /* whose libssh2 call left a packet half sent (a Conn, &ping) */
	bool pinging;            /* a ping is in flight */
	char ping;               /* its identity as an owner */
	bool lost;               /* the SSH session is gone: exit 1 */
} Tunnel;

static volatile sig_atomic_t tunnel_stop_requested;

static void on_term(int sig)
{
	(void)sig;
	tunnel_stop_requested = 1;
}


static bool session_lost(int rc)
{
	switch (rc) {
	case LIBSSH2_ERROR_EAGAIN:
	case LIBSSH2_ERROR_BAD_USE:
	case LIBSSH2_ERROR_CHANNEL_OUTOFORDER:
	case LIBSSH2_ERROR_CHANNEL_FAILURE:
	case LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED:
	case LIBSSH2_ERROR_CHANNEL_UNKNOWN:
	case LIBSSH2_ERROR_CHANNEL_WINDOW_EXCEEDED:
	case LIBSSH2_ERROR_CHANNEL_PACKET_EXCEEDED:
	case LIBSSH2_ERROR_CHANNEL_CLOSED:
	case LIBSSH2_ERROR_CHANNEL_EOF_SENT:
	case LIBSSH2_ERROR_CHANNEL_WINDOW_FULL:
		return false;
	default:
		return true;
	}
}

/* "would block": wait for poll(); BAD_USE means another call's packet is half sent. */
static bool not_yet(long rc)
{
	return rc == LIBSSH2_ERROR_EAGAIN || rc == LIBSSH2_ERROR_BAD_USE;
}

/* The session is gone (rc: the libssh2 error, or 0 when poll() saw the socket fail). */
static void tunnel_lost(Tunnel *t, int rc)
{
	if (t->lost)
		return;
	t->lost = true;
	int err = 0;
	socklen_t len = sizeof err;
	getsockopt(t->s->sock, SOL_SOCKET, SO_ERROR, &err, &len);
	char why[300];
	if (err)
		snprintf(why, sizeof why, "%s", strerror(err));
	else if (rc == 0 || rc == LIBSSH2_ERROR_SOCKET_DISCONNECT || rc == LIBSSH2_ERROR_SOCKET_RECV)
		snprintf(why, sizeof why, "the bastion closed the connection");
	else if (rc == LIBSSH2_ERROR_TIMEOUT || rc == LIBSSH2_ERROR_SOCKET_TIMEOUT)
		snprintf(why, sizeof why, "timed out");
	else
		snprintf(why, sizeof why, "%s, libssh2 error %d", tunnel_ssh_message(t->s->session), rc);
	log_error("the SSH session to the bastion %s:%d was lost (%s); the tunnel to PostgreSQL is closed", t->s->ssh->host,
		  t->s->ssh->port, why);
}


/* Is a packet half sent? libssh2 flags OUTBOUND exactly while one is. */
static bool half_sent(const Tunnel *t)
{
	return libssh2_session_block_directions(t->s->session) & LIBSSH2_SESSION_BLOCK_OUTBOUND;
}

/* May `who` (a Conn, or &t->ping) call libssh2 now? While a packet is half sent, only the
 * call that began it may be made; any other send fails (BAD_USE, or worse for opens). */
static bool may_call(const Tunnel *t, const void *who)
{
	return !half_sent(t) || t->owner == who || !t->owner;
}

/* After a libssh2 call by `who`: if it left a packet half sent, it must be repeated next. */
static void after_call(Tunnel *t, const void *who, Conn *c, SshCall call)
{
	if (half_sent(t)) {
		t->owner = who;
		if (c)
			c->unfinished = call;
	} else {
		if (t->owner == who)
			t->owner = NULL;
		if (c)
			c->unfinished = CALL_NONE;
	}
}

/* ---------------------------------------------------------------- connections */

static void accept_all(Tunnel *t)
{
	for (;;) {
		struct sockaddr_in a;
		socklen_t len = sizeof a;
		int fd = accept4(t->s->listen_fd, (struct sockaddr *)&a, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
				log_warn("SSH tunnel: accept: %s", strerror(errno));
			return;
		}
		if (t->nconns >= MAX_CONNS) {
			log_warn("SSH tunnel: %d connections are open already; refusing another", MAX_CONNS);
			close(fd);
			continue;
		}
		int one = 1; /* no delay: PostgreSQL round trips */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		Conn *c = xcalloc(1, sizeof *c);
		c->state = CONN_WAITING;
		c->fd = fd;
		c->sport = ntohs(a.sin_port);
		t->conns = xrealloc(t->conns, sizeof(Conn *) * (size_t)(t->nconns + 1));
		t->conns[t->nconns++] = c;
		log_debug("SSH tunnel: connection from port %d accepted", c->sport);
	}
}

/* Stop forwarding: close the local side now, free the channel as libssh2 allows. */
static void conn_close(Conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = CONN_CLOSING;
}

/* A libssh2 call of connection c failed: unless it is merely "not yet", the connection
 * (channel-level error) or the whole tunnel (session-level) ends. */
static void conn_failed(Tunnel *t, Conn *c, long rc)
{
	if (not_yet(rc))
		return;
	if (session_lost((int)rc)) {
		tunnel_lost(t, (int)rc);
		return;
	}
	log_debug("SSH tunnel: connection from port %d: %s", c->sport, tunnel_ssh_message(t->s->session));
	conn_close(c);
}

/* Open the first waiting connection's channel (libssh2 opens one at a time per session). */
static bool open_next(Tunnel *t)
{
	Conn *c = NULL;
	for (int i = 0; i < t->nconns && !c; i++)
		if (t->conns[i]->state == CONN_WAITING)
			c = t->conns[i];
	if (!c || t->pinging || !may_call(t, c))
		return false;
	c->ch = libssh2_channel_direct_tcpip_ex(t->s->session, t->s->target, t->s->target_port, "127.0.0.1", c->sport);
	after_call(t, c, c, CALL_OPEN);
	if (c->ch) {
		c->state = CONN_OPEN;
		return true;
	}
	int rc = libssh2_session_last_errno(t->s->session);
	if (not_yet(rc))
		return false;
	if (session_lost(rc)) {
		tunnel_lost(t, rc);
		return false;
	}
	log_error("the SSH bastion %s:%d could not connect to PostgreSQL at %s:%d: %s", t->s->ssh->host, t->s->ssh->port,
		  t->s->target, t->s->target_port, tunnel_ssh_message(t->s->session));
	conn_close(c);
	return true;
}

static bool local_would_block(void)
{
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

/* The client's bytes: read more once the buffer is empty. */
static bool conn_recv_local(Conn *c)
{
	if (c->up_off < c->up_len || c->local_eof)
		return false;
	c->up_off = c->up_len = 0;
	ssize_t n = recv(c->fd, c->up, sizeof c->up, 0);
	if (n > 0)
		c->up_len = (size_t)n;
	else if (n == 0)
		c->local_eof = true;
	else if (!local_would_block()) {
		log_debug("SSH tunnel: connection from port %d: %s", c->sport, strerror(errno));
		conn_close(c);
	} else
		return false;
	return true;
}

/* PostgreSQL's bytes to the client, then its EOF (shutdown) once all are delivered. */
static bool conn_send_local(Conn *c)
{
	bool moved = false;
	while (c->down_off < c->down_len) {
		ssize_t w = send(c->fd, c->down + c->down_off, c->down_len - c->down_off, MSG_NOSIGNAL);
		if (w < 0) {
			if (local_would_block())
				return moved;
			log_debug("SSH tunnel: connection from port %d: %s", c->sport, strerror(errno));
			conn_close(c);
			return true;
		}
		c->down_off += (size_t)w;
		moved = true;
	}
	if (c->remote_eof && !c->local_shut) {
		shutdown(c->fd, SHUT_WR);
		c->local_shut = moved = true;
	}
	return moved;
}

static bool conn_write_channel(Tunnel *t, Conn *c)
{
	bool moved = false;
	while (c->state == CONN_OPEN && c->up_off < c->up_len) {
		ssize_t w = libssh2_channel_write(c->ch, c->up + c->up_off, c->up_len - c->up_off);
		after_call(t, c, c, CALL_WRITE);
		if (w == 0) /* no window: wait for the bastion to adjust it */
			return moved;
		if (w < 0) {
			conn_failed(t, c, (long)w);
			return moved || c->state != CONN_OPEN;
		}
		c->up_off += (size_t)w;
		moved = true;
	}
	return moved;
}

static bool conn_send_eof(Tunnel *t, Conn *c)
{
	if (!c->local_eof || c->eof_sent || c->up_off < c->up_len)
		return false;
	int rc = libssh2_channel_send_eof(c->ch);
	after_call(t, c, c, CALL_EOF);
	if (rc == 0) {
		c->eof_sent = true;
		return true;
	}
	conn_failed(t, c, rc);
	return c->state != CONN_OPEN;
}

/* Read PostgreSQL's bytes once the buffer is empty. A read that left a packet half sent
 * (a window adjustment, a reply) is repeated even when the buffer is full, with length 0:
 * that only lets libssh2 finish sending. */
static bool conn_read_channel(Tunnel *t, Conn *c)
{
	bool room = c->down_off == c->down_len && !c->remote_eof;
	if (!room && !(t->owner == c && c->unfinished == CALL_READ))
		return false;
	if (room)
		c->down_off = c->down_len = 0;
	ssize_t n = libssh2_channel_read(c->ch, c->down + c->down_len, room ? sizeof c->down : 0);
	after_call(t, c, c, CALL_READ);
	if (n > 0) {
		c->down_len += (size_t)n;
		return true;
	}
	if (!room && n >= 0)
		return false;
	if (n == 0 || n == LIBSSH2_ERROR_CHANNEL_CLOSED) {
		if (n == 0 && !libssh2_channel_eof(c->ch))
			return false;
		c->remote_eof = true;
		return true;
	}
	conn_failed(t, c, (long)n);
	return c->state != CONN_OPEN;
}

/* Move what can be moved without waiting, in both directions. Returns true on progress. */
static bool conn_pump(Tunnel *t, Conn *c)
{
	bool moved = false;
	if (t->owner == c) { /* first finish the call that left a packet half sent */
		SshCall call = c->unfinished;
		moved |= call == CALL_WRITE ? conn_write_channel(t, c)
			 : call == CALL_EOF ? conn_send_eof(t, c)
			 : call == CALL_READ ? conn_read_channel(t, c) : false;
	}
	if (c->state == CONN_OPEN)
		moved |= conn_recv_local(c);
	if (c->state == CONN_OPEN && may_call(t, c))
		moved |= conn_write_channel(t, c);
	if (c->state == CONN_OPEN && may_call(t, c))
		moved |= conn_send_eof(t, c);
	if (c->state == CONN_OPEN && may_call(t, c))
		moved |= conn_read_channel(t, c);
	if (c->state == CONN_OPEN)
		moved |= conn_send_local(c);
	if (c->state == CONN_OPEN && c->local_shut && c->eof_sent) {
		log_debug("SSH tunnel: connection from port %d finished", c->sport);
		conn_close(c);
		moved = true;
	}
	return moved;
}

/* Free the channels of closed connections (after finishing a half-sent call, whose data
 * no longer matters); drop the connections once freed. */
static void reap_closed(Tunnel *t)
{
	int j = 0;
	for (int i = 0; i < t->nconns; i++) {
		Conn *c = t->conns[i];
		if (c->state != CONN_CLOSING || t->lost) {
			t->conns[j++] = c;
			continue;
		}
		if (c->ch && t->owner == c && c->unfinished != CALL_FREE) {
			if (c->unfinished == CALL_WRITE)
				libssh2_channel_write(c->ch, c->up + c->up_off, c->up_len - c->up_off);
			else if (c->unfinished == CALL_EOF)
				libssh2_channel_send_eof(c->ch);
			else
				libssh2_channel_read(c->ch, c->down, sizeof c->down);
			after_call(t, c, c, c->unfinished);
			if (t->owner == c) {
				t->conns[j++] = c;
				continue;
			}
		}
		if (c->ch) {
			if (!may_call(t, c)) {
				t->conns[j++] = c;
				continue;
			}
			int rc = libssh2_channel_free(c->ch);
			after_call(t, c, c, CALL_FREE);
			if (not_yet(rc)) {
				t->conns[j++] = c;
				continue;
			}
			if (rc != 0 && session_lost(rc))
				tunnel_lost(t, rc);
		}
		free(c);
	}
	t->nconns = j;
}

/* Make libssh2 read from the bastion when no connection will: open a channel of a type
 * the server does not know, which it refuses, and wait for that refusal. Reading it
 * answers the bastion's keepalive probes and queues data for stalled channels (bounded
 * by their windows), so an idle or stalled tunnel is never dropped as unresponsive. */
static void ping(Tunnel *t)
{
	static const char type[] = "ping@pgch";
	if (!may_call(t, &t->ping))
		return;
	LIBSSH2_CHANNEL *ch = libssh2_channel_open_ex(t->s->session, type, sizeof type - 1, LIBSSH2_CHANNEL_WINDOW_DEFAULT,
						      LIBSSH2_CHANNEL_PACKET_DEFAULT, NULL, 0);
	after_call(t, &t->ping, NULL, CALL_OPEN);
	int rc = ch ? 0 : libssh2_session_last_errno(t->s->session);
	t->pinging = not_yet(rc);
	if (ch) { /* an unusual server accepted it: close it like a connection */
		Conn *c = xcalloc(1, sizeof *c);
		c->state = CONN_CLOSING;
		c->fd = -1;
		c->ch = ch;
		t->conns = xrealloc(t->conns, sizeof(Conn *) * (size_t)(t->nconns + 1));
		t->conns[t->nconns++] = c;
	} else if (!t->pinging && session_lost(rc)) { /* CHANNEL_FAILURE: the expected refusal */
		tunnel_lost(t, rc);
	}
}

static bool readable(int fd)
{
	struct pollfd p = {fd, POLLIN, 0};
	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* Pump until a pass moves nothing (or MAX_PASSES); then, if input from the bastion is
 * left unread, ping. Returns true if work may remain without poll() seeing it. */
static bool pump_all(Tunnel *t)
{
	bool more = true;
	for (int pass = 0; pass < MAX_PASSES && more && !t->lost; pass++) {
		more = open_next(t);
		for (int i = 0; i < t->nconns && !t->lost; i++)
			if (t->conns[i]->state == CONN_OPEN)
				more |= conn_pump(t, t->conns[i]);
		reap_closed(t);
	}
	if (!t->lost && (t->pinging || (!more && readable(t->s->sock)))) {
		bool waiting = false;
		for (int i = 0; i < t->nconns; i++)
			waiting |= t->conns[i]->state == CONN_WAITING;
		if (!waiting || t->pinging)
			ping(t);
	}
	return more && !t->lost;
}

/* ---------------------------------------------------------------- the loop */

static int build_pollfds(Tunnel *t)
{
	t->pfds = xrealloc(t->pfds, sizeof(struct pollfd) * (size_t)(t->nconns + 2));
	t->pfds[0] = (struct pollfd){t->s->listen_fd, POLLIN, 0};
	/* input is always consumed (by a connection or a ping), except while a half-sent
	 * packet waits for room: then only room matters */
	t->pfds[1] = (struct pollfd){t->s->sock, (short)(POLLRDHUP | (half_sent(t) ? POLLOUT : POLLIN)), 0};
	for (int i = 0; i < t->nconns; i++) {
		const Conn *c = t->conns[i];
		short e = 0;
		if (c->state == CONN_OPEN) {
			if (c->up_off == c->up_len && !c->local_eof)
				e |= POLLIN;
			if (c->down_off < c->down_len)
				e |= POLLOUT;
		}
		t->pfds[2 + i] = (struct pollfd){e ? c->fd : -1, e, 0};
	}
	return t->nconns + 2;
}

/* Send a keepalive when one is due. libssh2 does not keep a keepalive it could only
 * partly send, so it goes only when nothing is half sent and the kernel has room for it. */
static int keepalive(Tunnel *t)
{
	int sndbuf = 0, queued = 0;
	socklen_t len = sizeof sndbuf;
	if (half_sent(t) || t->pinging || getsockopt(t->s->sock, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) != 0 ||
	    ioctl(t->s->sock, SIOCOUTQ, &queued) != 0 || sndbuf - queued < 4096)
		return 1;
	int next = KEEPALIVE_S;
	int rc = libssh2_keepalive_send(t->s->session, &next);
	if (rc != 0 && !not_yet(rc))
		tunnel_lost(t, rc);
	return next > 0 ? next : 1;
}

/* The loop; true when stopped as asked, false when the session was lost or poll() failed. */
static bool tunnel_loop(Tunnel *t)
{
	sigset_t block, unblocked;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &unblocked);
	sigdelset(&unblocked, SIGTERM);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	bool stopping = false, more = false;
	time_t deadline = 0;
	int next_keepalive = KEEPALIVE_S;
	for (;;) {
		if (tunnel_stop_requested && !stopping) {
			/* no new connections; open ones may finish (a worker's last flush) */
			stopping = true;
			close(t->s->listen_fd);
			t->s->listen_fd = -1;
			deadline = time(NULL) + STOP_GRACE_S;
		}
		if (stopping && (t->nconns == 0 || getppid() != t->parent || time(NULL) >= deadline))
			return true;
		int n = build_pollfds(t);
		int timeout_s = stopping ? 1 : next_keepalive;
		struct timespec ts = {more ? 0 : timeout_s, 0};
		int r = ppoll(t->pfds, (nfds_t)n, &ts, &unblocked);
		if (r < 0 && errno != EINTR) {
			log_error("SSH tunnel: poll: %s", strerror(errno));
			return false;
		}
		if (r > 0 && (t->pfds[0].revents & POLLIN))
			accept_all(t);
		short sev = r > 0 ? t->pfds[1].revents : 0;
		more = pump_all(t);
		if (!t->lost && (sev & (POLLERR | POLLHUP | POLLRDHUP)))
			tunnel_lost(t, 0);
		if (!t->lost)
			next_keepalive = keepalive(t);
		if (t->lost)
			return false;
	}
}

bool tunnel_forward(TunnelSsh *s, pid_t parent, bool *lost)
{
	Tunnel t;
	memset(&t, 0, sizeof t);
	t.s = s;
	t.parent = parent;
	libssh2_keepalive_config(s->session, 0, KEEPALIVE_S);
	libssh2_session_set_timeout(s->session, 0);
	libssh2_session_set_blocking(s->session, 0);
	fcntl(s->sock, F_SETFL, fcntl(s->sock, F_GETFL) | O_NONBLOCK);
	bool stopped = tunnel_loop(&t);
	for (int i = 0; i < t.nconns; i++) {
		if (t.conns[i]->fd >= 0)
			close(t.conns[i]->fd);
		free(t.conns[i]);
	}
	free(t.conns);
	free(t.pfds);
	*lost = t.lost;
	return stopped;
}
