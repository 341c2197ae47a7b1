/*
 * cli — command implementations; see cli.h. The long-running commands (snapshot, run)
 * hand over to the supervisor; the others are short and talk to both servers directly,
 * reading and writing recorded progress as typed rows (state.h).
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "ch.h"
#include "cluster.h"
#include "config.h"
#include "exitcode.h"
#include "log.h"
#include "pg.h"
#include "plan.h"
#include "resync.h"
#include "preflight.h"
#include "progress.h"
#include "slot.h"
#include "state.h"
#include "supervisor.h"
#include "verify.h"
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
		pg_tunnel_pid = 0;
	}
	config_free(s->cfg);
	memset(s, 0, sizeof *s);
}

/* Load the config and connect to the source. Returns an exit status. */
static int session_open_source(Session *s, const char *config)
{
	memset(s, 0, sizeof *s);
	s->cfg = config_load(config);
	if (!s->cfg)
		return PGCH_EXIT_USAGE;
	if (s->cfg->source.has_ssh && !tunnel_start(s->cfg, &pg_tunnel_port, &s->tunnel))
		return PGCH_EXIT_FAILED;
	pg_tunnel_pid = s->tunnel;
	s->pg = pg_connect(s->cfg, PG_CONN_NORMAL, "cli");
	if (!s->pg || !preflight_refuse_pooler(s->cfg, s->pg))
		return PGCH_EXIT_FAILED;
	return PGCH_EXIT_OK;
}

/* Connect to and probe the destination; false (logged) if it cannot be reached. */
static bool session_open_destination(Session *s)
{
	if (s->ch_open)
		return s->ch.probed; /* opened before: as it went then */
	if (!ch_open(&s->ch, &s->cfg->dest))
		return false;
	s->ch_open = true;
	ch_limit_queries(&s->ch); /* verify lifts it for its long reads */
	if (!ch_probe(&s->ch))
		return false;
	ch_limit_queries(&s->ch);
	return true;
}

/* Load, connect, probe and (if discover) read the catalog. Returns an exit status. */
static int session_open(Session *s, const char *config, bool discover)
{
	int rc = session_open_source(s, config);
	if (rc != PGCH_EXIT_OK)
		return rc;
	if (!session_open_destination(s))
		return PGCH_EXIT_FAILED;
	if (discover) {
		if (!catalog_discover(s->pg, s->cfg, &s->ch.caps, &s->cat)) {
			catalog_free(&s->cat);
			return PGCH_EXIT_USAGE;
		}
		s->have_cat = true;
	}
	return PGCH_EXIT_OK;
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

int cli_check(const char *config, const CliOptions *o)
{
	Config *cfg = config_load(config);
	if (!cfg)
		return PGCH_EXIT_USAGE;
	pid_t tunnel = 0;
	int rc;
	if (cfg->source.has_ssh && !tunnel_start(cfg, &pg_tunnel_port, &tunnel))
		rc = 1; /* the tunnel said why */
	else
		rc = preflight_check(cfg, o->json);
	if (tunnel) {
		tunnel_stop(tunnel);
		pg_tunnel_port = 0;
	}
	config_free(cfg);
	return rc;
}

/* snapshot and run: the supervisor takes over, with timestamped logs. */
static int supervised(const char *config, const CliOptions *o, bool run)
{
	if (!supervisor_signals())
		return PGCH_EXIT_FAILED;
	Session s;
	int rc = session_open(&s, config, true);
	if (rc == 0) {
		log_set_timestamps(true);
		log_set_role("supervisor");
		Config *next = NULL;
		Catalog next_cat;
		SupervisorOptions so = {o->keep_slot, o->restart, o->json, &next, &next_cat};
		rc = run ? supervisor_run(s.cfg, s.pg, &s.ch, &s.cat, &so) : supervisor_snapshot(s.cfg, s.pg, &s.ch, &s.cat, &so);
		while (rc == SUPERVISOR_RELOAD) { /* SIGHUP: the same pipe with the config re-read */
			catalog_free(&s.cat);
			config_free(s.cfg);
			s.cfg = next;
			s.cat = next_cat;
			next = NULL;
			so.restart = false;
			rc = supervisor_run(s.cfg, s.pg, &s.ch, &s.cat, &so);
		}
	}
	session_close(&s);
	return rc;
}

int cli_snapshot(const char *config, const CliOptions *o)
{
	return supervised(config, o, false);
}

int cli_run(const char *config, const CliOptions *o)
{
	return supervised(config, o, true);
}

/* Seconds since a ClickHouse "YYYY-MM-DD hh:mm:ss" (UTC), or -1. */
static double age_of(const char *ts)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	if (!ts || sscanf(ts, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
			  &tm.tm_sec) != 6)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	return t > 0 ? difftime(time(NULL), t) : -1;
}

