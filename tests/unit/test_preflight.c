/*
 * test_preflight — the pure parts of pgch check: managed pooler endpoints (and the direct
 * endpoints that must not match), which connection refusals (by SQLSTATE) PostgreSQL itself gives,
 * ClickHouse grant coverage, and how a logged problem splits into finding and fix.
 */
#include <stdlib.h>
#include <string.h>

#include "preflight.h"
#include "tap.h"

static void endpoint(const char *host, int port, const char *want, const char *what)
{
	const char *fix;
	const char *got = preflight_pooler_endpoint(host, port, &fix);
	if (want) {
		ok(got && strstr(got, want) && fix && *fix, "%s:%d is %s", host, port, what);
		if (!got)
			printf("#   got no match\n");
	} else {
		ok(!got && !fix, "%s:%d is not a pooler (%s)", host, port, what);
		if (got)
			printf("#   got \"%s\"\n", got);
	}
}

static void test_endpoints(void)
{
	endpoint("myproxy.proxy-c9akciq32.us-east-1.rds.amazonaws.com", 5432, "RDS Proxy", "an RDS Proxy endpoint");
	endpoint("ro.endpoint.proxy-c9akciq32.eu-west-1.rds.amazonaws.com", 5432, "RDS Proxy",
		 "an RDS Proxy custom endpoint");
	endpoint("MyProxy.Proxy-C9AKCIQ32.us-east-1.RDS.amazonaws.com.", 5432, "RDS Proxy",
		 "an RDS Proxy endpoint in capitals with a trailing dot");
	endpoint("proxy-db.c9akciq32.us-east-1.rds.amazonaws.com", 5432, NULL, "an instance that is named proxy-db");
	endpoint("app.cluster-c9akciq32.us-east-1.rds.amazonaws.com", 5432, NULL, "an Aurora cluster endpoint");
	endpoint("app.c9akciq32.us-east-1.rds.amazonaws.com", 5432, NULL, "an RDS instance endpoint");
	endpoint("aws-0-eu-central-1.pooler.supabase.com", 6543, "Supavisor", "Supavisor, transaction mode");
	endpoint("aws-0-eu-central-1.pooler.supabase.com", 5432, "Supavisor", "Supavisor, session mode");
	endpoint("db.abcdefghijklmnop.supabase.co", 6543, "PgBouncer", "Supabase's dedicated PgBouncer");
	endpoint("db.abcdefghijklmnop.supabase.co", 5432, NULL, "Supabase's direct connection");
	endpoint("ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech", 5432, "Neon", "Neon's pooled endpoint");
	endpoint("ep-cool-darkness-123456.us-east-2.aws.neon.tech", 5432, NULL, "Neon's direct endpoint");
	endpoint("pg.postgres.database.azure.com", 6432, "Azure", "Azure's built-in PgBouncer");
	endpoint("pg.postgres.database.azure.com", 5432, NULL, "an Azure server itself");
	endpoint("127.0.0.1", 6432, NULL, "a local port (a port number alone proves nothing)");
	endpoint("localhost", 5432, NULL, "localhost");
	endpoint("/var/run/postgresql", 5432, NULL, "a Unix socket directory");
	endpoint("", 5432, NULL, "an empty host");
}

static void test_refused_by_postgres(void)
{
	/* by SQLSTATE: the server words these in its own lc_messages */
	ok(preflight_refused_by_postgres("42501"), "no REPLICATION attribute is PostgreSQL's own refusal");
	ok(preflight_refused_by_postgres("28000"), "pg_hba.conf is PostgreSQL's own refusal");
	ok(preflight_refused_by_postgres("53300"), "too many clients");
	ok(!preflight_refused_by_postgres("08P01"), "PgBouncer's refusal is not PostgreSQL's");
	ok(!preflight_refused_by_postgres(""), "a closed connection is not PostgreSQL's refusal");
}

