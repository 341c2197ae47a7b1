#!/usr/bin/env bash
# TLS to ClickHouse: this test's own ClickHouse with an https_port and a certificate from a
# test CA (openssl). destination.tls.ca_file verifies it and a snapshot runs over https;
# an unknown CA, a wrong host name, an expired certificate and a missing client certificate
# (when the server asks for one) each fail with the reason and the fix; with cert_file and
# key_file the client certificate is accepted. Config mistakes are caught before connecting.
. "$(dirname "$0")/lib.sh"

CHT=$WORK/chtls
certs=$WORK/certs
trap '"$ROOT/scripts/ch.sh" stop "$CHT" >/dev/null 2>&1; rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------- certificates
mkdir -p "$certs/ca/newcerts"
(
	cd "$certs"
	o() { openssl "$@" 2>/dev/null; }
	o req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj "/CN=pgch test CA"
	o req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost"
	printf 'subjectAltName = DNS:localhost\n' >san.ext
	o x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile san.ext
	o req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.crt -days 2 -subj "/CN=another CA"
	o req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj "/CN=pgch"
	o x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 2
	# an expired server certificate: `openssl ca` takes explicit dates
	: >ca/index.txt
	echo 01 >ca/serial
	cat >ca.cnf <<CNF
[ca]
default_ca = test
[test]
dir = $certs/ca
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
serial = \$dir/serial
default_md = sha256
policy = any
copy_extensions = copy
[any]
commonName = supplied
CNF
	o ca -batch -config ca.cnf -cert ca.crt -keyfile ca.key -in server.csr -out expired.crt \
		-startdate 20200101000000Z -enddate 20200102000000Z -extfile san.ext
) || bail "openssl could not make the test certificates"
[ -s "$certs/expired.crt" ] || bail "no expired certificate"

# ---------------------------------------------------------------- a ClickHouse with https
"$ROOT/scripts/ch.sh" start "$CHT" >/dev/null || bail "cannot start ClickHouse"
"$ROOT/scripts/ch.sh" stop "$CHT"
https=$("$ROOT/scripts/freeport")
# serve CERT, asking for a client certificate when MODE is strict
ch_tls() { # ch_tls CERT MODE
	cp "$certs/$1" "$CHT/server.crt"
	cp "$certs/server.key" "$CHT/server.key"
	python3 - "$CHT/config.xml" "$https" "$CHT" "$2" "$certs/ca.crt" <<'PY'
import re, sys
p, port, d, mode, ca = sys.argv[1:]
s = open(p).read()
s = re.sub(r'\s*<https_port>.*?</https_port>|\s*<openSSL>.*?</openSSL>', '', s, flags=re.S)
s = s.replace('</yandex>', f'''  <https_port>{port}</https_port>
  <openSSL><server><certificateFile>{d}/server.crt</certificateFile><privateKeyFile>{d}/server.key</privateKeyFile>
    <verificationMode>{mode}</verificationMode><caConfig>{ca}</caConfig><loadDefaultCAFile>false</loadDefaultCAFile>
    <cacheSessions>true</cacheSessions><disableProtocols>sslv2,sslv3</disableProtocols><preferServerCiphers>true</preferServerCiphers>
  </server></openSSL>
</yandex>''')
open(p, 'w').write(s)
PY
	"$ROOT/scripts/ch.sh" stop "$CHT"
	"$ROOT/scripts/ch.sh" start "$CHT" >/dev/null
}
ch_tls server.crt none || bail "cannot start ClickHouse with https"
curl -sS --cacert "$certs/ca.crt" "https://localhost:$https/?query=SELECT%201" | grep -q 1 || bail "the https port does not answer"

fresh_dbs
pg -c "CREATE TABLE orders (id int PRIMARY KEY, note text)" -c "INSERT INTO orders SELECT g, 'n' || g FROM generate_series(1, 2000) g"
config() { # config FILE URL TLS-TABLE
	cat >"$1" <<LUA
source = { host = "$PGHOST", port = $PGPORT, dbname = "$DB", user = "${PGUSER:-postgres}" }
destination = { url = "$2", database = "$CHDB", tls = $3 }
pipe = { name = "$T_NAME" }
tables = { "public.orders" }
LUA
}
chs() { curl -sS --cacert "$certs/ca.crt" "https://localhost:$https/" --data-binary "$1"; }

