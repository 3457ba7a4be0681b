/*
 * bench_authz - the authorizer in isolation: nanoseconds per request for
 * what every KV request adds when ACLs are on (resolve the secret through
 * the cache, then one key decision), with the benchmark's token: 20
 * policies of 50 rules each. No I/O; the figure to set beside the HTTP
 * round trip that bench/acl/run.py measures.
 *
 *   bench_authz [iterations]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acl/acl.h"
#include "state/state.h"

#define POLICIES 20
#define RULES 50

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static char *rules_text(int i)
{
    static char buf[8192];
    size_t o = 0;
    for (int j = 0; j < 30; j++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "key_prefix \"app%02d/part%02d/\" { policy = \"%s\" }\n",
                              i, j, j % 3 ? "write" : "read");
    for (int j = 0; j < 10; j++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "key \"cfg/%02d/%02d\" { policy = \"read\" }\n", i, j);
    for (int j = 0; j < 5; j++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "service_prefix \"svc%02d-%d\" { policy = \"read\" }\n", i, j);
    for (int j = 0; j < (i < POLICIES - 1 ? 5 : 4); j++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "node_prefix \"node%02d-%d\" { policy = \"read\" }\n", i, j);
    if (i == POLICIES - 1) snprintf(buf + o, sizeof buf - o, "key_prefix \"bench/\" { policy = \"write\" }\n");
    return buf;
}

static void setup(struct state_store *st)
{
    struct cn_err err;
    struct state_acl_token *t = calloc(1, sizeof *t);
    t->accessor = strdup("bench-accessor");
    t->secret = strdup("bench-secret");
    t->description = strdup("");
    t->hash = strdup("");
    t->policies = calloc(POLICIES, sizeof *t->policies);
    for (int i = 0; i < POLICIES; i++) {
        struct state_acl_policy *p = calloc(1, sizeof *p);
        char id[32];
        snprintf(id, sizeof id, "policy-%02d", i);
        p->id = strdup(id);
        p->name = strdup(id);
        p->description = strdup("");
        p->rules = strdup(rules_text(i));
        p->hash = strdup("");
        struct state_txn *tx = state_txn_begin(st, (uint64_t)i + 1);
        if (state_acl_policy_set_txn(tx, p, STATE_ACL_CREATE, &err)) abort();
        state_txn_commit(tx);
        t->policies[t->npolicies++] = strdup(id);
    }
    struct state_txn *tx = state_txn_begin(st, 100);
    if (state_acl_token_set_txn(tx, t, STATE_ACL_CREATE, &err)) abort();
    state_txn_commit(tx);
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 2000000;
    struct state_store *st = state_new();
    setup(st);
    struct acl_config c = {.enabled = true, .default_allow = false, .st = st};
    struct acl_resolver *r = acl_resolver_new(&c);
    const struct acl_authz *a;
    char keys[1000][32];
    for (int i = 0; i < 1000; i++) snprintf(keys[i], sizeof keys[i], "bench/%08d", i * 7);
    uint64_t t0 = now_ns();
    if (acl_resolve(r, "bench-secret", 0, &a)) abort();
    uint64_t compile = now_ns() - t0;
    long allowed = 0;
    t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        if (acl_resolve(r, "bench-secret", 0, &a)) abort();
        allowed += acl_allow(a, ACL_R_KEY, cn_str_from(keys[i % 1000]), ACL_A_WRITE);
    }
    uint64_t dt = now_ns() - t0;
    if (allowed != iters) abort();
    t0 = now_ns();
    for (long i = 0; i < iters; i++)
        allowed -= acl_allow(a, ACL_R_KEY, cn_str_from(keys[i % 1000]), ACL_A_WRITE);
    uint64_t dt_allow = now_ns() - t0;
    printf("{\"policies\": %d, \"rules\": %d, \"first_resolve_us\": %.1f, "
           "\"resolve_and_allow_ns\": %.1f, \"allow_ns\": %.1f}\n",
           POLICIES, POLICIES * RULES, compile / 1e3, (double)dt / (double)iters,
           (double)dt_allow / (double)iters);
    acl_resolver_free(r);
    state_free(st);
    return allowed != 0;
}
