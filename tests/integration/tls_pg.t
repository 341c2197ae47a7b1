#!/usr/bin/env bash
# TLS to PostgreSQL: a server started with ssl = on and a certificate from a test CA
# (openssl); a snapshot and a stream with sslmode = "verify-full" and sslrootcert, every pgch
# connection encrypted (pg_stat_ssl, replication included); a wrong CA and a wrong host name
# are refused with libpq's reason. The same through an SSH bastion (a real sshd): the
# certificate is verified against source.host while the bytes go through the tunnel. The
# server is this test's own.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cdc.sh"
. "$(dirname "$0")/lib_sshd.sh"

PGT=$WORK/pgtls
at_exit '"$ROOT/scripts/pg.sh" stop "$PGT" >/dev/null 2>&1'

# ---------------------------------------------------------------- a CA, a server certificate, another CA
certs=$WORK/certs
mkdir -p "$certs" "$PGT"
(
	cd "$certs"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj "/CN=pgch test CA" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
	printf 'subjectAltName = DNS:localhost\n' >san.ext
	openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile san.ext 2>/dev/null
	openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.crt -days 2 -subj "/CN=another CA" 2>/dev/null
) || bail "openssl could not make the test certificates"
cp "$certs/server.crt" "$certs/server.key" "$PGT/"
chown postgres: "$PGT" "$PGT/server.crt" "$PGT/server.key"
chmod 600 "$PGT/server.key"
chmod 755 "$WORK" "$certs"
chmod 644 "$certs"/*.crt
port=$("$ROOT/scripts/pg.sh" start "$PGT" "ssl = on" "ssl_cert_file = '$PGT/server.crt'" "ssl_key_file = '$PGT/server.key'") ||
	bail "cannot start PostgreSQL with ssl = on"
tpsql() { psql -X -q -At -h 127.0.0.1 -p "$port" -U postgres "$@"; }
tpsql -d postgres -c "CREATE DATABASE tls"
tpsql -d tls -c "CREATE TABLE orders (id int PRIMARY KEY, note text)" -c "INSERT INTO orders SELECT g, 'n' || g FROM generate_series(1, 3000) g"
ch "DROP DATABASE IF EXISTS $CHDB" >/dev/null

config() { # config FILE HOST ROOTCERT
	cat >"$1" <<LUA
source = { host = "$2", port = $port, dbname = "tls", user = "postgres", sslmode = "verify-full", sslrootcert = "$3" }
destination = { url = "$CH_URL", database = "$CHDB" }
pipe = { name = "$T_NAME", sync_interval = 1 }
tables = { "public.orders" }
LUA
}

# ---------------------------------------------------------------- verified and encrypted
config "$WORK/ok.lua" localhost "$certs/ca.crt"
"$PGCH" snapshot --keep-slot "$WORK/ok.lua" >"$WORK/snap.log" 2>&1
is "$?" 0 "snapshot over verify-full TLS: exit 0"
is "$(ch "SELECT count() FROM $CHDB.orders FINAL WHERE _pgch_is_deleted = 0")" 3000 "every row copied"

# stream_over_tls CONFIG CHDB NOTE N WHAT: pgch run streams an update of N rows, and every
# pgch connection (the walsender's included) is encrypted
stream_over_tls() {
	RUN_LOG=$WORK/run-$3.log
	run_start "$1"
	wait_until 60 "the stream to start ($5)" run_has 'streaming from slot' || show_log
	tpsql -d tls -c "UPDATE orders SET note = '$3' WHERE id <= $4"
	poll_until 30 eval "[ \"\$(ch \"SELECT count() FROM $2.orders FINAL WHERE note = '$3'\")\" = $4 ]"
	ok $? "changes streamed over TLS$5"
	local enc
	enc=$(tpsql -d postgres -c "SELECT string_agg(DISTINCT a.backend_type || '=' || s.ssl, ',' ORDER BY a.backend_type || '=' || s.ssl)
	      FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name LIKE 'pgch%'")
	like "$enc" 'walsender=true' "the replication connection is encrypted$5"
	ok "$(! grep -q '=false' <<<"$enc"; echo $?)" "no pgch connection is unencrypted$5 ($enc)"
	run_stop
}
stream_over_tls "$WORK/ok.lua" "$CHDB" over_tls 100 ""

out=$("$PGCH" check "$WORK/ok.lua" 2>&1)
like "$out" 'OK    PostgreSQL connection encrypted, server certificate and host name verified' "pgch check: encrypted and verified"
sed 's/sslmode = "verify-full"/sslmode = "require"/' "$WORK/ok.lua" >"$WORK/require.lua"
like "$("$PGCH" check "$WORK/require.lua" 2>&1)" 'OK    PostgreSQL connection encrypted but not verified, to a local host \(localhost\)' \
	"pgch check: sslmode = require says the server is not verified"

# ---------------------------------------------------------------- refused
config "$WORK/wrongca.lua" localhost "$certs/other.crt"
out=$("$PGCH" plan "$WORK/wrongca.lua" 2>&1)
ok $(($? == 0)) "a server certificate from another CA: refused"
like "$out" 'certificate verify failed' "with libpq's reason"
config "$WORK/wronghost.lua" 127.0.0.1 "$certs/ca.crt"
out=$("$PGCH" plan "$WORK/wronghost.lua" 2>&1)
ok $(($? == 0)) "a certificate for another host name: refused"
like "$out" 'does not match host name "127.0.0.1"' "with libpq's reason"

# ---------------------------------------------------------------- verify-full through an SSH bastion
sshd_start
at_exit 'kill "$sshd_pid" 2>/dev/null; wait "$sshd_pid" 2>/dev/null'
"$PGCH" keygen "$WORK/id_pgch" >/dev/null 2>&1 || bail "pgch keygen failed"
echo "restrict,port-forwarding,permitopen=\"localhost:$port\" $(cat "$WORK/id_pgch.pub")" >>"$WORK/authorized_keys"
tunnel() { # tunnel FROM TO: FROM's config through the bastion, with its own pipe and database
	sed -e "s/name = \"$T_NAME\"/name = \"${T_NAME}_ssh\"/" -e "s/database = \"$CHDB\"/database = \"${CHDB}_ssh\"/" "$1" >"$2"
	echo "source.ssh = { host = \"127.0.0.1\", port = $ssh_port, user = \"$user\", private_key = \"$WORK/id_pgch\", known_hosts = \"$WORK/known_hosts\" }" >>"$2"
}
ch "DROP DATABASE IF EXISTS ${CHDB}_ssh" >/dev/null
at_exit 'ch "DROP DATABASE IF EXISTS ${CHDB}_ssh" >/dev/null'
tunnel "$WORK/ok.lua" "$WORK/ssh.lua"
out=$("$PGCH" snapshot --keep-slot "$WORK/ssh.lua" 2>&1)
is "$?" 0 "snapshot over verify-full TLS through the SSH tunnel: exit 0"
like "$out" "SSH tunnel up: PostgreSQL at localhost:$port through $user@127.0.0.1:$ssh_port" "... through the tunnel"
is "$(ch "SELECT count(), sum(id) FROM ${CHDB}_ssh.orders FINAL WHERE _pgch_is_deleted = 0")" \
	"$(tpsql -d tls -F $'\t' -c "SELECT count(*), sum(id) FROM orders")" "every row copied through the tunnel"
stream_over_tls "$WORK/ssh.lua" "${CHDB}_ssh" tunnelled 50 " through the tunnel"
n=$(grep -c "server_request_direct_tcpip: originator 127.0.0.1 port [0-9]*, target localhost port $port" "$WORK/sshd.log")
ok $((n == 0)) "sshd forwarded pgch's connections ($n channels, none direct)"
tunnel "$WORK/wrongca.lua" "$WORK/ssh-wrongca.lua"
out=$("$PGCH" plan "$WORK/ssh-wrongca.lua" 2>&1)
ok $(($? == 0)) "through the tunnel, a server certificate from another CA: refused"
like "$out" 'certificate verify failed' "with libpq's reason"

tpsql -d postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active" >/dev/null
done_testing
