#!/usr/bin/env bash
# pgch through an SSH bastion: a real sshd on a loopback port (its own host key, key login
# only), a key pair from pgch keygen, and pgch snapshot with source.ssh. Proves the
# connections go through sshd (the PostgreSQL client socket belongs to an sshd process),
# the data arrives, and each failure — unknown or changed host key, unauthorized key,
# wrong passphrase, bastion down, session dropped mid-run — is one clear error, non-zero.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_sshd.sh"

fresh_dbs
pg <<'SQL'
CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, amount numeric(12,2), payload text);
INSERT INTO items SELECT g, 'item ' || g, g * 1.25, repeat(md5(g::text), 8) FROM generate_series(1, 30000) g;
ANALYZE items;
SQL

# ---------------------------------------------------------------- the bastion
sshd_start
trap 'kill "$sshd_pid" 2>/dev/null; wait "$sshd_pid" 2>/dev/null; rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------- pgch keygen
out=$("$PGCH" keygen "$WORK/id_pgch" 2>&1)
ok $? "pgch keygen writes a key pair"
is "$(stat -c %a "$WORK/id_pgch")" 600 "the private key is mode 0600"
like "$(head -1 "$WORK/id_pgch")" '^-----BEGIN OPENSSH PRIVATE KEY-----$' "in OpenSSH format"
like "$(cat "$WORK/id_pgch.pub")" '^ssh-ed25519 [A-Za-z0-9+/=]+ pgch$' "the public key is ed25519"
like "$out" 'authorized_keys' "keygen says where the public key goes"
before=$(md5sum <"$WORK/id_pgch")
out=$("$PGCH" keygen "$WORK/id_pgch" 2>&1)
st=$?
ok $((st == 0)) "keygen refuses to overwrite an existing key (exit $st)"
like "$out" 'already exists' "... and says so"
is "$(md5sum <"$WORK/id_pgch")" "$before" "... and the key is unchanged"
# authorized as README.md recommends: forwarding to the database only
echo "restrict,port-forwarding,permitopen=\"127.0.0.1:$PGPORT\" $(cat "$WORK/id_pgch.pub")" >>"$WORK/authorized_keys"

# ssh_config FILE [ssh-table fields]: this test's source, reached through the bastion
ssh_config() {
	local f=$1
	shift
	write_config "$f" \
		"source.host = \"127.0.0.1\"" \
		"source.ssh = { host = \"127.0.0.1\", port = $ssh_port, user = \"$user\", $* }" \
		"$(cat)"
}

# ---------------------------------------------------------------- the snapshot through the tunnel
ssh_config "$WORK/t.lua" "private_key = \"$WORK/id_pgch\", known_hosts = \"$WORK/known_hosts\"" <<'LUA'
tables = { "public.items" }
pipe = { snapshot = { workers = 4, rows_per_partition = 3000 } }
LUA

# Hold a lock on the table so pgch waits with its connection open, and look at that
# connection from PostgreSQL's side: its client socket must belong to our sshd.
hold_lock() {
	pg -c "BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120)" >/dev/null 2>&1 &
	for _ in $(seq 100); do
		[ "$(pg -c "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'items' AND l.mode = 'AccessExclusiveLock' AND l.granted")" = 1 ] && return
		sleep 0.1
	done
	bail "could not lock the table"
}
release_lock() {
	pg -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$DB' AND query LIKE 'BEGIN; LOCK TABLE items%' AND pid <> pg_backend_pid()" >/dev/null
}
waiting_pgch_port() { # the client port of a pgch connection blocked on the lock
	local port=
	for _ in $(seq 100); do
		port=$(pg -c "SELECT client_port FROM pg_stat_activity WHERE datname = '$DB' AND application_name LIKE 'pgch%' AND wait_event_type = 'Lock' LIMIT 1")
		[ -n "$port" ] && break
		sleep 0.1
	done
	echo "$port"
}
sshd_descendant() { # sshd_descendant PID: is PID our sshd or below it?
	local p=$1
	for _ in 1 2 3 4 5; do
		[ "$p" = "$sshd_pid" ] && return 0
		p=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null) || return 1
		[ -n "$p" ] && [ "$p" != 0 ] || return 1
	done
	return 1
}
socket_owner() { # socket_owner PORT: the pid owning the client side of PORT -> PGPORT
	ss -Htnp state established "( sport = :$1 and dport = :$PGPORT )" | sed -n 's/.*users:(("\([^"]*\)",pid=\([0-9]*\).*/\1 \2/p' | head -1
}

