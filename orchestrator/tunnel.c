/*
 * tunnel — the SSH tunnel process; see tunnel.h.
 *
 * Layout: start-up in the parent (target, fork, readiness pipe) and in the child
 * (connect, handshake, host key, login, probe, listen; libssh2 in blocking mode with a
 * timeout); then the forwarding loop (libssh2 non-blocking).
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
 * TCP_USER_TIMEOUT turn a silently dead network into a socket error. Any session-level
 * error ends the process with exit status 1 and one log line saying the session to the
 * bastion was lost; its listening port closes with it, so new connections are refused.
 */
#include "tunnel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libssh2.h>
#include <netdb.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

#define CONNECT_TIMEOUT_MS 10000 /* TCP connect to the bastion */
#define STARTUP_TIMEOUT_MS 30000 /* each blocking libssh2 step of start-up */
#define KEEPALIVE_S 20
#define USER_TIMEOUT_MS 60000    /* unacknowledged data for this long: the network is gone */
#define STOP_GRACE_S 30          /* after SIGTERM, how long open connections may finish */
#define MAX_CONNS 1000
#define MAX_PASSES 16            /* pump passes per wake-up before poll() looks again */
#define UP_BUF 16384             /* local client -> PostgreSQL: queries, small */
#define DOWN_BUF 65536           /* PostgreSQL -> local client: COPY data, bulk */

enum { TUNNEL_EXIT_STOPPED = 0, TUNNEL_EXIT_FAILED = 1 };

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
	const Config *cfg;
	const SshConfig *ssh;
	const char *target;      /* PostgreSQL host as the bastion sees it */
	int target_port;
	pid_t parent;
	int sock;                /* TCP to the bastion */
	int listen_fd;
	LIBSSH2_SESSION *session;
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

/* ---------------------------------------------------------------- helpers */

static const char *source_param(const Config *cfg, const char *key)
{
	for (int i = 0; i < cfg->source.n_params; i++)
		if (strcmp(cfg->source.params[i].key, key) == 0)
			return cfg->source.params[i].val;
	return NULL;
}

/* PostgreSQL's address as seen from the bastion: hostaddr, host or PGHOST, else
 * localhost; port or PGPORT, else 5432. Sockets and host lists cannot be tunnelled. */
static bool tunnel_target(const Config *cfg, char **host, int *port)
{
	const char *h = source_param(cfg, "hostaddr");
	if (!h || !*h)
		h = source_param(cfg, "host");
	if (!h || !*h)
		h = getenv("PGHOST");
	if (!h || !*h)
		h = "localhost";
	const char *p = source_param(cfg, "port");
	if (!p || !*p)
		p = getenv("PGPORT");
	if (h[0] == '/' || h[0] == '@' || strchr(h, ',')) {
		config_error_at(cfg, config_line_of_string(cfg, h),
				"source.host \"%s\" cannot be reached through source.ssh: give one TCP host name or "
				"address as the bastion sees it (for example host = \"localhost\" when PostgreSQL "
				"runs on the bastion)",
				h);
		return false;
	}
	long n = 5432;
	if (p && *p) {
		char *end;
		n = strtol(p, &end, 10);
		if (*end || n < 1 || n > 65535) {
			config_error_at(cfg, config_line_of_string(cfg, p),
					"source.port \"%s\" is not one TCP port; through source.ssh pgch needs "
					"exactly one",
					p);
			return false;
		}
	}
	*host = xstrdup(h);
	*port = (int)n;
	return true;
}

static const char *ssh_message(LIBSSH2_SESSION *session)
{
	char *msg = NULL;
	libssh2_session_last_error(session, &msg, NULL, 0);
	return msg && *msg ? msg : "unknown error";
}

