/*
 * main — the pgch command line (ARCHITECTURE.md, "Contracts"): parse arguments, dispatch to cli_* commands.
 *
 * Each command has a row in `commands`: its argument, the options that apply to it (any
 * other option is a usage error rather than silently ignored) and the page that
 * `pgch COMMAND --help` (or `pgch help COMMAND`) prints.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "exitcode.h"
#include "keygen.h"
#include "log.h"

#define PGCH_VERSION "0.1.0"

static const char usage_text[] =
	"pgch — replicate PostgreSQL into ClickHouse: a parallel snapshot, then change data capture.\n"
	"\n"
	"Usage: pgch COMMAND [OPTIONS] CONFIG\n"
	"\n"
	"Commands:\n"
	"  check    CONFIG   check every prerequisite (OK / WARN / FAIL, with the fix for each)\n"
	"  plan     CONFIG   print the ClickHouse tables and the partition plan; changes nothing\n"
	"  snapshot CONFIG   copy the selected tables once and exit (a batch migration); resumable\n"
	"  run      CONFIG   snapshot what is not copied yet, then stream changes until stopped\n"
	"  status   CONFIG   per-table progress, rows, last sync and replication slot lag\n"
	"  verify   CONFIG   compare source and destination row by row, every column\n"
	"  resync   CONFIG --table T   copy one table again while the pipe runs\n"
	"  pause | resume CONFIG       stop / restart consuming changes; the slot keeps its position\n"
	"  drop     CONFIG   remove the replication slot and publication (--tables: the tables too;\n"
	"                    --table T --tables: only table T's ClickHouse table and progress)\n"
	"  keygen   PATH     write an ed25519 key pair PATH, PATH.pub for the SSH bastion (source.ssh)\n"
	"\n"
	"Options:\n"
	"  --json          machine-readable output (plan, check, status, verify, and the summary\n"
	"                  of snapshot and run)\n"
	"  --keep-slot     snapshot: keep the replication slot so `pgch run` continues from it\n"
	"  --restart       snapshot/run: forget recorded progress and copy everything again\n"
	"  --tables        drop: also drop the ClickHouse tables\n"
	"  --table T       resync: the table to copy again; verify: the table to compare; drop\n"
	"                  --tables: the one table to drop (schema.table or its ClickHouse name)\n"
	"  -v, --verbose   more log lines (repeat for debug)\n"
	"  -q, --quiet     warnings and errors only\n"
	"  --log-format F  text (the default) or json: one JSON object per log line, for log\n"
	"                  shippers (also PGCH_LOG_FORMAT=json)\n"
	"  -h, --help      this help (pgch COMMAND --help: that command's page);  --version\n"
	"\n"
	"A config is a Lua file:\n"
	"\n"
	"  source      = { host = \"db.internal\", dbname = \"app\", user = \"replicator\",\n"
	"                  password = env(\"PGPASSWORD\") }\n"
	"  destination = { url = \"http://127.0.0.1:8123\", database = \"app\" }\n"
	"  pipe        = { sync_interval = 10, snapshot = { workers = 4 } }\n"
	"  tables      = { \"public.*\", exclude = { \"public.audit_*\" },\n"
	"                  { \"public.orders\", order_by = { \"customer_id\", \"id\" } } }\n"
	"\n"
	"Read a table in ClickHouse as:  SELECT ... FROM t FINAL WHERE _pgch_is_deleted = 0\n"
	"Exit status: 0 success, 1 failure (one line on stderr says why), 2 usage or config error.\n"
	"Documentation: README.md; examples in contrib/.\n";

enum {
	OPT_JSON = 1 << 0,
	OPT_KEEP_SLOT = 1 << 1,
	OPT_RESTART = 1 << 2,
	OPT_TABLES = 1 << 3,
	OPT_TABLE = 1 << 4,
};

static const char *const option_names[] = {"--json", "--keep-slot", "--restart", "--tables", "--table"};

static int keygen_command(const char *path, const CliOptions *o)
{
	(void)o;
	return keygen_write(path) ? PGCH_EXIT_OK : PGCH_EXIT_FAILED;
}

typedef struct Command {
	const char *name;
	int (*fn)(const char *arg, const CliOptions *o);
	unsigned options; /* OPT_* that apply */
	const char *help; /* after "Usage: pgch NAME [OPTIONS] CONFIG" */
} Command;

