/*
 * keygen — key pairs for the SSH bastion; see keygen.h. ssh-keygen runs with its stdin
 * on /dev/null (so it can never be asked whether to overwrite) and its stderr captured
 * for the message when it fails.
 */
#include "keygen.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

extern char **environ;

static bool refuse_existing(const char *path)
{
	struct stat st;
	if (lstat(path, &st) == 0) {
		log_error("%s already exists; pgch keygen never overwrites a key: choose another path, or remove it "
			  "first if it is really unused",
			  path);
		return true;
	}
	return false;
}

/* Run ssh-keygen; true when it exited 0. */
static bool run_ssh_keygen(const char *path)
{
	int err[2];
	if (pipe2(err, O_CLOEXEC) != 0) {
		log_error("pipe: %s", strerror(errno));
		return false;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO);
	char *argv[] = {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pgch", "-f", (char *)path, NULL};
	pid_t pid;
	int rc = posix_spawnp(&pid, "ssh-keygen", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(err[1]);
	if (rc != 0) {
		close(err[0]);
		if (rc == ENOENT)
			log_error("ssh-keygen was not found in PATH: pgch keygen uses OpenSSH's ssh-keygen to create "
				  "keys; install it (Debian: apt-get install openssh-client)");
		else
			log_error("cannot run ssh-keygen: %s", strerror(rc));
		return false;
	}
	Buf out;
	buf_init(&out);
	char chunk[512];
	ssize_t n;
	while ((n = read(err[0], chunk, sizeof chunk)) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && out.len < 4096)
			buf_put(&out, chunk, (size_t)n);
	close(err[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (!ok)
		log_error("ssh-keygen could not write %s (%s %d): %s", path, WIFEXITED(status) ? "exit status" : "signal",
			  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
			  out.len ? out.data : "no message");
	buf_free(&out);
	return ok;
}

bool keygen_write(const char *path)
{
	char *pub = xasprintf("%s.pub", path);
	bool ok = false;
	if (refuse_existing(path) || refuse_existing(pub) || !run_ssh_keygen(path))
		goto out;
	if (chmod(path, 0600) != 0) {
		log_error("cannot make %s private (chmod 600): %s", path, strerror(errno));
		goto out;
	}
	FILE *f = fopen(pub, "r");
	char line[1024] = "";
	if (!f || !fgets(line, sizeof line, f)) {
		log_error("ssh-keygen wrote no public key %s: %s", pub, f ? "empty file" : strerror(errno));
		if (f)
			fclose(f);
		goto out;
	}
	fclose(f);
	printf("Wrote %s (private key, mode 0600) and %s.\n"
	       "Authorize it on the bastion: append this line to ~USER/.ssh/authorized_keys there\n"
	       "(prefix it with restrict,port-forwarding,permitopen=\"DBHOST:5432\" to allow only the tunnel):\n\n"
	       "%s\n"
	       "Then point the pipe at it: source.ssh = { ..., private_key = \"%s\" }\n",
	       path, pub, line, path);
	ok = true;
out:
	free(pub);
	return ok;
}
