/*
 * preflight — `pgch check` and the pooler refusal; see preflight.h.
 *
 * How check works. The checks run in a fixed order and each adds findings to a list;
 * nothing is printed until the end. Checks that need a connection which could not be
 * opened add nothing (the failed connection is the finding). What other modules decide is
 * reused, not re-implemented: catalog_discover decides which tables can be replicated,
 * ch_probe what the server can do, slot_info what the slot is. While check runs, warnings
 * and errors those modules log are captured (log_capture) and become findings, split at
 * ". Fix: " into detail and fix, so each problem is still described once, by the code that
 * found it. Nothing is created or changed; the one side effect is a replication connection
 * that runs IDENTIFY_SYSTEM. ClickHouse is probed first (the catalog maps types with its
 * capabilities) but reported after PostgreSQL.
 *
 * How a pooler is recognised (path_detect). Signals, strongest first:
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
#include "preflight.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "buf.h"
#include "catalog.h"
#include "ch.h"
#include "log.h"
#include "pg.h"
#include "plan.h"
#include "slot.h"
#include "types.h"

/* ---------------------------------------------------------------- findings */

typedef enum CheckStatus { CHECK_OK, CHECK_WARN, CHECK_FAIL } CheckStatus;

typedef struct Finding {
	char *name;     /* stable identifier for --json: "wal_level", "table public.t", ... */
	CheckStatus status;
	char *detail;
	char *fix;      /* NULL for OK */
} Finding;

typedef struct Findings {
	Finding *items;
	int n;
} Findings;

