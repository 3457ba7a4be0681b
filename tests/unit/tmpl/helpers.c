/* helpers.c - the fake agent and the render loop for the template tests. */
#include "helpers.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cn_base64.h"
#include "lib/cn_common.h"
#include "test.h"

const char haproxy_ctmpl[] =
    "global\n"
    "    daemon\n"
    "    maxconn {{key \"service/haproxy/maxconn\"}}\n"
    "\n"
    "defaults\n"
    "    mode {{key \"service/haproxy/mode\"}}{{range ls \"service/haproxy/timeouts\"}}\n"
    "    timeout {{.Key}} {{.Value}}{{end}}\n"
    "\n"
    "listen http-in\n"
    "    bind *:8000{{range service \"release.web\"}}\n"
    "    server {{.Node}} {{.Address}}:{{.Port}}{{end}}\n";

const char haproxy_expected[] =
    "global\n    daemon\n    maxconn 4096\n\ndefaults\n    mode http\n    timeout client 50s\n"
    "    timeout connect 5s\n    timeout server 50s\n\nlisten http-in\n    bind *:8000\n"
    "    server node-c 10.0.0.13:8080\n";

void fake_init(struct fake *f)
{
    memset(f, 0, sizeof *f);
}

void fake_kv(struct fake *f, const char *k, const char *v)
{
    for (size_t i = 0; i < f->nkv; i++)
        if (!strcmp(f->kv_keys[i], k)) {
            f->kv_vals[i] = v;
            return;
        }
    CN_ASSERT(f->nkv < FAKE_KV_MAX);
    f->kv_keys[f->nkv] = k;
    f->kv_vals[f->nkv++] = v;
}

void fake_del(struct fake *f, const char *k)
{
    for (size_t i = 0; i < f->nkv; i++)
        if (!strcmp(f->kv_keys[i], k)) {
            f->kv_keys[i] = f->kv_keys[f->nkv - 1];
            f->kv_vals[i] = f->kv_vals[f->nkv - 1];
            f->nkv--;
            return;
        }
}

void fake_haproxy(struct fake *f)
{
    fake_init(f);
    fake_kv(f, "service/haproxy/maxconn", "4096");
    fake_kv(f, "service/haproxy/mode", "http");
    fake_kv(f, "service/haproxy/timeouts/connect", "5s");
    fake_kv(f, "service/haproxy/timeouts/client", "50s");
    fake_kv(f, "service/haproxy/timeouts/server", "50s");
    fake_kv(f, "service/haproxy/timeouts/extra/queue", "10s");
    /* registration order differs from node order on purpose */
    f->svc[f->nsvc++] = (struct fake_instance){
        "web-1",     "web",
        "node-c",    "10.0.0.13",
        "",          8080,
        {"release"}, {{"serfHealth", "passing", true}, {"service:web-1", "passing", false}},
        NULL,        NULL};
    f->svc[f->nsvc++] = (struct fake_instance){
        "web-2",
        "web",
        "node-a",
        "10.0.0.11",
        "10.1.0.11",
        8081,
        {"release", "v2"},
        {{"serfHealth", "passing", true}, {"service:web-2", "critical", false}},
        "zone",
        "a"};
    f->svc[f->nsvc++] = (struct fake_instance){
        "web-3",  "web",
        "node-b", "10.0.0.12",
        "",       8080,
        {NULL},   {{"serfHealth", "passing", true}, {"service:web-3", "passing", false}},
        NULL,     NULL};
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool has_param(const char *query, const char *kv)
{
    size_t n = strlen(kv);
    for (const char *p = query; p && *p;) {
        if (!strncmp(p, kv, n) && (p[n] == '&' || p[n] == '\0')) return true;
        p = strchr(p, '&');
        if (p) p++;
    }
    return false;
}

static const char *param(const char *query, const char *k, char *out, size_t outlen)
{
    size_t n = strlen(k);
    for (const char *p = query; p && *p;) {
        if (!strncmp(p, k, n) && p[n] == '=') {
            size_t l = strcspn(p + n + 1, "&");
            snprintf(out, outlen, "%.*s", (int)l, p + n + 1);
            return out;
        }
        p = strchr(p, '&');
        if (p) p++;
    }
    return NULL;
}

/* An index that depends on the entry only (not on its slot). */
static int stable_index(const char *k, const char *v)
{
    return 10 + (int)((cn_hash_bytes(k, strlen(k)) ^ cn_hash_bytes(v, strlen(v))) % 100000);
}

static json_t *dir_entry(const char *k, const char *v, int idx)
{
    size_t n = strlen(v);
    char *b64 = cn_malloc(cn_base64_encoded_len(n) + 1);
    cn_base64_encode(v, n, b64);
    b64[cn_base64_encoded_len(n)] = '\0';
    json_t *e = json_pack("{s:i,s:s,s:i,s:s,s:i,s:i}", "LockIndex", 0, "Key", k, "Flags", 0,
                          "Value", b64, "CreateIndex", idx, "ModifyIndex", idx);
    free(b64);
    return e;
}

static json_t *node_json(const struct fake_instance *s)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:{s:s},s:{s:s}}", "ID", "", "Node", s->node, "Address",
                     s->node_addr, "Datacenter", "dc1", "TaggedAddresses", "lan", s->node_addr,
                     "Meta", "consul-network-segment", "");
}