# ---------------------------------------------------------------- verified
config "$WORK/ok.lua" "https://localhost:$https" "{ ca_file = \"$certs/ca.crt\" }"
"$PGCH" snapshot "$WORK/ok.lua" >"$WORK/ok.log" 2>&1
is "$?" 0 "snapshot over https with destination.tls.ca_file: exit 0"
is "$(chs "SELECT count() FROM $CHDB.orders FINAL WHERE _pgch_is_deleted = 0")" 2000 "every row arrived over https"

like "$("$PGCH" check "$WORK/ok.lua" 2>&1)" 'OK    ClickHouse connection encrypted, server certificate and host name verified' \
	"pgch check: https with a verified certificate"

# ---------------------------------------------------------------- refused, with the reason and the fix
config "$WORK/noca.lua" "https://localhost:$https" "{ verify = true }"
out=$("$PGCH" plan "$WORK/noca.lua" 2>&1)
ok $(($? == 0)) "a server certificate from a CA pgch does not know: refused"
like "$out" 'certificate.*Fix: set destination\.tls\.ca_file to the CA that signed' "with the fix: ca_file"
config "$WORK/otherca.lua" "https://localhost:$https" "{ ca_file = \"$certs/other.crt\" }"
out=$("$PGCH" plan "$WORK/otherca.lua" 2>&1)
ok $(($? == 0)) "a ca_file of another CA: refused"
like "$out" 'Fix: set destination\.tls\.ca_file' "with the same fix"
config "$WORK/host.lua" "https://127.0.0.1:$https" "{ ca_file = \"$certs/ca.crt\" }"
out=$("$PGCH" plan "$WORK/host.lua" 2>&1)
ok $(($? == 0)) "a host name the certificate does not name: refused"
like "$out" 'Fix: destination\.url must use a host name the server.s certificate names' "with the fix: the host name"
config "$WORK/noverify.lua" "https://127.0.0.1:$https" "{ verify = false }"
"$PGCH" plan "$WORK/noverify.lua" >/dev/null 2>&1
is "$?" 0 "verify = false connects without checking (for tests only)"

ch_tls expired.crt none || bail "cannot restart ClickHouse with an expired certificate"
out=$("$PGCH" plan "$WORK/ok.lua" 2>&1)
ok $(($? == 0)) "an expired server certificate: refused"
like "$out" 'expired.*Fix: the server.s certificate is expired or not yet valid' "with the reason and the fix"

# ---------------------------------------------------------------- a client certificate
ch_tls server.crt strict || bail "cannot restart ClickHouse asking for client certificates"
out=$("$PGCH" plan "$WORK/ok.lua" 2>&1)
ok $(($? == 0)) "the server asks for a client certificate and none is set: refused"
like "$out" 'set destination\.tls\.cert_file and key_file' "with the fix: cert_file and key_file"
config "$WORK/client.lua" "https://localhost:$https" \
	"{ ca_file = \"$certs/ca.crt\", cert_file = \"$certs/client.crt\", key_file = \"$certs/client.key\" }"
pg -c "UPDATE orders SET note = 'client cert' WHERE id = 1"
"$PGCH" snapshot --restart "$WORK/client.lua" >"$WORK/client.log" 2>&1
is "$?" 0 "with cert_file and key_file the snapshot runs"
is "$(curl -sS --cacert "$certs/ca.crt" --cert "$certs/client.crt" --key "$certs/client.key" "https://localhost:$https/" \
	--data-binary "SELECT note FROM $CHDB.orders FINAL WHERE id = 1")" "client cert" "and the data arrived"

# ---------------------------------------------------------------- config mistakes, before connecting
config "$WORK/http.lua" "$CH_URL" "{ ca_file = \"$certs/ca.crt\" }"
out=$("$PGCH" plan "$WORK/http.lua" 2>&1)
is "$?" 2 "tls with an http:// URL: a config error"
like "$out" 'destination\.tls applies to https:// URLs' "that says so"
config "$WORK/halfcert.lua" "https://localhost:$https" "{ cert_file = \"$certs/client.crt\" }"
like "$("$PGCH" plan "$WORK/halfcert.lua" 2>&1)" 'needs both cert_file and key_file' "a certificate without its key"
config "$WORK/nofile.lua" "https://localhost:$https" "{ ca_file = \"$WORK/nosuch.pem\" }"
like "$("$PGCH" plan "$WORK/nofile.lua" 2>&1)" 'destination\.tls\.ca_file: cannot read .*nosuch\.pem: No such file' "an unreadable file, named"
config "$WORK/badtype.lua" "https://localhost:$https" "{ verify = \"yes\" }"
like "$("$PGCH" plan "$WORK/badtype.lua" 2>&1)" 'destination\.tls\.verify must be true or false' "verify must be a boolean"
done_testing
