#!/usr/bin/env bash
# Mistakes in destination's cluster keys (url as a list, cluster, replica_path, replica_name,
# sharding_key, insert_quorum): each gives one clear line on stderr naming the key and the
# fix, exit status 2, and creates nothing. Needs no cluster: these are refused when the
# config is read.
. "$(dirname "$0")/lib.sh"

fresh_dbs
pg -c "CREATE TABLE t1 (id int PRIMARY KEY, b text)"
CFG=$WORK/bad.lua
dest() { # dest LUA-DESTINATION
	{
		echo "source = { host = \"$PGHOST\", port = $PGPORT, dbname = \"$DB\", user = \"${PGUSER:-postgres}\" }"
		echo "destination = $1"
		echo 'tables = { "public.t1" }'
	} >"$CFG"
}
bad() { # bad REGEX DESCRIPTION
	local out err st
	out=$("$PGCH" plan "$CFG" 2>"$WORK/err")
	st=$?
	err=$(cat "$WORK/err")
	is "$st" 2 "$2: exit 2"
	like "$err" "^pgch: error: .*bad\\.lua:2: $1" "$2: the message"
	is "$(printf '%s\n' "$err" | grep -c .)" 1 "$2: one line on stderr"
	is "$out" "" "$2: nothing on stdout"
}

U1=http://127.0.0.1:1 U2=http://127.0.0.1:2
dest "{ url = { \"$U1\", \"$U2\" }, database = \"$CHDB\" }"
bad "destination\\.url lists 2 servers but destination\\.cluster is not set: .*set cluster = \"name\"" "several URLs without a cluster"
dest "{ url = {}, database = \"$CHDB\", cluster = \"c\" }"
bad "destination\\.url must be a string or a list of strings, .*got an empty table" "an empty URL list"
dest "{ url = { first = \"$U1\" }, database = \"$CHDB\", cluster = \"c\" }"
bad "destination\\.url must be a string or a list of strings, .*got a table with named keys" "a URL table with names"
dest "{ url = { \"$U1\", 8123 }, database = \"$CHDB\", cluster = \"c\" }"
bad "destination\\.url\\[2\\] must be a string, got number" "a number in the URL list"
dest "{ url = 8123, database = \"$CHDB\" }"
bad "destination\\.url must be a string or a list of strings, .*got number" "a number as the URL"
dest "{ url = { \"$U1\", \"ftp://127.0.0.1:2\" }, database = \"$CHDB\", cluster = \"c\" }"
bad "destination\\.url\\[2\\] must start with http:// or https://, not ftp://" "a bad scheme in the list, by position"
dest "{ url = { \"$U1\", \"http://u:SecretPw1@127.0.0.1:2\" }, database = \"$CHDB\", cluster = \"c\" }"
bad "destination\\.url\\[2\\] must not hold a user or password" "credentials in a listed URL"
is "$(grep -c SecretPw1 "$WORK/err")" 0 "credentials in a listed URL: the password is not printed"
dest "{ url = \"$U1\", database = \"$CHDB\", cluster = 5 }"
bad "destination\\.cluster must be a string, got number" "a cluster that is not a string"
dest "{ url = \"$U1\", database = \"$CHDB\", cluster = \"\" }"
bad "destination\\.cluster must not be empty: name a cluster of the servers' remote_servers" "an empty cluster name"
dest "{ url = \"$U1\", database = \"$CHDB\", replica_path = \"/p/{table}\" }"
bad "destination\\.replica_path applies to a ClickHouse cluster: set destination\\.cluster, or remove replica_path" "replica_path without a cluster"
dest "{ url = \"$U1\", database = \"$CHDB\", insert_quorum = 2 }"
bad "destination\\.insert_quorum applies to a ClickHouse cluster" "insert_quorum without a cluster"
dest "{ url = \"$U1\", database = \"$CHDB\", sharding_key = \"id\" }"
bad "destination\\.sharding_key applies to a ClickHouse cluster" "sharding_key without a cluster"
dest "{ url = \"$U1\", database = \"$CHDB\", cluster = \"c\", replica_path = \"/clickhouse/tables/{shard}\" }"
bad "destination\\.replica_path must contain \\{table\\}: each table needs a ZooKeeper path of its own" "a replica_path shared by every table"
dest "{ url = \"$U1\", database = \"$CHDB\", cluster = \"c\", replica_path = \"clickhouse/{table}\" }"
bad "destination\\.replica_path must be an absolute ZooKeeper path" "a relative replica_path"
dest "{ url = \"$U1\", database = \"$CHDB\", cluster = \"c\", replica_name = \"\" }"
bad "destination\\.replica_name must not be empty: use a macro that differs per server" "an empty replica_name"
dest "{ url = \"$U1\", database = \"$CHDB\", cluster = \"c\", insert_quorum = 0 }"
bad "destination\\.insert_quorum must be between 1 and 255, got 0" "insert_quorum out of range"
dest "{ url = \"$U1\", database = \"$CHDB\", cluster = \"c\", insert_quorum = \"2\" }"
bad "destination\\.insert_quorum must be a number, got string" "insert_quorum as a string"
dest "{ url = \"$U1\", database = \"$CHDB\", cluster = \"c\", sharding_key = \"\" }"
bad "destination\\.sharding_key must not be empty" "an empty sharding_key"
dest "{ url = \"$U1\", database = \"$CHDB\", clustr = \"c\" }"
bad "unknown key 'clustr' in destination; did you mean 'cluster'\\?" "a misspelt cluster key"

# the same config with one URL and no cluster keys works (and a one-element list as well)
dest "{ url = { \"$CH_URL\" }, database = \"$CHDB\" }"
"$PGCH" plan "$CFG" >/dev/null 2>&1
ok $? "a list of one URL without a cluster is accepted"
done_testing
