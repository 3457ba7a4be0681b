/*
 * catalog_write.c - registering and deregistering nodes, services and
 * checks (Consul's state/catalog.go ensure*Txn and delete*Txn).
 *
 * Besides the table indexes, every change stamps the fine-grained indexes
 * blocking queries report and notifies their watchers:
 *   service.<name>  any instance of the service, its checks, or the node
 *                   record and node-level checks of a node hosting it;
 *   node.<name>     the node record, its services and its checks;
 *   service_last_extinction / node_last_extinction  the last removal of a
 *                   service's last instance / of a node, so the index of an
 *                   empty result never goes backwards.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/cn_common.h"
#include "state/catalog_int.h"

#define CRITICAL "critical"

static struct state_table *tab(struct state_txn *tx, enum state_table_id t)
{
    return &tx->st->tables[t];
}

/* The lowercased node part of a services/checks primary key. */
static struct cn_str key_node(struct cn_str primary)
{
    struct cn_str rest = cn_str_sub(primary, 1, SIZE_MAX), head;
    cn_str_cut(&rest, '\0', &head);
    return head;
}

static void bump_named(struct state_txn *tx, const char *prefix, struct cn_str lname,
                       enum state_topic topic)
{
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_buf_puts(&b, prefix);
    cn_buf_put(&b, lname.p, lname.len);
    state__index_set(tx, cn_buf_str(&b));
    cn_buf_release(&b);
    state__notify(tx, topic, lname);
}

static void bump_service(struct state_txn *tx, struct cn_str lname)
{
    bump_named(tx, "service.", lname, STATE_W_SERVICE);
}

static void bump_node(struct state_txn *tx, struct cn_str lnode)
{
    bump_named(tx, "node.", lnode, STATE_W_NODE);
}

static bool bump_one_service(void *ctx, struct cat_row *row)
{
    bump_service(ctx, ((struct cat_service_row *)row)->lname);
    return true;
}

/* Node data is part of every health answer for the node's services. */
static void bump_node_services(struct state_txn *tx, struct cn_str lnode)
{
    struct cat_key k;
    cat_key_init(&k, KEY_PRIMARY);
    cat_key_add(&k, lnode);
    cat_key_sep(&k);
    cat_scan(tab(tx, STATE_T_SERVICES), cat_key_str(&k), bump_one_service, tx);
    cat_key_release(&k);
}

static struct cat_row *find(struct state_txn *tx, enum state_table_id t, uint8_t index,
                            struct cn_str a, struct cn_str b)
{
    struct cat_key k;
    cat_key_init(&k, index);
    cat_key_add(&k, a);
    if (b.p) cat_key_add(&k, b);
    struct cat_row *r = state__get(tab(tx, t), cat_key_str(&k));
    cat_key_release(&k);
    if (r && r->kind == CAT_REF) r = ((struct cat_ref *)r)->row;
    return r;
}

/* ---- collecting rows before deleting them ------------------------------ */

struct rows {
    struct cat_row **v;
    size_t n, cap;
};

static bool collect(void *ctx, struct cat_row *row)
{
    struct rows *r = ctx;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->v = cn_realloc(r->v, r->cap * sizeof *r->v);
    }
    r->v[r->n++] = row;
    return true;
}

static void scan_prefix(struct state_txn *tx, enum state_table_id t, uint8_t index,
                        struct cn_str lnode, struct cn_str second, struct rows *out)
{
    struct cat_key k;
    cat_key_init(&k, index);
    cat_key_add(&k, lnode);
    if (second.p) cat_key_add(&k, second);
    cat_key_sep(&k);
    cat_scan(tab(tx, t), cat_key_str(&k), collect, out);
    cat_key_release(&k);
}

/* ---- deletes ------------------------------------------------------------- */

static int delete_check_row(struct state_txn *tx, struct cat_check_row *r)
{
    struct state_check *c = &r->c;
    struct cn_str lnode = key_node(r->h.keys[0]);
    if (*c->service_id) {
        struct cat_row *svc = find(tx, STATE_T_SERVICES, KEY_PRIMARY, lnode,
                                   cn_str_from(c->service_id));
        if (svc) bump_service(tx, ((struct cat_service_row *)svc)->lname);
    } else {
        bump_node_services(tx, lnode);
    }
    cat_remove(tx, tab(tx, STATE_T_CHECKS), &r->h);
    state__touch(tx, STATE_T_CHECKS);
    state__notify(tx, STATE_W_CHECK, cn_str_sub(r->h.keys[0], 1, SIZE_MAX));
    bump_node(tx, lnode);
    if (state__sessions_check_deleted)
        return state__sessions_check_deleted(tx, cn_str_from(c->node), cn_str_from(c->check_id));
    return 0;
}

