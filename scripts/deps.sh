#!/usr/bin/env bash
# deps.sh — install the Debian packages pgch needs to build, test and demo, if missing.
#
# Checks each package with dpkg-query and installs only what is absent, then generates the
# de_DE.UTF-8 locale if it is missing (errors_locale.t runs PostgreSQL with German
# messages), so a second run is a no-op that takes well under a second. Needs root (or
# sudo) only when installing or generating.
set -euo pipefail

packages=(
  # build
  gcc make pkg-config libc6-dev
  libpq-dev liblua5.4-dev libcurl4-openssl-dev libssh2-1-dev libzstd-dev libmicrohttpd-dev
  # servers and clients used by tests, demo and bench
  postgresql postgresql-contrib postgresql-client clickhouse-server clickhouse-client
  curl perl procps iproute2 zstd
  # integration tests: an SSH bastion and a connection pooler to refuse
  openssh-server openssh-client pgbouncer
  # integration tests: PostgreSQL's messages in another language (de_DE.UTF-8)
  locales
  # integration tests on a local ClickHouse cluster: its coordination service (a JRE app)
  zookeeper
  # integration tests of the metrics endpoint: promtool and a Prometheus server that scrapes it
  prometheus
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)

# Generate de_DE.UTF-8 (PostgreSQL's German messages need it) unless locale -a lists it.
ensure_locale() {
  locale -a 2>/dev/null | grep -qix 'de_DE\.utf-\?8' && return 0
  echo "deps: generating the de_DE.UTF-8 locale" >&2
  "${sudo[@]}" sed -i 's/^# *de_DE.UTF-8 UTF-8/de_DE.UTF-8 UTF-8/' /etc/locale.gen
  grep -q '^de_DE.UTF-8 UTF-8' /etc/locale.gen || echo 'de_DE.UTF-8 UTF-8' | "${sudo[@]}" tee -a /etc/locale.gen >/dev/null
  "${sudo[@]}" locale-gen >&2
}

if [ ${#missing[@]} -eq 0 ]; then
  ensure_locale
  exit 0
fi

echo "deps: installing ${missing[*]}" >&2
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
ensure_locale