/* Errors after which the session is unusable (as opposed to one channel failing). */
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
	getsockopt(t->sock, SOL_SOCKET, SO_ERROR, &err, &len);
	char why[300];
	if (err)
		snprintf(why, sizeof why, "%s", strerror(err));
	else if (rc == 0 || rc == LIBSSH2_ERROR_SOCKET_DISCONNECT || rc == LIBSSH2_ERROR_SOCKET_RECV)
		snprintf(why, sizeof why, "the bastion closed the connection");
	else if (rc == LIBSSH2_ERROR_TIMEOUT || rc == LIBSSH2_ERROR_SOCKET_TIMEOUT)
		snprintf(why, sizeof why, "timed out");
	else
		snprintf(why, sizeof why, "%s, libssh2 error %d", ssh_message(t->session), rc);
	log_error("the SSH session to the bastion %s:%d was lost (%s); the tunnel to PostgreSQL is closed", t->ssh->host,
		  t->ssh->port, why);
}

static void set_tcp_options(int fd, bool bastion)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* PostgreSQL round trips */
	if (!bastion)
		return;
	int idle = 30, intvl = 10, cnt = 3;
	unsigned user_timeout = USER_TIMEOUT_MS;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout);
}

/* OpenSSH's fingerprint form: SHA256:<base64 without padding>. */
static void fingerprint(LIBSSH2_SESSION *session, char *out, size_t outlen)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *h = (const unsigned char *)libssh2_hostkey_hash(session, LIBSSH2_HOSTKEY_HASH_SHA256);
	if (!h || outlen < 52) {
		snprintf(out, outlen, "(no fingerprint)");
		return;
	}
	size_t n = (size_t)snprintf(out, outlen, "SHA256:");
	for (int i = 0; i < 32; i += 3) {
		unsigned v = (unsigned)h[i] << 16 | (i + 1 < 32 ? (unsigned)h[i + 1] << 8 : 0) | (i + 2 < 32 ? h[i + 2] : 0);
		int chars = i + 2 < 32 ? 4 : i + 1 < 32 ? 3 : 2;
		for (int k = 0; k < chars; k++)
			out[n++] = b64[(v >> (18 - 6 * k)) & 63];
	}
	out[n] = '\0';
}

/* ---------------------------------------------------------------- start-up (child) */

static bool connect_bastion(Tunnel *t)
{
	char port[16];
	snprintf(port, sizeof port, "%d", t->ssh->port);
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	int rc = getaddrinfo(t->ssh->host, port, &hints, &res);
	if (rc != 0) {
		log_error("cannot resolve the SSH bastion %s (source.ssh.host): %s", t->ssh->host, gai_strerror(rc));
		return false;
	}
	int err = 0;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			err = 0;
		} else if (errno != EINPROGRESS) {
			err = errno;
		} else {
			struct pollfd p = {fd, POLLOUT, 0};
			int n;
			do
				n = poll(&p, 1, CONNECT_TIMEOUT_MS);
			while (n < 0 && errno == EINTR);
			socklen_t len = sizeof err;
			if (n == 0)
				err = ETIMEDOUT;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
				err = errno;
		}
		if (err == 0) {
			/* blocking again for the start-up steps; the loop switches libssh2 to non-blocking */
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
			set_tcp_options(fd, true);
			t->sock = fd;
			freeaddrinfo(res);
			return true;
		}
		close(fd);
	}
	freeaddrinfo(res);
	log_error("cannot connect to the SSH bastion %s:%d (source.ssh): %s", t->ssh->host, t->ssh->port,
		  strerror(err ? err : ECONNREFUSED));
	return false;
}

static int knownhost_keybit(int hostkey_type)
{
	switch (hostkey_type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA: return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
	case LIBSSH2_HOSTKEY_TYPE_DSS: return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
	case LIBSSH2_HOSTKEY_TYPE_ED25519: return LIBSSH2_KNOWNHOST_KEY_ED25519;
	default: return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
	}
}

static const char *hostkey_type_name(int hostkey_type)
{
	switch (hostkey_type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA: return "ssh-rsa";
	case LIBSSH2_HOSTKEY_TYPE_DSS: return "ssh-dss";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return "ecdsa-sha2-nistp256";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return "ecdsa-sha2-nistp384";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return "ecdsa-sha2-nistp521";
	case LIBSSH2_HOSTKEY_TYPE_ED25519: return "ssh-ed25519";
	default: return "unknown";
	}
}

/* Read known_hosts line by line: lines libssh2 cannot parse (markers, certificate
 * authorities, key types it lacks) are skipped instead of failing the whole file. */