static json_t *service_json(const struct fake_instance *s)
{
    json_t *tags = json_array();
    for (int t = 0; t < 4 && s->tags[t]; t++)
        json_array_append_new(tags, json_string(s->tags[t]));
    json_t *meta = json_object();
    if (s->meta_k) json_object_set_new(meta, s->meta_k, json_string(s->meta_v));
    return json_pack("{s:s,s:s,s:o,s:s,s:o,s:i,s:{s:i,s:i},s:b}", "ID", s->id, "Service",
                     s->service, "Tags", tags, "Address", s->addr, "Meta", meta, "Port", s->port,
                     "Weights", "Passing", 1, "Warning", 1, "EnableTagOverride", 0);
}

static bool instance_passing(const struct fake_instance *s)
{
    for (int c = 0; c < 3 && s->checks[c].id; c++)
        if (strcmp(s->checks[c].status, "passing")) return false;
    return true;
}

int fake_answer(struct fake *f, const char *path, const char *query, struct cn_buf *body)
{
    char tmp[256];
    json_t *out = NULL;
    int status = 200;
    snprintf(f->last_path, sizeof f->last_path, "%s", path);
    snprintf(f->last_query, sizeof f->last_query, "%s", query);
    if (!strncmp(path, "/v1/kv/", 7)) {
        char key[512];
        long kl = cn_url_decode(cn_str_from(path + 7), key, false);
        CN_ASSERT(kl >= 0 && (size_t)kl < sizeof key);
        key[kl] = '\0';
        bool recurse = has_param(query, "recurse=");
        const char *keys[FAKE_KV_MAX];
        size_t n = 0;
        for (size_t i = 0; i < f->nkv; i++)
            if (recurse ? !strncmp(f->kv_keys[i], key, strlen(key)) : !strcmp(f->kv_keys[i], key))
                keys[n++] = f->kv_keys[i];
        if (n == 0) return 404;
        qsort(keys, n, sizeof *keys, cmp_str);
        out = json_array();
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < f->nkv; k++)
                if (f->kv_keys[k] == keys[i])
                    json_array_append_new(out, dir_entry(keys[i], f->kv_vals[k],
                                                         stable_index(keys[i], f->kv_vals[k])));
    } else if (!strncmp(path, "/v1/health/service/", 19)) {
        const char *name = path + 19;
        const char *tag = param(query, "tag", tmp, sizeof tmp);
        bool passing = has_param(query, "passing=1");
        out = json_array();
        for (size_t i = 0; i < f->nsvc; i++) {
            const struct fake_instance *s = &f->svc[i];
            if (strcmp(s->service, name)) continue;
            if (passing && !instance_passing(s)) continue;
            bool tag_ok = !tag;
            for (int t = 0; t < 4 && s->tags[t] && !tag_ok; t++)
                tag_ok = !strcmp(s->tags[t], tag);
            if (!tag_ok) continue;
            json_t *checks = json_array();
            for (int c = 0; c < 3 && s->checks[c].id; c++) {
                const struct fake_check *ck = &s->checks[c];
                json_array_append_new(
                    checks,
                    json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:[],s:s}", "Node", s->node,
                              "CheckID", ck->id, "Name", ck->id, "Status", ck->status, "Notes", "",
                              "Output", "", "ServiceID", ck->node_level ? "" : s->id, "ServiceName",
                              ck->node_level ? "" : s->service, "ServiceTags", "Type", ""));
            }
            json_array_append_new(out, json_pack("{s:o,s:o,s:o}", "Node", node_json(s), "Service",
                                                 service_json(s), "Checks", checks));
        }
    } else if (!strcmp(path, "/v1/catalog/services")) {
        out = json_object();
        json_object_set_new(out, "consul", json_array());
        for (size_t i = 0; i < f->nsvc; i++) {
            json_t *tags = json_object_get(out, f->svc[i].service);
            if (!tags) {
                tags = json_array();
                json_object_set_new(out, f->svc[i].service, tags);
            }
            for (int t = 0; t < 4 && f->svc[i].tags[t]; t++) {
                bool dup = false;
                for (size_t k = 0; k < json_array_size(tags); k++)
                    if (!strcmp(json_string_value(json_array_get(tags, k)), f->svc[i].tags[t]))
                        dup = true;
                if (!dup) json_array_append_new(tags, json_string(f->svc[i].tags[t]));
            }
        }
    } else if (!strcmp(path, "/v1/catalog/nodes")) {
        out = json_array();
        for (size_t i = 0; i < f->nsvc; i++)
            json_array_append_new(out, node_json(&f->svc[i]));
    } else if (!strncmp(path, "/v1/catalog/node/", 17)) {
        const char *name = path + 17;
        out = json_null();
        for (size_t i = 0; i < f->nsvc; i++) {
            if (strcmp(f->svc[i].node, name)) continue;
            if (json_is_null(out)) {
                json_decref(out);
                out = json_pack("{s:o,s:{}}", "Node", node_json(&f->svc[i]), "Services");
            }
            json_object_set_new(json_object_get(out, "Services"), f->svc[i].id,
                                service_json(&f->svc[i]));
        }
    } else if (!strcmp(path, "/v1/catalog/datacenters")) {
        out = json_pack("[s,s]", "dc2", "dc1");
    } else {
        return 404;
    }
    char *s = json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY);
    cn_buf_puts(body, s);
    free(s);
    json_decref(out);
    return status;
}

