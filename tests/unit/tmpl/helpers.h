/* helpers.h - a fake agent answering the template core's requests from a
 * fixed state, and a render() that runs the pass-by-pass fetch loop. */
#ifndef TMPL_TEST_HELPERS_H
#define TMPL_TEST_HELPERS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/cn_buf.h"
#include "tmpl/tmpl.h"

struct fake_check {
    const char *id, *status; /* serfHealth/passing; service checks bind to the instance */
    bool node_level;
};

struct fake_instance {
    const char *id, *service, *node, *node_addr, *addr;
    int port;
    const char *tags[4];
    struct fake_check checks[3];
    const char *meta_k, *meta_v;
};

#define FAKE_KV_MAX  64
#define FAKE_SVC_MAX 16

struct fake {
    const char *kv_keys[FAKE_KV_MAX], *kv_vals[FAKE_KV_MAX];
    size_t nkv;
    struct fake_instance svc[FAKE_SVC_MAX];
    size_t nsvc;
    const char *files[4][2];
    size_t requests; /* how many fetches render() made */
    char last_path[512], last_query[512];
};

void fake_init(struct fake *f);
void fake_kv(struct fake *f, const char *k, const char *v);
void fake_del(struct fake *f, const char *k);
/* The haproxy worked example's state (templates.md §4). */
void fake_haproxy(struct fake *f);

/* Answer one dependency (status and body) as the agent would. */
int fake_answer(struct fake *f, const char *path, const char *query, struct cn_buf *body);

/* Parse, then execute until no dependency is missing (or 8 passes), feeding
 * the store from f. Returns the output (static buffer) or NULL with err set;
 * *complete tells whether all data was there. */
const char *render_ex(struct fake *f, const char *src, bool *complete, struct tmpl_error *err);
/* render_ex that fails the test on an error and on incomplete data. */
const char *render(struct fake *f, const char *src);
/* The error text of a template that must fail (parse or execute). */
const char *render_err(struct fake *f, const char *src, struct tmpl_error *err);

/* The contract's haproxy.ctmpl and its expected output (193 bytes). */
extern const char haproxy_ctmpl[];
extern const char haproxy_expected[];

#endif
