/*
 * stream — the streaming worker; see stream.h.
 */
#include "stream.h"

#include "log.h"

bool stream_catch_up(const Config *cfg, const Catalog *cat, const ChCaps *caps, bool compress, uint64_t upto)
{
	(void)cfg;
	(void)cat;
	(void)caps;
	(void)compress;
	(void)upto;
	log_error("catching up from the slot is not available in this build: run pgch snapshot --restart");
	return false;
}
