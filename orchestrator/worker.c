/*
 * worker — the fork template for every worker role, and noticing their ends; see worker.h.
 */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exitcode.h"
#include "log.h"
#include "progress.h"
#include "snapshot.h"
#include "stream.h"

static int ended_rd = -1, ended_wr = -1;

static void on_chld(int sig)
{
	(void)sig;
	int e = errno;
	if (ended_wr >= 0) {
		ssize_t w = write(ended_wr, "c", 1);
		(void)w;
	}
	errno = e;
}

bool worker_watch(void)
{
	if (ended_rd >= 0)
		return true;
	int fds[2];
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
		log_error("pipe: %s", strerror(errno));
		return false;
	}
	ended_rd = fds[0];
	ended_wr = fds[1];
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_chld;
	sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);
	return true;
}

int worker_ended_fd(void)
{
	return ended_rd;
}

void worker_ended_clear(void)
{
	char junk[64];
	while (read(ended_rd, junk, sizeof junk) > 0)
		;
}

void worker_catch_stop(void (*handler)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = handler;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

static void on_stop(int sig)
{
	(void)sig;
	snapshot_stop = 1;
	stream_stop = 1;
}

static bool kept(int fd, const int *keep, int nkeep)
{
	for (int i = 0; i < nkeep; i++)
		if (keep[i] == fd)
			return true;
	return false;
}

/* In the freshly forked child: die with the parent, own signal handlers, own role. */
static void child_setup(const char *role, const int *keep, int nkeep)
{
	pid_t parent = getppid();
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent) /* the parent died before the line above */
		_exit(WORKER_STOPPED);
	worker_catch_stop(on_stop);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGHUP, SIG_IGN); /* the supervisor's: it re-reads the config */
	ended_rd = ended_wr = -1; /* closed below: they are the parent's */
	for (int fd = 3; fd < 1024; fd++)
		if (!kept(fd, keep, nkeep))
			close(fd);
	log_set_role(role);
	char name[16];
	snprintf(name, sizeof name, "pgch-%s", role);
	prctl(PR_SET_NAME, name);
	progress_display_init(false);
}

pid_t worker_spawn(const char *role, WorkerFn run, void *arg, const int *keep, int nkeep)
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		log_error("cannot start a %s worker: fork: %s", role, strerror(errno));
		return -1;
	}
	if (pid > 0)
		return pid;
	child_setup(role, keep, nkeep);
	int rc = run(arg);
	fflush(NULL);
	_exit(rc);
}

int worker_exit_code(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void worker_describe_exit(int status, char *out, size_t outlen)
{
	if (WIFSIGNALED(status))
		snprintf(out, outlen, "was killed by signal %d", WTERMSIG(status));
	else
		snprintf(out, outlen, "failed (exit %d)", worker_exit_code(status));
}