/* The service's name lost an instance: keep its index, or record the
 * extinction when none is left. */
static void service_name_shrunk(struct state_txn *tx, struct cn_str lname)
{
    struct cat_key k;
    cat_key_init(&k, KEY_IDX2);
    cat_key_add(&k, lname);
    cat_key_sep(&k);
    struct cn_omap_iter it;
    cn_omap_seek(&tab(tx, STATE_T_SERVICES)->rows, cat_key_str(&k), &it);
    void *e = cn_omap_next(&it);
    bool remaining = e && cn_str_has_prefix(cat_entry_key(e), cat_key_str(&k));
    cat_key_release(&k);
    if (remaining) {
        bump_service(tx, lname);
        return;
    }
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_buf_puts(&b, "service.");
    cn_buf_put(&b, lname.p, lname.len);
    state__index_del(tx, cn_buf_str(&b));
    cn_buf_release(&b);
    state__index_set(tx, CN_STR("service_last_extinction"));
    state__notify(tx, STATE_W_SERVICE, lname);
}

static int delete_service_row(struct state_txn *tx, struct cat_service_row *r)
{
    struct cn_str lnode = key_node(r->h.keys[0]);
    struct rows checks = {0};
    int rc = 0;
    scan_prefix(tx, STATE_T_CHECKS, KEY_IDX2, lnode, cn_str_from(r->s.id), &checks);
    for (size_t i = 0; i < checks.n && rc == 0; i++)
        rc = delete_check_row(tx, (struct cat_check_row *)checks.v[i]);
    free(checks.v);
    if (rc) return rc;
    cat_remove(tx, tab(tx, STATE_T_SERVICES), &r->h);
    state__touch(tx, STATE_T_SERVICES);
    service_name_shrunk(tx, r->lname);
    bump_node(tx, lnode);
    return 0;
}

static int delete_node_row(struct state_txn *tx, struct cat_node_row *r)
{
    struct cn_str lnode = cn_str_sub(r->h.keys[0], 1, SIZE_MAX);
    struct rows svcs = {0}, checks = {0};
    int rc = 0;
    scan_prefix(tx, STATE_T_SERVICES, KEY_PRIMARY, lnode, CN_STR_NULL, &svcs);
    for (size_t i = 0; i < svcs.n && rc == 0; i++)
        rc = delete_service_row(tx, (struct cat_service_row *)svcs.v[i]);
    free(svcs.v);
    if (rc) return rc;
    scan_prefix(tx, STATE_T_CHECKS, KEY_PRIMARY, lnode, CN_STR_NULL, &checks);
    for (size_t i = 0; i < checks.n && rc == 0; i++)
        rc = delete_check_row(tx, (struct cat_check_row *)checks.v[i]);
    free(checks.v);
    if (rc) return rc;
    cat_remove(tx, tab(tx, STATE_T_NODES), &r->h);
    state__touch(tx, STATE_T_NODES);
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_buf_puts(&b, "node.");
    cn_buf_put(&b, lnode.p, lnode.len);
    state__index_del(tx, cn_buf_str(&b));
    cn_buf_release(&b);
    state__index_set(tx, CN_STR("node_last_extinction"));
    state__notify(tx, STATE_W_NODE, lnode);
    if ((rc = state__coordinates_node_deleted(tx, cn_str_from(r->n.name)))) return rc;
    if (state__sessions_node_deleted) return state__sessions_node_deleted(tx, cn_str_from(r->n.name));
    return 0;
}