hold_lock
"$PGCH" snapshot "$WORK/t.lua" >"$WORK/snap.out" 2>&1 &
pgch_pid=$!
cport=$(waiting_pgch_port)
owner=$(socket_owner "$cport")
like "$owner" '^sshd [0-9]+$' "pgch's PostgreSQL connection (client port $cport) is sshd's socket"
sshd_descendant "${owner#* }"
ok $? "... a process of the test's sshd"
release_lock
wait "$pgch_pid"
st=$?
out=$(cat "$WORK/snap.out")
ok $st "pgch snapshot through the SSH tunnel succeeds"
[ "$st" = 0 ] || diag "$out"
like "$out" "SSH tunnel up: PostgreSQL at 127.0.0.1:$PGPORT through $user@127.0.0.1:$ssh_port" "the log says the tunnel is up"

is "$(ch "SELECT count(), sum(id), sum(amount) FROM $CHDB.items FINAL WHERE _pgch_is_deleted = 0")" \
	"$(pg_tsv "SELECT count(*), sum(id), sum(amount) FROM items")" "every row arrived (count, sum of ids and amounts)"
same_rows "SELECT id, name, amount, md5(payload) FROM items WHERE id % 2999 = 1 ORDER BY id" \
	"SELECT id, name, amount, lower(hex(MD5(payload))) FROM $CHDB.items FINAL WHERE _pgch_is_deleted = 0 AND id % 2999 = 1 ORDER BY id" \
	"a sample of rows is identical"
n=$(grep -c "server_request_direct_tcpip: originator 127.0.0.1 port [0-9]*, target 127.0.0.1 port $PGPORT" "$WORK/sshd.log")
ok $((n < 6)) "sshd forwarded every connection to PostgreSQL ($n channels: probe, session, slot, workers)"

# ---------------------------------------------------------------- other keys and known_hosts forms
ssh-keygen -q -t ed25519 -N 'open sesame' -C enc -f "$WORK/id_enc"
ssh-keygen -q -t rsa -b 2048 -N '' -C rsa -f "$WORK/id_rsa"
cat "$WORK/id_enc.pub" "$WORK/id_rsa.pub" >>"$WORK/authorized_keys"
ssh-keyscan -H -p "$ssh_port" 127.0.0.1 >"$WORK/hashed_known_hosts" 2>/dev/null
ssh_config "$WORK/enc.lua" "private_key = \"$WORK/id_enc\", passphrase = \"open sesame\", known_hosts = \"$WORK/hashed_known_hosts\"" <<<'tables = { "public.items" }'
out=$("$PGCH" plan "$WORK/enc.lua" 2>&1)
st=$?
ok $st "an encrypted key with its passphrase logs in; hashed known_hosts entries are checked"
[ "$st" = 0 ] || diag "$out"
# libssh2 before 1.11 signs RSA logins with SHA-1, which OpenSSH 8.8+ refuses: then pgch must say so
ssh_config "$WORK/rsa.lua" "private_key = \"$WORK/id_rsa\", known_hosts = \"$WORK/known_hosts\"" <<<'tables = { "public.items" }'
out=$("$PGCH" plan "$WORK/rsa.lua" 2>&1)
st=$?
if [ "$st" = 0 ]; then ok 0 "an RSA key logs in"; else
	like "$out" "refused the RSA key .*id_rsa.*signs RSA logins with SHA-1.*pgch keygen" "an RSA key refused for its SHA-1 signature: the message says why"
fi

# ---------------------------------------------------------------- failures: one clear line, non-zero
fails() { # fails CONFIG REGEX DESCRIPTION
	local out st
	out=$("$PGCH" plan "$1" 2>&1)
	st=$?
	ok $((st == 0)) "$3: exit $st"
	like "$out" "$2" "$3: the message says why and what to do"
	is "$(printf '%s\n' "$out" | wc -l)" 1 "$3: one line"
}

: >"$WORK/empty_known_hosts"
ssh_config "$WORK/unknown.lua" "private_key = \"$WORK/id_pgch\", known_hosts = \"$WORK/empty_known_hosts\"" <<<'tables = { "public.items" }'
fails "$WORK/unknown.lua" "host key of the bastion 127.0.0.1:$ssh_port \\(ssh-ed25519 SHA256:[A-Za-z0-9+/]{43}\\) is not in .*empty_known_hosts.*ssh-keyscan -p $ssh_port 127.0.0.1 >> " \
	"unknown host key"

