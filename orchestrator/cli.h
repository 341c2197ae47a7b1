/*
 * cli — the pgch commands. Each loads the config, opens what it needs, does its work and
 * returns the process exit status (0 success, 1 failure, 2 usage/config error).
 */
#ifndef PGCH_CLI_H
#define PGCH_CLI_H

#include <stdbool.h>

typedef struct CliOptions {
	bool json;
	bool keep_slot;
	bool restart;
	bool drop_tables;
	bool verbose;
	const char *table;
} CliOptions;

int cli_check(const char *config, const CliOptions *o);
int cli_plan(const char *config, const CliOptions *o);
int cli_snapshot(const char *config, const CliOptions *o);
int cli_run(const char *config, const CliOptions *o);
int cli_status(const char *config, const CliOptions *o);
int cli_drop(const char *config, const CliOptions *o);
int cli_verify(const char *config, const CliOptions *o);
int cli_resync(const char *config, const CliOptions *o);
int cli_pause(const char *config, const CliOptions *o);
int cli_resume(const char *config, const CliOptions *o);

#endif