static void add(Findings *f, const char *name, CheckStatus st, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void add(Findings *f, const char *name, CheckStatus st, const char *fix, const char *fmt, ...)
{
	f->items = xrealloc(f->items, sizeof(Finding) * (size_t)(f->n + 1));
	Finding *it = &f->items[f->n++];
	Buf b;
	buf_init(&b);
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	it->name = xstrdup(name);
	it->status = st;
	it->detail = buf_steal(&b);
	it->fix = fix && st != CHECK_OK ? xstrdup(fix) : NULL;
}

static void findings_free(Findings *f)
{
	for (int i = 0; i < f->n; i++) {
		free(f->items[i].name);
		free(f->items[i].detail);
		free(f->items[i].fix);
	}
	free(f->items);
	memset(f, 0, sizeof *f);
}

/* ---------------------------------------------------------------- captured log lines */

typedef struct Captured {
	char **msg;
	LogLevel *level;
	int n;
} Captured;

static void capture_cb(void *ctx, LogLevel level, const char *msg)
{
	Captured *c = ctx;
	c->msg = xrealloc(c->msg, sizeof(char *) * (size_t)(c->n + 1));
	c->level = xrealloc(c->level, sizeof(LogLevel) * (size_t)(c->n + 1));
	c->msg[c->n] = xstrdup(msg);
	c->level[c->n++] = level;
}

static void captured_clear(Captured *c)
{
	for (int i = 0; i < c->n; i++)
		free(c->msg[i]);
	free(c->msg);
	free(c->level);
	memset(c, 0, sizeof *c);
}

/* ---------------------------------------------------------------- pure helpers */

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

/* ClickHouse's error codes that check acts on (src/Common/ErrorCodes.cpp). */
enum {
	CH_UNKNOWN_USER = 192,
	CH_WRONG_PASSWORD = 193,
	CH_REQUIRED_PASSWORD = 194,
	CH_IP_ADDRESS_NOT_ALLOWED = 195,
	CH_ACCESS_DENIED = 497,
	CH_AUTHENTICATION_FAILED = 516, /* 20.x and later, for an unknown user and a wrong password alike */
};

const char *preflight_ch_refusal_fix(long http_status, int code)
{
	switch (code) {
	case CH_UNKNOWN_USER:
	case CH_WRONG_PASSWORD:
	case CH_REQUIRED_PASSWORD:
	case CH_AUTHENTICATION_FAILED:
		return "check destination.user and destination.password: ClickHouse does not accept them";
	case CH_IP_ADDRESS_NOT_ALLOWED:
		return "allow this host for the ClickHouse user (<networks> in users.xml, or HOST in CREATE USER)";
	case CH_ACCESS_DENIED:
		return "grant the ClickHouse user what the finding names (SHOW GRANTS lists what it has)";
	}
	if (http_status == 0) /* no answer at all */
		return "check destination.url and that ClickHouse listens there";
	return NULL;
}

/* The privilege and its parents in ClickHouse's hierarchy, ending with ALL. */
static int access_chain(const char *access, const char **out)
{
	static const char *const chains[][6] = {
		{"CREATE TABLE", "CREATE", "ALL"},
		{"CREATE DATABASE", "CREATE", "ALL"},
		{"DROP TABLE", "DROP", "ALL"},
		{"ALTER ADD COLUMN", "ALTER COLUMN", "ALTER TABLE", "ALTER", "ALL"},
	};
	for (size_t i = 0; i < sizeof chains / sizeof chains[0]; i++)
		if (strcmp(chains[i][0], access) == 0) {
			int n = 0;
			while (n < 6 && chains[i][n])
				out[n] = chains[i][n], n++;
			return n;
		}
	out[0] = access;
	out[1] = "ALL";
	return 2;
}

/* Does a grant's database ("*", a name, or a "prefix*" wildcard) include `database`? */
static bool grant_db_matches(const char *pattern, const char *database)
{
	size_t n = strlen(pattern);
	if (strcmp(pattern, "*") == 0)
		return true;
	if (n > 0 && pattern[n - 1] == '*')
		return strncmp(pattern, database, n - 1) == 0;
	return strcmp(pattern, database) == 0;
}

bool preflight_ch_grant_covers(const ChGrant *grants, int n, const char *database, const char *access)
{
	const char *chain[6];
	int nchain = access_chain(access, chain);
	bool granted = false;
	for (int i = 0; i < n && !granted; i++)
		for (int k = 0; k < nchain; k++)
			if (!grants[i].revoke && strcasecmp(grants[i].access, chain[k]) == 0 &&
			    grant_db_matches(grants[i].database, database))
				granted = true;
	for (int i = 0; i < n && granted; i++)
		for (int k = 0; k < nchain; k++)
			if (grants[i].revoke && strcasecmp(grants[i].access, chain[k]) == 0 &&
			    (strcmp(grants[i].database, "*") == 0 || strcmp(grants[i].database, database) == 0) &&
			    strcmp(grants[i].table, "*") == 0)
				granted = false;
	return granted;
}

void preflight_split_fix(const char *msg, const char *config_path, char **detail, char **fix)
{
	/* "config.lua:12: " in front: the finding reads better without it */
	size_t n = config_path ? strlen(config_path) : 0;
	size_t loc = 0;
	if (n > 0 && strncmp(msg, config_path, n) == 0 && msg[n] == ':') {
		loc = n + 1 + strspn(msg + n + 1, "0123456789");
		if (msg[loc] == ':')
			loc++;
	}
	const char *body = msg + loc + strspn(msg + loc, " ");
	const char *f = strstr(body, ". Fix: ");
	if (f) {
		*detail = xstrndup(body, (size_t)(f - body));
		*fix = xstrdup(f + 7);
		return;
	}
	*detail = xstrdup(msg); /* no fix of its own: the location is the fix */
	*fix = loc ? xasprintf("change the config at %.*s", (int)(loc > 0 && msg[loc - 1] == ':' ? loc - 1 : loc), msg) : NULL;
}

/* Findings from captured log lines: errors FAIL, warnings WARN. */
static void add_captured(Findings *f, Captured *c, const Config *cfg, const char *name, const char *default_fix)
{
	for (int i = 0; i < c->n; i++) {
		char *detail, *fix;
		preflight_split_fix(c->msg[i], cfg->path, &detail, &fix);
		add(f, name, c->level[i] >= LOG_ERROR ? CHECK_FAIL : CHECK_WARN, fix ? fix : default_fix, "%s", detail);
		free(detail);
		free(fix);
	}
	captured_clear(c);
}

/* libpq messages span lines ("FATAL:  ...\n"): one line, single blanks, none at the end. */
static void one_line(char *s)
{
	char *w = s;
	for (const char *r = s; *r; r++) {
		char ch = (*r == '\n' || *r == '\r' || *r == '\t') ? ' ' : *r;
		if (ch == ' ' && (w == s || w[-1] == ' '))
			continue;
		*w++ = ch;
	}
	while (w > s && w[-1] == ' ')
		w--;
	*w = '\0';
}

/* ---------------------------------------------------------------- pooler detection */

static const char pooler_why[] =
	"pgch needs the replication protocol, one server session holding the exported snapshot while workers "
	"import it, and its own session settings; a pooler provides none of them";
static const char pooler_fix[] =
	"connect directly to PostgreSQL: set source.host and source.port to the database server itself (usually "
	"port 5432), not to the pooler";

typedef enum PathKind { PATH_DIRECT, PATH_PROXY, PATH_POOLER } PathKind;

typedef struct PathInfo {
	PathKind kind;
	const char *fix;
	Buf finding;    /* what was seen (pooler or proxy) */
	Buf evidence;   /* supporting details, "; "-separated */
} PathInfo;

static void path_free(PathInfo *p)
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

/*
 * Open a replication connection and run IDENTIFY_SYSTEM (what every walsender answers).
 * On failure `why` gets the reason and sqlstate the SQLSTATE of the refusal ("" when none
 * answered). pg_connect's own error line is captured into `why` rather than logged.
 */
static bool replication_probe(const Config *cfg, Buf *why, char sqlstate[6])
{
	Captured c;
	memset(&c, 0, sizeof c);
	LogCapture prev = log_capture((LogCapture){capture_cb, &c});
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
	captured_clear(&c);
	if (why->data)
		one_line(why->data);
	return ok;
}

/* Classify the path from pgch to PostgreSQL (see the file comment). False on a failed query. */
static bool path_detect(const Config *cfg, PGconn *conn, PathInfo *p)
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
		p->fix = pooler_fix;
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
			if (replication_probe(cfg, &why, sqlstate) || preflight_refused_by_postgres(sqlstate)) {
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

/* One line for the log or a finding: what was seen, the evidence, and why it matters. */
static void path_describe(const PathInfo *p, Buf *out)
{
	buf_puts(out, p->finding.data);
	if (p->evidence.len)
		buf_printf(out, " (%s)", p->evidence.data);
	if (p->kind == PATH_POOLER)
		buf_printf(out, "; %s", pooler_why);
}

bool preflight_refuse_pooler(const Config *cfg, PGconn *conn)
{
	PathInfo p;
	if (!path_detect(cfg, conn, &p)) {
		path_free(&p);
		return false;
	}
	Buf msg;
	buf_init(&msg);
	path_describe(&p, &msg);
	if (p.kind == PATH_POOLER)
		log_error("refusing to replicate through a connection pooler at %s:%s: %s. Fix: %s", PQhost(conn), PQport(conn),
			  msg.data, p.fix);
	else if (p.kind == PATH_PROXY)
		log_info("%s; it passes replication connections and session settings through, so pgch uses it", msg.data);
	bool ok = p.kind != PATH_POOLER;
	buf_free(&msg);
	path_free(&p);
	return ok;
}

/* ---------------------------------------------------------------- check context */

typedef struct Check {
	const Config *cfg;
	Findings out;
	Captured cap;
	PGconn *pg;
	bool pooler;            /* a pooler was found: the replication test would repeat it */
	bool slot_exists;
	ChConn ch;
	bool ch_open, ch_ok;
	Catalog cat;
	bool have_cat;
} Check;

/* Names of the usable (not refused) tables, at most 5, for findings. */
static void table_names(const Catalog *cat, Buf *out)
{
	int shown = 0, usable = 0;
	for (int i = 0; i < cat->ntables; i++) {
		if (cat->tables[i].refused)
			continue;
		usable++;
		if (shown < 5)
			buf_printf(out, "%s%s", shown++ ? ", " : "", cat->tables[i].display);
	}
	if (usable > shown)
		buf_printf(out, " and %d more", usable - shown);
}

static int usable_tables(const Catalog *cat)
{
	int n = 0;
	for (int i = 0; i < cat->ntables; i++)
		n += !cat->tables[i].refused;
	return n;
}

/* ---------------------------------------------------------------- PostgreSQL */

static bool check_pg_connect(Check *c)
{
	char where[512];
	pg_describe(c->cfg, where, sizeof where);
	PgConnFailure failure;
	c->pg = pg_connect_why(c->cfg, PG_CONN_NORMAL, "check", &failure);
	if (!c->pg) {
		bool pooler = pg_refused_by_pooler(failure.sqlstate);
		add_captured(&c->out, &c->cap, c->cfg, pooler ? "pooler" : "postgres",
			     pooler ? pooler_fix
				    : "check source (host, port, dbname, user, password) and that PostgreSQL's "
				      "pg_hba.conf admits this client");
		return false;
	}
	const char *version = PQparameterStatus(c->pg, "server_version");
	add(&c->out, "postgres", CHECK_OK, NULL, "PostgreSQL %s at %s", version ? version : "?", where);
	int v = PQserverVersion(c->pg);
	if (v < 140000)
		add(&c->out, "postgres version", CHECK_FAIL, "upgrade PostgreSQL to 14 or newer",
		    "PostgreSQL %d is older than 14: pgch needs TID range scans (snapshot partitions by ctid) and "
		    "pgoutput's binary mode, both new in 14",
		    v / 10000);
	return true;
}

/* Without a connection a pooler's documented endpoint is still worth naming. */
static void check_endpoint_offline(Check *c)
{
	const char *host = getenv("PGHOST"), *port = getenv("PGPORT"), *fix;
	for (int i = 0; i < c->cfg->source.n_params; i++) {
		if (strcmp(c->cfg->source.params[i].key, "host") == 0)
			host = c->cfg->source.params[i].val;
		if (strcmp(c->cfg->source.params[i].key, "port") == 0)
			port = c->cfg->source.params[i].val;
	}
	for (int i = 0; i < c->out.n; i++)
		if (strcmp(c->out.items[i].name, "pooler") == 0)
			return; /* the connection error already said so */
	const char *what = preflight_pooler_endpoint(host, port ? atoi(port) : 5432, &fix);
	if (what) {
		char where[512];
		pg_describe(c->cfg, where, sizeof where);
		add(&c->out, "pooler", CHECK_FAIL, fix, "%s is an endpoint of %s; %s", where, what, pooler_why);
	}
}

static void check_path(Check *c)
{
	PathInfo p;
	if (!path_detect(c->cfg, c->pg, &p)) {
		add_captured(&c->out, &c->cap, c->cfg, "pooler", "see the finding");
		path_free(&p);
		return;
	}
	Buf msg;
	buf_init(&msg);
	path_describe(&p, &msg);
	if (p.kind == PATH_POOLER) {
		c->pooler = true;
		add(&c->out, "pooler", CHECK_FAIL, p.fix, "connection pooler at %s:%s: %s", PQhost(c->pg), PQport(c->pg),
		    msg.data);
	} else if (p.kind == PATH_PROXY) {
		add(&c->out, "pooler", CHECK_WARN,
		    "nothing if this proxy keeps each client on one server session (as Neon's does); if it is a "
		    "pooler in transaction mode, connect directly to PostgreSQL",
		    "%s; it passes replication connections and session settings through", msg.data);
	} else if (p.evidence.len) {
		add(&c->out, "pooler", CHECK_OK, NULL,
		    "no pooler: the backend's process id is the one in the connection's cancel key (%s: NAT or a TCP "
		    "proxy, which is fine)",
		    p.evidence.data);
	} else {
		add(&c->out, "pooler", CHECK_OK, NULL,
		    "direct connection, no pooler: the backend's process id is the one in the connection's cancel key");
	}
	buf_free(&msg);
	path_free(&p);
}

/* wal_level, free slots and WAL senders, the role's right to replicate, a replication connection. */
static void check_server(Check *c)
{
	PGresult *res = pg_query(c->pg,
				 "SELECT current_setting('wal_level'), current_setting('max_replication_slots')::int, "
				 "(SELECT count(*) FROM pg_replication_slots), current_setting('max_wal_senders')::int, "
				 "(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender'), "
				 "r.rolsuper, r.rolreplication, coalesce((SELECT bool_or(pg_has_role(current_user, m.oid, "
				 "'member')) FROM pg_roles m WHERE m.rolname = 'rds_replication'), false), current_user, "
				 "quote_ident(current_user) "
				 "FROM pg_roles r WHERE r.rolname = current_user");
	if (!res || PQntuples(res) != 1) {
		PQclear(res);
		add_captured(&c->out, &c->cap, c->cfg, "postgres", "see the finding");
		return;
	}
	const char *wal_level = PQgetvalue(res, 0, 0);
	int max_slots = atoi(PQgetvalue(res, 0, 1)), used_slots = atoi(PQgetvalue(res, 0, 2));
	int max_senders = atoi(PQgetvalue(res, 0, 3)), used_senders = atoi(PQgetvalue(res, 0, 4));
	bool super = PQgetvalue(res, 0, 5)[0] == 't', repl = PQgetvalue(res, 0, 6)[0] == 't';
	bool rds = PQgetvalue(res, 0, 7)[0] == 't';
	const char *user = PQgetvalue(res, 0, 8), *user_q = PQgetvalue(res, 0, 9);

	if (strcmp(wal_level, "logical") == 0)
		add(&c->out, "wal_level", CHECK_OK, NULL, "wal_level = logical");
	else
		add(&c->out, "wal_level", CHECK_FAIL,
		    "ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL (RDS and Aurora: "
		    "rds.logical_replication = 1 in the parameter group; Cloud SQL: the cloudsql.logical_decoding flag)",
		    "wal_level = %s: logical decoding needs wal_level = logical", wal_level);

	char fix[256];
	int free_slots = max_slots - used_slots;
	snprintf(fix, sizeof fix,
		 "ALTER SYSTEM SET max_replication_slots = %d; then restart PostgreSQL (or drop slots no longer used: "
		 "SELECT slot_name, active FROM pg_replication_slots)",
		 used_slots + 2 > 10 ? used_slots + 2 : 10);
	if (free_slots < 1 && !c->slot_exists)
		add(&c->out, "max_replication_slots", CHECK_FAIL, fix,
		    "no replication slot is free for pgch: max_replication_slots = %d, %d in use", max_slots, used_slots);
	else if (free_slots < 1)
		add(&c->out, "max_replication_slots", CHECK_WARN, fix,
		    "no replication slot is free (max_replication_slots = %d, %d in use): re-reading a partition whose "
		    "snapshot is gone needs a temporary slot",
		    max_slots, used_slots);
	else
		add(&c->out, "max_replication_slots", CHECK_OK, NULL, "max_replication_slots = %d, %d in use", max_slots,
		    used_slots);

	int free_senders = max_senders - used_senders;
	snprintf(fix, sizeof fix, "ALTER SYSTEM SET max_wal_senders = %d; then restart PostgreSQL",
		 used_senders + 2 > 10 ? used_senders + 2 : 10);
	if (free_senders < 1)
		add(&c->out, "max_wal_senders", CHECK_FAIL, fix,
		    "no WAL sender is free: max_wal_senders = %d, %d in use (pgch needs one for the snapshot export and "
		    "one for the stream)",
		    max_senders, used_senders);
	else if (free_senders < 2)
		add(&c->out, "max_wal_senders", CHECK_WARN, fix,
		    "only one WAL sender is free (max_wal_senders = %d, %d in use): pgch run needs two, the snapshot "
		    "export and the stream",
		    max_senders, used_senders);
	else
		add(&c->out, "max_wal_senders", CHECK_OK, NULL, "max_wal_senders = %d, %d in use", max_senders, used_senders);

	if (!super && !repl && !rds) {
		snprintf(fix, sizeof fix, "ALTER ROLE %s REPLICATION (on RDS and Aurora: GRANT rds_replication TO %s)",
			 user_q, user_q);
		add(&c->out, "replication", CHECK_FAIL, fix,
		    "role %s has neither REPLICATION nor superuser: it cannot create the replication slot or stream "
		    "changes",
		    user);
	} else if (c->pooler) {
		add(&c->out, "replication", CHECK_OK, NULL,
		    "role %s %s (a replication connection is not tried through the pooler)", user,
		    super ? "is a superuser" : repl ? "has REPLICATION" : "is a member of rds_replication");
	} else {
		Buf why;
		buf_init(&why);
		char sqlstate[6];
		const char *how = super ? "is a superuser" : repl ? "has REPLICATION" : "is a member of rds_replication";
		if (replication_probe(c->cfg, &why, sqlstate)) {
			add(&c->out, "replication", CHECK_OK, NULL,
			    "role %s %s, and a replication connection answers IDENTIFY_SYSTEM", user, how);
		} else {
			const char *hint = preflight_replication_fix(sqlstate);
			add(&c->out, "replication", CHECK_FAIL, hint ? hint : "see the finding",
			    "role %s %s, but a replication connection fails: %s", user, how, why.data);
		}
		buf_free(&why);
	}
	PQclear(res);
}

/* catalog_discover's verdicts, one finding per problem, plus what is ready. */
static void check_tables(Check *c)
{
	ChCaps legacy;
	const ChCaps *caps = &c->ch.caps;
	if (!c->ch_ok) {
		types_caps_legacy(&legacy); /* the narrowest mapping: the table checks do not depend on it */
		caps = &legacy;
	}
	bool ok = catalog_discover(c->pg, c->cfg, caps, &c->cat);
	c->have_cat = true;
	bool privileges = true;
	for (int i = 0; i < c->cap.n; i++) {
		char name[300] = "tables", *detail, *fix;
		size_t best = 0; /* the longest name it contains: public.ab, not public.a */
		for (int t = 0; t < c->cat.ntables; t++) {
			const char *d = c->cat.tables[t].display;
			if (strlen(d) > best && strstr(c->cap.msg[i], d)) {
				snprintf(name, sizeof name, "table %s", d);
				best = strlen(d);
			}
		}
		/* catalog.c's own words for a missing grant (pgch's text, not the server's); a table
		 * refused for that and more is not `unreadable`, so the flag cannot stand in */
		privileges = privileges && !strstr(c->cap.msg[i], "GRANT SELECT");
		preflight_split_fix(c->cap.msg[i], c->cfg->path, &detail, &fix);
		add(&c->out, name, c->cap.level[i] >= LOG_ERROR ? CHECK_FAIL : CHECK_WARN,
		    fix ? fix : "change the table or the config as the finding says", "%s", detail);
		free(detail);
		free(fix);
	}
	captured_clear(&c->cap);
	int usable = usable_tables(&c->cat);
	if (c->cat.ntables == 0)
		return;
	bool partitioned = false;
	Buf parts;
	buf_init(&parts);
	for (int i = 0; i < c->cat.ntables; i++) {
		partitioned = partitioned || c->cat.tables[i].relkind == 'p';
		if (!c->cat.tables[i].refused && c->cat.tables[i].relkind == 'p')
			buf_printf(&parts, "%s%s", parts.len ? ", " : "", c->cat.tables[i].display);
	}
	if (privileges)
		add(&c->out, "select", CHECK_OK, NULL, "%s can SELECT from the %d selected table%s%s", PQuser(c->pg),
		    c->cat.ntables, c->cat.ntables == 1 ? "" : "s", partitioned ? " and their partitions" : "");
	if (parts.len) /* DESIGN.md §3 */
		add(&c->out, "partitioned tables", CHECK_WARN,
		    "truncate the whole table, or after truncating one partition run pgch resync --table for it",
		    "with publish_via_partition_root, PostgreSQL does not send a TRUNCATE of a single partition of %s, so "
		    "ClickHouse keeps those rows",
		    parts.data);
	buf_free(&parts);
	if (usable > 0) {
		Buf names;
		buf_init(&names);
		table_names(&c->cat, &names);
		if (ok)
			add(&c->out, "tables", CHECK_OK, NULL,
			    "%d table%s selected, each with a usable replica identity and key: %s", usable,
			    usable == 1 ? "" : "s", names.data);
		else
			add(&c->out, "tables", CHECK_OK, NULL, "%d of the %d selected tables are ready: %s", usable,
			    c->cat.ntables, names.data);
		buf_free(&names);
	}
}

/* Quoted, comma-separated names of tables by oid. */
static void names_of(PGconn *conn, const char *oid_array, bool only_not_owned, Buf *out)
{
	const char *params[1] = {oid_array};
	PGresult *res = pg_query_params(conn,
					only_not_owned
						? "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n "
						  "ON n.oid = c.relnamespace WHERE c.oid = ANY($1::oid[]) AND NOT pg_has_role(c.relowner, "
						  "'USAGE') ORDER BY 1"
						: "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n "
						  "ON n.oid = c.relnamespace WHERE c.oid = ANY($1::oid[]) ORDER BY 1",
					1, params);
	if (!res)
		return;
	for (int i = 0; i < PQntuples(res); i++)
		buf_printf(out, "%s%s", i ? ", " : "", PQgetvalue(res, i, 0));
	PQclear(res);
}

/* The publication: absent and creatable, or present with exactly the usable tables. */
static void check_publication(Check *c)
{
	const Config *cfg = c->cfg;
	if (usable_tables(&c->cat) == 0)
		return;
	/* the usable tables only: a refused one must not be published (its writes would fail) */
	Catalog usable = c->cat;
	usable.tables = xcalloc((size_t)c->cat.ntables + 1, sizeof(Table));
	usable.ntables = 0;
	/* a table refused only for want of SELECT is reported by its own finding (GRANT SELECT);
	 * publishing it harms nothing, so it is neither wanted nor to be dropped here */
	Buf want, neutral;
	buf_init(&want);
	buf_init(&neutral);
	buf_put_u8(&want, '{');
	buf_put_u8(&neutral, '{');
	for (int i = 0; i < c->cat.ntables; i++)
		if (!c->cat.tables[i].refused) {
			usable.tables[usable.ntables++] = c->cat.tables[i];
			buf_printf(&want, "%s%u", want.len > 1 ? "," : "", c->cat.tables[i].oid);
		} else if (c->cat.tables[i].unreadable) {
			buf_printf(&neutral, "%s%u", neutral.len > 1 ? "," : "", c->cat.tables[i].oid);
		}
	buf_put_u8(&want, '}');
	buf_put_u8(&neutral, '}');
	char *pub = pg_quote_ident(c->pg, cfg->pipe.publication);
	const char *params[3] = {cfg->pipe.publication, want.data, neutral.data};
	Buf sql, add_list, drop_list, not_owned;
	buf_init(&sql);
	buf_init(&add_list);
	buf_init(&drop_list);
	buf_init(&not_owned);
	PGresult *res = pg_query_params(c->pg,
					"SELECT p.puballtables, p.pubinsert AND p.pubupdate AND p.pubdelete AND p.pubtruncate, "
					"p.pubviaroot, pg_has_role(p.pubowner, 'USAGE') OR (SELECT rolsuper FROM pg_roles WHERE "
					"rolname = current_user), "
					"(SELECT coalesce(array_agg(oid), '{}') FROM unnest($2::oid[]) oid WHERE oid NOT IN "
					"(SELECT prrelid FROM pg_publication_rel WHERE prpubid = p.oid)), "
					"(SELECT coalesce(array_agg(prrelid), '{}') FROM pg_publication_rel WHERE prpubid = p.oid "
					"AND prrelid <> ALL ($2::oid[]) AND prrelid <> ALL ($3::oid[])) "
					"FROM pg_publication p WHERE p.pubname = $1",
					3, params);
	if (!res) {
		add_captured(&c->out, &c->cap, cfg, "publication", "see the finding");
		goto out;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		res = pg_query(c->pg, "SELECT rolsuper, has_database_privilege(current_database(), 'CREATE') FROM pg_roles "
				      "WHERE rolname = current_user");
		if (!res) {
			add_captured(&c->out, &c->cap, cfg, "publication", "see the finding");
			goto out;
		}
		bool super = PQgetvalue(res, 0, 0)[0] == 't', create = PQgetvalue(res, 0, 1)[0] == 't';
		if (!super)
			names_of(c->pg, want.data, true, &not_owned);
		slot_publication_sql(c->pg, cfg, &usable, &sql);
		if (super || (create && not_owned.len == 0)) {
			add(&c->out, "publication", CHECK_OK, NULL, "publication %s does not exist yet; pgch creates it (%s)",
			    cfg->pipe.publication, super ? "superuser" : "owner of the tables");
		} else {
			Buf why;
			buf_init(&why);
			if (not_owned.len)
				buf_printf(&why, "does not own %s", not_owned.data);
			if (!create)
				buf_printf(&why, "%shas no CREATE privilege on database %s", why.len ? " and " : "", PQdb(c->pg));
			char *fix = xasprintf("as the owner of the tables (or a superuser) run: %s", sql.data);
			add(&c->out, "publication", CHECK_FAIL, fix,
			    "publication %s does not exist and %s cannot create it: %s %s", cfg->pipe.publication,
			    PQuser(c->pg), PQuser(c->pg), why.data);
			free(fix);
			buf_free(&why);
		}
		goto out;
	}
	if (PQgetvalue(res, 0, 0)[0] == 't') {
		add(&c->out, "publication", CHECK_FAIL,
		    "set pipe.publication to another name: pgch creates a publication of exactly the selected tables",
		    "publication %s is FOR ALL TABLES", cfg->pipe.publication);
		goto out;
	}
	bool ops = PQgetvalue(res, 0, 1)[0] == 't', viaroot = PQgetvalue(res, 0, 2)[0] == 't';
	bool owner = PQgetvalue(res, 0, 3)[0] == 't';
	const char *missing = PQgetvalue(res, 0, 4), *extra = PQgetvalue(res, 0, 5);
	if (strcmp(missing, "{}") != 0) {
		names_of(c->pg, missing, false, &add_list);
		names_of(c->pg, missing, true, &not_owned);
	}
	if (strcmp(extra, "{}") != 0)
		names_of(c->pg, extra, false, &drop_list);
	if (!add_list.len && !drop_list.len && ops && viaroot) {
		add(&c->out, "publication", CHECK_OK, NULL, "publication %s publishes exactly the %d selected table%s",
		    cfg->pipe.publication, usable.ntables, usable.ntables == 1 ? "" : "s");
		goto out;
	}
	if (add_list.len)
		buf_printf(&sql, "ALTER PUBLICATION %s ADD TABLE %s; ", pub, add_list.data);
	if (drop_list.len)
		buf_printf(&sql, "ALTER PUBLICATION %s DROP TABLE %s; ", pub, drop_list.data);
	if (!ops)
		buf_printf(&sql, "ALTER PUBLICATION %s SET (publish = 'insert, update, delete, truncate'); ", pub);
	if (!viaroot)
		buf_printf(&sql, "ALTER PUBLICATION %s SET (publish_via_partition_root = true); ", pub);
	sql.data[sql.len - 2] = '\0';
	Buf what;
	buf_init(&what);
	if (add_list.len)
		buf_printf(&what, "lacks %s", add_list.data);
	if (drop_list.len)
		buf_printf(&what, "%salso publishes %s", what.len ? ", " : "", drop_list.data);
	if (!ops || !viaroot)
		buf_printf(&what, "%shas other options", what.len ? ", " : "");
	if (owner && not_owned.len == 0) {
		add(&c->out, "publication", CHECK_OK, NULL, "publication %s %s; pgch brings it up to date: %s",
		    cfg->pipe.publication, what.data, sql.data);
	} else {
		char *fix = xasprintf("as the owner of the publication and the tables (or a superuser) run: %s", sql.data);
		add(&c->out, "publication", CHECK_FAIL, fix, "publication %s %s, and %s cannot change it (%s)",
		    cfg->pipe.publication, what.data, PQuser(c->pg),
		    owner ? "does not own every table to add" : "not its owner");
		free(fix);
	}
	buf_free(&what);
out:
	PQclear(res);
	free(pub);
	free(usable.tables);
	buf_free(&want);
	buf_free(&neutral);
	buf_free(&sql);
	buf_free(&add_list);
	buf_free(&drop_list);
	buf_free(&not_owned);
}

/* The slot: absent (created later), inactive (continued from), active, or lost. */
static void check_slot(Check *c, const SlotInfo *s)
{
	const char *slot = c->cfg->pipe.slot;
	char fix[512];
	snprintf(fix, sizeof fix, "SELECT pg_drop_replication_slot('%s') if no other pipe uses it, or set pipe.slot", slot);
	if (!s->exists) {
		add(&c->out, "slot", CHECK_OK, NULL, "replication slot %s does not exist yet; pgch creates it", slot);
	} else if (strcmp(s->plugin, "pgoutput") != 0 || strcmp(s->database, PQdb(c->pg)) != 0) {
		add(&c->out, "slot", CHECK_FAIL, fix,
		    "replication slot %s belongs to something else (plugin %s, database %s): pgch needs a pgoutput slot "
		    "of database %s",
		    slot, *s->plugin ? s->plugin : "none (physical)", *s->database ? s->database : "none", PQdb(c->pg));
	} else if (strcmp(s->wal_status, "lost") == 0) {
		snprintf(fix, sizeof fix,
			 "SELECT pg_drop_replication_slot('%s'); then copy again with pgch snapshot --restart", slot);
		add(&c->out, "slot", CHECK_FAIL, fix,
		    "replication slot %s is invalidated (wal_status = lost): the WAL it needed is gone, so the changes "
		    "since it last confirmed cannot be streamed",
		    slot);
	} else if (s->active) {
		add(&c->out, "slot", CHECK_WARN,
		    "stop the other consumer (SELECT active_pid FROM pg_replication_slots), or set pipe.slot",
		    "replication slot %s is in use by another connection (a running pgch run?): a second pipe on it "
		    "fails until that stops",
		    slot);
	} else {
		char lsn[32];
		pg_format_lsn(s->confirmed_flush, lsn, sizeof lsn);
		if (strcmp(s->wal_status, "unreserved") == 0)
			add(&c->out, "slot", CHECK_WARN,
			    "run pgch run soon, or raise max_slot_wal_keep_size so the slot keeps its WAL",
			    "replication slot %s is about to lose WAL it needs (wal_status = unreserved)", slot);
		else
			add(&c->out, "slot", CHECK_OK, NULL, "replication slot %s exists and is inactive; pgch continues from %s",
			    slot, lsn);
	}
}

/* ---------------------------------------------------------------- ClickHouse */

static void check_ch_connect(Check *c)
{
	c->ch_open = ch_open(&c->ch, &c->cfg->dest);
	c->ch_ok = c->ch_open && ch_probe(&c->ch);
}

static void check_ch_report_connect(Check *c, Captured *probe)
{
	if (!c->ch_ok) {
		const char *fix = c->ch_open ? preflight_ch_refusal_fix(c->ch.last_status, c->ch.last_code) : NULL;
		add_captured(&c->out, probe, c->cfg, "clickhouse",
			     fix ? fix : "check destination.url, user and password, and that ClickHouse listens there");
		return;
	}
	captured_clear(probe);
	const ChCaps *k = &c->ch.caps;
	add(&c->out, "clickhouse", CHECK_OK, NULL, "ClickHouse %s at %s as %s", k->version, c->ch.display, c->ch.user);
	Buf have, lack;
	buf_init(&have);
	buf_init(&lack);
	struct {
		bool on;
		const char *name;
	} caps[] = {{k->has_bool, "Bool"},
		    {k->has_date32, "Date32"},
		    {k->has_datetime64, "DateTime64"},
		    {k->has_decimal256, "Decimal256"},
		    {k->has_low_cardinality, "LowCardinality"},
		    {k->has_nullable_in_array, "Array(Nullable)"},
		    {k->has_replacing_is_deleted, "ReplacingMergeTree(version, is_deleted)"},
		    {k->has_async_insert, "async_insert"},
		    {k->has_zstd_http, "zstd request bodies"}};
	for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
		Buf *b = caps[i].on ? &have : &lack;
		buf_printf(b, "%s%s", b->len ? ", " : "", caps[i].name);
	}
	add(&c->out, "clickhouse capabilities", CHECK_OK, NULL, "probed: %s%s%s%s%s", have.len ? "has " : "", have.data,
	    have.len && lack.len ? "; " : "", lack.len ? "lacks " : "", lack.data);
	buf_free(&have);
	buf_free(&lack);
}

/* May the user create the database and tables and write them? */
static void check_ch_grants(Check *c, bool db_exists)
{
	const char *db = c->cfg->dest.database, *user = c->ch.user;
	Buf a, sql;
	buf_init(&a);
	buf_init(&sql);
	if (!ch_query(&c->ch, "SELECT name, value FROM system.settings WHERE name IN ('readonly', 'allow_ddl')", &a)) {
		add_captured(&c->out, &c->cap, c->cfg, "clickhouse grants", "see the finding");
		goto out;
	}
	int readonly = 0, allow_ddl = 1;
	ChTsv t;
	char *f[2];
	ch_tsv_init(&t, &a);
	while (ch_tsv_next_line(&t, f, 2) == 2) {
		if (strcmp(f[0], "readonly") == 0)
			readonly = atoi(f[1]);
		else if (strcmp(f[0], "allow_ddl") == 0)
			allow_ddl = atoi(f[1]);
	}
	if (readonly != 0 || allow_ddl == 0) {
		char fix[256];
		snprintf(fix, sizeof fix, "set %s for user %s in its ClickHouse settings profile (users.xml or SETTINGS PROFILE)",
			 readonly ? "readonly = 0" : "allow_ddl = 1", user);
		add(&c->out, "clickhouse grants", CHECK_FAIL, fix, "ClickHouse user %s has %s = %d: pgch cannot create tables%s",
		    user, readonly ? "readonly" : "allow_ddl", readonly ? readonly : allow_ddl, readonly ? " or insert" : "");
		goto out;
	}
	buf_reset(&a);
	if (!ch_query(&c->ch, "SELECT count() FROM system.tables WHERE database = 'system' AND name = 'grants'", &a)) {
		add_captured(&c->out, &c->cap, c->cfg, "clickhouse grants", "see the finding");
		goto out;
	}
	if (atoi(a.data) == 0) {
		/* 18.x–19.x: no access control beyond readonly/allow_ddl and users.xml's allow_databases */
		bool usable = false;
		if (db_exists) {
			buf_puts(&sql, "SHOW TABLES FROM ");
			ch_quote_ident(&sql, db);
			c->ch.quiet = true;
			usable = ch_query(&c->ch, sql.data, NULL);
			c->ch.quiet = false;
		}
		if (usable) {
			add(&c->out, "clickhouse grants", CHECK_OK, NULL,
			    "user %s may use database %s (readonly = 0, allow_ddl = 1; this server has no per-user grants)", user,
			    db);
		} else {
			char fix[512];
			snprintf(fix, sizeof fix,
				 "if pgch cannot create it, run CREATE DATABASE IF NOT EXISTS `%s` as a user who may, and allow "
				 "database %s for user %s (users.xml allow_databases)",
				 db, db, user);
			add(&c->out, "clickhouse grants", CHECK_WARN, fix,
			    "could not verify that user %s may %s database %s: ClickHouse %s has no system.grants (readonly = 0 "
			    "and allow_ddl = 1 do allow DDL)",
			    user, db_exists ? "use" : "create", db, c->ch.caps.version);
		}
		goto out;
	}
	buf_reset(&a);
	if (!ch_query(&c->ch,
		      "SELECT toString(access_type), ifNull(database, '*'), ifNull(table, '*'), is_partial_revoke FROM "
		      "system.grants WHERE user_name = currentUser() OR role_name IN (SELECT arrayJoin(enabledRoles()))",
		      &a)) {
		add_captured(&c->out, &c->cap, c->cfg, "clickhouse grants",
			     c->ch.last_code == CH_ACCESS_DENIED
				     ? "grant the user SHOW USERS, or check its grants by hand (SHOW GRANTS)"
				     : "see the finding");
		goto out;
	}
	ChGrant *g = NULL;
	int n = 0;
	ch_tsv_init(&t, &a);
	char *row[4];
	while (ch_tsv_next_line(&t, row, 4) == 4) {
		g = xrealloc(g, sizeof(ChGrant) * (size_t)(n + 1));
		g[n].access = row[0];
		g[n].database = row[1];
		g[n].table = row[2];
		g[n].revoke = atoi(row[3]) != 0;
		n++;
	}
	if (n == 0) {
		add(&c->out, "clickhouse grants", CHECK_WARN, "check the user's grants by hand: SHOW GRANTS",
		    "could not verify the grants of user %s: system.grants shows none for it or its roles", user);
		free(g);
		goto out;
	}
	static const char *const needed[] = {"CREATE DATABASE", "CREATE TABLE", "INSERT", "SELECT"};
	static const char *const wanted[] = {"ALTER ADD COLUMN", "TRUNCATE", "DROP TABLE"};
	Buf miss, miss_opt;
	buf_init(&miss);
	buf_init(&miss_opt);
	for (size_t i = db_exists ? 1 : 0; i < sizeof needed / sizeof needed[0]; i++)
		if (!preflight_ch_grant_covers(g, n, db, needed[i]))
			buf_printf(&miss, "%s%s", miss.len ? ", " : "", needed[i]);
	for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++)
		if (!preflight_ch_grant_covers(g, n, db, wanted[i]))
			buf_printf(&miss_opt, "%s%s", miss_opt.len ? ", " : "", wanted[i]);
	char *fix;
	if (miss.len) {
		fix = xasprintf("GRANT %s ON `%s`.* TO `%s`", miss.data, db, user);
		add(&c->out, "clickhouse grants", CHECK_FAIL, fix, "ClickHouse user %s lacks %s on database %s", user, miss.data,
		    db);
		free(fix);
	} else if (miss_opt.len) {
		fix = xasprintf("GRANT %s ON `%s`.* TO `%s`", miss_opt.data, db, user);
		add(&c->out, "clickhouse grants", CHECK_WARN, fix,
		    "ClickHouse user %s may create and write tables in %s but lacks %s (new columns, TRUNCATE, --restart)",
		    user, db, miss_opt.data);
		free(fix);
	} else {
		add(&c->out, "clickhouse grants", CHECK_OK, NULL, "ClickHouse user %s may create, write and alter tables in %s",
		    user, db);
	}
	buf_free(&miss);
	buf_free(&miss_opt);
	free(g);
out:
	buf_free(&a);
	buf_free(&sql);
}

