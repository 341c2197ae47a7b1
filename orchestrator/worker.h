/*
 * worker — worker processes of every role (snapshot, stream, catch-up): started one way,
 * and their ends noticed one way.
 *
 * worker_spawn flushes stdio and forks. The child dies with its parent (PR_SET_PDEATHSIG),
 * takes SIGTERM/SIGINT as the request to stop that every role's loop watches (snapshot_stop,
 * stream_stop), closes every descriptor it inherited except the ones it is given (the
 * supervisor's connections among them: a worker outliving a killed supervisor must not keep
 * their walsender, and so the slot, busy), calls itself pgch-ROLE (ps -o comm, top) and ROLE
 * in its log lines, runs the role's function and exits with what it returned: a WorkerExit
 * (exitcode.h), the whole failure protocol between a worker and the supervisor.
 *
 * In the parent, worker_watch turns SIGCHLD into a byte on a pipe (the self-pipe trick), so
 * the supervisor's poll() wakes when a worker ends; it then reaps with waitpid and reads the
 * status with worker_exit_code.
 */
#ifndef PGCH_WORKER_H
#define PGCH_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef int (*WorkerFn)(void *arg);

/* In the parent, once before the first worker; false (logged) if the pipe cannot be made.
 * worker_ended_fd is readable after a worker ended; worker_ended_clear empties it. */
bool worker_watch(void);
/* SIGTERM and SIGINT call handler (which only sets a flag). */
void worker_catch_stop(void (*handler)(int));
int worker_ended_fd(void);
void worker_ended_clear(void);

/* The child's pid, or -1 (logged). keep: descriptors the child keeps (-1 entries ignored). */
pid_t worker_spawn(const char *role, WorkerFn run, void *arg, const int *keep, int nkeep);

/* A waitpid status as a WorkerExit code, or -1 when the process was killed by a signal. */
int worker_exit_code(int status);
/* "failed (exit 1)" or "was killed by signal 9", for a log line. */
void worker_describe_exit(int status, char *out, size_t outlen);

#endif
