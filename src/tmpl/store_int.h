/* store_int.h - the dependency store's insides (private to src/tmpl). */
#ifndef TMPL_STORE_INT_H
#define TMPL_STORE_INT_H

#include <string.h>

#include "lib/cn_map.h"
#include "tmpl/tmpl_int.h"

/* health.service status filters */
#define DEP_F_PASSING  1u
#define DEP_F_WARNING  2u
#define DEP_F_CRITICAL 4u
#define DEP_F_MAINT    8u
#define DEP_F_ANY      16u

static inline unsigned status_bit(const char *s)
{
    if (!strcmp(s, "passing")) return DEP_F_PASSING;
    if (!strcmp(s, "warning")) return DEP_F_WARNING;
    if (!strcmp(s, "critical")) return DEP_F_CRITICAL;
    if (!strcmp(s, "maintenance")) return DEP_F_MAINT;
    if (!strcmp(s, "any")) return DEP_F_ANY;
    return 0;
}

struct tmpl_dep {
    char *id;
    enum tmpl_dep_kind kind;
    char *path, *query;
    char *arg;        /* kv.list: the prefix (for relative keys) */
    unsigned filters; /* health.service */
    bool near;        /* keep the agent's order */
    bool has_data;
    uint64_t version; /* bumped on every change of data */
    struct cn_arena arena;
    const struct tv *value;
    char *digest; /* canonical JSON of value: deep-equal test */
    size_t digest_len;
    size_t refs;
    uint64_t seen, missing_seen; /* execution serials */
    void *user;
    struct tmpl_dep *prev, *next;
};

struct tmpl_store {
    struct cn_map by_id;
    struct tmpl_dep *head, *tail;
    size_t count;
    uint64_t serial;
};

struct tmpl_dep *store_get(struct tmpl_store *s, enum tmpl_dep_kind kind, const char *id,
                           const char *path, const char *query, const char *arg);

#endif