static void test_grants(void)
{
	ChGrant all[] = {{"ALL", "*", "*", false}};
	ok(preflight_ch_grant_covers(all, 1, "app", "CREATE TABLE"), "GRANT ALL ON *.* covers CREATE TABLE");
	ok(preflight_ch_grant_covers(all, 1, "app", "ALTER ADD COLUMN"), "GRANT ALL ON *.* covers ALTER ADD COLUMN");

	ChGrant db[] = {{"CREATE", "app", "*", false}, {"INSERT", "app", "*", false}, {"SELECT", "*", "*", false},
			{"ALTER TABLE", "app", "*", false}};
	ok(preflight_ch_grant_covers(db, 4, "app", "CREATE TABLE"), "CREATE ON app.* covers CREATE TABLE");
	ok(preflight_ch_grant_covers(db, 4, "app", "CREATE DATABASE"), "CREATE ON app.* covers CREATE DATABASE app");
	ok(!preflight_ch_grant_covers(db, 4, "other", "CREATE TABLE"), "CREATE ON app.* does not cover other");
	ok(preflight_ch_grant_covers(db, 4, "other", "SELECT"), "SELECT ON *.* covers every database");
	ok(preflight_ch_grant_covers(db, 4, "app", "ALTER ADD COLUMN"), "ALTER TABLE covers ALTER ADD COLUMN");
	ok(!preflight_ch_grant_covers(db, 4, "app", "TRUNCATE"), "nothing here grants TRUNCATE");
	ok(!preflight_ch_grant_covers(db, 4, "app", "DROP TABLE"), "nothing here grants DROP TABLE");

	ChGrant revoked[] = {{"ALL", "*", "*", false}, {"CREATE", "app", "*", true}};
	ok(!preflight_ch_grant_covers(revoked, 2, "app", "CREATE TABLE"),
	   "a partial revoke of CREATE on app takes CREATE TABLE away");
	ok(preflight_ch_grant_covers(revoked, 2, "app", "INSERT"), "it leaves INSERT");
	ok(preflight_ch_grant_covers(revoked, 2, "web", "CREATE TABLE"), "and other databases");

	ChGrant wild[] = {{"INSERT", "app*", "*", false}};
	ok(preflight_ch_grant_covers(wild, 1, "app_prod", "INSERT"), "a wildcard database grant covers a match");
	ok(!preflight_ch_grant_covers(wild, 1, "web", "INSERT"), "and not a non-match");
	ok(!preflight_ch_grant_covers(NULL, 0, "app", "INSERT"), "no grants cover nothing");
}

static void split(const char *msg, const char *want_detail, const char *want_fix, const char *what)
{
	char *detail, *fix;
	preflight_split_fix(msg, "/etc/pgch/pipe.lua", &detail, &fix);
	is_str(detail, want_detail, "%s: finding", what);
	if (want_fix)
		is_str(fix, want_fix, "%s: fix", what);
	else
		ok(fix == NULL, "%s: no fix", what);
	free(detail);
	free(fix);
}

static void test_split(void)
{
	split("public.t has no primary key. Fix: ALTER TABLE public.t REPLICA IDENTITY FULL",
	      "public.t has no primary key", "ALTER TABLE public.t REPLICA IDENTITY FULL", "a message with a fix");
	split("/etc/pgch/pipe.lua:12: public.t: order_by column \"x\" is excluded",
	      "/etc/pgch/pipe.lua:12: public.t: order_by column \"x\" is excluded", "change the config at /etc/pgch/pipe.lua:12",
	      "a config problem");
	split("PostgreSQL: permission denied", "PostgreSQL: permission denied", NULL, "anything else");
}

static void test_tls(void)
{
	char msg[512];
	const char *fix;
	ok(preflight_tls_verdict(true, 2, "db.internal", "PostgreSQL", "FIX", msg, sizeof msg, &fix) == CHECK_OK && !fix &&
		   strstr(msg, "host name verified"),
	   "encrypted and verified (verify-full): OK (%s)", msg);
	ok(preflight_tls_verdict(true, 1, "db.internal", "PostgreSQL", "FIX", msg, sizeof msg, &fix) == CHECK_OK &&
		   strstr(msg, "not its host name"),
	   "verify-ca: OK, and says the host name is not checked");
	ok(preflight_tls_verdict(false, 0, "db.internal", "PostgreSQL", "FIX", msg, sizeof msg, &fix) == CHECK_WARN && fix &&
		   strcmp(fix, "FIX") == 0 && strstr(msg, "db.internal is not encrypted"),
	   "not encrypted to a remote host: WARN with the fix (%s)", msg);
	ok(preflight_tls_verdict(true, 0, "10.0.0.5", "ClickHouse", "FIX", msg, sizeof msg, &fix) == CHECK_WARN &&
		   strstr(msg, "encrypted but the server is not verified"),
	   "encrypted without verification (sslmode = require) to a remote host: WARN");
	const char *local[] = {"localhost", "127.0.0.1", "::1", "/var/run/postgresql", ""};
	for (int i = 0; i < 5; i++)
		ok(preflight_tls_verdict(false, 0, local[i], "PostgreSQL", "FIX", msg, sizeof msg, &fix) == CHECK_OK && !fix,
		   "not encrypted to a local host (%s): OK", local[i][0] ? local[i] : "default socket");
	ok(!preflight_host_is_local("db.localhost.example") && !preflight_host_is_local("10.1.2.3"), "other hosts are remote");
}

int main(void)
{
	test_tls();
	test_endpoints();
	test_refused_by_postgres();
	test_grants();
	test_split();
	return done_testing();
}