int cli_status(const char *config, const CliOptions *o)
{
	Session s;
	int rc = session_open_source(&s, config);
	if (rc != PGCH_EXIT_OK) {
		session_close(&s);
		return rc;
	}
	Config *cfg = s.cfg;
	State st;
	memset(&st, 0, sizeof st);
	SlotInfo info;
	bool running = false;
	if (!slot_info(s.pg, cfg->pipe.slot, &info) || !slot_pipe_running(s.pg, cfg, &running)) {
		session_close(&s);
		return PGCH_EXIT_FAILED;
	}
	/* the slot's side is shown even when ClickHouse is away: retained WAL matters most then */
	bool reached = session_open_destination(&s) && state_load(&s.ch, cfg, &st);
	uint64_t current = 0;
	double lag = -1;
	PGresult *res = pg_query(s.pg, "SELECT pg_current_wal_lsn()");
	if (res) {
		pg_parse_lsn(PQgetvalue(res, 0, 0), &current);
		PQclear(res);
	}
	if (info.exists && info.active) {
		const char *params[1] = {cfg->pipe.slot};
		res = pg_query_params(s.pg,
				      "SELECT coalesce(extract(epoch FROM r.flush_lag), 0) FROM pg_stat_replication r "
				      "JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = $1",
				      1, params);
		if (res && PQntuples(res) == 1)
			lag = strtod(PQgetvalue(res, 0, 0), NULL);
		PQclear(res);
	}
	const StateRecord *pipe = reached ? state_find(&st, STATE_PIPE, NULL, 0) : NULL;
	const char *pstatus = !reached ? "unknown" : pipe ? state_status_name(pipe->status) : "new";
	/* recorded as snapshotting or streaming, but no pgch holds the pipe: the last run died */
	bool ended = pipe && !running && (pipe->status == STATE_SNAPSHOTTING || pipe->status == STATE_STREAMING);
	uint64_t retained = info.exists && current > info.restart_lsn ? current - info.restart_lsn : 0;
	uint64_t behind = info.exists && current > info.confirmed_flush ? current - info.confirmed_flush : 0;
	Buf out;
	buf_init(&out);
	char lsn[32], bytes[32], behind_s[32];
	pg_format_lsn(info.confirmed_flush, lsn, sizeof lsn);
	progress_format_bytes(retained, bytes, sizeof bytes);
	progress_format_bytes(behind, behind_s, sizeof behind_s);
	if (o->json) {
		buf_puts(&out, "{\"pipe\": ");
		buf_json_string(&out, cfg->pipe.name);
		buf_puts(&out, ", \"status\": ");
		buf_json_string(&out, pstatus);
		buf_printf(&out, ", \"running\": %s, \"destination_reachable\": %s", running ? "true" : "false",
			   reached ? "true" : "false");
		buf_puts(&out, ", \"stream_endpoint\": "); /* the one it writes to, or last wrote to */
		if (pipe && pipe->endpoint && pipe->endpoint[0])
			buf_json_string(&out, pipe->endpoint);
		else
			buf_puts(&out, "null");
		buf_printf(&out, ", \"slot\": {\"name\": ");
		buf_json_string(&out, cfg->pipe.slot);
		buf_printf(&out, ", \"exists\": %s, \"active\": %s, \"confirmed_flush_lsn\": ", info.exists ? "true" : "false",
			   info.active ? "true" : "false");
		buf_json_string(&out, info.exists ? lsn : "");
		buf_printf(&out, ", \"wal_retained_bytes\": %llu, \"bytes_behind\": %llu, \"wal_status\": ",
			   (unsigned long long)retained, (unsigned long long)behind);
		buf_json_string(&out, info.wal_status);
		if (lag >= 0)
			buf_printf(&out, ", \"lag_seconds\": %.3f}, \"tables\": [", lag);
		else
			buf_puts(&out, ", \"lag_seconds\": null}, \"tables\": [");
	} else {
		buf_printf(&out, "pipe %s: %s%s\n", cfg->pipe.name, !reached ? "unknown (ClickHouse is unreachable, see above)" : pipe ? pstatus : "never run",
			   running ? " (a pgch is running it)"
			   : ended ? " when the last run ended, and no pgch is running it now: see that run's log; "
				     "pgch run continues"
				   : "");
		if (reached && (cfg->dest.cluster || cfg->dest.n_urls > 1)) { /* which endpoints */
			buf_printf(&out, "ClickHouse%s%s: ", cfg->dest.cluster ? " cluster " : "",
				   cfg->dest.cluster ? cfg->dest.cluster : "");
			if (pipe && pipe->endpoint && pipe->endpoint[0])
				buf_printf(&out, "the stream %s %s; ", running ? "writes to" : "last wrote to", pipe->endpoint);
			buf_printf(&out, "read through %s (of %d endpoint%s)\n", ch_endpoint(&s.ch), cfg->dest.n_urls,
				   cfg->dest.n_urls == 1 ? "" : "s");
		}
		if (info.exists)
			buf_printf(&out, "slot %s: %s, confirmed %s, %s behind, %s of WAL retained%s%s%s\n", cfg->pipe.slot,
				   info.active ? "streaming" : "inactive", lsn, behind_s, bytes,
				   info.wal_status[0] ? ", wal_status " : "", info.wal_status, lag >= 0 ? "" : "");
		else
			buf_printf(&out, "slot %s: does not exist\n", cfg->pipe.slot);
		if (lag >= 0)
			buf_printf(&out, "replication lag: %.1f s\n", lag);
		if (reached)
			buf_printf(&out, "\n%-36s %-14s %14s %6s  %s\n", "TABLE", "STATUS", "ROWS COPIED", "PARTS", "LAST SYNC");
	}
	bool first = true;
	for (int i = 0; i < st.n; i++) {
		const StateRecord *r = &st.rows[i];
		if (r->kind != STATE_TABLE)
			continue;
		int parts = 0, done = 0;
		uint64_t done_rows = 0;
		for (int j = 0; j < st.n; j++)
			if (st.rows[j].kind == STATE_PARTITION && strcmp(st.rows[j].table, r->table) == 0) {
				parts++;
				if (st.rows[j].status == STATE_DONE) {
					done++;
					done_rows += st.rows[j].rows;
				}
			}
		/* the table's own count is written when it is done; until then its finished partitions' */
		uint64_t copied = r->rows ? r->rows : done_rows;
		/* dropped at the source: nothing says so in the stream, so look */
		const char *tparams[1] = {r->table};
		PGresult *gone = pg_query_params(s.pg,
						 "SELECT NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON "
						 "n.oid = c.relnamespace WHERE n.nspname || '.' || c.relname = $1)",
						 1, tparams);
		bool dropped = gone && PQgetvalue(gone, 0, 0)[0] == 't';
		PQclear(gone);
		const char *tstatus = dropped ? "source_dropped" : state_status_name(r->status);
		/* last sync: the newest _pgch_synced_at in the destination table */
		Buf q, a;
		buf_init(&q);
		buf_init(&a);
		buf_puts(&q, "SELECT toString(max(");
		ch_quote_ident(&q, cfg->dest.synced_column);
		buf_puts(&q, ")) FROM ");
		ch_quote_ident(&q, cfg->dest.database);
		buf_put_u8(&q, '.');
		ch_quote_ident(&q, r->target);
		s.ch.quiet = true;
		bool got = ch_query(&s.ch, q.data, &a);
		s.ch.quiet = false;
		char synced[32] = "";
		if (got)
			snprintf(synced, sizeof synced, "%.*s", (int)strcspn(a.data, "\n"), a.data);
		if (strncmp(synced, "0000", 4) == 0 || strncmp(synced, "1970", 4) == 0)
			synced[0] = '\0';
		double age = age_of(synced);
		if (o->json) {
			buf_puts(&out, first ? "{\"source\": " : ", {\"source\": ");
			buf_json_string(&out, r->table);
			buf_puts(&out, ", \"target\": ");
			buf_json_string(&out, r->target);
			buf_puts(&out, ", \"status\": ");
			buf_json_string(&out, tstatus);
			buf_printf(&out, ", \"rows_copied\": %llu, \"partitions\": %d, \"partitions_done\": %d, "
					 "\"unrepresentable_values\": %llu, \"info\": ",
				   (unsigned long long)copied, parts, done, (unsigned long long)r->unrepresentable);
			buf_json_string(&out, r->info);
			buf_puts(&out, ", \"last_sync\": ");
			buf_json_string(&out, synced);
			if (age >= 0)
				buf_printf(&out, ", \"seconds_since_sync\": %.0f}", age);
			else
				buf_puts(&out, ", \"seconds_since_sync\": null}");
		} else {
			char rows[32], ps[32];
			progress_format_count((int64_t)copied, rows, sizeof rows);
			snprintf(ps, sizeof ps, "%d/%d", done, parts);
			buf_printf(&out, "%-36s %-14s %14s %6s  %s\n", r->table, tstatus, rows, ps, synced[0] ? synced : "-");
			if (dropped)
				buf_printf(&out, "  the source table is gone: nothing more arrives for it. Remove it from the config "
						 "(its ClickHouse table %s stays) or create it again and pgch resync --table %s\n",
					   r->target, r->table);
			if (r->unrepresentable)
				buf_printf(&out, "  unrepresentable values: %llu\n", (unsigned long long)r->unrepresentable);
			if (r->info[0])
				buf_printf(&out, "  %s\n", r->info);
		}
		first = false;
		buf_free(&q);
		buf_free(&a);
	}
	if (o->json)
		buf_puts(&out, "]}\n");
	else if (!reached)
		buf_puts(&out, "\n(per-table progress is kept in ClickHouse, which cannot be reached)\n");
	else if (first)
		buf_puts(&out, "(no tables recorded yet: run pgch snapshot or pgch run)\n");
	fwrite(out.data, 1, out.len, stdout);
	buf_free(&out);
	state_free(&st);
	session_close(&s);
	return reached ? PGCH_EXIT_OK : PGCH_EXIT_FAILED;
}

