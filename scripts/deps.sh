#!/usr/bin/env bash
# deps.sh — install the Debian packages pgch needs to build, test and demo, if missing.
#
# Checks each package with dpkg-query and installs only what is absent, so a second run
# is a no-op that takes well under a second. Needs root (or sudo) only when installing.
set -euo pipefail

packages=(
  # build
  gcc make pkg-config libc6-dev
  libpq-dev liblua5.4-dev libcurl4-openssl-dev libssh2-1-dev libzstd-dev
  # servers and clients used by tests, demo and bench
  postgresql postgresql-contrib postgresql-client clickhouse-server clickhouse-client
  curl perl procps iproute2 zstd
  # integration tests: an SSH bastion and a connection pooler to refuse
  openssh-server openssh-client pgbouncer
  # integration tests on a local ClickHouse cluster: its coordination service (a JRE app)
  zookeeper
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
# Package services must not start on install: tests start their own servers.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
  "${sudo[@]}" chmod +x /usr/sbin/policy-rc.d
  trap '"${sudo[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
fi
if ! "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >&2; then
  "${sudo[@]}" apt-get update >&2
  "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi
