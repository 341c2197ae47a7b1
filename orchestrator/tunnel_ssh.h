/*
 * tunnel_ssh — the tunnel process's start-up: an SSH session to the bastion whose host
 * key is known, logged in, shown able to reach PostgreSQL, and a local port to forward from.
 *
 * In the tunnel process, with libssh2 in blocking mode and a timeout on each step: TCP
 * connect to source.ssh (keepalive and TCP_USER_TIMEOUT on the socket, so a dead network
 * becomes a socket error), the handshake asking for host key types known_hosts has, the
 * host key checked against source.ssh.known_hosts (mismatch and unknown are refused, with
 * the ssh-keyscan line to run), login with source.ssh.private_key, one direct-tcpip
 * channel to PostgreSQL opened and closed (an unreachable server or a bastion that forbids
 * forwarding is a start-up error, not a failure of every later connection), and a
 * listener on 127.0.0.1 on a port the kernel picks. Each failure is logged once with its fix.
 */
#ifndef PGCH_TUNNEL_SSH_H
#define PGCH_TUNNEL_SSH_H

#include <libssh2.h>
#include <stdbool.h>

#include "config.h"

typedef struct TunnelSsh {
	const SshConfig *ssh;
	const char *target;      /* PostgreSQL host as the bastion sees it */
	int target_port;
	int sock;                /* TCP to the bastion, -1 until connected */
	int listen_fd;           /* the local listener, -1 until listening */
	LIBSSH2_SESSION *session;
} TunnelSsh;

/* Connect, check the host key, log in, probe PostgreSQL, listen; *port: the local port.
 * False (logged) on failure. The session is left in blocking mode. */
bool tunnel_ssh_open(TunnelSsh *t, int *port);

/* libssh2's description of the session's last error. */
const char *tunnel_ssh_message(LIBSSH2_SESSION *session);

#endif