/* Drop one recorded table's ClickHouse table (a resync's shadow row: the shadow and the table
 * it was to replace). */
static bool drop_recorded(Session *s, const StateRecord *rec)
{
	char *real = resync_real_target(rec->target);
	const char *names[2] = {rec->target, real};
	bool ok = true;
	for (int k = 0; ok && k < 2 && names[k]; k++) {
		Table t = {.target = (char *)names[k]};
		Buf q;
		buf_init(&q);
		plan_drop_sql(&t, s->cfg, &s->ch.caps, &q);
		ok = cluster_ddl(&s->ch, q.data);
		if (ok)
			log_info("dropped ClickHouse table %s.%s", s->cfg->dest.database, names[k]);
		buf_free(&q);
	}
	free(real);
	return ok;
}

/* pgch drop --table T --tables: a table the config no longer selects loses its ClickHouse
 * table and its recorded progress; the slot, the publication and the other tables stay. */
static int drop_one_table(const char *config, const CliOptions *o)
{
	if (!o->drop_tables) {
		log_error("pgch drop --table %s drops that table's ClickHouse table: add --tables to say so (without "
			  "--table, pgch drop removes the whole pipe's slot and publication)",
			  o->table);
		return PGCH_EXIT_USAGE;
	}
	Session s;
	int rc = session_open(&s, config, true);
	if (rc != PGCH_EXIT_OK) {
		session_close(&s);
		return rc;
	}
	const Table *t = catalog_find(&s.cat, o->table);
	State st;
	if (t) {
		log_error("%s is still one of the tables %s selects: remove it from the config (and reload pgch run with "
			  "SIGHUP) before dropping its ClickHouse table",
			  t->display, s.cfg->path);
		rc = PGCH_EXIT_USAGE;
	} else if (!state_load(&s.ch, s.cfg, &st)) {
		rc = PGCH_EXIT_FAILED;
	} else {
		const StateRecord *rec = NULL;
		for (int i = 0; i < st.n && !rec; i++)
			if (st.rows[i].kind == STATE_TABLE &&
			    (strcmp(st.rows[i].table, o->table) == 0 || strcmp(st.rows[i].target, o->table) == 0))
				rec = &st.rows[i];
		if (!rec) {
			log_error("pipe %s has no table %s on record (give the source name, schema.table, or its ClickHouse "
				  "name; pgch status lists them)",
				  s.cfg->pipe.name, o->table);
			rc = PGCH_EXIT_USAGE;
		} else {
			char *name = xstrdup(rec->table);
			rc = drop_recorded(&s, rec) && state_forget_table(&s.ch, s.cfg, name) ? PGCH_EXIT_OK : PGCH_EXIT_FAILED;
			if (rc == PGCH_EXIT_OK)
				log_info("%s: its ClickHouse table and recorded progress are dropped", name);
			free(name);
		}
		state_free(&st);
	}
	session_close(&s);
	return rc;
}

