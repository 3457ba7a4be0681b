/*
 * data.c - consul-template's data functions (key, keyExists, keyOrDefault,
 * ls, safeLs, tree, safeTree, service, services, nodes, node, datacenters,
 * file): the argument grammars of dependency/ (Go), the canonical ids, the
 * requests they stand for, and the values they return before and after
 * their data arrives.
 */
#include <ctype.h>
#include <string.h>

#include "lib/cn_common.h"
#include "tmpl/store_int.h"

/* ---- request building ------------------------------------------------ */

/* Go's url.PathEscape-ish escaping for the path part (keeps '/'). */
static void path_escape(struct cn_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || (c && strchr("-._~/$&+,:;=@!'()*", c)))
            cn_buf_putc(b, (char)c);
        else
            cn_buf_putf(b, "%%%c%c", hex[c >> 4], hex[c & 15]);
    }
}

/* Query escaping (url.QueryEscape: space as '+'). */
static void query_escape(struct cn_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || (c && strchr("-._~", c)))
            cn_buf_putc(b, (char)c);
        else if (c == ' ')
            cn_buf_putc(b, '+');
        else
            cn_buf_putf(b, "%%%c%c", hex[c >> 4], hex[c & 15]);
    }
}

#define QP_MAX 12
struct qparams {
    const char *k[QP_MAX], *v[QP_MAX];
    size_t n;
};

static void qp_set(struct qparams *q, const char *k, const char *v)
{
    if (!v) return;
    for (size_t i = 0; i < q->n; i++)
        if (!strcmp(q->k[i], k)) {
            q->v[i] = v;
            return;
        }
    if (q->n < QP_MAX) {
        q->k[q->n] = k;
        q->v[q->n++] = v;
    }
}

/* "a=1&b=2", keys sorted as url.Values.Encode sorts them. */
static char *qp_encode(struct ex *x, struct qparams *q)
{
    for (size_t i = 1; i < q->n; i++)
        for (size_t j = i; j > 0 && strcmp(q->k[j - 1], q->k[j]) > 0; j--) {
            const char *tk = q->k[j], *tv = q->v[j];
            q->k[j] = q->k[j - 1], q->v[j] = q->v[j - 1];
            q->k[j - 1] = tk, q->v[j - 1] = tv;
        }
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    for (size_t i = 0; i < q->n; i++) {
        if (i) cn_buf_putc(&b, '&');
        query_escape(&b, q->k[i]);
        cn_buf_putc(&b, '=');
        query_escape(&b, q->v[i]);
    }
    char *s = cn_arena_strdup(x->a, b.data ? b.data : "");
    cn_buf_release(&b);
    return s;
}

static char *path_of(struct ex *x, const char *prefix, const char *rest)
{
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_buf_puts(&b, prefix);
    path_escape(&b, rest, strlen(rest));
    char *s = cn_arena_strdup(x->a, b.data);
    cn_buf_release(&b);
    return s;
}

static bool word(int c)
{
    return isalnum(c) || c == '_';
}

static bool all_in(const char *s, size_t n, const char *extra)
{
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++)
        if (!word((unsigned char)s[i]) && !(s[i] && strchr(extra, s[i]))) return false;
    return true;
}

/* "?ns=a&partition=b": the query options consul-template accepts. */
static bool parse_query(struct ex *x, const char *q, size_t n, const char *const *allowed,
                        struct qparams *qp)
{
    if (!all_in(q, n, "-_=&")) return false;
    char *s = cn_arena_strndup(x->a, q, n);
    for (char *tok = s, *next; tok; tok = next) {
        next = strchr(tok, '&');
        if (next) *next++ = '\0';
        char *eq = strchr(tok, '=');
        if (!eq) return false;
        *eq = '\0';
        bool ok = false;
        for (size_t i = 0; allowed[i]; i++)
            if (!strcmp(allowed[i], tok)) ok = true;
        if (!ok) return false;
        qp_set(qp, tok, eq + 1);
    }
    return true;
}

static const char *const kv_query_keys[] = {"ns", "partition", NULL};
static const char *const svc_query_keys[] = {"ns", "partition", "peer", "sameness-group", NULL};

/* ---- kv -------------------------------------------------------------- */

struct kvq {
    const char *key, *dc, *qs; /* qs: "?..." as given, for the id */
    struct qparams qp;
};

