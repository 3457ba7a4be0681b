/*
 * gossip_config.h - the gossip timing of the LAN and WAN pools from the
 * agent's configuration (gossip_lan, gossip_wan, reconnect_timeout,
 * reconnect_timeout_wan), with Consul's defaults.
 */
#ifndef AGENT_GOSSIP_CONFIG_H
#define AGENT_GOSSIP_CONFIG_H

#include "agent/config.h"
#include "gossip/gossip.h"

/* Fill t for the LAN (or WAN) pool. CN_EINVAL naming the key when a value
 * cannot be used (a zero interval, a negative count). */
int agent_gossip_timing(const struct agent_config *cfg, bool wan, struct gossip_timing *t,
                        struct cn_err *err);

#endif