int state_catalog_deregister_txn(struct state_txn *tx, struct cn_str node, struct cn_str service_id,
                                 struct cn_str check_id)
{
    int rc = 0;
    if (!service_id.len && !check_id.len) {
        struct cat_row *n = find(tx, STATE_T_NODES, KEY_PRIMARY, node, CN_STR_NULL);
        return n ? delete_node_row(tx, (struct cat_node_row *)n) : 0;
    }
    if (service_id.len) {
        struct cat_row *s = find(tx, STATE_T_SERVICES, KEY_PRIMARY, node, service_id);
        if (s) rc = delete_service_row(tx, (struct cat_service_row *)s);
    }
    if (rc == 0 && check_id.len) {
        struct cat_row *c = find(tx, STATE_T_CHECKS, KEY_PRIMARY, node, check_id);
        if (c) rc = delete_check_row(tx, (struct cat_check_row *)c);
    }
    return rc;
}

/* ---- upserts ------------------------------------------------------------- */

/* Consul's ensureNoNodeWithSimilarNameTxn: a name taken by a node with
 * another ID is refused (a node without ID may be taken over). */
static int name_clash(struct state_txn *tx, const struct state_node *n, bool allow_no_id,
                      struct cn_err *err)
{
    struct cat_row *e = find(tx, STATE_T_NODES, KEY_PRIMARY, cn_str_from(n->name), CN_STR_NULL);
    if (!e) return 0;
    const struct state_node *en = &((struct cat_node_row *)e)->n;
    if (!strcasecmp(en->id, cat_s(n->id))) return 0;
    if (!*en->id && allow_no_id) return 0;
    return cn_err_set(err, CN_EINVAL, "Node name %s is reserved by node %s with name %s", n->name,
                      en->id, en->name);
}

static int ensure_node(struct state_txn *tx, const struct state_node *n, struct cn_err *err)
{
    struct cat_row *old = NULL;
    int rc;
    if (n->id && *n->id) {
        struct cat_row *byid = find(tx, STATE_T_NODES, KEY_IDX2, cn_str_from(n->id), CN_STR_NULL);
        if (byid) {
            struct cat_node_row *br = (struct cat_node_row *)byid;
            if (strcmp(br->n.name, n->name)) {
                /* The same node ID under a new name: a rename. */
                if (name_clash(tx, n, false, err))
                    return cn_err_wrap(err, "Error while renaming Node ID: \"%s\" (%s)", n->id,
                                       cat_s(n->address));
                if ((rc = delete_node_row(tx, br))) return rc;
            } else {
                old = byid;
            }
        } else if (name_clash(tx, n, true, err)) {
            return cn_err_wrap(err, "Error while renaming Node ID: \"%s\"", n->id);
        }
    }
    if (!old) old = find(tx, STATE_T_NODES, KEY_PRIMARY, cn_str_from(n->name), CN_STR_NULL);
    struct cat_node_row *on = (struct cat_node_row *)old;
    if (on && state_node_same(&on->n, n)) return 0;
    struct cat_node_row *r = cat_node_row_new(n);
    r->n.create_index = on ? on->n.create_index : tx->idx;
    r->n.modify_index = tx->idx;
    cat_insert(tx, tab(tx, STATE_T_NODES), &r->h, old);
    state__touch(tx, STATE_T_NODES);
    struct cn_str lnode = cn_str_sub(r->h.keys[0], 1, SIZE_MAX);
    bump_node(tx, lnode);
    bump_node_services(tx, lnode);
    return 0;
}

static int ensure_service(struct state_txn *tx, struct cn_str node, const struct state_service *s,
                          struct cn_err *err)
{
    if (!find(tx, STATE_T_NODES, KEY_PRIMARY, node, CN_STR_NULL))
        return cn_err_set(err, CN_EINVAL, "Missing node registration");
    struct cat_row *old = find(tx, STATE_T_SERVICES, KEY_PRIMARY, node, cn_str_from(s->id));
    struct cat_service_row *os = (struct cat_service_row *)old;
    if (os && state_service_same(&os->s, s)) return 0;
    struct cat_service_row *r = cat_service_row_new(s, node);
    r->s.create_index = os ? os->s.create_index : tx->idx;
    r->s.modify_index = tx->idx;
    cat_insert(tx, tab(tx, STATE_T_SERVICES), &r->h, old);
    state__touch(tx, STATE_T_SERVICES);
    bump_service(tx, r->lname);
    if (os && !cn_str_eq(os->lname, r->lname)) service_name_shrunk(tx, os->lname);
    bump_node(tx, key_node(r->h.keys[0]));
    return 0;
}