/* "[/]key[?query][@dc]"; allow_empty for ls/tree prefixes. */
static bool parse_kv(struct ex *x, const char *s, size_t n, bool allow_empty, struct kvq *q)
{
    memset(q, 0, sizeof *q);
    if (n && s[0] == '/') s++, n--;
    const char *at = memchr(s, '@', n);
    size_t klen = at ? (size_t)(at - s) : n;
    q->dc = "";
    if (at) {
        if ((size_t)(at - s) + 1 >= n) return false;
        q->dc = cn_arena_strndup(x->a, at + 1, n - klen - 1);
    }
    q->qs = "";
    const char *qm = memchr(s, '?', klen);
    if (qm) {
        size_t qlen = klen - (size_t)(qm - s) - 1;
        struct qparams tmp = {0};
        if (parse_query(x, qm + 1, qlen, kv_query_keys, &tmp)) {
            q->qp = tmp;
            q->qs = cn_arena_strndup(x->a, qm, qlen + 1);
            klen = (size_t)(qm - s);
        }
    }
    if (klen == 0 && !allow_empty) return false;
    q->key = cn_arena_strndup(x->a, s, klen);
    if (*q->dc) qp_set(&q->qp, "dc", q->dc);
    return true;
}

static char *kv_id(struct ex *x, const char *kind, const struct kvq *q)
{
    return cn_arena_printf(x->a, "%s(%s%s%s%s)", kind, q->key, q->qs, *q->dc ? "@" : "", q->dc);
}

/* key, keyExists, keyOrDefault: the value, NULL while waiting, or nil. */
static const struct tv *kv_lookup(struct ex *x, const struct tv *arg, bool block)
{
    struct kvq q;
    if (!parse_kv(x, arg->s, arg->n, false, &q))
        fn_fail(x, "kv.get: invalid format: \"%.*s\"", (int)CN_MIN(arg->n, 200), arg->s);
    enum tmpl_dep_kind kind = block ? TMPL_DEP_KV_BLOCK : TMPL_DEP_KV_GET;
    struct tmpl_dep *d = ex_dep(x, kind, kv_id(x, block ? "kv.block" : "kv.get", &q),
                                path_of(x, "/v1/kv/", q.key), qp_encode(x, &q.qp), q.key);
    return ex_dep_value(x, d);
}

static const struct tv *f_key(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    if (a[0]->n == 0) return &tv_empty_str;
    const struct tv *v = kv_lookup(x, a[0], true);
    return v && v->kind == TV_STR ? v : &tv_empty_str;
}

static const struct tv *f_key_exists(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    if (a[0]->n == 0) return &tv_false;
    const struct tv *v = kv_lookup(x, a[0], false);
    return tv_bool(v && v->kind == TV_STR);
}

static const struct tv *f_key_or_default(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    if (a[0]->n == 0) return a[1];
    const struct tv *v = kv_lookup(x, a[0], false);
    return v && v->kind == TV_STR && v->n > 0 ? v : a[1];
}

/* ls/tree/safeLs/safeTree */
static const struct tv *kv_list(struct ex *x, const struct tv *arg, bool tree, bool safe)
{
    const char *tname = "[]*dependency.KeyPair";
    if (arg->n == 0) return tv_list(x->a, NULL, 0, tname);
    struct kvq q;
    if (!parse_kv(x, arg->s, arg->n, true, &q))
        fn_fail(x, "kv.list: invalid format: \"%.*s\"", (int)CN_MIN(arg->n, 200), arg->s);
    qp_set(&q.qp, "recurse", "");
    struct tmpl_dep *d = ex_dep(x, TMPL_DEP_KV_LIST, kv_id(x, "kv.list", &q),
                                path_of(x, "/v1/kv/", q.key), qp_encode(x, &q.qp), q.key);
    const struct tv *all = ex_dep_value(x, d);
    if (!all) return tv_list(x->a, NULL, 0, tname);
    struct tv_listb lb;
    tv_listb_init(&lb, x->a);
    for (size_t i = 0; i < all->n; i++) {
        const struct tv *k = all->items[i]->items[1];
        if (tree) {
            if (k->n && k->s[k->n - 1] == '/') continue;
        } else if (k->n == 0 || memchr(k->s, '/', k->n)) {
            continue;
        }
        tv_listb_push(&lb, all->items[i]);
    }
    if (safe && lb.n == 0) ex_dep_missing(x, d);
    return tv_listb_done(&lb, tname);
}

