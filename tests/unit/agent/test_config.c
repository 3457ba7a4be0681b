#include <stdio.h>
#include <string.h>

#include "agent/config.h"
#include "lib/cn_json.h"
#include "test.h"

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static int load(struct agent_config *c, struct cn_err *err, int argc, const char **argv)
{
    bool help;
    return agent_config_load(argc, (char **)argv, c, &help, err);
}

TEST(config, merge_rules)
{
    struct cn_err err;
    const char *ta = "{\"x\":1,\"l\":[1],\"o\":{\"a\":1,\"b\":2}}";
    const char *tb = "{\"x\":2,\"l\":[2],\"o\":{\"b\":3}}";
    json_t *a = cn_json_parse(ta, strlen(ta), &err);
    json_t *b = cn_json_parse(tb, strlen(tb), &err);
    ASSERT(a && b);
    agent_config_merge(a, b);
    char *s = json_dumps(a, JSON_SORT_KEYS | JSON_COMPACT);
    ASSERT_STR_EQ("{\"l\":[1,2],\"o\":{\"a\":1,\"b\":3},\"x\":2}", s);
    free(s);
    json_decref(a);
    json_decref(b);
}

TEST(config, validate_names_the_unknown_key)
{
    struct cn_err err;
    json_t *t = cn_json_parse("{\"dns_config\":{\"only_passing\":true,\"bogus\":1}}", 46, &err);
    ASSERT_EQ(CN_EINVAL, agent_config_validate(t, &err));
    ASSERT_STR_EQ("invalid config key dns_config.bogus", err.msg);
    json_decref(t);
    t = cn_json_parse("{\"ports\":{\"http\":\"8500\"},\"retry_interval\":\"30s\"}", 48, &err);
    ASSERT_OK(agent_config_validate(t, &err)); /* weakly typed ints, as Consul */
    json_decref(t);
    t = cn_json_parse("{\"retry_interval\":\"30 seconds\"}", 31, &err);
    ASSERT_EQ(CN_EINVAL, agent_config_validate(t, &err));
    json_decref(t);
}

TEST(config, sources_in_order_flags_last)
{
    struct agent_config c;
    struct cn_err err;
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/a.json", cn_test_tmpdir());
    snprintf(b, sizeof b, "%s/b.json", cn_test_tmpdir());
    write_file(a, "{\"datacenter\":\"one\",\"service\":{\"name\":\"web\"},\"log_level\":\"warn\"}");
    write_file(b, "{\"datacenter\":\"two\",\"services\":[{\"name\":\"db\"}]}");
    const char *argv[] = {"-dev", "-config-file", a, "-config-file=" , "-node", "x"};
    char bf[600];
    snprintf(bf, sizeof bf, "-config-file=%s", b);
    argv[3] = bf;
    ASSERT_OK(load(&c, &err, 6, argv));
    ASSERT_STR_EQ("two", c.datacenter);
    ASSERT_STR_EQ("x", c.node_name);
    ASSERT_STR_EQ("warn", c.log_level);
    ASSERT(c.dev && c.server);
    json_t *svcs = agent_config_get(&c, "services");
    ASSERT_EQ(2, json_array_size(svcs));
    agent_config_release(&c);
}

TEST(config, dev_defaults_and_ports)
{
    struct agent_config c;
    struct cn_err err;
    const char *argv[] = {"-dev", "-http-port=9000", "-client", "0.0.0.0"};
    ASSERT_OK(load(&c, &err, 4, argv));
    ASSERT_EQ(9000, c.http_port);
    ASSERT_EQ(8600, c.dns_port);
    ASSERT_EQ(8300, c.server_port);
    ASSERT_EQ(1, c.raft_multiplier);
    ASSERT_STR_EQ("0.0.0.0", c.http_addr);
    ASSERT_STR_EQ("dc1", c.datacenter);
    ASSERT_STR_EQ("DEBUG", c.log_level);
    agent_config_release(&c);
}

TEST(config, errors)
{
    struct agent_config c;
    struct cn_err err;
    const char *a1[] = {"-dev", "-bogus"};
    ASSERT(load(&c, &err, 2, a1) != 0);
    ASSERT_STR_EQ("flag provided but not defined: -bogus", err.msg);
    agent_config_release(&c);
    const char *a2[] = {"-dev", "-http-port", "abc"};
    ASSERT(load(&c, &err, 3, a2) != 0);
    agent_config_release(&c);
    const char *a3[] = {"-dev", "-config-file", "/nonexistent/file.json"};
    ASSERT(load(&c, &err, 3, a3) != 0);
    agent_config_release(&c);
    const char *a4[] = {"-dev", "-log-level=loud"};
    ASSERT(load(&c, &err, 2, a4) != 0);
    ASSERT_STR_EQ("Invalid log level: loud", err.msg);
    agent_config_release(&c);
    const char *a5[] = {"-dev", "extra"};
    ASSERT(load(&c, &err, 2, a5) != 0);
    agent_config_release(&c);
}

TEST(config, acl_datacenter_turns_acls_on_and_names_the_primary)
{
    struct agent_config c;
    struct cn_err err;
    char a[512];
    snprintf(a, sizeof a, "%s/acl.json", cn_test_tmpdir());
    write_file(a, "{\"datacenter\":\"dc2\",\"acl_datacenter\":\"dc1\",\"enable_acl_replication\":true}");
    const char *argv[] = {"-dev", "-config-file", a};
    ASSERT_OK(load(&c, &err, 3, argv));
    ASSERT(c.acl_enabled);
    ASSERT_STR_EQ("dc1", c.primary_datacenter);
    agent_config_release(&c);
    /* primary_datacenter wins; acl.enabled decides; the default is this one */
    write_file(a, "{\"datacenter\":\"dc2\",\"acl_datacenter\":\"dc1\",\"primary_datacenter\":\"dc3\","
                  "\"acl\":{\"enabled\":false}}");
    ASSERT_OK(load(&c, &err, 3, argv));
    ASSERT(!c.acl_enabled);
    ASSERT_STR_EQ("dc3", c.primary_datacenter);
    agent_config_release(&c);
    write_file(a, "{\"datacenter\":\"dc2\"}");
    ASSERT_OK(load(&c, &err, 3, argv));
    ASSERT(!c.acl_enabled);
    ASSERT_STR_EQ("dc2", c.primary_datacenter);
    agent_config_release(&c);
}