static int ensure_check(struct state_txn *tx, const struct state_check *in, struct cn_err *err)
{
    struct cn_str node = cn_str_from(in->node);
    struct state_check c = *in;
    struct cat_service_row *svc = NULL;
    int rc;
    if (!find(tx, STATE_T_NODES, KEY_PRIMARY, node, CN_STR_NULL))
        return cn_err_set(err, CN_EINVAL, "Missing node registration");
    if (!c.status || !*c.status) c.status = CRITICAL;
    if (c.service_id && *c.service_id) {
        svc = (struct cat_service_row *)find(tx, STATE_T_SERVICES, KEY_PRIMARY, node,
                                             cn_str_from(c.service_id));
        if (!svc) return cn_err_set(err, CN_EINVAL, "Missing service registration");
        c.service_name = svc->s.name;
        c.service_tags = svc->s.tags;
        c.nservice_tags = svc->s.ntags;
    } else {
        c.service_name = "";
        c.service_tags = NULL;
        c.nservice_tags = 0;
    }
    struct cat_row *old = find(tx, STATE_T_CHECKS, KEY_PRIMARY, node, cn_str_from(c.check_id));
    struct cat_check_row *oc = (struct cat_check_row *)old;
    /* Sessions bound to a critical check die even when nothing else changed. */
    if (!strcmp(c.status, CRITICAL) && state__sessions_check_critical &&
        (rc = state__sessions_check_critical(tx, node, cn_str_from(c.check_id))))
        return rc;
    if (oc && state_check_same(&oc->c, &c)) return 0;
    struct cat_check_row *r = cat_check_row_new(&c);
    r->c.create_index = oc ? oc->c.create_index : tx->idx;
    r->c.modify_index = tx->idx;
    cat_insert(tx, tab(tx, STATE_T_CHECKS), &r->h, old);
    state__touch(tx, STATE_T_CHECKS);
    state__notify(tx, STATE_W_CHECK, cn_str_sub(r->h.keys[0], 1, SIZE_MAX));
    struct cn_str lnode = key_node(r->h.keys[0]);
    if (svc)
        bump_service(tx, svc->lname);
    else
        bump_node_services(tx, lnode);
    /* A check that moved from one service to another changes both. */
    if (oc && *oc->c.service_id && strcasecmp(oc->c.service_id, c.service_id ? c.service_id : "")) {
        struct cat_row *prev = find(tx, STATE_T_SERVICES, KEY_PRIMARY, lnode,
                                    cn_str_from(oc->c.service_id));
        if (prev) bump_service(tx, ((struct cat_service_row *)prev)->lname);
    }
    bump_node(tx, lnode);
    return 0;
}

int state_catalog_register_txn(struct state_txn *tx, const struct state_register *r,
                               struct cn_err *err)
{
    const struct state_node *n = r->node;
    int rc;
    if (!n || !n->name || !*n->name) return cn_err_set(err, CN_EINVAL, "Must provide node");
    struct cn_str node = cn_str_from(n->name);
    bool exists = find(tx, STATE_T_NODES, KEY_PRIMARY, node, CN_STR_NULL) != NULL;
    if (!(r->skip_node_update && exists) && (rc = ensure_node(tx, n, err))) {
        if (!err->msg[0]) cn_err_set(err, rc, "%s", cn_strerror(rc));
        return cn_err_wrap(err, "failed inserting node");
    }
    if (r->service && (rc = ensure_service(tx, node, r->service, err)))
        return cn_err_wrap(err, "failed inserting service");
    for (size_t i = 0; i < r->nchecks; i++) {
        struct state_check c = r->checks[i];
        if (!c.node || !*c.node) c.node = n->name;
        if (strcasecmp(c.node, n->name))
            return cn_err_set(err, CN_EINVAL, "check node \"%s\" does not match node \"%s\"",
                              c.node, n->name);
        /* The registration's spelling of the node name is the stored one. */
        c.node = n->name;
        if ((rc = ensure_check(tx, &c, err))) {
            /* Consul's ensureCheckIfNodeMatches wording */
            char msg[CN_ERR_MSG_MAX];
            snprintf(msg, sizeof msg, "%s", err->msg);
            return cn_err_set(err, rc, "failed inserting check: %s on node \"%s\"", msg, n->name);
        }
    }
    return 0;
}
