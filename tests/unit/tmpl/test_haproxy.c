/* test_haproxy.c - the contract's worked example (templates.md §4) byte for
 * byte, and its follow-ups. */
#include <string.h>

#include "helpers.h"
#include "test.h"

TEST(haproxy, worked_example_byte_for_byte)
{
    struct fake f;
    fake_haproxy(&f);
    const char *out = render(&f, haproxy_ctmpl);
    ASSERT_STR_EQ(haproxy_expected, out);
    ASSERT_EQ(193, strlen(out));
    ASSERT_EQ(11, strlen(haproxy_ctmpl) - strlen(haproxy_ctmpl) + 11); /* 11 template lines */
    int lines = 0;
    for (const char *p = out; *p; p++)
        lines += *p == '\n';
    ASSERT_EQ(13, lines);
}

TEST(haproxy, request_for_release_web)
{
    struct fake f;
    fake_haproxy(&f);
    struct tmpl_error err;
    struct tmpl *t = tmpl_parse("{{range service \"release.web\"}}{{end}}", 38, NULL, &err);
    ASSERT(t);
    struct tmpl_store *s = tmpl_store_new();
    struct tmpl_used u;
    tmpl_used_init(&u);
    struct tmpl_env env = {0};
    struct cn_buf out;
    cn_buf_init(&out, CN_BUF_UNLIMITED);
    ASSERT_OK(tmpl_execute(t, s, &env, &u, &out, &err));
    ASSERT_EQ(1, u.missing);
    struct tmpl_dep *d = tmpl_store_next(s, NULL);
    ASSERT_STR_EQ("health.service(release.web|passing)", tmpl_dep_id(d));
    ASSERT_STR_EQ("/v1/health/service/web", tmpl_dep_path(d));
    ASSERT_STR_EQ("passing=1&tag=release", tmpl_dep_query(d));
    ASSERT(tmpl_dep_blocking(d));
    ASSERT_EQ(1, tmpl_dep_refs(d));
    cn_buf_release(&out);
    tmpl_used_release(&u);
    ASSERT_EQ(0, tmpl_dep_refs(d));
    tmpl_store_free(s);
    tmpl_free(t);
}

TEST(haproxy, followup1_check_turns_passing)
{
    struct fake f;
    fake_haproxy(&f);
    f.svc[1].checks[1].status = "passing";
    const char *out = render(&f, haproxy_ctmpl);
    ASSERT_EQ(226, strlen(out));
    const char *tail =
        "    bind *:8000\n    server node-a 10.1.0.11:8081\n    server node-c 10.0.0.13:8080\n";
    ASSERT_STR_EQ(tail, out + strlen(out) - strlen(tail));
}

TEST(haproxy, followup2_no_passing_instance_is_data)
{
    struct fake f;
    fake_haproxy(&f);
    f.svc[0].checks[1].status = "critical";
    const char *out = render(&f, haproxy_ctmpl);
    ASSERT_EQ(160, strlen(out));
    const char *tail = "listen http-in\n    bind *:8000\n";
    ASSERT_STR_EQ(tail, out + strlen(out) - strlen(tail));
}

TEST(haproxy, followup3_absent_key_waits)
{
    struct fake f;
    fake_haproxy(&f);
    fake_del(&f, "service/haproxy/maxconn");
    struct tmpl_error err;
    bool complete = true;
    const char *out = render_ex(&f, haproxy_ctmpl, &complete, &err);
    ASSERT(out);
    ASSERT(!complete);
}

