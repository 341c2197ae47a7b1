# lib_sshd.sh — a real sshd as the SSH bastion of a test, sourced after lib.sh.
#
# sshd_start: sshd on a free loopback port with its own host key, key login only, TCP
# forwarding allowed, logging at DEBUG1 to $WORK/sshd.log (the forwarded channels show
# there). Sets ssh_port, sshd_pid and user; $WORK/known_hosts holds its host key and
# $WORK/authorized_keys (empty) the keys it accepts. The caller stops it (kill $sshd_pid).
SSHD=/usr/sbin/sshd
[ -x "$SSHD" ] && command -v ssh-keygen >/dev/null && command -v ssh-keyscan >/dev/null ||
	bail "openssh-server and openssh-client are needed (scripts/deps.sh installs them)"

sshd_start() {
	ssh_port=$("$ROOT/scripts/freeport")
	ssh-keygen -q -t ed25519 -N '' -C bastion -f "$WORK/host_key"
	: >"$WORK/authorized_keys"
	cat >"$WORK/sshd_config" <<CONF
Port $ssh_port
ListenAddress 127.0.0.1
HostKey $WORK/host_key
PidFile $WORK/sshd.pid
AuthorizedKeysFile $WORK/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin yes
AllowTcpForwarding yes
LogLevel DEBUG1
CONF
	[ "$(id -u)" = 0 ] && [ ! -d /run/sshd ] && mkdir -p -m 0755 /run/sshd # privilege separation
	"$SSHD" -D -f "$WORK/sshd_config" -E "$WORK/sshd.log" &
	sshd_pid=$!
	for _ in $(seq 50); do
		ssh-keyscan -p "$ssh_port" 127.0.0.1 >"$WORK/known_hosts" 2>/dev/null && [ -s "$WORK/known_hosts" ] && break
		sleep 0.1
	done
	[ -s "$WORK/known_hosts" ] || { cat "$WORK/sshd.log" >&2; bail "sshd did not start on port $ssh_port"; }
	user=$(id -un)
}