int cli_drop(const char *config, const CliOptions *o)
{
	if (o->table)
		return drop_one_table(config, o);
	Session s;
	int rc = session_open_source(&s, config);
	if (rc != PGCH_EXIT_OK) {
		session_close(&s);
		return rc;
	}
	Config *cfg = s.cfg;
	SlotInfo info;
	rc = 1;
	if (!slot_lock_pipe(s.pg, cfg) || !slot_info(s.pg, cfg->pipe.slot, &info))
		goto out;
	if (info.active) {
		log_error("replication slot %s is in use (is pgch run still running for this pipe?): stop it first",
			  cfg->pipe.slot);
		goto out;
	}
	/* a slot pgch did not create (pipe.slot named a DBA's) stays: read that from the recorded
	 * progress while ClickHouse answers */
	bool foreign = false;
	State st0;
	if (info.exists && session_open_destination(&s) && state_load(&s.ch, cfg, &st0)) {
		const StateRecord *p = state_find(&st0, STATE_PIPE, NULL, 0);
		foreign = p && p->slot_foreign;
		state_free(&st0);
	}
	if (foreign)
		log_info("kept replication slot %s: pgch did not create it (drop it with SELECT pg_drop_replication_slot('%s') "
			 "if nothing else needs it)",
			 cfg->pipe.slot, cfg->pipe.slot);
	else if (info.exists && !slot_drop(s.pg, cfg->pipe.slot))
		goto out;
	if (!slot_drop_publication(s.pg, cfg->pipe.publication))
		goto out;
	/* the source holds no WAL for the pipe any more; ClickHouse may be away (that is often why
	 * a pipe is dropped), so its part comes last */
	if (!session_open_destination(&s)) {
		log_error("the slot and publication are dropped, but the pipe's recorded progress%s in ClickHouse could "
			  "not be: run pgch drop%s again when ClickHouse is reachable",
			  o->drop_tables ? " and tables" : "", o->drop_tables ? " --tables" : "");
		goto out;
	}
	State st;
	if (!state_load(&s.ch, cfg, &st))
		goto out;
	bool ok = true;
	if (o->drop_tables) {
		/* as recorded: the source table may be gone */
		for (int i = 0; ok && i < st.n; i++)
			if (st.rows[i].kind == STATE_TABLE)
				ok = drop_recorded(&s, &st.rows[i]);
	}
	state_free(&st);
	if (ok && st.n >= 0 && !state_clear(&s.ch, cfg))
		ok = false;
	rc = ok ? PGCH_EXIT_OK : PGCH_EXIT_FAILED;
out:
	session_close(&s);
	return rc;
}