static LIBSSH2_KNOWNHOSTS *read_known_hosts(Tunnel *t)
{
	const SshConfig *ssh = t->ssh;
	FILE *f = fopen(ssh->known_hosts, "r");
	if (!f) {
		int e = errno;
		log_error("cannot read source.ssh.known_hosts %s: %s; pgch only connects to a bastion whose host key "
			  "it knows. Record it with: ssh-keyscan -p %d %s >> %s (and compare the fingerprint with the "
			  "bastion's administrator)",
			  ssh->known_hosts, strerror(e), ssh->port, ssh->host, ssh->known_hosts);
		return NULL;
	}
	LIBSSH2_KNOWNHOSTS *kh = libssh2_knownhost_init(t->session);
	char line[16384];
	int lineno = 0;
	while (kh && fgets(line, sizeof line, f)) {
		lineno++;
		const char *s = line + strspn(line, " \t");
		if (*s == '#' || *s == '\n' || *s == '\0')
			continue;
		if (libssh2_knownhost_readline(kh, line, strlen(line), LIBSSH2_KNOWNHOST_FILE_OPENSSH) != 0)
			log_debug("%s:%d: skipped (not a line libssh2 understands)", ssh->known_hosts, lineno);
	}
	fclose(f);
	if (!kh)
		log_error("cannot set up host key checking: %s", ssh_message(t->session));
	return kh;
}

/* Does a plain known_hosts name stand for our bastion ("host" on port 22, "[host]:port")? */
static bool names_bastion(const char *names, const SshConfig *ssh)
{
	char bracketed[300];
	snprintf(bracketed, sizeof bracketed, "[%s]:%d", ssh->host, ssh->port);
	const char *want = ssh->port == 22 ? ssh->host : bracketed;
	size_t wlen = strlen(want);
	for (const char *p = names; *p;) {
		size_t n = strcspn(p, ",");
		if (n == wlen && strncmp(p, want, n) == 0)
			return true;
		p += n + (p[n] == ',');
	}
	return false;
}

/* Ask for host key types known_hosts has for this bastion, so the server does not pick
 * one we have no record of (OpenSSH does the same). Hashed names count when no plain name
 * matches, since they cannot be read. Nothing is set when nothing is known. */
static void prefer_known_key_types(Tunnel *t, LIBSSH2_KNOWNHOSTS *kh)
{
	static const struct {
		int bit;
		const char *methods;
	} order[] = {
		{LIBSSH2_KNOWNHOST_KEY_ED25519, "ssh-ed25519"},
		{LIBSSH2_KNOWNHOST_KEY_ECDSA_256, "ecdsa-sha2-nistp256"},
		{LIBSSH2_KNOWNHOST_KEY_ECDSA_384, "ecdsa-sha2-nistp384"},
		{LIBSSH2_KNOWNHOST_KEY_ECDSA_521, "ecdsa-sha2-nistp521"},
		{LIBSSH2_KNOWNHOST_KEY_SSHRSA, "rsa-sha2-512,rsa-sha2-256,ssh-rsa"},
		{LIBSSH2_KNOWNHOST_KEY_SSHDSS, "ssh-dss"},
	};
	bool plain[6] = {false}, hashed[6] = {false}, any_plain = false;
	struct libssh2_knownhost *e = NULL;
	while (libssh2_knownhost_get(kh, &e, e) == 0) {
		int bit = e->typemask & LIBSSH2_KNOWNHOST_KEY_MASK;
		for (int i = 0; i < 6; i++) {
			if (order[i].bit != bit)
				continue;
			if (!e->name)
				hashed[i] = true;
			else if (names_bastion(e->name, t->ssh))
				plain[i] = any_plain = true;
		}
	}
	Buf b;
	buf_init(&b);
	for (int i = 0; i < 6; i++)
		if (any_plain ? plain[i] : hashed[i])
			buf_printf(&b, "%s%s", b.len ? "," : "", order[i].methods);
	if (b.len && libssh2_session_method_pref(t->session, LIBSSH2_METHOD_HOSTKEY, b.data) != 0)
		log_debug("host key preference %s not accepted: %s", b.data, ssh_message(t->session));
	buf_free(&b);
}

