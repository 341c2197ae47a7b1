/*
 * preflight — `pgch check`; see preflight.h.
 *
 * How check works. The checks run in a fixed order and each adds findings to one list;
 * nothing is printed until the end. Checks that need a connection which could not be
 * opened add nothing (the failed connection is the finding). What other modules decide is
 * reused, not re-implemented: catalog_discover decides which tables can be replicated,
 * ch_probe what the server can do, slot_info what the slot is. While check runs, warnings
 * and errors those modules log are captured and become findings (preflight_findings), so
 * each problem is still described once, by the code that found it. Nothing is created or
 * changed; the one side effect is a replication connection that runs IDENTIFY_SYSTEM.
 * ClickHouse is probed first (the catalog maps types with its capabilities) but reported
 * after PostgreSQL.
 */
#include "preflight.h"

#include "log.h"
#include "preflight_source.h"

int preflight_check(const Config *cfg, bool json)
{
	Findings f;
	findings_init(&f, cfg);
	LogCapture prev = findings_capture(&f);

	DestCheck d;
	preflight_dest_connect(&d, cfg, &f);
	SourceCheck s;
	if (preflight_source_connect(&s, cfg, &f))
		preflight_source_check(&s, d.ch_ok ? &d.ch.caps : NULL);
	preflight_dest_report_connect(&d);
	if (d.ch_ok)
		preflight_dest_check(&d, s.have_cat ? &s.cat : NULL);
	findings_add_captured(&f, "pgch", "see the finding"); /* anything not yet reported */

	log_capture(prev);
	findings_print(&f, json);
	int fails = findings_failed(&f);
	if (fails)
		log_error("%d check%s failed: fix %s and run pgch check again", fails, fails == 1 ? "" : "s",
			  fails == 1 ? "it" : "them");

	preflight_source_close(&s);
	preflight_dest_close(&d);
	findings_free(&f);
	return fails ? 1 : 0;
}