int cli_verify(const char *config, const CliOptions *o)
{
	Session s;
	int rc = session_open(&s, config, true);
	s.ch.query_limit = CH_QUERY_LIMIT_LONG; /* its digests read whole tables */
	if (rc == 0)
		rc = verify_run(s.cfg, s.pg, &s.ch, &s.cat, o->table, o->json);
	session_close(&s);
	return rc;
}

/* Write one control request for a running (or the next) `pgch run` to pick up. */
static int request(Session *s, StateKind kind, StateStatus status, const Table *t, const char *info)
{
	StateRecord r;
	memset(&r, 0, sizeof r);
	r.kind = kind;
	r.status = status;
	r.table = t ? t->display : NULL;
	r.target = t ? t->target : NULL;
	r.info = (char *)info;
	return state_ensure(&s->ch, s->cfg) && state_put(&s->ch, s->cfg, &r, 1) ? PGCH_EXIT_OK : PGCH_EXIT_FAILED;
}

int cli_resync(const char *config, const CliOptions *o)
{
	if (!o->table) {
		log_error("resync needs the table to copy again: pgch resync CONFIG --table schema.table");
		return PGCH_EXIT_USAGE;
	}
	Session s;
	int rc = session_open(&s, config, true);
	if (rc == 0) {
		Table *t = catalog_find(&s.cat, o->table);
		if (!t) {
			log_error("%s is not one of the tables this config selects", o->table);
			rc = 2;
		} else {
			State st;
			if (!state_load(&s.ch, s.cfg, &st)) {
				rc = 1;
				goto out;
			}
			bool recorded = state_find(&st, STATE_TABLE, t->display, 0) != NULL;
			state_free(&st);
			if (!recorded) { /* nothing copied yet: no request to leave, nothing to create */
				log_info("%s has not been copied yet: pgch run (or pgch snapshot) copies it", t->display);
				goto out;
			}
			rc = request(&s, STATE_TABLE, STATE_RESYNC_REQUESTED, t, "requested by pgch resync");
			if (rc == 0)
				log_info("%s will be copied again by pgch run (within a few seconds if it is running, else when "
					 "it starts)",
					 t->display);
		}
	}
out:
	session_close(&s);
	return rc;
}

