/*
 * reload — the config re-read on SIGHUP, checked before anything stops; see reload.h.
 */
#include "reload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "runcheck.h"

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* What only a restart can change; NULL when nothing of it changed. */
static const char *identity_change(const Config *a, const Config *b)
{
	if (!same_str(a->pipe.name, b->pipe.name))
		return "pipe.name";
	if (!same_str(a->pipe.slot, b->pipe.slot))
		return "pipe.slot";
	if (!same_str(a->pipe.publication, b->pipe.publication))
		return "pipe.publication";
	if (!same_str(a->pipe.metrics, b->pipe.metrics))
		return "pipe.metrics";
	if (!same_str(a->dest.url, b->dest.url) || !same_str(a->dest.database, b->dest.database) ||
	    !same_str(a->dest.user, b->dest.user) || !same_str(a->dest.password, b->dest.password) ||
	    !same_str(a->dest.state_table, b->dest.state_table))
		return "destination";
	if (a->source.n_params != b->source.n_params || a->source.has_ssh != b->source.has_ssh)
		return "source";
	for (int i = 0; i < a->source.n_params; i++) { /* in the order Lua walked the table: any */
		bool found = false;
		for (int j = 0; j < b->source.n_params && !found; j++)
			found = same_str(a->source.params[i].key, b->source.params[j].key) &&
				same_str(a->source.params[i].val, b->source.params[j].val);
		if (!found)
			return "source";
	}
	return NULL;
}

/* "a, b" of the tables of x not in y. */
static int missing_from(const Catalog *x, const Catalog *y, Buf *names)
{
	int n = 0;
	for (int i = 0; i < x->ntables; i++) {
		bool found = false;
		for (int j = 0; j < y->ntables && !found; j++)
			found = strcmp(x->tables[i].display, y->tables[j].display) == 0;
		if (!found) {
			buf_printf(names, "%s%s", n++ ? ", " : "", x->tables[i].display);
		}
	}
	return n;
}

bool reload_prepare(const Config *cur, const Catalog *cur_cat, PGconn *pg, const ChCaps *caps, Config **cfg_out,
		    Catalog *cat_out)
{
	log_info("SIGHUP: re-reading %s", cur->path);
	Config *cfg = config_load(cur->path);
	if (!cfg) {
		log_error("%s no longer loads (see above): pgch run keeps its running config", cur->path);
		return false;
	}
	const char *changed = identity_change(cur, cfg);
	if (changed) {
		log_error("%s: %s changed, which takes a restart of pgch run (stop it, then start it); the running pipe keeps "
			  "its config",
			  cur->path, changed);
		config_free(cfg);
		return false;
	}
	Catalog cat;
	memset(&cat, 0, sizeof cat);
	if (!catalog_discover(pg, cfg, caps, &cat) || !runcheck_row_hooks(pg, cfg, &cat)) {
		log_error("the tables of %s cannot be replicated as configured (see above): pgch run keeps its running config",
			  cur->path);
		catalog_free(&cat);
		config_free(cfg);
		return false;
	}
	Buf added, removed;
	buf_init(&added);
	buf_init(&removed);
	int na = missing_from(&cat, cur_cat, &added), nr = missing_from(cur_cat, &cat, &removed);
	log_info("reloading: tables added: %s; removed: %s. The workers stop for a moment; added tables are copied "
		 "while the others stream, removed ones leave the publication (their ClickHouse tables stay)",
		 na ? added.data : "none", nr ? removed.data : "none");
	buf_free(&added);
	buf_free(&removed);
	*cfg_out = cfg;
	*cat_out = cat;
	return true;
}
