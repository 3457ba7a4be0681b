/* event.c - user events: fire through gossip, filter, ring buffer, waiters
 * (event.h). */
#include "agent/event.h"

#include <ctype.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/cluster.h"
#include "agent/local.h"
#include "lib/cn_codec.h"
#include "lib/cn_common.h"
#include "lib/cn_limits.h"
#include "lib/cn_list.h"
#include "lib/cn_log.h"

#define EVENT_PREFIX  "consul:event:" /* Consul's userEventName() */
#define EVENT_VERSION 1
#define FILTER_MAX    256

struct stored {
    struct agent_event e;
    char *name, *node_filter, *service_filter, *tag_filter;
    char *payload;
};

struct agent_event_wait {
    struct cn_list link;
    void (*fn)(void *arg);
    void *arg;
};

struct agent_events {
    struct agent *a;
    struct cluster *cl;
    struct stored ring[CN_EVENT_BUFFER];
    size_t head, count; /* head: the oldest */
    struct cn_list waiters;
    bool stopped;
};

/* ---- regexes ---------------------------------------------------------- */

/* Go's regexp refuses nested repetition; so do we, which also keeps
 * glibc's regcomp from growing without bound on hostile filters. */
static const char *regex_guard(const char *re)
{
    bool after_quant = false;
    if (strlen(re) > FILTER_MAX) return "expression too long";
    for (const char *p = re; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            after_quant = false;
            continue;
        }
        bool q = *p == '*' || *p == '+' || *p == '?' || *p == '{';
        if (q && after_quant) return "invalid nested repetition operator";
        if (*p == '{') {
            char *end;
            unsigned long n = strtoul(p + 1, &end, 10);
            if (n > 100) return "invalid repeat count";
            if (*end == ',') n = strtoul(end + 1, &end, 10);
            if (n > 100) return "invalid repeat count";
        }
        after_quant = q;
    }
    return NULL;
}

static int compile(regex_t *re, const char *pat, const char *what, struct cn_err *err)
{
    const char *bad = regex_guard(pat);
    if (bad) return cn_err_set(err, CN_EINVAL, "Invalid %s filter: %s", what, bad);
    int rc = regcomp(re, pat, REG_EXTENDED | REG_NOSUB);
    if (rc) {
        char msg[128];
        regerror(rc, re, msg, sizeof msg);
        return cn_err_set(err, CN_EINVAL, "Invalid %s filter: %s", what, msg);
    }
    return 0;
}

static bool matches(const char *pat, const char *s)
{
    regex_t re;
    struct cn_err err;
    if (compile(&re, pat, "", &err)) return false;
    bool m = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return m;
}

/* Consul's shouldProcessUserEvent. */
static bool wanted(struct agent_events *ev, const struct agent_event *e)
{
    if (*e->node_filter && !matches(e->node_filter, agent_cfg(ev->a)->node_name)) return false;
    if (!*e->service_filter) return true;
    struct agent_local *l = agent_local(ev->a);
    const struct state_service **svcs = NULL;
    size_t n = l ? agent_local_services(l, &svcs) : 0;
    bool found = false;
    for (size_t i = 0; i < n && !found; i++) {
        const struct state_service *s = svcs[i];
        if (!matches(e->service_filter, s->name) && !matches(e->service_filter, s->id)) continue;
        if (!*e->tag_filter) found = true;
        for (size_t t = 0; t < s->ntags && !found; t++)
            found = matches(e->tag_filter, s->tags[t]);
    }
    free(svcs);
    return found;
}

/* ---- the ring ----------------------------------------------------------- */

static void stored_clear(struct stored *s)
{
    free(s->name);
    free(s->node_filter);
    free(s->service_filter);
    free(s->tag_filter);
    free(s->payload);
    memset(s, 0, sizeof *s);
}

static void wake_all(struct agent_events *ev)
{
    struct cn_list woken;
    cn_list_init(&woken);
    /* Detach first: a callback may register a new waiter. */
    while (!cn_list_empty(&ev->waiters)) {
        struct cn_list *l = ev->waiters.next;
        cn_list_remove(l);
        cn_list_insert_tail(&woken, l);
    }
    while (!cn_list_empty(&woken)) {
        struct agent_event_wait *w = cn_list_entry(woken.next, struct agent_event_wait, link);
        cn_list_remove(&w->link);
        void (*fn)(void *) = w->fn;
        void *arg = w->arg;
        free(w);
        fn(arg);
    }
}

static void record(struct agent_events *ev, const struct agent_event *e)
{
    size_t slot = (ev->head + ev->count) % CN_EVENT_BUFFER;
    if (ev->count == CN_EVENT_BUFFER) {
        slot = ev->head;
        ev->head = (ev->head + 1) % CN_EVENT_BUFFER;
    } else {
        ev->count++;
    }
    struct stored *s = &ev->ring[slot];
    stored_clear(s);
    s->e = *e;
    s->name = cn_strdup(e->name);
    s->node_filter = cn_strdup(e->node_filter);
    s->service_filter = cn_strdup(e->service_filter);
    s->tag_filter = cn_strdup(e->tag_filter);
    s->payload = e->payload.len ? cn_strndup(e->payload.p, e->payload.len) : NULL;
    s->e.name = s->name;
    s->e.node_filter = s->node_filter;
    s->e.service_filter = s->service_filter;
    s->e.tag_filter = s->tag_filter;
    s->e.payload = cn_str_make(s->payload, e->payload.len);
    CN_DEBUG("agent", "new event: name=%s id=%s", s->name, s->e.id);
    wake_all(ev);
}

void agent_events_list(struct agent_events *ev, agent_event_fn fn, void *ctx)
{
    for (size_t i = 0; ev && i < ev->count; i++)
        if (!fn(ctx, &ev->ring[(ev->head + i) % CN_EVENT_BUFFER].e)) break;
}

