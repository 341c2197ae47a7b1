#!/usr/bin/env bash
# ch.sh — a throwaway ClickHouse server for tests, demo and bench.
#
#   scripts/ch.sh start DIR     write a minimal config (once) and start on free ports
#   scripts/ch.sh stop DIR      stop it and wait until the process is gone
#
# DIR/env is written with CH_URL (HTTP interface) and CH_PORT for `source DIR/env`.
# Listens on 127.0.0.1 only; the default user has no password; server time zone is UTC.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:?usage: ch.sh start|stop DIR}
dir=${2:?usage: ch.sh start|stop DIR}
server=$(command -v clickhouse-server || command -v clickhouse || true)
[ -n "$server" ] || { echo "ch.sh: no clickhouse-server found; run scripts/deps.sh" >&2; exit 1; }

start() {
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ ! -f "$dir/config.xml" ]; then
    http=$("$here/freeport"); tcp=$("$here/freeport")
    mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas" "$dir/log"
    cat >"$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$dir/log/server.log</log><errorlog>$dir/log/error.log</errorlog><size>50M</size><count>1</count></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$http</http_port>
  <tcp_port>$tcp</tcp_port>
  <path>$dir/data/</path>
  <tmp_path>$dir/tmp/</tmp_path>
  <user_files_path>$dir/user_files/</user_files_path>
  <format_schema_path>$dir/format_schemas/</format_schema_path>
  <users_config>$dir/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>0</uncompressed_cache_size>
  <max_concurrent_queries>200</max_concurrent_queries>
</yandex>
XML
    cat >"$dir/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage><log_queries>1</log_queries></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
XML
  fi
  http=$(sed -n 's:.*<http_port>\([0-9]*\)</http_port>.*:\1:p' "$dir/config.xml")
  "$server" --config-file="$dir/config.xml" --pid-file="$dir/server.pid" >"$dir/log/stdout.log" 2>&1 &
  echo $! >"$dir/server.pid.launch"
  for _ in $(seq 1 300); do
    if curl -fsS "http://127.0.0.1:$http/?query=SELECT%201" >/dev/null 2>&1; then
      echo "export CH_URL=http://127.0.0.1:$http CH_PORT=$http CH_DIR=$dir" >"$dir/env"
      echo "$http"
      return 0
    fi
    kill -0 "$(cat "$dir/server.pid.launch")" 2>/dev/null || break
    sleep 0.1
  done
  echo "ch.sh: ClickHouse did not start; see $dir/log" >&2
  tail -n 20 "$dir/log/error.log" "$dir/log/stdout.log" >&2 2>/dev/null || true
  exit 1
}

stop() {
  local pid
  pid=$(cat "$dir/server.pid.launch" 2>/dev/null || true)
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$dir/server.pid.launch"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) echo "ch.sh: unknown command $cmd" >&2; exit 2 ;;
esac