static bool check_host_key(Tunnel *t, LIBSSH2_KNOWNHOSTS *kh)
{
	const SshConfig *ssh = t->ssh;
	size_t len;
	int type;
	const char *key = libssh2_session_hostkey(t->session, &len, &type);
	if (!key) {
		log_error("the SSH bastion %s:%d sent no host key", ssh->host, ssh->port);
		return false;
	}
	char fp[64];
	fingerprint(t->session, fp, sizeof fp);
	struct libssh2_knownhost *found = NULL;
	int rc = libssh2_knownhost_checkp(kh, ssh->host, ssh->port, key, len,
					  LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | knownhost_keybit(type),
					  &found);
	char name[300];
	if (ssh->port == 22)
		snprintf(name, sizeof name, "%s", ssh->host);
	else
		snprintf(name, sizeof name, "[%s]:%d", ssh->host, ssh->port);
	switch (rc) {
	case LIBSSH2_KNOWNHOST_CHECK_MATCH:
		return true;
	case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
		log_error("the SSH host key of the bastion %s:%d (%s %s) does NOT match the one recorded in %s: the "
			  "bastion was re-keyed or reinstalled, or someone is intercepting the connection. If the "
			  "change is expected, replace the entry: ssh-keygen -R '%s' -f %s && ssh-keyscan -p %d %s >> %s",
			  ssh->host, ssh->port, hostkey_type_name(type), fp, ssh->known_hosts, name, ssh->known_hosts,
			  ssh->port, ssh->host, ssh->known_hosts);
		return false;
	case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
		log_error("the SSH host key of the bastion %s:%d (%s %s) is not in source.ssh.known_hosts %s; if that "
			  "fingerprint is the bastion's, add it with: ssh-keyscan -p %d %s >> %s",
			  ssh->host, ssh->port, hostkey_type_name(type), fp, ssh->known_hosts, ssh->port, ssh->host,
			  ssh->known_hosts);
		return false;
	default:
		log_error("cannot check the SSH host key of the bastion %s:%d against %s: %s", ssh->host, ssh->port,
			  ssh->known_hosts, ssh_message(t->session));
		return false;
	}
}

/* Is the private key file an RSA key? PEM says so in its header; the OpenSSH format
 * keeps the public key, type name first, unencrypted at the start of its base64 body. */
static bool key_is_rsa(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	char line[256], b64[512];
	size_t n = 0;
	bool rsa = false, openssh = false;
	while (fgets(line, sizeof line, f) && n < sizeof b64 - 80) {
		if (strstr(line, "BEGIN RSA PRIVATE KEY")) {
			rsa = true;
			break;
		}
		if (strstr(line, "BEGIN OPENSSH PRIVATE KEY")) {
			openssh = true;
			continue;
		}
		for (char *p = line; openssh && *p && *p != '\n' && n < sizeof b64 - 1; p++)
			b64[n++] = *p;
	}
	fclose(f);
	if (rsa || !openssh)
		return rsa;
	unsigned char raw[384];
	size_t m = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n && m < sizeof raw; i++) {
		const char *d = strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", b64[i]);
		if (!d || !b64[i])
			break;
		acc = acc << 6 | (unsigned)(d - "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			raw[m++] = (unsigned char)(acc >> bits);
		}
	}
	return memmem(raw, m, "ssh-rsa", 7) != NULL;
}

