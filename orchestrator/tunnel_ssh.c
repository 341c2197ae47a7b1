/*
 * tunnel_ssh — the tunnel process's start-up; see tunnel_ssh.h.
 */
#include "tunnel_ssh.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

#define CONNECT_TIMEOUT_MS 10000 /* TCP connect to the bastion */
#define STARTUP_TIMEOUT_MS 30000 /* each blocking libssh2 step of start-up */
#define USER_TIMEOUT_MS 60000    /* unacknowledged data for this long: the network is gone */

const char *tunnel_ssh_message(LIBSSH2_SESSION *session)
{
	char *msg = NULL;
	libssh2_session_last_error(session, &msg, NULL, 0);
	return msg && *msg ? msg : "unknown error";
}


/* The bastion's socket: no delay for PostgreSQL's round trips; keepalive and a user
 * timeout, so a network that silently died becomes a socket error. */
static void set_tcp_options(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
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

static bool connect_bastion(TunnelSsh *t)
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
			set_tcp_options(fd);
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
static LIBSSH2_KNOWNHOSTS *read_known_hosts(TunnelSsh *t)
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
		log_error("cannot set up host key checking: %s", tunnel_ssh_message(t->session));
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
static void prefer_known_key_types(TunnelSsh *t, LIBSSH2_KNOWNHOSTS *kh)
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
		log_debug("host key preference %s not accepted: %s", b.data, tunnel_ssh_message(t->session));
	buf_free(&b);
}

static bool check_host_key(TunnelSsh *t, LIBSSH2_KNOWNHOSTS *kh)
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
			  ssh->known_hosts, tunnel_ssh_message(t->session));
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

static bool authenticate(TunnelSsh *t)
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
			  tunnel_ssh_message(t->session));
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
			  ssh->private_key, tunnel_ssh_message(t->session),
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
			  ssh->private_key, tunnel_ssh_message(t->session));
	return false;
}

/* Open and close one channel so an unreachable PostgreSQL (or a bastion that forbids
 * forwarding) is a start-up error rather than a failure of every later connection. */
static bool probe_target(TunnelSsh *t)
{
	LIBSSH2_CHANNEL *ch = libssh2_channel_direct_tcpip_ex(t->session, t->target, t->target_port, "127.0.0.1", 0);
	if (!ch) {
		log_error("the SSH bastion %s:%d cannot open a connection to PostgreSQL at %s:%d (source.host and "
			  "source.port, as seen from the bastion): %s. Check that PostgreSQL listens there and that "
			  "the bastion allows TCP forwarding (AllowTcpForwarding, PermitOpen)",
			  t->ssh->host, t->ssh->port, t->target, t->target_port, tunnel_ssh_message(t->session));
		return false;
	}
	libssh2_channel_free(ch);
	return true;
}

static bool listen_local(TunnelSsh *t, int *port)
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

bool tunnel_ssh_open(TunnelSsh *t, int *port)
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
			  t->ssh->port, tunnel_ssh_message(t->session));
	else
		ok = check_host_key(t, kh);
	libssh2_knownhost_free(kh);
	return ok && authenticate(t) && probe_target(t) && listen_local(t, port);
}

