/*
 * main — the pgch command line (DESIGN.md §7): parse arguments, dispatch to cli_* commands.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
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
	"  verify   CONFIG   compare source and destination table by table (counts, key sums)\n"
	"  resync   CONFIG --table T   copy one table again while the pipe runs\n"
	"  pause | resume CONFIG       stop / restart consuming changes; the slot keeps its position\n"
	"  drop     CONFIG   remove the replication slot and publication (--tables: the tables too)\n"
	"  keygen   PATH     write an ed25519 key pair PATH, PATH.pub for the SSH bastion (source.ssh)\n"
	"\n"
	"Options:\n"
	"  --json          machine-readable output (plan, check, status, and snapshot's summary)\n"
	"  --keep-slot     snapshot: keep the replication slot so `pgch run` continues from it\n"
	"  --restart       snapshot/run: forget recorded progress and copy everything again\n"
	"  --tables        drop: also drop the ClickHouse tables\n"
	"  --table T       resync: the table to copy again (schema.table or its ClickHouse name)\n"
	"  -v, --verbose   more log lines (repeat for debug)\n"
	"  -q, --quiet     warnings and errors only\n"
	"  -h, --help      this help;  --version  the version\n"
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

static int keygen_command(const char *path, const CliOptions *o)
{
	(void)o;
	return keygen_write(path) ? 0 : 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},	 {"keep-slot", no_argument, NULL, 'k'},
		{"restart", no_argument, NULL, 'r'},	 {"tables", no_argument, NULL, 'T'},
		{"table", required_argument, NULL, 't'}, {"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},	 {"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},	 {NULL, 0, NULL, 0},
	};
	CliOptions o;
	memset(&o, 0, sizeof o);
	int verbosity = 0, c;
	while ((c = getopt_long(argc, argv, "vqh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': o.json = true; break;
		case 'k': o.keep_slot = true; break;
		case 'r': o.restart = true; break;
		case 'T': o.drop_tables = true; break;
		case 't': o.table = optarg; break;
		case 'v': verbosity++; break;
		case 'q': verbosity = -1; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'V': printf("pgch %s\n", PGCH_VERSION); return 0;
		default: fputs("Try 'pgch --help'.\n", stderr); return 2;
		}
	}
	log_set_level(verbosity < 0 ? LOG_WARN : verbosity >= 2 ? LOG_DEBUG : LOG_INFO);
	o.verbose = verbosity > 0;
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return 2;
	}
	const char *cmd = argv[optind++];
	if (strcmp(cmd, "help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (strcmp(cmd, "version") == 0) {
		printf("pgch %s\n", PGCH_VERSION);
		return 0;
	}
	static const struct {
		const char *name;
		int (*fn)(const char *config, const CliOptions *o);
	} commands[] = {
		{"check", cli_check},	{"plan", cli_plan}, {"snapshot", cli_snapshot},
		{"run", cli_run},	{"status", cli_status}, {"drop", cli_drop},
		{"verify", cli_verify}, {"resync", cli_resync}, {"pause", cli_pause},
		{"resume", cli_resume},
		{"keygen", keygen_command},
	};
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(cmd, commands[i].name) != 0)
			continue;
		if (optind != argc - 1) {
			const char *what = commands[i].fn == keygen_command ? "PATH" : "CONFIG";
			log_error("%s needs exactly one %s (pgch %s %s)", cmd, what, cmd, what);
			return 2;
		}
		curl_global_init(CURL_GLOBAL_DEFAULT);
		int rc = commands[i].fn(argv[optind], &o);
		curl_global_cleanup();
		return rc;
	}
	log_error("unknown command \"%s\"; try 'pgch --help'", cmd);
	return 2;
}
