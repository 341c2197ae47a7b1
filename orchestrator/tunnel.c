/*
 * tunnel — the SSH tunnel process; see tunnel.h.
 *
 * This file is the process's frame: the parent's side (where PostgreSQL is as the bastion
 * sees it, fork, a pipe on which the child reports its port or closes it, stop) and the
 * child's main, which runs the two jobs in turn: tunnel_ssh sets up the session and the
 * listener (blocking, one step after another), tunnel_forward runs the forwarding loop
 * (non-blocking, one state machine). The child exits 0 when stopped and 1 after logging
 * why it could not start or why the session was lost.
 */
#include "tunnel.h"

#include <errno.h>
#include <fcntl.h>
#include <libssh2.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "tunnel_forward.h"
#include "tunnel_ssh.h"

enum { TUNNEL_EXIT_STOPPED = 0, TUNNEL_EXIT_FAILED = 1 };

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


/* The tunnel process: set up, report the port (or exit, the error logged), forward. */
static int tunnel_main(TunnelSsh *t, pid_t parent, int ready_fd)
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
	if (!tunnel_ssh_open(t, &port))
		return TUNNEL_EXIT_FAILED;
	ssize_t w = write(ready_fd, &port, sizeof port);
	close(ready_fd);
	if (w != (ssize_t)sizeof port)
		return TUNNEL_EXIT_STOPPED; /* the parent is gone */
	bool lost = false;
	int rc = tunnel_forward(t, parent, &lost) ? TUNNEL_EXIT_STOPPED : TUNNEL_EXIT_FAILED;
	if (!lost)
		libssh2_session_disconnect(t->session, "pgch tunnel stopping");
	libssh2_session_free(t->session);
	libssh2_exit();
	return rc;
}

/* ---------------------------------------------------------------- the parent's side */

bool tunnel_start(const Config *cfg, int *local_port, pid_t *pid)
{
	TunnelSsh t;
	memset(&t, 0, sizeof t);
	t.ssh = &cfg->source.ssh;
	t.sock = t.listen_fd = -1;
	pid_t parent = getpid();
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
		if (getppid() != parent)
			_exit(TUNNEL_EXIT_STOPPED);
		_exit(tunnel_main(&t, parent, fds[1]));
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
