/*
 * keygen — `pgch keygen PATH`: an ed25519 key pair for logging in to the SSH bastion.
 *
 * libssh2 reads keys but cannot make them, so OpenSSH's ssh-keygen writes PATH (the
 * private key, OpenSSH format, no passphrase, mode 0600) and PATH.pub. Existing files
 * are never overwritten. The public key is printed with where it has to go.
 */
#ifndef PGCH_KEYGEN_H
#define PGCH_KEYGEN_H

#include <stdbool.h>

/* Write PATH and PATH.pub; false (the reason logged) if either exists or ssh-keygen fails. */
bool keygen_write(const char *path);

#endif
