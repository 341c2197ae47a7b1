/*
 * tunnel_forward — the tunnel process's forwarding loop, libssh2 non-blocking.
 *
 * Every connection accepted on the local port becomes a direct-tcpip channel to
 * PostgreSQL over the one SSH session that tunnel_ssh opened, all of them multiplexed by a
 * single poll() loop. How the loop keeps libssh2's one-packet-at-a-time rule, reads what
 * the bastion sends when no connection does, and notices a dead session is in
 * tunnel_forward.c.
 */
#ifndef PGCH_TUNNEL_FORWARD_H
#define PGCH_TUNNEL_FORWARD_H

#include <stdbool.h>
#include <sys/types.h>

#include "tunnel_ssh.h"

/*
 * Forward until SIGTERM (then open connections may finish, for a while), until `parent`
 * is gone, or until the SSH session is lost. True when it stopped as asked; false (logged)
 * when the session was lost (*lost: nothing more may be sent on it) or poll() failed.
 */
bool tunnel_forward(TunnelSsh *s, pid_t parent, bool *lost);

#endif
