/*
 * preflight_pooler — the pooler refusal; see preflight_pooler.h.
 *
 * How a pooler is recognised (preflight_path_detect). Signals, strongest first:
 *  1. Documented endpoints of managed poolers (preflight_pooler_endpoint): RDS Proxy
 *     (<name>.proxy-<id>.<region>.rds.amazonaws.com), Supabase's Supavisor
 *     (*.pooler.supabase.com) and its PgBouncer (db.<ref>.supabase.co port 6543), Neon's
 *     pooled endpoints (<endpoint>-pooler.<region>.neon.tech) and Azure's built-in PgBouncer
 *     (*.postgres.database.azure.com port 6432). Exact provider formats, so no direct
 *     endpoint matches; the name is checked even through an SSH tunnel.
 *  2. A connection refused with SQLSTATE 08P01: PgBouncer's code for each refusal of its
 *     own (of `options` or `replication`, its authentication, its limits), which
 *     PostgreSQL never sends to libpq's startup packet (pg.c adds the hint to the error).
 *  3. The cancel key. PostgreSQL's BackendKeyData carries the backend's process id, so on
 *     every byte-transparent path (direct, SSH tunnel, NAT, TCP load balancer, Cloud SQL
 *     Auth Proxy) PQbackendPID(conn) equals pg_backend_pid(). A pooler cannot pass the key
 *     through (the client is not tied to one backend) and issues its own: PgBouncer,
 *     Supavisor and RDS Proxy all do. A mismatch proves a protocol-aware proxy, though not
 *     yet a pooler (Neon's proxy issues its own keys and passes replication through), so
 *     it is followed by tests of what pgch needs:
 *       a. its session settings, sent as startup `options`, are in effect (a direct
 *          connection always applies them; PgBouncer told to ignore `options` drops them);
 *       b. a replication connection opens and answers IDENTIFY_SYSTEM (PgBouncer before
 *          1.23 and RDS Proxy refuse it). A refusal with one of PostgreSQL's own SQLSTATEs
 *          (no REPLICATION attribute, pg_hba.conf, password, connection limits) means the
 *          proxy passed the request on, so it is not counted against the path.
 *     Mismatch plus (a) or (b) failing is a pooler; mismatch with both passing is a proxy
 *     pgch can use (a WARN in check, an info line elsewhere).
 *  Supporting evidence, quoted in the finding but never a reason on its own, because NAT,
 *  port forwarding and tunnels change ports too: the server's own port (inet_server_port)
 *  differs from the port connected to; the client port the server sees (inet_client_port)
 *  differs from the local port of our socket (getsockname); a "user.tenant" user name on
 *  port 6543 (Supavisor's form). The port comparisons are skipped through the SSH tunnel.
 */
#include "preflight_pooler.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "log.h"
#include "pg.h"
#include "preflight_findings.h"