/* Strip backticks and blanks, for comparing key expressions as ClickHouse prints them. */
static void squeeze(const char *in, Buf *out)
{
	for (const char *p = in; *p; p++)
		if (*p != '`' && *p != ' ')
			buf_put_u8(out, (uint8_t)*p);
}

/* Is `version` one of the arguments of the ReplacingMergeTree(...) in engine_full? */
static bool engine_versioned_by(const char *engine_full, const char *version)
{
	const char *p = strstr(engine_full, "ReplacingMergeTree(");
	if (!p)
		return false;
	p += strlen("ReplacingMergeTree(");
	while (*p && *p != ')') {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, ",)");
		char *raw = xstrndup(p, n);
		Buf arg;
		buf_init(&arg);
		squeeze(raw, &arg);
		bool same = arg.data && strcmp(arg.data, version) == 0;
		buf_free(&arg);
		free(raw);
		if (same)
			return true;
		p += n;
		if (*p == ',')
			p++;
	}
	return false;
}

/* Existing target tables must have the planned columns, types, engine and ORDER BY. */
static void check_ch_targets(Check *c)
{
	const Config *cfg = c->cfg;
	Buf sql, tabs, cols;
	buf_init(&sql);
	buf_init(&tabs);
	buf_init(&cols);
	buf_puts(&sql, "SELECT name, engine, engine_full, sorting_key FROM system.tables WHERE database = ");
	ch_quote_string(&sql, cfg->dest.database);
	bool ok = ch_query(&c->ch, sql.data, &tabs);
	buf_reset(&sql);
	buf_puts(&sql, "SELECT table, name, type FROM system.columns WHERE database = ");
	ch_quote_string(&sql, cfg->dest.database);
	ok = ok && ch_query(&c->ch, sql.data, &cols);
	if (!ok) {
		add_captured(&c->out, &c->cap, cfg, "clickhouse tables", "see the finding");
		goto out;
	}
	/* rows: [table, engine, engine_full, sorting_key] and [table, column, type] */
	int ntab = 0, ncol = 0;
	char *(*trow)[4] = NULL, *(*crow)[3] = NULL;
	ChTsv t;
	char *f[4];
	ch_tsv_init(&t, &tabs);
	while (ch_tsv_next_line(&t, f, 4) == 4) {
		trow = xrealloc(trow, sizeof *trow * (size_t)(ntab + 1));
		memcpy(trow[ntab++], f, sizeof f);
	}
	ch_tsv_init(&t, &cols);
	while (ch_tsv_next_line(&t, f, 3) == 3) {
		crow = xrealloc(crow, sizeof *crow * (size_t)(ncol + 1));
		memcpy(crow[ncol++], f, sizeof(char *) * 3);
	}
	int existing = 0, fresh = 0, bad = 0;
	for (int ti = 0; ti < c->cat.ntables; ti++) {
		const Table *tb = &c->cat.tables[ti];
		if (tb->refused)
			continue;
		int tr = -1;
		for (int i = 0; i < ntab; i++)
			if (strcmp(trow[i][0], tb->target) == 0)
				tr = i;
		if (tr < 0) {
			fresh++;
			continue;
		}
		existing++;
		char name[300], fix[1024];
		snprintf(name, sizeof name, "target %s.%s", cfg->dest.database, tb->target);
		snprintf(fix, sizeof fix, "DROP TABLE `%s`.`%s` so pgch creates it (pgch snapshot --restart does), or set target "
					  "for %s to another name",
			 cfg->dest.database, tb->target, tb->display);
		int problems = 0;
		if (!ends_with_ci(trow[tr][1], "ReplacingMergeTree") ||
		    !engine_versioned_by(trow[tr][2], cfg->dest.version_column)) {
			add(&c->out, name, CHECK_FAIL, fix,
			    "ClickHouse table %s.%s exists with engine %s, not ReplacingMergeTree(%s): updates and deletes "
			    "would not replace the rows they change",
			    cfg->dest.database, tb->target, trow[tr][1], cfg->dest.version_column);
			problems++;
		}
		Buf want, got, order;
		buf_init(&want);
		buf_init(&got);
		buf_init(&order);
		for (int i = 0; i < tb->norder; i++)
			buf_printf(&order, "%s%s", i ? ", " : "", tb->cols[tb->order[i]].name);
		squeeze(order.data ? order.data : "", &want);
		squeeze(trow[tr][3], &got);
		if (strcmp(want.data ? want.data : "", got.data ? got.data : "") != 0) {
			add(&c->out, name, CHECK_FAIL, fix,
			    "ClickHouse table %s.%s is ordered by (%s), pgch needs (%s): rows are deduplicated by ORDER BY",
			    cfg->dest.database, tb->target, trow[tr][3], order.data);
			problems++;
		}
		buf_free(&want);
		buf_free(&got);
		buf_free(&order);
		/* planned columns: the table's, then the three of pgch */
		for (int ci = 0; ci < tb->ncols + 3; ci++) {
			Buf type;
			buf_init(&type);
			const char *col;
			if (ci < tb->ncols) {
				col = tb->cols[ci].name;
				types_ch_name(&tb->cols[ci].ch, &type);
			} else {
				col = ci == tb->ncols ? cfg->dest.version_column
				      : ci == tb->ncols + 1 ? cfg->dest.deleted_column
							    : cfg->dest.synced_column;
				buf_puts(&type, ci == tb->ncols ? "UInt64" : ci == tb->ncols + 1 ? "UInt8" : "DateTime");
			}
			const char *have = NULL;
			for (int i = 0; i < ncol; i++)
				if (strcmp(crow[i][0], tb->target) == 0 && strcmp(crow[i][1], col) == 0)
					have = crow[i][2];
			if (!have) {
				char *cfix = xasprintf("ALTER TABLE `%s`.`%s` ADD COLUMN `%s` %s, or %s", cfg->dest.database,
						       tb->target, col, type.data, fix);
				add(&c->out, name, CHECK_FAIL, cfix, "ClickHouse table %s.%s exists without column %s (%s)",
				    cfg->dest.database, tb->target, col, type.data);
				free(cfix);
				problems++;
			} else if (strcmp(have, type.data) != 0) {
				char *cfix = ci < tb->ncols
						     ? xasprintf("%s; or keep it with types = { %s = \"%s\" } in the entry for %s",
								 fix, col, have, tb->display)
						     : xstrdup(fix);
				add(&c->out, name, CHECK_FAIL, cfix,
				    "ClickHouse table %s.%s has column %s as %s, pgch writes %s", cfg->dest.database, tb->target,
				    col, have, type.data);
				free(cfix);
				problems++;
			}
			buf_free(&type);
		}
		bad += problems > 0;
	}
	if (existing - bad > 0 || fresh > 0) {
		Buf d;
		buf_init(&d);
		if (existing - bad > 0)
			buf_printf(&d, "%d existing target table%s match%s the plan", existing - bad, existing - bad == 1 ? "" : "s",
				   existing - bad == 1 ? "es" : "");
		if (fresh > 0)
			buf_printf(&d, "%s%d target table%s will be created", d.len ? "; " : "", fresh, fresh == 1 ? "" : "s");
		add(&c->out, "clickhouse tables", CHECK_OK, NULL, "%s in %s", d.data, cfg->dest.database);
		buf_free(&d);
	}
	free(trow);
	free(crow);
out:
	buf_free(&sql);
	buf_free(&tabs);
	buf_free(&cols);
}

