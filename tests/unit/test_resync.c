/*
 * Unit tests of resync.c's pure parts: which names are a table's shadows, and the swap
 * statement for each capability branch (EXCHANGE TABLES where the database has it, else one
 * multi-table RENAME TABLE), alone, ON CLUSTER, and on shards (the local tables swapped).
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "resync.h"
#include "tap.h"

static char *swap(const Config *cfg, const ChCaps *caps, SwapHow how)
{
	Buf b;
	buf_init(&b);
	resync_swap_sql(cfg, caps, "orders", "orders__pgch_resync_17", "orders__pgch_old_17", how, &b);
	return buf_steal(&b);
}

int main(void)
{
	Config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.dest.database = "app";
	ChCaps one;
	memset(&one, 0, sizeof one);

	ok(resync_is_shadow_of("orders__pgch_resync_17", "orders"), "a shadow of its table");
	ok(!resync_is_shadow_of("orders", "orders"), "the table itself is not its shadow");
	ok(!resync_is_shadow_of("orders__pgch_resync_", "orders"), "the mark alone, without a generation, is not");
	ok(!resync_is_shadow_of("orders_items__pgch_resync_17", "orders"), "another table's shadow is not");
	ok(!resync_is_shadow_of("orders__pgch_old_17", "orders"), "an old table is not a shadow");
	ok(!resync_is_shadow_of(NULL, "orders"), "no name is not");
	char *real = resync_real_target("orders__pgch_resync_17");
	is_str(real ? real : "(null)", "orders", "a shadow's real target");
	free(real);
	ok(resync_real_target("orders") == NULL, "a table that is no shadow has none");
	ok(resync_real_target("__pgch_resync_17") == NULL, "a name that is only the mark has none");
	ok(resync_real_target("orders__pgch_resync_") == NULL, "a mark without a generation has none");

	char *s = swap(&cfg, &one, SWAP_RENAME);
	is_str(s, "RENAME TABLE `app`.`orders` TO `app`.`orders__pgch_old_17`, `app`.`orders__pgch_resync_17` TO `app`.`orders`",
	       "no EXCHANGE: one RENAME TABLE of both");
	free(s);
	s = swap(&cfg, &one, SWAP_EXCHANGE);
	is_str(s, "EXCHANGE TABLES `app`.`orders` AND `app`.`orders__pgch_resync_17`", "Atomic: EXCHANGE TABLES");
	free(s);
	is_str(resync_old_holder("S", "O", SWAP_EXCHANGE), "S", "after EXCHANGE the old rows are under the shadow's name");
	is_str(resync_old_holder("S", "O", SWAP_RENAME), "O", "after RENAME under the old name");
	ok(resync_old_holder("S", "O", SWAP_MOVE) == NULL, "no old table to drop when there was none");
	s = swap(&cfg, &one, SWAP_MOVE);
	is_str(s, "RENAME TABLE `app`.`orders__pgch_resync_17` TO `app`.`orders`", "target gone: the shadow renamed to it");
	free(s);

	cfg.dest.cluster = "c1";
	ChCaps rep = one;
	rep.cluster_shards = 1;
	s = swap(&cfg, &rep, SWAP_RENAME);
	is_str(s,
	       "RENAME TABLE `app`.`orders` TO `app`.`orders__pgch_old_17`, `app`.`orders__pgch_resync_17` TO `app`.`orders` "
	       "ON CLUSTER `c1`",
	       "cluster: RENAME ON CLUSTER");
	free(s);
	s = swap(&cfg, &rep, SWAP_EXCHANGE);
	is_str(s, "EXCHANGE TABLES `app`.`orders` AND `app`.`orders__pgch_resync_17` ON CLUSTER `c1`",
	       "cluster: EXCHANGE ON CLUSTER");
	free(s);

	ChCaps sh = one;
	sh.cluster_shards = 2;
	s = swap(&cfg, &sh, SWAP_RENAME);
	is_str(s,
	       "RENAME TABLE `app`.`orders_local` TO `app`.`orders__pgch_old_17_local`, `app`.`orders__pgch_resync_17_local` "
	       "TO `app`.`orders_local` ON CLUSTER `c1`",
	       "shards: the local tables are renamed; the Distributed table keeps naming orders_local");
	free(s);
	s = swap(&cfg, &sh, SWAP_EXCHANGE);
	is_str(s, "EXCHANGE TABLES `app`.`orders_local` AND `app`.`orders__pgch_resync_17_local` ON CLUSTER `c1`",
	       "shards: EXCHANGE of the local tables");
	free(s);
	s = swap(&cfg, &sh, SWAP_MOVE);
	is_str(s, "RENAME TABLE `app`.`orders__pgch_resync_17_local` TO `app`.`orders_local` ON CLUSTER `c1`",
	       "shards, local table gone: the shadow's renamed to it");
	free(s);
	return done_testing();
}