static bool ends_with_ci(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

const char *preflight_pooler_endpoint(const char *host, int port, const char **fix)
{
	*fix = NULL;
	if (!host || !*host)
		return NULL;
	char h[256];
	snprintf(h, sizeof h, "%s", host);
	size_t n = strlen(h);
	while (n > 0 && h[n - 1] == '.') /* a fully qualified name may end in a dot */
		h[--n] = '\0';
	const char *first_dot = strchr(h, '.');
	if (!first_dot)
		return NULL;
	/* RDS Proxy: <proxy>.proxy-<id>.<region>.rds.amazonaws.com, custom endpoints
	 * <name>.endpoint.proxy-<id>.<region>...; instances and clusters never have a later
	 * label starting with "proxy-" (theirs are the account id and "cluster-<id>"). */
	if (ends_with_ci(h, ".rds.amazonaws.com") || ends_with_ci(h, ".rds.amazonaws.com.cn")) {
		for (const char *p = first_dot; p; p = strchr(p + 1, '.'))
			if (strncasecmp(p + 1, "proxy-", 6) == 0) {
				*fix = "set source.host to the DB instance or cluster endpoint (not the RDS Proxy endpoint), "
				       "port 5432";
				return "RDS Proxy";
			}
	}
	if (ends_with_ci(h, ".pooler.supabase.com")) {
		*fix = "use Supabase's direct connection: host db.<project-ref>.supabase.co, port 5432, user postgres "
		       "(without the .<project-ref> suffix)";
		return "Supabase's Supavisor pooler";
	}
	if (port == 6543 && strncasecmp(h, "db.", 3) == 0 && ends_with_ci(h, ".supabase.co")) {
		*fix = "use port 5432 of the same host (Supabase's direct connection), not 6543";
		return "Supabase's PgBouncer (port 6543)";
	}
	if (ends_with_ci(h, ".neon.tech") && first_dot - h > 7 && strncasecmp(first_dot - 7, "-pooler", 7) == 0) {
		*fix = "use the endpoint host without -pooler (Neon's direct connection string)";
		return "Neon's pooled endpoint (PgBouncer)";
	}
	if (port == 6432 && ends_with_ci(h, ".postgres.database.azure.com")) {
		*fix = "use port 5432 (the server itself), not 6432 (the built-in PgBouncer)";
		return "Azure's built-in PgBouncer (port 6432)";
	}
	return NULL;
}

bool preflight_refused_by_postgres(const char *sqlstate)
{
	static const char *const codes[] = {
		PG_INSUFFICIENT_PRIVILEGE,  /* no REPLICATION attribute, no CONNECT privilege */
		PG_INVALID_AUTHORIZATION,   /* pg_hba.conf, unknown role */
		PG_INVALID_PASSWORD,
		PG_UNDEFINED_DATABASE,
		PG_TOO_MANY_CONNECTIONS,    /* max_connections, reserved slots, max_wal_senders */
	};
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
		if (strcmp(sqlstate, codes[i]) == 0)
			return true;
	return false;
}

const char *preflight_replication_fix(const char *sqlstate)
{
	if (strcmp(sqlstate, PG_INVALID_AUTHORIZATION) == 0)
		return "add a pg_hba.conf line for this database and user (logical replication connections match the "
		       "database name, not the word replication), then SELECT pg_reload_conf()";
	return NULL;
}

const char preflight_pooler_why[] =
	"pgch needs the replication protocol, one server session holding the exported snapshot while workers "
	"import it, and its own session settings; a pooler provides none of them";
const char preflight_pooler_fix[] =
	"connect directly to PostgreSQL: set source.host and source.port to the database server itself (usually "
	"port 5432), not to the pooler";

void preflight_path_free(PathInfo *p)
{
	buf_free(&p->finding);
	buf_free(&p->evidence);
}

/* Local port of the connection's socket, 0 for Unix sockets or on error. */
static int local_port(PGconn *conn)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int fd = PQsocket(conn);
	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

bool preflight_replication_probe(const Config *cfg, Buf *why, char sqlstate[6])
{
	Captured c;
	memset(&c, 0, sizeof c);
	LogCapture prev = log_capture((LogCapture){findings_capture_cb, &c});
	PgConnFailure failure;
	PGconn *r = pg_connect_why(cfg, PG_CONN_REPLICATION, "check", &failure);
	bool ok = false;
	sqlstate[0] = '\0';
	if (r) {
		PGresult *res = PQexec(r, "IDENTIFY_SYSTEM");
		ok = res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQnfields(res) >= 4;
		if (!ok) {
			buf_printf(why, "IDENTIFY_SYSTEM on a replication connection failed: %s",
				   res ? PQresultErrorMessage(res) : PQerrorMessage(r));
			snprintf(sqlstate, 6, "%s", pg_sqlstate(res));
		}
		PQclear(res);
		PQfinish(r);
	} else {
		memcpy(sqlstate, failure.sqlstate, 6);
		for (int i = 0; i < c.n; i++) {
			/* "cannot connect to PostgreSQL at X (replication connection): connection to server at
			 * ..., port N failed: FATAL:  <reason>[ -- hint from pg.c]": keep the reason (pgch's
			 * and libpq's own words are cut away; nothing is decided on the server's) */
			const char *m = c.msg[i], *at;
			if ((at = strstr(m, "(replication connection): ")) != NULL)
				m = at + strlen("(replication connection): ");
			if ((at = strstr(m, " failed: ")) != NULL)
				m = at + strlen(" failed: ");
			const char *hint = strstr(m, " -- ");
			buf_printf(why, "%s%.*s", i ? "; " : "", hint ? (int)(hint - m) : (int)strlen(m), m);
		}
	}
	log_capture(prev);
	findings_captured_clear(&c);
	if (why->data)
		findings_one_line(why->data);
	return ok;
}

bool preflight_path_detect(const Config *cfg, PGconn *conn, PathInfo *p)
{
	memset(p, 0, sizeof *p);
	buf_init(&p->finding);
	buf_init(&p->evidence);
	const char *host = PQhost(conn), *portstr = PQport(conn), *user = PQuser(conn);
	int port = portstr && *portstr ? atoi(portstr) : 5432;
	PGresult *res = pg_query(conn, "SELECT pg_backend_pid(), coalesce(inet_server_port(), 0), "
				       "coalesce(inet_client_port(), 0), current_setting('extra_float_digits'), "
				       "current_setting('DateStyle'), current_setting('TimeZone'), "
				       "current_setting('IntervalStyle'), current_setting('bytea_output')");
	if (!res)
		return false;
	int backend = atoi(PQgetvalue(res, 0, 0)), key = PQbackendPID(conn);
	int server_port = atoi(PQgetvalue(res, 0, 1)), client_port = atoi(PQgetvalue(res, 0, 2));
	int lport = local_port(conn);

	/* supporting evidence */
	if (!pg_tunnel_port && server_port > 0 && lport > 0 && server_port != port)
		buf_printf(&p->evidence, "%sPostgreSQL listens on port %d but pgch connected to port %d",
			   p->evidence.len ? "; " : "", server_port, port);
	if (!pg_tunnel_port && client_port > 0 && lport > 0 && client_port != lport)
		buf_printf(&p->evidence, "%sthe server sees the client on port %d, this end of the socket is port %d",
			   p->evidence.len ? "; " : "", client_port, lport);
	if (port == 6543 && user && strchr(user, '.'))
		buf_printf(&p->evidence, "%suser \"%s\" on port 6543 has the user.tenant form of Supavisor",
			   p->evidence.len ? "; " : "", user);

	/* the session settings pg_connect sends as startup options (pg.c) */
	Buf dropped;
	buf_init(&dropped);
	static const struct {
		int col;
		const char *name, *want;
		size_t prefix; /* compare only this many bytes (0: all) */
	} want[] = {{3, "extra_float_digits", "3", 0}, {4, "DateStyle", "ISO", 3}, {5, "TimeZone", "UTC", 0},
		    {6, "IntervalStyle", "postgres", 0}, {7, "bytea_output", "hex", 0}};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		const char *got = PQgetvalue(res, 0, want[i].col);
		bool same = want[i].prefix ? strncmp(got, want[i].want, want[i].prefix) == 0 : strcmp(got, want[i].want) == 0;
		if (!same)
			buf_printf(&dropped, "%s%s = %s, not %s", dropped.len ? "; " : "", want[i].name, got, want[i].want);
	}
	PQclear(res);

	const char *fix;
	const char *endpoint = preflight_pooler_endpoint(host, port, &fix);
	if (endpoint) {
		p->kind = PATH_POOLER;
		p->fix = fix;
		buf_printf(&p->finding, "%s:%d is an endpoint of %s", host, port, endpoint);
	} else if (key == backend) {
		p->kind = PATH_DIRECT;
	} else {
		p->fix = preflight_pooler_fix;
		buf_printf(&p->finding,
			   "the connection's cancel key is not its backend's (process %d, the backend is %d), so a proxy "
			   "speaking the PostgreSQL protocol is in between",
			   key, backend);
		if (dropped.len) {
			p->kind = PATH_POOLER;
			buf_printf(&p->finding,
				   "; it drops the session settings pgch sends at connection start (%s), as PgBouncer does "
				   "with ignore_startup_parameters = options",
				   dropped.data);
		} else {
			Buf why;
			buf_init(&why);
			char sqlstate[6];
			if (preflight_replication_probe(cfg, &why, sqlstate) || preflight_refused_by_postgres(sqlstate)) {
				p->kind = PATH_PROXY; /* it passed the replication request on */
			} else {
				p->kind = PATH_POOLER;
				buf_printf(&p->finding, "; it refuses a replication connection (%s)", why.data);
			}
			buf_free(&why);
		}
	}
	buf_free(&dropped);
	return true;
}

void preflight_path_describe(const PathInfo *p, Buf *out)
{
	buf_puts(out, p->finding.data);
	if (p->evidence.len)
		buf_printf(out, " (%s)", p->evidence.data);
	if (p->kind == PATH_POOLER)
		buf_printf(out, "; %s", preflight_pooler_why);
}

bool preflight_refuse_pooler(const Config *cfg, PGconn *conn)
{
	PathInfo p;
	if (!preflight_path_detect(cfg, conn, &p)) {
		preflight_path_free(&p);
		return false;
	}
	Buf msg;
	buf_init(&msg);
	preflight_path_describe(&p, &msg);
	if (p.kind == PATH_POOLER)
		log_error("refusing to replicate through a connection pooler at %s:%s: %s. Fix: %s", PQhost(conn), PQport(conn),
			  msg.data, p.fix);
	else if (p.kind == PATH_PROXY)
		log_info("%s; it passes replication connections and session settings through, so pgch uses it", msg.data);
	bool ok = p.kind != PATH_POOLER;
	buf_free(&msg);
	preflight_path_free(&p);
	return ok;
}