static bool authenticate(Tunnel *t)
{
	const SshConfig *ssh = t->ssh;
	struct stat st;
	if (stat(ssh->private_key, &st) != 0 || access(ssh->private_key, R_OK) != 0) {
		log_error("cannot read source.ssh.private_key %s: %s (create a key pair with: pgch keygen %s)",
			  ssh->private_key, strerror(errno), ssh->private_key);
		return false;
	}
	if (st.st_mode & 077)
		log_warn("source.ssh.private_key %s can be read by other users (mode %03o): chmod 600 %s", ssh->private_key,
			 (unsigned)(st.st_mode & 0777), ssh->private_key);
	unsigned ulen = (unsigned)strlen(ssh->user);
	char *methods = libssh2_userauth_list(t->session, ssh->user, ulen);
	if (!methods) {
		if (libssh2_userauth_authenticated(t->session))
			return true;
		log_error("SSH login to the bastion %s:%d as %s failed: %s", ssh->host, ssh->port, ssh->user,
			  ssh_message(t->session));
		return false;
	}
	if (!strstr(methods, "publickey")) {
		log_error("the SSH bastion %s:%d does not accept key authentication for user %s (it offers: %s); pgch "
			  "logs in with source.ssh.private_key only",
			  ssh->host, ssh->port, ssh->user, methods);
		return false;
	}
	int rc = libssh2_userauth_publickey_fromfile_ex(t->session, ssh->user, ulen, NULL, ssh->private_key,
							ssh->passphrase ? ssh->passphrase : "");
	if (rc == 0)
		return true;
	if (rc == LIBSSH2_ERROR_FILE || rc == LIBSSH2_ERROR_KEYFILE_AUTH_FAILED)
		log_error("cannot load source.ssh.private_key %s: %s (it must be an OpenSSH or PEM private key%s)",
			  ssh->private_key, ssh_message(t->session),
			  ssh->passphrase ? "; check source.ssh.passphrase" : "; if it is encrypted, set source.ssh.passphrase");
	else if ((rc == LIBSSH2_ERROR_AUTHENTICATION_FAILED || rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED) &&
		 !libssh2_version(0x010b00) && key_is_rsa(ssh->private_key))
		log_error("the SSH bastion %s:%d refused the RSA key %s for user %s. This libssh2 (%s) signs RSA logins "
			  "with SHA-1 (ssh-rsa), which OpenSSH 8.8 and later refuse by default: use an ed25519 key "
			  "(pgch keygen PATH), or if the key is authorized, allow it on the bastion with "
			  "PubkeyAcceptedAlgorithms +ssh-rsa",
			  ssh->host, ssh->port, ssh->private_key, ssh->user, libssh2_version(0));
	else if (rc == LIBSSH2_ERROR_AUTHENTICATION_FAILED || rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED)
		log_error("the SSH bastion %s:%d refused the key %s for user %s: add its public key (%s.pub, as printed "
			  "by pgch keygen) to ~%s/.ssh/authorized_keys on the bastion",
			  ssh->host, ssh->port, ssh->private_key, ssh->user, ssh->private_key, ssh->user);
	else
		log_error("SSH login to the bastion %s:%d as %s with %s failed: %s", ssh->host, ssh->port, ssh->user,
			  ssh->private_key, ssh_message(t->session));
	return false;
}

/* Open and close one channel so an unreachable PostgreSQL (or a bastion that forbids
 * forwarding) is a start-up error rather than a failure of every later connection. */
static bool probe_target(Tunnel *t)
{
	LIBSSH2_CHANNEL *ch = libssh2_channel_direct_tcpip_ex(t->session, t->target, t->target_port, "127.0.0.1", 0);
	if (!ch) {
		log_error("the SSH bastion %s:%d cannot open a connection to PostgreSQL at %s:%d (source.host and "
			  "source.port, as seen from the bastion): %s. Check that PostgreSQL listens there and that "
			  "the bastion allows TCP forwarding (AllowTcpForwarding, PermitOpen)",
			  t->ssh->host, t->ssh->port, t->target, t->target_port, ssh_message(t->session));
		return false;
	}
	libssh2_channel_free(ch);
	return true;
}

static bool listen_local(Tunnel *t, int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof a;
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 128) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
		log_error("cannot listen on 127.0.0.1 for the SSH tunnel: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return false;
	}
	t->listen_fd = fd;
	*port = ntohs(a.sin_port);
	return true;
}