static const char *test_getenv(void *ctx, const char *name)
{
    (void)ctx;
    if (!strcmp(name, "TEST_VAR")) return "hello";
    if (!strcmp(name, "EMPTY_VAR")) return "";
    return NULL;
}

static char out_buf[1 << 20];

const char *render_ex(struct fake *f, const char *src, bool *complete, struct tmpl_error *err)
{
    struct tmpl *t = tmpl_parse(src, strlen(src), NULL, err);
    if (!t) return NULL;
    struct tmpl_store *s = tmpl_store_new();
    struct tmpl_used used;
    tmpl_used_init(&used);
    /* 2026-11-26T00:57:09.123456789Z */
    struct tmpl_env env = {.now_ns = 1795654629123456789LL, .getenv = test_getenv};
    struct cn_buf out;
    cn_buf_init(&out, TMPL_OUTPUT_MAX);
    const char *result = NULL;
    for (int pass = 0; pass < 8; pass++) {
        cn_buf_reset(&out);
        if (tmpl_execute(t, s, &env, &used, &out, err)) goto done;
        if (used.missing == 0) break;
        bool progress = false;
        for (struct tmpl_dep *d = tmpl_store_next(s, NULL); d; d = tmpl_store_next(s, d)) {
            if (tmpl_dep_has_data(d)) continue;
            struct cn_buf body;
            cn_buf_init(&body, CN_BUF_UNLIMITED);
            int rc;
            f->requests++;
            if (tmpl_dep_kind(d) == TMPL_DEP_FILE) {
                const char *content = NULL;
                for (int k = 0; k < 4; k++)
                    if (f->files[k][0] && !strcmp(f->files[k][0], tmpl_dep_path(d)))
                        content = f->files[k][1];
                rc = content ? tmpl_dep_set_file(s, d, content, strlen(content)) : 0;
            } else {
                int status = fake_answer(f, tmpl_dep_path(d), tmpl_dep_query(d), &body);
                struct cn_err e;
                rc = tmpl_dep_update(s, d, status, body.data, body.len, &e);
                if (rc < 0) FAIL("update %s: %s", tmpl_dep_id(d), e.msg);
            }
            if (rc > 0) progress = true;
            cn_buf_release(&body);
        }
        if (!progress) break;
    }
    *complete = used.missing == 0;
    CN_ASSERT(out.len < sizeof out_buf);
    memcpy(out_buf, out.data ? out.data : "", out.len + 1);
    out_buf[out.len] = '\0';
    result = out_buf;
done:
    cn_buf_release(&out);
    tmpl_used_release(&used);
    /* every reference dropped: the store may forget everything */
    for (struct tmpl_dep *d = tmpl_store_next(s, NULL); d; d = tmpl_store_next(s, d))
        CN_ASSERT(tmpl_dep_refs(d) == 0);
    tmpl_store_free(s);
    tmpl_free(t);
    return result;
}

const char *render(struct fake *f, const char *src)
{
    struct tmpl_error err;
    bool complete;
    const char *out = render_ex(f, src, &complete, &err);
    if (!out) FAIL("template %s\nfailed: %s", src, err.msg);
    if (!complete) FAIL("template %s\nhas missing dependencies", src);
    return out;
}

const char *render_err(struct fake *f, const char *src, struct tmpl_error *err)
{
    bool complete;
    const char *out = render_ex(f, src, &complete, err);
    if (out) FAIL("template %s\nrendered \"%s\" but must fail", src, out);
    return err->msg;
}