static const struct tv *f_ls(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    return kv_list(x, a[0], false, false);
}

static const struct tv *f_safe_ls(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    return kv_list(x, a[0], false, true);
}

static const struct tv *f_tree(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    return kv_list(x, a[0], true, false);
}

static const struct tv *f_safe_tree(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    return kv_list(x, a[0], true, true);
}

/* ---- service --------------------------------------------------------- */

static const struct tv *f_service(struct ex *x, const struct tv **a, size_t n)
{
    const char *tname = "[]*dependency.HealthService";
    if (n == 0 || a[0]->n == 0) return tv_list(x->a, NULL, 0, tname);
    /* service "a" "b" is service "a|b" */
    struct cn_buf jb;
    cn_buf_init(&jb, CN_BUF_UNLIMITED);
    for (size_t i = 0; i < n; i++) {
        if (i) cn_buf_putc(&jb, '|');
        cn_buf_put(&jb, a[i]->s, a[i]->n);
    }
    const char *s = cn_arena_strndup(x->a, jb.data, jb.len);
    size_t len = jb.len;
    cn_buf_release(&jb);

    /* [tag.]name[?query][@dc][~near][|filters] */
    size_t head = strcspn(s, "?@~|");
    const char *dot = NULL;
    for (size_t i = 0; i < head; i++)
        if (s[i] == '.') dot = s + i;
    const char *tag = "", *name;
    struct qparams qp = {0};
    const char *dc = "", *near = "", *filt = "", *qs = "";
    bool ok = true;
    if (dot) {
        tag = cn_arena_strndup(x->a, s, (size_t)(dot - s));
        name = cn_arena_strndup(x->a, dot + 1, head - (size_t)(dot - s) - 1);
        ok = all_in(tag, strlen(tag), "=:.-");
    } else {
        name = cn_arena_strndup(x->a, s, head);
    }
    ok = ok && all_in(name, strlen(name), "-");
    const char *p = s + head, *end = s + len;
    if (ok && p < end && *p == '?') {
        size_t l = strcspn(p + 1, "@~|");
        ok = parse_query(x, p + 1, l, svc_query_keys, &qp);
        qs = cn_arena_strndup(x->a, p, l + 1);
        p += l + 1;
    }
    if (ok && p < end && *p == '@') {
        size_t l = strcspn(p + 1, "~|");
        dc = cn_arena_strndup(x->a, p + 1, l);
        ok = all_in(dc, l, ".-");
        p += l + 1;
    }
    if (ok && p < end && *p == '~') {
        size_t l = strcspn(p + 1, "|");
        near = cn_arena_strndup(x->a, p + 1, l);
        ok = all_in(near, l, ".-");
        p += l + 1;
    }
    if (ok && p < end && *p == '|') {
        filt = p + 1;
        ok = all_in(filt, strlen(filt), ",");
        p = end;
    }
    ok = ok && p == end;
    if (!ok) fn_fail(x, "health.service: invalid format: \"%.*s\"", (int)CN_MIN(len, 200), s);

    /* filters: sorted for the id; passing when none */
    const char *names[8];
    size_t nf = 0;
    unsigned bits = 0;
    if (*filt) {
        char *f = cn_arena_strdup(x->a, filt);
        for (char *tok = f, *next; tok; tok = next) {
            next = strchr(tok, ',');
            if (next) *next++ = '\0';
            unsigned bit = status_bit(tok);
            if (!bit) fn_fail(x, "health.service: invalid filter: \"%s\" in \"%s\"", tok, s);
            if (!(bits & bit) && nf < CN_ARRAY_SIZE(names)) names[nf++] = tok;
            bits |= bit;
        }
    } else {
        names[nf++] = "passing";
        bits = DEP_F_PASSING;
    }
    for (size_t i = 1; i < nf; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            const char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    struct cn_buf idb;
    cn_buf_init(&idb, CN_BUF_UNLIMITED);
    cn_buf_puts(&idb, "health.service(");
    if (*tag) cn_buf_putf(&idb, "%s.", tag);
    cn_buf_putf(&idb, "%s%s", name, qs);
    if (*dc) cn_buf_putf(&idb, "@%s", dc);
    if (*near) cn_buf_putf(&idb, "~%s", near);
    cn_buf_putc(&idb, '|');
    for (size_t i = 0; i < nf; i++)
        cn_buf_putf(&idb, "%s%s", i ? "," : "", names[i]);
    cn_buf_putc(&idb, ')');
    char *id = cn_arena_strdup(x->a, idb.data);
    cn_buf_release(&idb);

    if (*dc) qp_set(&qp, "dc", dc);
    if (*near) qp_set(&qp, "near", near);
    if (*tag) qp_set(&qp, "tag", tag);
    if (bits == DEP_F_PASSING) qp_set(&qp, "passing", "1");
    struct tmpl_dep *d = ex_dep(x, TMPL_DEP_HEALTH_SERVICE, id,
                                path_of(x, "/v1/health/service/", name), qp_encode(x, &qp), name);
    d->filters = bits;
    d->near = *near != 0;
    const struct tv *v = ex_dep_value(x, d);
    return v ? v : tv_list(x->a, NULL, 0, tname);
}

/* ---- catalog --------------------------------------------------------- */

/* "[?query][@dc][~near]" for services/nodes. */
static bool parse_catalog_opts(struct ex *x, const char *s, size_t n, bool allow_near,
                               struct qparams *qp, const char **dc, const char **near)
{
    const char *p = s, *end = s + n;
    *dc = *near = "";
    if (p < end && *p == '?') {
        size_t l = strcspn(p + 1, "@~");
        if (!parse_query(x, p + 1, CN_MIN(l, (size_t)(end - p - 1)), svc_query_keys, qp))
            return false;
        p += l + 1;
    }
    if (p < end && *p == '@') {
        size_t l = strcspn(p + 1, "~");
        *dc = cn_arena_strndup(x->a, p + 1, l);
        if (!all_in(*dc, l, ".-")) return false;
        p += l + 1;
    }
    if (allow_near && p < end && *p == '~') {
        size_t l = (size_t)(end - p - 1);
        *near = cn_arena_strndup(x->a, p + 1, l);
        if (!all_in(*near, l, ".-")) return false;
        p = end;
    }
    return p == end;
}

static const struct tv *f_services(struct ex *x, const struct tv **a, size_t n)
{
    struct qparams qp = {0};
    const char *dc, *near;
    const char *arg = n ? cn_arena_strndup(x->a, a[0]->s, a[0]->n) : "";
    size_t alen = n ? a[0]->n : 0;
    if (n > 1) fn_fail(x, "services: wrong number of arguments, expected 0 or 1, but got %zu", n);
    if (!parse_catalog_opts(x, arg, alen, false, &qp, &dc, &near))
        fn_fail(x, "catalog.services: invalid format: \"%.*s\"", (int)CN_MIN(alen, 200), arg);
    if (*dc) qp_set(&qp, "dc", dc);
    char *id =
        alen ? cn_arena_printf(x->a, "catalog.services(%.*s)", (int)alen, arg) : "catalog.services";
    struct tmpl_dep *d =
        ex_dep(x, TMPL_DEP_CATALOG_SERVICES, id, "/v1/catalog/services", qp_encode(x, &qp), NULL);
    const struct tv *v = ex_dep_value(x, d);
    return v ? v : tv_list(x->a, NULL, 0, "[]*dependency.CatalogSnippet");
}

static const struct tv *f_nodes(struct ex *x, const struct tv **a, size_t n)
{
    struct qparams qp = {0};
    const char *dc, *near;
    const char *arg = n ? cn_arena_strndup(x->a, a[0]->s, a[0]->n) : "";
    size_t alen = n ? a[0]->n : 0;
    if (n > 1) fn_fail(x, "nodes: wrong number of arguments, expected 0 or 1, but got %zu", n);
    if (!parse_catalog_opts(x, arg, alen, true, &qp, &dc, &near))
        fn_fail(x, "catalog.nodes: invalid format: \"%.*s\"", (int)CN_MIN(alen, 200), arg);
    if (*dc) qp_set(&qp, "dc", dc);
    if (*near) qp_set(&qp, "near", near);
    char *id =
        alen ? cn_arena_printf(x->a, "catalog.nodes(%.*s)", (int)alen, arg) : "catalog.nodes";
    struct tmpl_dep *d =
        ex_dep(x, TMPL_DEP_CATALOG_NODES, id, "/v1/catalog/nodes", qp_encode(x, &qp), NULL);
    d->near = *near != 0;
    const struct tv *v = ex_dep_value(x, d);
    return v ? v : tv_list(x->a, NULL, 0, "[]*dependency.Node");
}

static const struct tv *f_node(struct ex *x, const struct tv **a, size_t n)
{
    static const struct tv nil_node = {.kind = TV_NIL, .tname = "*dependency.CatalogNode"};
    if (n > 1) fn_fail(x, "node: wrong number of arguments, expected 0 or 1, but got %zu", n);
    const char *s = n ? cn_arena_strndup(x->a, a[0]->s, a[0]->n) : "";
    size_t len = n ? a[0]->n : 0;
    const char *at = memchr(s, '@', len);
    size_t nlen = at ? (size_t)(at - s) : len;
    const char *name = cn_arena_strndup(x->a, s, nlen);
    const char *dc = at ? cn_arena_strndup(x->a, at + 1, len - nlen - 1) : "";
    if ((nlen && !all_in(name, nlen, ".-")) || (at && !all_in(dc, strlen(dc), ".-")))
        fn_fail(x, "catalog.node: invalid format: \"%.*s\"", (int)CN_MIN(len, 200), s);
    struct qparams qp = {0};
    if (*dc) qp_set(&qp, "dc", dc);
    char *id = cn_arena_printf(x->a, "catalog.node(%.*s)", (int)len, s);
    struct tmpl_dep *d = ex_dep(x, TMPL_DEP_CATALOG_NODE, id, path_of(x, "/v1/catalog/node/", name),
                                qp_encode(x, &qp), name);
    const struct tv *v = ex_dep_value(x, d);
    return v ? v : &nil_node;
}

static const struct tv *f_datacenters(struct ex *x, const struct tv **a, size_t n)
{
    if (n > 1)
        fn_fail(x, "datacenters: wrong number of arguments, expected 0 or 1, but got %zu", n);
    bool ignore = n == 1 && tv_truth(a[0]);
    struct tmpl_dep *d =
        ex_dep(x, TMPL_DEP_CATALOG_DATACENTERS,
               ignore ? "catalog.datacenters(ignoreFailing)" : "catalog.datacenters",
               "/v1/catalog/datacenters", "", NULL);
    const struct tv *v = ex_dep_value(x, d);
    return v ? v : tv_list(x->a, NULL, 0, "[]string");
}

static const struct tv *f_file(struct ex *x, const struct tv **a, size_t n)
{
    (void)n;
    if (a[0]->n == 0) return &tv_empty_str;
    const char *path = cn_arena_strndup(x->a, a[0]->s, a[0]->n);
    struct tmpl_dep *d =
        ex_dep(x, TMPL_DEP_FILE, cn_arena_printf(x->a, "file(%s)", path), path, "", path);
    const struct tv *v = ex_dep_value(x, d);
    return v ? v : &tv_empty_str;
}

const struct tfunc tfuncs_data[] = {
    {"datacenters", f_datacenters, 0, -1, {0}, A_BOOL, false, false},
    {"file", f_file, 1, 1, {A_STR}, A_ANY, false, false},
    {"key", f_key, 1, 1, {A_STR}, A_ANY, false, false},
    {"keyExists", f_key_exists, 1, 1, {A_STR}, A_ANY, false, false},
    {"keyOrDefault", f_key_or_default, 2, 2, {A_STR, A_STR}, A_ANY, false, false},
    {"ls", f_ls, 1, 1, {A_STR}, A_ANY, false, false},
    {"node", f_node, 0, -1, {0}, A_STR, false, false},
    {"nodes", f_nodes, 0, -1, {0}, A_STR, false, false},
    {"safeLs", f_safe_ls, 1, 1, {A_STR}, A_ANY, false, false},
    {"safeTree", f_safe_tree, 1, 1, {A_STR}, A_ANY, false, false},
    {"service", f_service, 0, -1, {0}, A_STR, false, false},
    {"services", f_services, 0, -1, {0}, A_STR, false, false},
    {"tree", f_tree, 1, 1, {A_STR}, A_ANY, false, false},
    {NULL, NULL, 0, 0, {0}, 0, false, false},
};
