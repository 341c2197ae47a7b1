/*
 * tunnel — reach a private PostgreSQL through an SSH bastion (source.ssh), with libssh2.
 *
 * tunnel_start forks one tunnel process before anything connects to PostgreSQL. That
 * process connects to the bastion, checks its host key against source.ssh.known_hosts,
 * logs in with the private key, proves it can reach PostgreSQL from there (one
 * direct-tcpip channel, opened and closed), and listens on 127.0.0.1 on a port the kernel
 * picks. Every connection accepted there becomes a direct-tcpip channel to the source's
 * host:port as seen from the bastion, all of them multiplexed over the one SSH session by
 * a single poll() loop. The parent learns the port (or that start-up failed, already
 * logged) over a pipe, and sets pg_tunnel_port so every pg_connect goes through it.
 *
 * The tunnel process exits 0 on SIGTERM once its connections are closed, at once when its
 * parent dies, and non-zero (after logging why) when the SSH session is lost: the
 * listening port disappears with it, so connections fail loudly rather than hang.
 */
#ifndef PGCH_TUNNEL_H
#define PGCH_TUNNEL_H

#include <stdbool.h>
#include <sys/types.h>

#include "config.h"

/* Start the tunnel for cfg->source.ssh. On success *local_port is where PostgreSQL is
 * reachable and *pid the tunnel process; on failure the reason has been logged. */
bool tunnel_start(const Config *cfg, int *local_port, pid_t *pid);

/* Is the tunnel process still running? False once it has exited (whoever reaped it). */
bool tunnel_alive(pid_t pid);

/* Ask the tunnel to stop and wait for it (killed if it takes more than a few seconds). */
void tunnel_stop(pid_t pid);

#endif