static int pause_or_resume(const char *config, bool pause)
{
	Session s;
	int rc = session_open(&s, config, false);
	State st;
	if (rc == 0 && !state_load(&s.ch, s.cfg, &st))
		rc = PGCH_EXIT_FAILED;
	else if (rc == 0) {
		bool ran = state_find(&st, STATE_PIPE, "", 0) != NULL;
		state_free(&st);
		if (!ran) { /* nothing to pause: leave nothing behind, so a first run starts as usual */
			log_info("%s has never run: there is nothing to %s (pgch run starts it)", s.cfg->pipe.name,
				 pause ? "pause" : "resume");
			session_close(&s);
			return PGCH_EXIT_OK;
		}
		rc = request(&s, STATE_REQUEST, pause ? STATE_PAUSED : STATE_RUNNING, NULL, pause ? "pgch pause" : "pgch resume");
		if (rc == 0)
			log_info("%s: pgch run %s (the slot keeps its position)", s.cfg->pipe.name,
				 pause ? "stops consuming changes within a few seconds" : "consumes changes again");
	}
	session_close(&s);
	return rc;
}

int cli_pause(const char *config, const CliOptions *o)
{
	(void)o;
	return pause_or_resume(config, true);
}

int cli_resume(const char *config, const CliOptions *o)
{
	(void)o;
	return pause_or_resume(config, false);
}