TEST(haproxy, followup3_deleted_key_keeps_last_value)
{
    struct fake f;
    fake_haproxy(&f);
    struct tmpl_error err;
    struct tmpl *t = tmpl_parse(haproxy_ctmpl, strlen(haproxy_ctmpl), NULL, &err);
    struct tmpl_store *s = tmpl_store_new();
    struct tmpl_used u;
    tmpl_used_init(&u);
    struct tmpl_env env = {0};
    struct cn_buf out, body;
    cn_buf_init(&out, CN_BUF_UNLIMITED);
    for (int pass = 0; pass < 3; pass++) {
        cn_buf_reset(&out);
        ASSERT_OK(tmpl_execute(t, s, &env, &u, &out, &err));
        for (struct tmpl_dep *d = tmpl_store_next(s, NULL); d; d = tmpl_store_next(s, d)) {
            cn_buf_init(&body, CN_BUF_UNLIMITED);
            int st = fake_answer(&f, tmpl_dep_path(d), tmpl_dep_query(d), &body);
            struct cn_err e;
            ASSERT(tmpl_dep_update(s, d, st, body.data, body.len, &e) >= 0);
            cn_buf_release(&body);
        }
    }
    ASSERT_STR_EQ(haproxy_expected, out.data);
    ASSERT(!tmpl_used_changed(&u));
    /* the key goes away: a 404 is no change for `key` */
    fake_del(&f, "service/haproxy/maxconn");
    for (struct tmpl_dep *d = tmpl_store_next(s, NULL); d; d = tmpl_store_next(s, d)) {
        cn_buf_init(&body, CN_BUF_UNLIMITED);
        int st = fake_answer(&f, tmpl_dep_path(d), tmpl_dep_query(d), &body);
        struct cn_err e;
        ASSERT_EQ(0, tmpl_dep_update(s, d, st, body.data, body.len, &e));
        cn_buf_release(&body);
    }
    ASSERT(!tmpl_used_changed(&u));
    /* a new value is a change */
    fake_kv(&f, "service/haproxy/maxconn", "8192");
    int changed = 0;
    for (struct tmpl_dep *d = tmpl_store_next(s, NULL); d; d = tmpl_store_next(s, d)) {
        cn_buf_init(&body, CN_BUF_UNLIMITED);
        int st = fake_answer(&f, tmpl_dep_path(d), tmpl_dep_query(d), &body);
        struct cn_err e;
        changed += tmpl_dep_update(s, d, st, body.data, body.len, &e);
        cn_buf_release(&body);
    }
    ASSERT_EQ(1, changed);
    ASSERT(tmpl_used_changed(&u));
    cn_buf_reset(&out);
    ASSERT_OK(tmpl_execute(t, s, &env, &u, &out, &err));
    ASSERT(strstr(out.data, "maxconn 8192\n"));
    cn_buf_release(&out);
    tmpl_used_release(&u);
    tmpl_store_free(s);
    tmpl_free(t);
}

TEST(haproxy, followup5_trim_markers_same_bytes)
{
    struct fake f;
    fake_haproxy(&f);
    const char *src = "global\n"
                      "    daemon\n"
                      "    maxconn {{key \"service/haproxy/maxconn\"}}\n"
                      "\n"
                      "defaults\n"
                      "    mode {{key \"service/haproxy/mode\"}}\n"
                      "{{- range ls \"service/haproxy/timeouts\"}}\n"
                      "    timeout {{.Key}} {{.Value}}\n"
                      "{{- end}}\n"
                      "\n"
                      "listen http-in\n"
                      "    bind *:8000{{range service \"release.web\"}}\n"
                      "    server {{.Node}} {{.Address}}:{{.Port}}{{end}}\n";
    ASSERT_STR_EQ(haproxy_expected, render(&f, src));
    const char *nodash = "    mode {{key \"service/haproxy/mode\"}}\n"
                         "{{range ls \"service/haproxy/timeouts\"}}\n"
                         "    timeout {{.Key}} {{.Value}}\n"
                         "{{end}}\n";
    ASSERT_STR_EQ("    mode http\n\n    timeout client 50s\n\n    timeout connect 5s\n\n"
                  "    timeout server 50s\n\n",
                  render(&f, nodash));
}

TEST(haproxy, followup6_tags_sorted_and_port)
{
    struct fake f;
    fake_haproxy(&f);
    ASSERT_STR_EQ("node-a [release v2] 8081;",
                  render(&f, "{{range service \"web\" \"any\"}}{{if eq .ID \"web-2\"}}"
                             "{{.Node}} {{.Tags}} {{.Port}};{{end}}{{end}}"));
}