static void check_ch(Check *c)
{
	const char *db = c->cfg->dest.database;
	Buf sql, a;
	buf_init(&sql);
	buf_init(&a);
	buf_puts(&sql, "SELECT count() FROM system.databases WHERE name = ");
	ch_quote_string(&sql, db);
	if (!ch_query(&c->ch, sql.data, &a)) {
		add_captured(&c->out, &c->cap, c->cfg, "clickhouse database", "see the finding");
		goto out;
	}
	bool exists = atoi(a.data) > 0;
	add(&c->out, "clickhouse database", CHECK_OK, NULL,
	    exists ? "ClickHouse database %s exists" : "ClickHouse database %s does not exist yet; pgch creates it", db);
	check_ch_grants(c, exists);
	if (exists && c->have_cat)
		check_ch_targets(c);
out:
	buf_free(&sql);
	buf_free(&a);
}

/* ---------------------------------------------------------------- output */

static const char *status_name(CheckStatus s)
{
	return s == CHECK_OK ? "OK" : s == CHECK_WARN ? "WARN" : "FAIL";
}

static void print_findings(const Findings *f, bool json)
{
	Buf out;
	buf_init(&out);
	int counts[3] = {0, 0, 0};
	for (int i = 0; i < f->n; i++)
		counts[f->items[i].status]++;
	if (json) {
		buf_puts(&out, "{\"checks\": [");
		for (int i = 0; i < f->n; i++) {
			const Finding *it = &f->items[i];
			buf_puts(&out, i ? ",\n  {\"name\": " : "\n  {\"name\": ");
			buf_json_string(&out, it->name);
			buf_printf(&out, ", \"status\": \"%s\", \"detail\": ", status_name(it->status));
			buf_json_string(&out, it->detail);
			buf_puts(&out, ", \"fix\": ");
			if (it->fix)
				buf_json_string(&out, it->fix);
			else
				buf_puts(&out, "null");
			buf_put_u8(&out, '}');
		}
		buf_printf(&out, "\n], \"ok\": %s}\n", counts[CHECK_FAIL] ? "false" : "true");
	} else {
		for (int i = 0; i < f->n; i++) {
			const Finding *it = &f->items[i];
			buf_printf(&out, "%-5s %s\n", status_name(it->status), it->detail);
			if (it->fix)
				buf_printf(&out, "      fix: %s\n", it->fix);
		}
		buf_printf(&out, "\n%d OK, %d WARN, %d FAIL\n", counts[CHECK_OK], counts[CHECK_WARN], counts[CHECK_FAIL]);
	}
	fwrite(out.data, 1, out.len, stdout);
	fflush(stdout);
	buf_free(&out);
}

