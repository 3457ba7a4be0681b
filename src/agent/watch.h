/*
 * watch.h - the `watches` of the agent configuration (Consul's watch plans
 * run by the agent).
 *
 * Each plan runs as a child `cairn watch` process against this agent's own
 * HTTP address, so the agent and the CLI share one implementation of the
 * blocking-query client rules and of handler invocation (src/cli/watch.c).
 * A child that exits is restarted after a pause; children get SIGTERM when
 * the agent stops and die with it (PR_SET_PDEATHSIG, set by the child).
 * Handler types: "script" with `handler` (run through the shell) or `args`.
 */
#ifndef AGENT_WATCH_H
#define AGENT_WATCH_H

#include "lib/cn_err.h"

struct agent;
struct agent_watches;

/* NULL when the configuration has no watches. Bad entries are CN_EINVAL
 * with the reason (the agent refuses to start, as Consul does). */
int agent_watches_start(struct agent *a, struct agent_watches **out, struct cn_err *err);
void agent_watches_stop(struct agent_watches *w);

#endif