ssh-keygen -q -t ed25519 -N '' -f "$WORK/other_host_key"
echo "[127.0.0.1]:$ssh_port $(cut -d' ' -f1,2 "$WORK/other_host_key.pub")" >"$WORK/changed_known_hosts"
ssh_config "$WORK/changed.lua" "private_key = \"$WORK/id_pgch\", known_hosts = \"$WORK/changed_known_hosts\"" <<<'tables = { "public.items" }'
fails "$WORK/changed.lua" "does NOT match the one recorded in .*changed_known_hosts.*ssh-keygen -R" "changed host key"

ssh_config "$WORK/nokh.lua" "private_key = \"$WORK/id_pgch\", known_hosts = \"$WORK/missing_known_hosts\"" <<<'tables = { "public.items" }'
fails "$WORK/nokh.lua" "cannot read source.ssh.known_hosts .*missing_known_hosts: No such file.*ssh-keyscan" "missing known_hosts file"

"$PGCH" keygen "$WORK/id_stranger" >/dev/null 2>&1
ssh_config "$WORK/stranger.lua" "private_key = \"$WORK/id_stranger\", known_hosts = \"$WORK/known_hosts\"" <<<'tables = { "public.items" }'
fails "$WORK/stranger.lua" "refused the key .*id_stranger for user $user: add its public key .*authorized_keys" "unauthorized key"

ssh_config "$WORK/badpass.lua" "private_key = \"$WORK/id_enc\", passphrase = \"wrong\", known_hosts = \"$WORK/known_hosts\"" <<<'tables = { "public.items" }'
fails "$WORK/badpass.lua" "cannot load source.ssh.private_key .*id_enc.*passphrase" "wrong passphrase"

closed_port=$("$ROOT/scripts/freeport")
write_config "$WORK/down.lua" "source.ssh = { host = \"127.0.0.1\", port = $closed_port, user = \"$user\", private_key = \"$WORK/id_pgch\", known_hosts = \"$WORK/known_hosts\" }" 'tables = { "public.items" }'
fails "$WORK/down.lua" "cannot connect to the SSH bastion 127.0.0.1:$closed_port \\(source.ssh\\): Connection refused" "bastion port closed"

write_config "$WORK/nopg.lua" "source.port = $closed_port" \
	"source.ssh = { host = \"127.0.0.1\", port = $ssh_port, user = \"$user\", private_key = \"$WORK/id_enc\", passphrase = \"open sesame\", known_hosts = \"$WORK/known_hosts\" }" \
	'tables = { "public.items" }'
fails "$WORK/nopg.lua" "cannot open a connection to PostgreSQL at 127.0.0.1:$closed_port .*connect failed" "PostgreSQL unreachable from the bastion"
write_config "$WORK/notpermitted.lua" "source.port = $closed_port" \
	"source.ssh = { host = \"127.0.0.1\", port = $ssh_port, user = \"$user\", private_key = \"$WORK/id_pgch\", known_hosts = \"$WORK/known_hosts\" }" \
	'tables = { "public.items" }'
fails "$WORK/notpermitted.lua" "cannot open a connection to PostgreSQL at 127.0.0.1:$closed_port .*administratively prohibited.*PermitOpen" "forwarding there not permitted by the bastion"

# ---------------------------------------------------------------- the session drops mid-run
ssh_config "$WORK/drop.lua" "private_key = \"$WORK/id_pgch\", known_hosts = \"$WORK/known_hosts\"" <<'LUA'
tables = { { "public.items", target = "items_drop" } }
pipe = { name = "drop", max_retries = 0 }
LUA
hold_lock
"$PGCH" snapshot "$WORK/drop.lua" >"$WORK/drop.out" 2>&1 &
pgch_pid=$!
cport=$(waiting_pgch_port)
owner=$(socket_owner "$cport")
[ -n "$owner" ] && sshd_descendant "${owner#* }" && kill "${owner#* }" # the bastion's side of the session
wait "$pgch_pid"
st=$?
release_lock
out=$(cat "$WORK/drop.out")
ok $((st == 0)) "a dropped SSH session fails the run (exit $st)"
like "$out" "SSH session to the bastion 127.0.0.1:$ssh_port was lost" "... and the log says the session was lost"

done_testing