int preflight_check(const Config *cfg, bool json)
{
	Check c;
	memset(&c, 0, sizeof c);
	c.cfg = cfg;
	LogCapture prev = log_capture((LogCapture){capture_cb, &c.cap});

	check_ch_connect(&c);
	Captured probe = c.cap; /* reported after PostgreSQL */
	memset(&c.cap, 0, sizeof c.cap);

	if (check_pg_connect(&c)) {
		check_path(&c);
		SlotInfo slot;
		bool have_slot = slot_info(c.pg, cfg->pipe.slot, &slot);
		c.slot_exists = have_slot && slot.exists;
		check_server(&c);
		check_tables(&c);
		check_publication(&c);
		if (have_slot)
			check_slot(&c, &slot);
		else
			add_captured(&c.out, &c.cap, cfg, "slot", "see the finding");
	} else {
		check_endpoint_offline(&c);
	}
	check_ch_report_connect(&c, &probe);
	if (c.ch_ok)
		check_ch(&c);
	add_captured(&c.out, &c.cap, cfg, "pgch", "see the finding"); /* anything not yet reported */

	log_capture(prev);
	print_findings(&c.out, json);
	int fails = 0;
	for (int i = 0; i < c.out.n; i++)
		fails += c.out.items[i].status == CHECK_FAIL;
	if (fails)
		log_error("%d check%s failed: fix %s and run pgch check again", fails, fails == 1 ? "" : "s",
			  fails == 1 ? "it" : "them");

	findings_free(&c.out);
	captured_clear(&c.cap);
	if (c.have_cat)
		catalog_free(&c.cat);
	if (c.ch_open)
		ch_close(&c.ch);
	if (c.pg)
		PQfinish(c.pg);
	return fails ? 1 : 0;
}