static const Command commands[] = {
	{"check", cli_check, OPT_JSON,
	 "Check every prerequisite of the pipe before anything is created: the config, both servers\n"
	 "reachable, wal_level = logical, the replication user's privileges, free slots and WAL\n"
	 "senders, replica identities, no connection pooler in the way, the ClickHouse version and\n"
	 "what it supports. Each line is OK, WARN or FAIL with the statement that fixes it.\n"
	 "\n"
	 "  --json   one JSON object: {\"ok\": bool, \"checks\": [{\"name\", \"status\", \"detail\", \"fix\"}]}\n"
	 "\n"
	 "Exit status: 0 nothing failed (warnings allowed), 1 something failed, 2 config error.\n"
	 "Example:  pgch check pipe.lua && pgch run pipe.lua\n"},
	{"plan", cli_plan, OPT_JSON,
	 "Print what the pipe would do, and change nothing: the selected tables with their row\n"
	 "estimates, the CREATE TABLE statements for ClickHouse (types as chosen for the server's\n"
	 "version, after the on_table hook), the statements a hook adds, and the ctid ranges each\n"
	 "table is split into for the parallel snapshot.\n"
	 "\n"
	 "  --json   the same as one JSON object (tables, columns, DDL, partitions)\n"
	 "\n"
	 "Example:  pgch plan pipe.lua | less\n"},
	{"snapshot", cli_snapshot, OPT_JSON | OPT_KEEP_SLOT | OPT_RESTART,
	 "Copy the selected tables once and exit: a batch migration. Creates the publication, a\n"
	 "replication slot with an exported snapshot, and the ClickHouse tables; copies every table\n"
	 "in parallel partitions under that one snapshot; then applies the changes committed while\n"
	 "it copied, so the destination equals the source as of the end of the copy. Progress is\n"
	 "recorded in ClickHouse: after an interruption, run it again and it copies only what is\n"
	 "not finished. Settings: pipe.snapshot = { workers, rows_per_partition, tables_in_parallel }.\n"
	 "\n"
	 "  --keep-slot   keep the replication slot, so `pgch run` continues from the end of the copy\n"
	 "  --restart     forget recorded progress, drop the pipe's tables and slot, copy everything again\n"
	 "  --json        the final summary as JSON on stdout\n"
	 "\n"
	 "Exit status: 0 every table copied, 1 failure (the line on stderr says which and why),\n"
	 "3 stopped by SIGTERM/SIGINT before the end (run the same command again to continue).\n"
	 "Example:  pgch snapshot --keep-slot pipe.lua && pgch run pipe.lua\n"},
	{"run", cli_run, OPT_JSON | OPT_RESTART,
	 "Run the pipe: copy what is not copied yet (as snapshot does) while the streaming worker\n"
	 "already consumes the slot, then stream every INSERT, UPDATE, DELETE and TRUNCATE to\n"
	 "ClickHouse, at most pipe.sync_interval seconds, pipe.batch_size rows or\n"
	 "pipe.max_batch_memory bytes per batch. Runs until SIGTERM or SIGINT, then flushes,\n"
	 "confirms its position to PostgreSQL and exits 0.\n"
	 "Killed or crashed, it resumes from the slot and the recorded progress when run again.\n"
	 "SIGHUP re-reads CONFIG: tables added are copied while the others stream, tables removed\n"
	 "stop being replicated; a config that no longer loads is reported and the old one kept.\n"
	 "With pipe.metrics = \"127.0.0.1:9187\" it serves Prometheus metrics and /healthz.\n"
	 "\n"
	 "  --restart     forget recorded progress, drop the pipe's tables and slot (not one pgch did\n"
	 "                not create), copy everything again\n"
	 "  --json        the snapshot phase's summary as JSON on stdout\n"
	 "\n"
	 "Exit status: 0 stopped by a signal, 1 failure (for example the slot was lost).\n"
	 "Example:  pgch run pipe.lua      (as a service: contrib/systemd/pgch@.service)\n"},
	{"status", cli_status, OPT_JSON,
	 "Show the pipe from outside, without disturbing it: per table the snapshot state, rows in\n"
	 "ClickHouse and the last sync; the slot's confirmed position, the WAL it retains in bytes,\n"
	 "the replication lag in seconds, and whether the pipe is running, paused or stopped.\n"
	 "\n"
	 "  --json   the same as one JSON object, for monitoring\n"
	 "\n"
	 "Example:  pgch status --json pipe.lua | jq .slot.lag_seconds\n"},
	{"verify", cli_verify, OPT_JSON | OPT_TABLE,
	 "Compare the source and the destination row by row: every replicated value, PostgreSQL's\n"
	 "against ClickHouse's deduplicated view (FINAL), converted alike, so any difference is\n"
	 "found. Prints each table's result (OK, DIFFERS, MISSING, ERROR) with its row count and\n"
	 "integer-key sum/min/max on both sides, and up to 20 differing rows by key: the columns\n"
	 "that differ, rows missing in ClickHouse, rows only in ClickHouse. It may run while the\n"
	 "pipe streams: the source is read under the snapshot of a temporary slot, after the pipe\n"
	 "has applied everything before it; rows changed since are compared again once the pipe\n"
	 "has applied them, not reported as differences. Each side is read once.\n"
	 "\n"
	 "  --table T   only this table (as in the config, or its ClickHouse name)\n"
	 "  --json      the comparison as JSON, with the differences found\n"
	 "\n"
	 "Exit status: 0 every table equal, 1 a difference or failure.\n"
	 "\n"
	 "Example:  pgch verify --table public.orders pipe.lua\n"},
	{"resync", cli_resync, OPT_TABLE,
	 "Copy one table again while the pipe runs, for example after a change pgch could not\n"
	 "apply. The running `pgch run` picks the request up within seconds and copies the table\n"
	 "into a shadow table (<target>__pgch_resync_<n>), with its changes; readers keep the old\n"
	 "rows until the copy is swapped in with one EXCHANGE TABLES or RENAME TABLE, never an\n"
	 "empty table. The old table is then dropped and the table's after statements run again.\n"
	 "\n"
	 "  --table T   the table: schema.table, or its ClickHouse name (required)\n"
	 "\n"
	 "Example:  pgch resync pipe.lua --table public.orders\n"},
	{"pause", cli_pause, 0,
	 "Stop consuming changes, keeping the slot's position: `pgch run` stays up and idle until\n"
	 "`pgch resume`. PostgreSQL retains WAL meanwhile (see `pgch status`).\n"},
	{"resume", cli_resume, 0, "Start consuming changes again after `pgch pause`.\n"},
	{"drop", cli_drop, OPT_TABLES | OPT_TABLE,
	 "Remove the pipe from PostgreSQL: its replication slot (so WAL is no longer retained for it)\n"
	 "and its publication; stop `pgch run` first. The pipe's recorded progress is cleared, so a\n"
	 "later run starts with a new copy. The ClickHouse tables stay unless --tables.\n"
	 "\n"
	 "With --table T --tables, only table T goes: a table removed from the config (a table\n"
	 "removed while pgch run runs keeps its ClickHouse table) loses its ClickHouse table and\n"
	 "its recorded progress; the slot, the publication and the other tables stay. Reload or\n"
	 "restart pgch run with the new config first.\n"
	 "\n"
	 "  --tables    also drop the pipe's ClickHouse tables\n"
	 "  --table T   with --tables: only this table's (schema.table, or its ClickHouse name)\n"
	 "\n"
	 "Example:  pgch drop pipe.lua --table public.old_orders --tables\n"},
	{"keygen", keygen_command, 0,
	 "Write an ed25519 key pair for the SSH bastion: PATH (private, mode 0600) and PATH.pub.\n"
	 "Authorize PATH.pub on the bastion and name PATH in source.ssh.private_key.\n"
	 "\n"
	 "Example:  pgch keygen /etc/pgch/id_ed25519\n"},
};

