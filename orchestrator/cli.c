/*
 * cli — command implementations; see cli.h. The long-running commands (snapshot, run)
 * hand over to the supervisor; the others are short and talk to both servers directly.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "ch.h"
#include "config.h"
#include "log.h"
#include "pg.h"
#include "plan.h"
#include "supervisor.h"
#include "tunnel.h"

/* What every command starts from: config, source connection, probed destination, catalog. */
typedef struct Session {
	Config *cfg;
	PGconn *pg;
	ChConn ch;
	bool ch_open;
	Catalog cat;
	bool have_cat;
	pid_t tunnel; /* SSH tunnel process, 0 without source.ssh */
} Session;

static void session_close(Session *s)
{
	if (s->have_cat)
		catalog_free(&s->cat);
	if (s->ch_open)
		ch_close(&s->ch);
	if (s->pg)
		PQfinish(s->pg);
	if (s->tunnel) {
		tunnel_stop(s->tunnel);
		pg_tunnel_port = 0;
	}
	config_free(s->cfg);
	memset(s, 0, sizeof *s);
}

/* Load, connect, probe and (if discover) read the catalog. Returns an exit status. */
static int session_open(Session *s, const char *config, bool discover)
{
	memset(s, 0, sizeof *s);
	s->cfg = config_load(config);
	if (!s->cfg)
		return 2;
	if (s->cfg->source.has_ssh && !tunnel_start(s->cfg, &pg_tunnel_port, &s->tunnel))
		return 1;
	s->pg = pg_connect(s->cfg, PG_CONN_NORMAL, "cli");
	if (!s->pg)
		return 1;
	if (!ch_open(&s->ch, &s->cfg->dest))
		return 1;
	s->ch_open = true;
	if (!ch_probe(&s->ch))
		return 1;
	if (discover) {
		if (!catalog_discover(s->pg, s->cfg, &s->ch.caps, &s->cat)) {
			catalog_free(&s->cat);
			return 2;
		}
		s->have_cat = true;
	}
	return 0;
}

int cli_plan(const char *config, const CliOptions *o)
{
	Session s;
	int rc = session_open(&s, config, true);
	if (rc == 0) {
		Plan plan;
		plan_partitions(&s.cat, s.cfg, &plan);
		plan_print(&s.cat, &plan, s.cfg, &s.ch.caps, o->json);
		plan_free(&plan);
	}
	session_close(&s);
	return rc;
}

static int not_yet(const char *what)
{
	log_error("pgch %s is not available in this build yet", what);
	return 1;
}

int cli_check(const char *config, const CliOptions *o)
{
	(void)config;
	(void)o;
	return not_yet("check");
}

int cli_snapshot(const char *config, const CliOptions *o)
{
	Session s;
	int rc = session_open(&s, config, true);
	if (rc == 0) {
		log_set_timestamps(true);
		log_set_role("supervisor");
		SupervisorOptions so = {o->keep_slot, o->restart, o->json};
		rc = supervisor_snapshot(s.cfg, s.pg, &s.ch, &s.cat, &so);
	}
	session_close(&s);
	return rc;
}

int cli_run(const char *config, const CliOptions *o)
{
	(void)config;
	(void)o;
	return not_yet("run");
}

int cli_status(const char *config, const CliOptions *o)
{
	(void)config;
	(void)o;
	return not_yet("status");
}

int cli_drop(const char *config, const CliOptions *o)
{
	(void)config;
	(void)o;
	return not_yet("drop");
}
