#!/usr/bin/env bash
# zk.sh — a throwaway standalone ZooKeeper (Debian's zookeeper package) for the cluster tests.
#
#   scripts/zk.sh start DIR     write DIR/zoo.cfg (once: the port stays across restarts), start,
#                               and wait until a client session is established and reads "/"
#   scripts/zk.sh stop DIR      stop it and wait until the process is gone
#   scripts/zk.sh check DIR     open a real session and list the children of "/" (exit 1 if not)
#
# DIR/env is written with ZK_PORT and ZK_DIR for `source DIR/env`. Listens on 127.0.0.1 only,
# no admin HTTP server, data in DIR/data without fsync (throwaway), log in DIR/log/zk.log,
# a 256 MB heap and the serial collector (the test machines have 2 cores).
#
# "Ready" is a session, not a four-letter word: `ruok` answers imok before the server serves
# requests, and ClickHouse 18.16 started then can crash (../shared/notes/clickhouse-18.16-cluster.md).
# The check speaks ZooKeeper's protocol itself (ConnectRequest, getChildren "/", closeSession)
# rather than start zkCli.sh, a JVM that takes seconds to start on a loaded 2-core machine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:?usage: zk.sh start|stop|check DIR}
dir=${2:?usage: zk.sh start|stop|check DIR}
jar=/usr/share/java/zookeeper.jar
java=$(command -v java || true)

port_of() { sed -n 's/^clientPort=\([0-9]*\)$/\1/p' "$dir/zoo.cfg"; }

# check PORT: exit 0 and print the children of "/" once a session works.
check_port() {
	perl -e '
use strict; use IO::Socket::INET;
my $port = shift;
$SIG{ALRM} = sub { exit 1 }; alarm 1;  # a server still starting may take the request and never answer
my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port, Proto => "tcp") or exit 1;
binmode $s;
sub frame { my $b = shift; print $s pack("N", length $b) . $b; }
sub reply {
	my ($len, $b) = ("", "");
	read($s, $len, 4) == 4 or exit 1;
	$len = unpack "N", $len;
	read($s, $b, $len) == $len or exit 1;
	return $b;
}
# ConnectRequest: protocolVersion, lastZxidSeen, timeOut, sessionId, passwd (buffer), readOnly
frame(pack("l> q> l> q> l> a16 C", 0, 0, 4000, 0, 16, "\0" x 16, 0));
my ($proto, $timeout, $session) = unpack "l> l> q>", reply();
exit 1 unless $timeout > 0 && $session != 0;
# getChildren("/", watch = false): RequestHeader(xid, type 8), path, watch
frame(pack("l> l> l>/a C", 1, 8, "/", 0));
my $r = reply();
my ($xid, $zxid, $err, $n) = unpack "l> q> l> l>", $r;
exit 1 unless $xid == 1 && $err == 0;
my @names = unpack "x20 (l>/a)$n", $r;
frame(pack("l> l>", 2, -11));  # closeSession, and its answer, so that the server closes first
reply();
print join(" ", sort @names), "\n";
' "$1"
}

start() {
	[ -n "$java" ] && [ -f "$jar" ] || { echo "zk.sh: no java or $jar; run scripts/deps.sh" >&2; exit 1; }
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if [ ! -f "$dir/zoo.cfg" ]; then
		mkdir -p "$dir/data" "$dir/log"
		cat >"$dir/zoo.cfg" <<CFG
tickTime=2000
dataDir=$dir/data
clientPort=$("$here/freeport")
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
forceSync=no
4lw.commands.whitelist=srvr,mntr,ruok
CFG
	fi
	local port pid t0=$SECONDS
	port=$(port_of)
	# slf4j-simple (libslf4j-java, a dependency of libzookeeper-java) logs to stderr: the log file
	"$java" -Xmx256m -Xms32m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
		-Dorg.slf4j.simpleLogger.defaultLogLevel=info -Dorg.slf4j.simpleLogger.showDateTime=true \
		-Dzookeeper.jmx.log4j.disable=true \
		-cp "$jar:/usr/share/java/slf4j-simple.jar" \
		org.apache.zookeeper.server.ZooKeeperServerMain "$dir/zoo.cfg" >>"$dir/log/zk.log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$dir/zk.pid"
	while [ "$((SECONDS - t0))" -lt 60 ]; do
		if check_port "$port" >/dev/null 2>&1; then
			echo "export ZK_PORT=$port ZK_DIR=$dir" >"$dir/env"
			echo "$port"
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "zk.sh: ZooKeeper did not start within $((SECONDS - t0)) s; see $dir/log/zk.log" >&2
	tail -n 20 "$dir/log/zk.log" >&2 2>/dev/null || true
	kill -9 "$pid" 2>/dev/null || true
	exit 1
}

stop() {
	local pid
	pid=$(cat "$dir/zk.pid" 2>/dev/null || true)
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null || true
	rm -f "$dir/zk.pid"
}

case "$cmd" in
start) start ;;
stop) stop ;;
check) check_port "$(port_of)" ;;
*) echo "zk.sh: unknown command $cmd" >&2; exit 2 ;;
esac