static const Command *command_find(const char *name)
{
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static const char *command_arg(const Command *c)
{
	return c->fn == keygen_command ? "PATH" : "CONFIG";
}

static void command_help(const Command *c)
{
	printf("Usage: pgch %s [OPTIONS] %s\n\n%s\nCommon options: -v, --verbose (repeat for debug); -q, --quiet;\n"
	       "--log-format json (one JSON object per log line).\n"
	       "All commands: pgch --help.  Documentation: README.md; examples in contrib/.\n",
	       c->name, command_arg(c), c->help);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},	 {"keep-slot", no_argument, NULL, 'k'},
		{"restart", no_argument, NULL, 'r'},	 {"tables", no_argument, NULL, 'T'},
		{"table", required_argument, NULL, 't'}, {"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},	 {"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},	 {"log-format", required_argument, NULL, 'L'},
		{NULL, 0, NULL, 0},
	};
	CliOptions o;
	memset(&o, 0, sizeof o);
	int verbosity = 0, c;
	unsigned given = 0;
	bool help = false;
	opterr = 0; /* getopt's own messages name the binary's path; ours follow the house style */
	const char *log_format = getenv("PGCH_LOG_FORMAT");
	while ((c = getopt_long(argc, argv, ":vqh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': o.json = true; given |= OPT_JSON; break;
		case 'k': o.keep_slot = true; given |= OPT_KEEP_SLOT; break;
		case 'r': o.restart = true; given |= OPT_RESTART; break;
		case 'T': o.drop_tables = true; given |= OPT_TABLES; break;
		case 't': o.table = optarg; given |= OPT_TABLE; break;
		case 'L': log_format = optarg; break;
		case 'v': verbosity++; break;
		case 'q': verbosity = -1; break;
		case 'h': help = true; break;
		case 'V': printf("pgch %s\n", PGCH_VERSION); return PGCH_EXIT_OK;
		case ':': log_error("%s needs a value; try 'pgch --help'", argv[optind - 1]); return PGCH_EXIT_USAGE;
		default:
			/* optopt is a short option, or the value of a long one given a value it takes none of */
			if (optopt && !strchr("jkrTtVL", optopt))
				log_error("unknown option '-%c'; try 'pgch --help'", optopt);
			else
				log_error("unknown option or value '%s'; try 'pgch --help'", argv[optind - 1]);
			return PGCH_EXIT_USAGE;
		}
	}
	LogFormat format = LOG_FORMAT_TEXT;
	if (log_format && *log_format && !log_parse_format(log_format, &format)) {
		log_error("--log-format (or PGCH_LOG_FORMAT) must be text or json, got \"%s\"", log_format);
		return PGCH_EXIT_USAGE;
	}
	log_set_format(format);
	log_set_level(verbosity < 0 ? LOG_WARN : verbosity >= 2 ? LOG_DEBUG : LOG_INFO);
	o.verbose = verbosity > 0;
	if (optind >= argc) {
		fputs(usage_text, help ? stdout : stderr);
		return help ? 0 : 2;
	}
	const char *name = argv[optind++];
	if (strcmp(name, "help") == 0) {
		const Command *about = optind < argc ? command_find(argv[optind]) : NULL;
		if (optind < argc && !about) {
			log_error("unknown command \"%s\"; try 'pgch --help'", argv[optind]);
			return PGCH_EXIT_USAGE;
		}
		if (about)
			command_help(about);
		else
			fputs(usage_text, stdout);
		return PGCH_EXIT_OK;
	}
	if (strcmp(name, "version") == 0) {
		printf("pgch %s\n", PGCH_VERSION);
		return PGCH_EXIT_OK;
	}
	const Command *cmd = command_find(name);
	if (!cmd) {
		log_error("unknown command \"%s\"; try 'pgch --help'", name);
		return PGCH_EXIT_USAGE;
	}
	if (help) {
		command_help(cmd);
		return PGCH_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof option_names / sizeof option_names[0]; i++) {
		if ((given & (1u << i)) && !(cmd->options & (1u << i))) {
			log_error("%s does not apply to pgch %s; try 'pgch %s --help'", option_names[i], cmd->name,
				  cmd->name);
			return PGCH_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		log_error("%s needs exactly one %s (pgch %s %s)", name, command_arg(cmd), name, command_arg(cmd));
		return PGCH_EXIT_USAGE;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmd->fn(argv[optind], &o);
	curl_global_cleanup();
	return rc;
}