static bool tunnel_setup(Tunnel *t, int *port)
{
	if (!connect_bastion(t))
		return false;
	t->session = libssh2_session_init();
	if (!t->session) {
		log_error("cannot start an SSH session (libssh2_session_init failed)");
		return false;
	}
	libssh2_session_set_blocking(t->session, 1);
	libssh2_session_set_timeout(t->session, STARTUP_TIMEOUT_MS);
	LIBSSH2_KNOWNHOSTS *kh = read_known_hosts(t);
	if (!kh)
		return false;
	prefer_known_key_types(t, kh);
	bool ok = false;
	if (libssh2_session_handshake(t->session, t->sock) != 0)
		log_error("SSH handshake with the bastion %s:%d failed: %s (is an SSH server listening there?)", t->ssh->host,
			  t->ssh->port, ssh_message(t->session));
	else
		ok = check_host_key(t, kh);
	libssh2_knownhost_free(kh);
	if (!ok || !authenticate(t) || !probe_target(t) || !listen_local(t, port))
		return false;
	libssh2_keepalive_config(t->session, 0, KEEPALIVE_S);
	libssh2_session_set_timeout(t->session, 0);
	libssh2_session_set_blocking(t->session, 0);
	fcntl(t->sock, F_SETFL, fcntl(t->sock, F_GETFL) | O_NONBLOCK);
	return true;
}

/* ---------------------------------------------------------------- libssh2 call discipline */

/* Is a packet half sent? libssh2 flags OUTBOUND exactly while one is. */
static bool half_sent(const Tunnel *t)
{
	return libssh2_session_block_directions(t->session) & LIBSSH2_SESSION_BLOCK_OUTBOUND;
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
		int fd = accept4(t->listen_fd, (struct sockaddr *)&a, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
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
		set_tcp_options(fd, false);
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
	log_debug("SSH tunnel: connection from port %d: %s", c->sport, ssh_message(t->session));
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
	c->ch = libssh2_channel_direct_tcpip_ex(t->session, t->target, t->target_port, "127.0.0.1", c->sport);
	after_call(t, c, c, CALL_OPEN);
	if (c->ch) {
		c->state = CONN_OPEN;
		return true;
	}
	int rc = libssh2_session_last_errno(t->session);
	if (not_yet(rc))
		return false;
	if (session_lost(rc)) {
		tunnel_lost(t, rc);
		return false;
	}
	log_error("the SSH bastion %s:%d could not connect to PostgreSQL at %s:%d: %s", t->ssh->host, t->ssh->port,
		  t->target, t->target_port, ssh_message(t->session));
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
	LIBSSH2_CHANNEL *ch = libssh2_channel_open_ex(t->session, type, sizeof type - 1, LIBSSH2_CHANNEL_WINDOW_DEFAULT,
						      LIBSSH2_CHANNEL_PACKET_DEFAULT, NULL, 0);
	after_call(t, &t->ping, NULL, CALL_OPEN);
	int rc = ch ? 0 : libssh2_session_last_errno(t->session);
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
	if (!t->lost && (t->pinging || (!more && readable(t->sock)))) {
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
	t->pfds[0] = (struct pollfd){t->listen_fd, POLLIN, 0};
	/* input is always consumed (by a connection or a ping), except while a half-sent
	 * packet waits for room: then only room matters */
	t->pfds[1] = (struct pollfd){t->sock, (short)(POLLRDHUP | (half_sent(t) ? POLLOUT : POLLIN)), 0};
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
	if (half_sent(t) || t->pinging || getsockopt(t->sock, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) != 0 ||
	    ioctl(t->sock, SIOCOUTQ, &queued) != 0 || sndbuf - queued < 4096)
		return 1;
	int next = KEEPALIVE_S;
	int rc = libssh2_keepalive_send(t->session, &next);
	if (rc != 0 && !not_yet(rc))
		tunnel_lost(t, rc);
	return next > 0 ? next : 1;
}

static int tunnel_loop(Tunnel *t)
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
			close(t->listen_fd);
			t->listen_fd = -1;
			deadline = time(NULL) + STOP_GRACE_S;
		}
		if (stopping && (t->nconns == 0 || getppid() != t->parent || time(NULL) >= deadline))
			return TUNNEL_EXIT_STOPPED;
		int n = build_pollfds(t);
		int timeout_s = stopping ? 1 : next_keepalive;
		struct timespec ts = {more ? 0 : timeout_s, 0};
		int r = ppoll(t->pfds, (nfds_t)n, &ts, &unblocked);
		if (r < 0 && errno != EINTR) {
			log_error("SSH tunnel: poll: %s", strerror(errno));
			return TUNNEL_EXIT_FAILED;
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
			return TUNNEL_EXIT_FAILED;
	}
}

