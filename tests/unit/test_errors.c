/*
 * test_errors — errors are classified by code, never by message text: the SQLSTATE of a
 * refused connection read out of libpq's verbose message (in German, in English, from
 * PgBouncer, and none when no server answered), and each decision pgch takes on a code,
 * from the code alone: a pooler's refusal, PostgreSQL's own refusal passed on by a proxy,
 * a replication slot that exists or may not be created, and the fix check gives for a
 * refused replication connection or a ClickHouse that refuses pgch's user.
 */
#include <stdlib.h>

#include "pg.h"
#include "preflight.h"
#include "slot.h"
#include "tap.h"

/* parse MSG: its SQLSTATE and the message the default verbosity shows */
static void parse(const char *msg, const char *want_state, const char *want_plain, const char *what)
{
	char state[6];
	Buf plain;
	buf_init(&plain);
	pg_connect_error_parse(msg, state, &plain);
	is_str(state, want_state, "%s: SQLSTATE", what);
	is_str(plain.data, want_plain, "%s: the message without it", what);
	buf_free(&plain);
}

static void test_connect_error_parse(void)
{
	parse("connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  28P01: Passwort-Authentifizierung "
	      "für Benutzer »app« fehlgeschlagen\nLOCATION:  auth_failed, auth.c:334\n",
	      "28P01",
	      "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  Passwort-Authentifizierung für "
	      "Benutzer »app« fehlgeschlagen\n",
	      "a German password failure");
	parse("connection to server at \"db\" (10.0.0.5), port 5432 failed: FATAL:  42501: must be superuser or "
	      "replication role to start walsender\nLOCATION:  InitPostgres, postinit.c:896\n",
	      "42501",
	      "connection to server at \"db\" (10.0.0.5), port 5432 failed: FATAL:  must be superuser or replication "
	      "role to start walsender\n",
	      "an English refusal of a replication connection");
	parse("connection to server at \"127.0.0.1\", port 6432 failed: FATAL:  08P01: unsupported startup parameter: "
	      "options\n",
	      "08P01", "connection to server at \"127.0.0.1\", port 6432 failed: FATAL:  unsupported startup parameter: options\n",
	      "PgBouncer's refusal (no LOCATION line)");
	parse("connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  53300: sorry, too many clients "
	      "already\nDETAIL:  max_connections is 100.\nHINT:  Try later.\nLOCATION:  InitProcess, proc.c:363\n",
	      "53300",
	      "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  sorry, too many clients already\n"
	      "DETAIL:  max_connections is 100.\nHINT:  Try later.\n",
	      "DETAIL and HINT lines stay, LOCATION goes");
	parse("connection to server at \"a\" (10.0.0.1), port 5432 failed: FATAL:  57P03: the database system is "
	      "starting up\nconnection to server at \"b\" (10.0.0.2), port 5432 failed: FATAL:  3D000: database "
	      "\"app\" does not exist\n",
	      "3D000",
	      "connection to server at \"a\" (10.0.0.1), port 5432 failed: FATAL:  the database system is starting up\n"
	      "connection to server at \"b\" (10.0.0.2), port 5432 failed: FATAL:  database \"app\" does not exist\n",
	      "two hosts tried: the last refusal decides");
	parse("connection to server at \"127.0.0.1\", port 5432 failed: Connection refused\n\tIs the server running on "
	      "that host and accepting TCP/IP connections?\n",
	      "",
	      "connection to server at \"127.0.0.1\", port 5432 failed: Connection refused\n\tIs the server running on "
	      "that host and accepting TCP/IP connections?\n",
	      "no server answered: no SQLSTATE");
	parse("connection to server at \"127.0.0.1\", port 5432 failed: fe_sendauth: no password supplied\n", "",
	      "connection to server at \"127.0.0.1\", port 5432 failed: fe_sendauth: no password supplied\n",
	      "libpq's own refusal to go on: no SQLSTATE");
	parse("connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  28000: role \"a:  XX000: b\" does not "
	      "exist\n",
	      "28000", "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  role \"a:  XX000: b\" does not exist\n",
	      "only the code after the severity counts, not a look-alike in a name");
	parse("", "", "", "an empty message");
}

static void test_pooler(void)
{
	ok(pg_refused_by_pooler("08P01"), "08P01 at connection: PgBouncer's own refusal");
	ok(!pg_refused_by_pooler("28P01"), "28P01: PostgreSQL refused the password");
	ok(!pg_refused_by_pooler("42501"), "42501: PostgreSQL refused the role");
	ok(!pg_refused_by_pooler(""), "no SQLSTATE: no answer, nothing to say about a pooler");
}

static void test_slot_refusal(void)
{
	is_int(slot_refusal("42710"), SLOT_REFUSED_EXISTS, "42710 duplicate_object: the slot exists");
	is_int(slot_refusal("42501"), SLOT_REFUSED_PRIVILEGE, "42501 insufficient_privilege: ALTER ROLE ... REPLICATION");
	is_int(slot_refusal("53400"), SLOT_REFUSED_OTHER, "53400 (all slots in use): neither");
	is_int(slot_refusal(""), SLOT_REFUSED_OTHER, "no SQLSTATE (connection lost): neither");
}

static void test_preflight(void)
{
	ok(preflight_refused_by_postgres("28P01"), "28P01 wrong password: PostgreSQL's refusal, passed on by a proxy");
	ok(preflight_refused_by_postgres("3D000"), "3D000 no such database: PostgreSQL's refusal");
	ok(!preflight_refused_by_postgres("57P01"), "57P01 (terminated by an administrator): not a refusal of the request");
	ok(preflight_replication_fix("28000") && strstr(preflight_replication_fix("28000"), "pg_hba.conf"),
	   "a replication connection refused with 28000: the pg_hba.conf fix");
	ok(!preflight_replication_fix("42501"), "refused with 42501: no pg_hba.conf fix");
	ok(!preflight_replication_fix("53300"), "refused with 53300: no pg_hba.conf fix");

	const char *fix;
	ok((fix = preflight_ch_refusal_fix(500, 193)) && strstr(fix, "destination.password"),
	   "ClickHouse 193 WRONG_PASSWORD (18.x): check user and password");
	ok((fix = preflight_ch_refusal_fix(516, 516)) && strstr(fix, "destination.password"),
	   "ClickHouse 516 AUTHENTICATION_FAILED: check user and password");
	ok((fix = preflight_ch_refusal_fix(500, 192)) && strstr(fix, "destination.user"), "192 UNKNOWN_USER: check the user");
	ok((fix = preflight_ch_refusal_fix(500, 195)) && strstr(fix, "allow this host"), "195 IP_ADDRESS_NOT_ALLOWED");
	ok((fix = preflight_ch_refusal_fix(0, 0)) && strstr(fix, "destination.url"), "no answer at all: check the URL");
	ok(!preflight_ch_refusal_fix(500, 62), "62 SYNTAX_ERROR: nothing more specific than the finding");
	ok(!preflight_ch_refusal_fix(404, 0), "an HTTP error without a ClickHouse code: nothing more specific");
}

int main(void)
{
	test_connect_error_parse();
	test_pooler();
	test_slot_refusal();
	test_preflight();
	return done_testing();
}