uint64_t agent_event_index(const char *id)
{
    char lo[17], hi[17];
    if (!id || strlen(id) != CN_UUID_LEN) return 1;
    memcpy(lo, id, 8);
    memcpy(lo + 8, id + 9, 4);
    memcpy(lo + 12, id + 14, 4);
    lo[16] = '\0';
    memcpy(hi, id + 19, 4);
    memcpy(hi + 4, id + 24, 12);
    hi[16] = '\0';
    return strtoull(lo, NULL, 16) ^ strtoull(hi, NULL, 16);
}

/* ---- wire: gossip name "consul:event:<name>", payload encoded here ------ */

static void encode(const struct agent_event *e, struct cn_buf *out)
{
    cn_enc_u8(out, EVENT_VERSION);
    cn_enc_cstr(out, e->id);
    cn_enc_cstr(out, e->node_filter);
    cn_enc_cstr(out, e->service_filter);
    cn_enc_cstr(out, e->tag_filter);
    cn_enc_str(out, e->payload);
}

static void on_gossip_event(void *ctx, const struct gossip_user_event *g)
{
    struct agent_events *ev = ctx;
    struct cn_str prefix = CN_STR(EVENT_PREFIX);
    if (ev->stopped || !cn_str_has_prefix(g->name, prefix)) return;
    struct cn_dec d;
    cn_dec_init(&d, g->payload.p, g->payload.len);
    uint8_t version = cn_dec_u8(&d);
    char *id = cn_dec_cstr(&d, CN_UUID_LEN);
    char *nf = cn_dec_cstr(&d, FILTER_MAX), *sf = cn_dec_cstr(&d, FILTER_MAX);
    char *tf = cn_dec_cstr(&d, FILTER_MAX);
    struct cn_str payload = cn_dec_bytes(&d, CN_EVENT_SIZE_MAX);
    char *name = cn_strndup(g->name.p + prefix.len, g->name.len - prefix.len);
    if (cn_dec_status(&d) || version != EVENT_VERSION || !id || strlen(id) != CN_UUID_LEN) {
        CN_WARN("agent", "dropping a malformed user event");
    } else {
        struct agent_event e = {.name = name,
                                .payload = payload,
                                .node_filter = nf,
                                .service_filter = sf,
                                .tag_filter = tf,
                                .ltime = g->ltime};
        memcpy(e.id, id, CN_UUID_LEN + 1);
        if (wanted(ev, &e)) record(ev, &e);
    }
    free(id);
    free(nf);
    free(sf);
    free(tf);
    free(name);
}

int agent_events_fire(struct agent_events *ev, struct agent_event *e, struct cn_err *err)
{
    regex_t re;
    int rc;
    if (!e->name || !*e->name) return cn_err_set(err, CN_EINVAL, "User event missing name");
    if (*e->tag_filter && !*e->service_filter)
        return cn_err_set(err, CN_EINVAL, "Cannot provide tag filter without service filter");
    const char *pats[3] = {e->node_filter, e->service_filter, e->tag_filter};
    const char *what[3] = {"node", "service", "tag"};
    for (int i = 0; i < 3; i++) {
        if (!*pats[i]) continue;
        if ((rc = compile(&re, pats[i], what[i], err))) return rc;
        regfree(&re);
    }
    cn_uuid_new(e->id);
    struct cn_buf name, body;
    cn_buf_init(&name, CN_BUF_UNLIMITED);
    cn_buf_init(&body, CN_BUF_UNLIMITED);
    cn_buf_puts(&name, EVENT_PREFIX);
    cn_buf_puts(&name, e->name);
    encode(e, &body);
    if (name.len + body.len > CN_EVENT_SIZE_MAX) {
        rc = cn_err_set(err, CN_ETOOBIG,
                        "user event exceeds configured limit of %d bytes before "
                        "encoding",
                        CN_EVENT_SIZE_MAX);
    } else if (!ev || !ev->cl) {
        rc = cn_err_set(err, CN_EINVAL, "user events need the gossip layer");
    } else {
        rc = cluster_user_event(ev->cl, cn_buf_str(&name), cn_buf_str(&body), err);
    }
    cn_buf_release(&name);
    cn_buf_release(&body);
    return rc;
}

/* ---- waiters ------------------------------------------------------------ */

struct agent_event_wait *agent_events_wait(struct agent_events *ev, void (*fn)(void *arg),
                                           void *arg)
{
    struct agent_event_wait *w = CN_NEW(struct agent_event_wait);
    w->fn = fn;
    w->arg = arg;
    cn_list_init(&w->link);
    if (ev && !ev->stopped) cn_list_insert_tail(&ev->waiters, &w->link);
    return w;
}

void agent_events_wait_cancel(struct agent_event_wait *w)
{
    if (!w) return;
    cn_list_remove(&w->link);
    free(w);
}

/* ---- lifecycle ----------------------------------------------------------- */

struct agent_events *agent_events_start(struct agent *a, struct cluster *cl)
{
    struct agent_events *ev = CN_NEW(struct agent_events);
    ev->a = a;
    ev->cl = cl;
    cn_list_init(&ev->waiters);
    if (cl) cluster_set_event_handler(cl, on_gossip_event, ev);
    return ev;
}

void agent_events_stop(struct agent_events *ev)
{
    if (!ev || ev->stopped) return;
    ev->stopped = true;
    if (ev->cl) cluster_set_event_handler(ev->cl, NULL, NULL);
    wake_all(ev);
}

void agent_events_free(struct agent_events *ev)
{
    if (!ev) return;
    for (size_t i = 0; i < CN_EVENT_BUFFER; i++)
        stored_clear(&ev->ring[i]);
    free(ev);
}
