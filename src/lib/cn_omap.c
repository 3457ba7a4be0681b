#include "lib/cn_omap.h"

#include <stddef.h>
#include <string.h>

#include "lib/cn_common.h"

#define LEAF_MAX 64
#define INNER_MAX 64

/* A leaf holds entries; an inner node holds n children and n-1 separators,
 * where sep[i] <= every key of child i+1 and > every key of child i. */
struct cn_omap_node {
    int n;
    bool leaf;
    struct cn_omap_node *next; /* leaves only */
    union {
        void *entry[LEAF_MAX];
        struct {
            struct cn_omap_node *child[INNER_MAX];
            struct cn_str sep[INNER_MAX - 1];
        };
    };
};

/* A leaf is allocated only up to the end of its entries: the inner node's
 * separators make the full union three times larger, which at a million
 * keys is 16 bytes a key of memory nobody touches. */
#define LEAF_SIZE (offsetof(struct cn_omap_node, entry) + LEAF_MAX * sizeof(void *))

static struct cn_omap_node *node_new(bool leaf)
{
    struct cn_omap_node *n = cn_calloc(1, leaf ? LEAF_SIZE : sizeof *n);
    n->leaf = leaf;
    return n;
}

void cn_omap_init(struct cn_omap *t, cn_omap_key_fn key_of)
{
    t->root = NULL;
    t->key_of = key_of;
    t->count = 0;
    t->height = 0;
}

static void node_free(struct cn_omap_node *n)
{
    if (!n) return;
    if (!n->leaf) {
        for (int i = 0; i < n->n; i++) node_free(n->child[i]);
        for (int i = 0; i < n->n - 1; i++) free((void *)n->sep[i].p);
    }
    free(n);
}

void cn_omap_release(struct cn_omap *t)
{
    node_free(t->root);
    cn_omap_init(t, t->key_of);
}