/* The tunnel process: set up, report the port (or exit, the error logged), forward. */
static int tunnel_main(Tunnel *t, int ready_fd)
{
	log_set_role("tunnel");
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_IGN); /* Ctrl-C is for the supervisor; its workers may still need us */
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		close(devnull);
	}
	if (libssh2_init(0) != 0) {
		log_error("cannot initialise libssh2");
		return TUNNEL_EXIT_FAILED;
	}
	int port = 0;
	if (!tunnel_setup(t, &port))
		return TUNNEL_EXIT_FAILED;
	ssize_t w = write(ready_fd, &port, sizeof port);
	close(ready_fd);
	if (w != (ssize_t)sizeof port)
		return TUNNEL_EXIT_STOPPED; /* the parent is gone */
	int rc = tunnel_loop(t);
	for (int i = 0; i < t->nconns; i++) {
		if (t->conns[i]->fd >= 0)
			close(t->conns[i]->fd);
		free(t->conns[i]);
	}
	free(t->conns);
	free(t->pfds);
	if (!t->lost)
		libssh2_session_disconnect(t->session, "pgch tunnel stopping");
	libssh2_session_free(t->session);
	libssh2_exit();
	return rc;
}

/* ---------------------------------------------------------------- the parent's side */

bool tunnel_start(const Config *cfg, int *local_port, pid_t *pid)
{
	Tunnel t;
	memset(&t, 0, sizeof t);
	t.cfg = cfg;
	t.ssh = &cfg->source.ssh;
	t.sock = t.listen_fd = -1;
	t.parent = getpid();
	char *target;
	if (!tunnel_target(cfg, &target, &t.target_port))
		return false;
	t.target = target;
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0) {
		log_error("pipe: %s", strerror(errno));
		free(target);
		return false;
	}
	fflush(NULL);
	pid_t child = fork();
	if (child < 0) {
		log_error("fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		free(target);
		return false;
	}
	if (child == 0) {
		close(fds[0]);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != t.parent)
			_exit(TUNNEL_EXIT_STOPPED);
		_exit(tunnel_main(&t, fds[1]));
	}
	close(fds[1]);
	int port = 0;
	ssize_t n;
	do
		n = read(fds[0], &port, sizeof port);
	while (n < 0 && errno == EINTR);
	close(fds[0]);
	if (n == (ssize_t)sizeof port && port > 0) {
		log_info("SSH tunnel up: PostgreSQL at %s:%d through %s@%s:%d (local port %d)", target, t.target_port,
			 t.ssh->user, t.ssh->host, t.ssh->port, port);
		free(target);
		*local_port = port;
		*pid = child;
		return true;
	}
	free(target);
	int status = 0;
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != TUNNEL_EXIT_FAILED) /* otherwise it said why */
		log_error("the SSH tunnel process ended during start-up (%s %d)",
			  WIFSIGNALED(status) ? "signal" : "exit status",
			  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	return false;
}

bool tunnel_alive(pid_t pid)
{
	int status;
	return pid > 0 && waitpid(pid, &status, WNOHANG) == 0;
}

void tunnel_stop(pid_t pid)
{
	int status;
	/* Not our unreaped child any more (exited, reaped by a waitpid(-1)): nothing to stop,
	 * and its pid may belong to someone else now. */
	if (pid <= 0 || waitpid(pid, &status, WNOHANG) != 0)
		return;
	kill(pid, SIGTERM);
#ifdef SYS_pidfd_open
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd >= 0) {
		struct pollfd p = {pfd, POLLIN, 0};
		int n;
		do
			n = poll(&p, 1, 5000);
		while (n < 0 && errno == EINTR);
		close(pfd);
		if (n == 0) {
			log_warn("the SSH tunnel did not stop within 5 s; killing it");
			kill(pid, SIGKILL);
		}
	}
#endif
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}