/* Child index in an inner node for key: the number of separators <= key. */
static int inner_pos(const struct cn_omap_node *n, struct cn_str key)
{
    int lo = 0, hi = n->n - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (cn_str_cmp(n->sep[mid], key) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* First index in a leaf whose key >= key; *found when equal. */
static int leaf_pos(const struct cn_omap *t, const struct cn_omap_node *n, struct cn_str key,
                    bool *found)
{
    int lo = 0, hi = n->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (cn_str_cmp(t->key_of(n->entry[mid]), key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < n->n && cn_str_eq(t->key_of(n->entry[lo]), key);
    return lo;
}

void *cn_omap_get(const struct cn_omap *t, struct cn_str key)
{
    struct cn_omap_node *n = t->root;
    bool found;
    int i;
    if (!n) return NULL;
    while (!n->leaf) n = n->child[inner_pos(n, key)];
    i = leaf_pos(t, n, key, &found);
    return found ? n->entry[i] : NULL;
}

static struct cn_str sep_copy(struct cn_str k)
{
    return cn_str_make(cn_memdup(k.p ? k.p : "", k.len), k.len);
}

/* Insert into the subtree; on split returns the new right sibling and sets
 * *sep to its lower bound. */
static struct cn_omap_node *insert(struct cn_omap *t, struct cn_omap_node *n, void *entry,
                                   struct cn_str key, void **replaced, struct cn_str *sep)
{
    if (n->leaf) {
        bool found;
        int i = leaf_pos(t, n, key, &found);
        if (found) {
            *replaced = n->entry[i];
            n->entry[i] = entry;
            return NULL;
        }
        if (n->n < LEAF_MAX) {
            memmove(&n->entry[i + 1], &n->entry[i], (size_t)(n->n - i) * sizeof(void *));
            n->entry[i] = entry;
            n->n++;
            return NULL;
        }
        /* Split: left keeps half. Appends (sequential keys) split unevenly so
         * bulk loads fill leaves instead of leaving them half empty. */
        struct cn_omap_node *r = node_new(true);
        int keep = i == LEAF_MAX ? LEAF_MAX - 1 : LEAF_MAX / 2;
        r->n = LEAF_MAX - keep;
        memcpy(r->entry, &n->entry[keep], (size_t)r->n * sizeof(void *));
        n->n = keep;
        r->next = n->next;
        n->next = r;
        if (i <= keep) {
            memmove(&n->entry[i + 1], &n->entry[i], (size_t)(n->n - i) * sizeof(void *));
            n->entry[i] = entry;
            n->n++;
        } else {
            i -= keep;
            memmove(&r->entry[i + 1], &r->entry[i], (size_t)(r->n - i) * sizeof(void *));
            r->entry[i] = entry;
            r->n++;
        }
        *sep = sep_copy(t->key_of(r->entry[0]));
        return r;
    }
    int ci = inner_pos(n, key);
    struct cn_str csep;
    struct cn_omap_node *split = insert(t, n->child[ci], entry, key, replaced, &csep);
    if (!split) return NULL;
    if (n->n < INNER_MAX) {
        memmove(&n->child[ci + 2], &n->child[ci + 1], (size_t)(n->n - ci - 1) * sizeof(void *));
        memmove(&n->sep[ci + 1], &n->sep[ci], (size_t)(n->n - 1 - ci) * sizeof(struct cn_str));
        n->child[ci + 1] = split;
        n->sep[ci] = csep;
        n->n++;
        return NULL;
    }
    /* Split a full inner node: gather n+1 children, give the right half away. */
    struct cn_omap_node *kids[INNER_MAX + 1];
    struct cn_str seps[INNER_MAX];
    memcpy(kids, n->child, (size_t)(ci + 1) * sizeof(void *));
    kids[ci + 1] = split;
    memcpy(&kids[ci + 2], &n->child[ci + 1], (size_t)(n->n - ci - 1) * sizeof(void *));
    memcpy(seps, n->sep, (size_t)ci * sizeof(struct cn_str));
    seps[ci] = csep;
    memcpy(&seps[ci + 1], &n->sep[ci], (size_t)(n->n - 1 - ci) * sizeof(struct cn_str));
    int total = INNER_MAX + 1, left = total / 2;
    struct cn_omap_node *r = node_new(false);
    n->n = left;
    memcpy(n->child, kids, (size_t)left * sizeof(void *));
    memcpy(n->sep, seps, (size_t)(left - 1) * sizeof(struct cn_str));
    *sep = seps[left - 1];
    r->n = total - left;
    memcpy(r->child, &kids[left], (size_t)r->n * sizeof(void *));
    memcpy(r->sep, &seps[left], (size_t)(r->n - 1) * sizeof(struct cn_str));
    return r;
}

void *cn_omap_put(struct cn_omap *t, void *entry)
{
    struct cn_str key = t->key_of(entry), sep;
    void *replaced = NULL;
    if (!t->root) t->root = node_new(true);
    struct cn_omap_node *split = insert(t, t->root, entry, key, &replaced, &sep);
    if (split) {
        struct cn_omap_node *root = node_new(false);
        root->n = 2;
        root->child[0] = t->root;
        root->child[1] = split;
        root->sep[0] = sep;
        t->root = root;
        t->height++;
    }
    if (!replaced) t->count++;
    return replaced;
}

/* Fix the leaf chain when a leaf is unlinked: its predecessor must skip it. */
static struct cn_omap_node *last_leaf(struct cn_omap_node *n)
{
    while (!n->leaf) n = n->child[n->n - 1];
    return n;
}

static void drop_child(struct cn_omap_node *n, int ci)
{
    /* Separator ci-1 bounds child ci from below; drop it with the child (or
     * sep 0 when removing child 0). */
    int si = ci > 0 ? ci - 1 : 0;
    free((void *)n->sep[si].p);
    memmove(&n->sep[si], &n->sep[si + 1], (size_t)(n->n - 2 - si) * sizeof(struct cn_str));
    memmove(&n->child[ci], &n->child[ci + 1], (size_t)(n->n - ci - 1) * sizeof(void *));
    n->n--;
}

/* Delete from the subtree; returns the removed entry. *empty when the node
 * became empty and must be unlinked by its parent. */
static void *del(struct cn_omap *t, struct cn_omap_node *n, struct cn_str key,
                 struct cn_omap_node *prev_leaf, bool *empty)
{
    *empty = false;
    if (n->leaf) {
        bool found;
        int i = leaf_pos(t, n, key, &found);
        if (!found) return NULL;
        void *e = n->entry[i];
        memmove(&n->entry[i], &n->entry[i + 1], (size_t)(n->n - i - 1) * sizeof(void *));
        n->n--;
        if (n->n == 0) {
            if (prev_leaf) prev_leaf->next = n->next;
            *empty = true;
        }
        return e;
    }
    int ci = inner_pos(n, key);
    struct cn_omap_node *pl = ci > 0 ? last_leaf(n->child[ci - 1]) : prev_leaf;
    bool child_empty;
    void *e = del(t, n->child[ci], key, pl, &child_empty);
    if (child_empty) {
        free(n->child[ci]);
        if (n->n == 1) {
            n->n = 0;
            *empty = true;
        } else {
            drop_child(n, ci);
        }
    }
    return e;
}

void *cn_omap_del(struct cn_omap *t, struct cn_str key)
{
    bool empty;
    if (!t->root) return NULL;
    void *e = del(t, t->root, key, NULL, &empty);
    if (!e) return NULL;
    t->count--;
    if (empty) {
        free(t->root);
        t->root = NULL;
        t->height = 0;
    } else {
        while (!t->root->leaf && t->root->n == 1) {
            struct cn_omap_node *only = t->root->child[0];
            free(t->root);
            t->root = only;
            t->height--;
        }
    }
    return e;
}

void cn_omap_seek(const struct cn_omap *t, struct cn_str key, struct cn_omap_iter *it)
{
    struct cn_omap_node *n = t->root;
    bool found;
    it->leaf = NULL;
    it->i = 0;
    if (!n) return;
    while (!n->leaf) n = n->child[inner_pos(n, key)];
    it->leaf = n;
    it->i = leaf_pos(t, n, key, &found);
}

void *cn_omap_next(struct cn_omap_iter *it)
{
    while (it->leaf && it->i >= it->leaf->n) {
        it->leaf = it->leaf->next;
        it->i = 0;
    }
    if (!it->leaf) return NULL;
    return it->leaf->entry[it->i++];
}

static bool check_node(const struct cn_omap *t, const struct cn_omap_node *n, struct cn_str lo,
                       bool has_lo, struct cn_str hi, bool has_hi, int depth, size_t *count)
{
    if (n->n <= 0) return false;
    if (n->leaf) {
        if (depth != t->height) return false;
        for (int i = 0; i < n->n; i++) {
            struct cn_str k = t->key_of(n->entry[i]);
            if (i && cn_str_cmp(t->key_of(n->entry[i - 1]), k) >= 0) return false;
            if (has_lo && cn_str_cmp(k, lo) < 0) return false;
            if (has_hi && cn_str_cmp(k, hi) >= 0) return false;
        }
        *count += (size_t)n->n;
        return true;
    }
    for (int i = 0; i < n->n; i++) {
        struct cn_str clo = i ? n->sep[i - 1] : lo, chi = i < n->n - 1 ? n->sep[i] : hi;
        bool hlo = i ? true : has_lo, hhi = i < n->n - 1 ? true : has_hi;
        if (i && i < n->n - 1 && cn_str_cmp(n->sep[i - 1], n->sep[i]) >= 0) return false;
        if (!check_node(t, n->child[i], clo, hlo, chi, hhi, depth + 1, count)) return false;
    }
    return true;
}

bool cn_omap_check(const struct cn_omap *t)
{
    size_t count = 0, chained = 0;
    struct cn_omap_iter it;
    if (!t->root) return t->count == 0;
    if (!check_node(t, t->root, CN_STR_NULL, false, CN_STR_NULL, false, 0, &count)) return false;
    cn_omap_seek(t, CN_STR_NULL, &it);
    void *prev = NULL, *e;
    while ((e = cn_omap_next(&it))) {
        if (prev && cn_str_cmp(t->key_of(prev), t->key_of(e)) >= 0) return false;
        prev = e;
        chained++;
    }
    return count == t->count && chained == t->count;
}
