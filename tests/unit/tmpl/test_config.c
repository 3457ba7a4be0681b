/* test_config.c - consul-template's configuration as the runner reads it:
 * -template splitting, -wait, HCL/JSON config keys, precedence, defaults. */
#include <stdlib.h>
#include <string.h>

#include "lib/cn_time.h"
#include "test.h"
#include "tmpl/run/run.h"

static struct tr_template *split(struct tr_config *c, const char *v)
{
    struct cn_err err;
    tr_config_init(c);
    ASSERT_OK(tr_config_add_template_flag(c, v, &err));
    ASSERT_EQ(1, c->ntemplates);
    return &c->templates[0];
}

#define S(x) ((x) ? (x) : "(null)")

TEST(config, template_flag_split)
{
    struct tr_config c;
    struct tr_template *t = split(&c, "in:out:echo a:b");
    ASSERT_STR_EQ("in", t->source);
    ASSERT_STR_EQ("out", t->destination);
    ASSERT_STR_EQ("echo a:b", t->command[0]);
    tr_config_release(&c);

    t = split(&c, "in.ctmpl:/etc/haproxy/haproxy.cfg:systemctl reload haproxy");
    ASSERT_STR_EQ("/etc/haproxy/haproxy.cfg", t->destination);
    ASSERT_STR_EQ("systemctl reload haproxy", t->command[0]);
    tr_config_release(&c);

    t = split(&c, "in::cmd"); /* empty pieces vanish */
    ASSERT_STR_EQ("in", t->source);
    ASSERT_STR_EQ("cmd", t->destination);
    ASSERT_EQ(0, t->ncommand);
    tr_config_release(&c);

    t = split(&c, "C:\\x:out"); /* a drive letter stays with its piece */
    ASSERT_STR_EQ("C:\\x", t->source);
    ASSERT_STR_EQ("out", t->destination);
    tr_config_release(&c);

    t = split(&c, "a:out"); /* one letter + colon: one piece */
    ASSERT_STR_EQ("a:out", t->source);
    ASSERT_STR_EQ("(null)", S(t->destination));
    tr_config_release(&c);

    t = split(&c, "in:out:a::b");
    ASSERT_STR_EQ("a:b", t->command[0]);
    tr_config_release(&c);

    struct cn_err err;
    tr_config_init(&c);
    ASSERT_EQ(CN_EINVAL, tr_config_add_template_flag(&c, "", &err));
    ASSERT_STR_EQ("template: cannot be empty", err.msg);
    tr_config_release(&c);
}

TEST(config, wait_parse)
{
    int64_t mn, mx;
    struct cn_err err;
    ASSERT_OK(tr_parse_wait("5s", &mn, &mx, &err));
    ASSERT_EQ(5 * CN_NS_PER_S, mn);
    ASSERT_EQ(20 * CN_NS_PER_S, mx);
    ASSERT_OK(tr_parse_wait("1s:3s", &mn, &mx, &err));
    ASSERT_EQ(3 * CN_NS_PER_S, mx);
    ASSERT_EQ(CN_EINVAL, tr_parse_wait("1s:2s:3s", &mn, &mx, &err));
    ASSERT_STR_EQ("wait: invalid format", err.msg);
    ASSERT_EQ(CN_EINVAL, tr_parse_wait("-1s", &mn, &mx, &err));
    ASSERT_STR_EQ("wait: cannot be negative", err.msg);
    ASSERT_EQ(CN_EINVAL, tr_parse_wait("5s:1s", &mn, &mx, &err));
    ASSERT_STR_EQ("wait: min must be less than max", err.msg);
}

static int load(struct tr_config *c, const char *text, struct cn_err *err)
{
    tr_config_init(c);
    return tr_config_load_text(c, text, strlen(text), "test.hcl", err);
}

TEST(config, hcl_file_keys)
{
    struct tr_config c;
    struct cn_err err;
    const char *text =
        "consul {\n  address = \"10.0.0.1:8500\"\n  token = \"secret\"\n"
        "  retry {\n    attempts = 3\n    backoff = \"100ms\"\n  }\n}\n"
        "max_stale = \"10s\"\nlog_level = \"debug\"\nkill_signal = \"SIGTERM\"\n"
        "wait {\n  min = \"2s\"\n}\n"
        "template {\n  source = \"a.ctmpl\"\n  destination = \"/tmp/a\"\n"
        "  command = \"systemctl reload haproxy\"\n  command_timeout = \"60s\"\n"
        "  perms = 0640\n  backup = true\n  left_delimiter = \"[[\"\n"
        "  right_delimiter = \"]]\"\n  error_on_missing_key = true\n}\n"
        "template {\n  contents = \"{{key \\\"x\\\"}}\"\n  destination = \"/tmp/b\"\n"
        "  wait = \"1s:3s\"\n  exec {\n    command = [\"/bin/true\", \"x\"]\n  }\n"
        "  perms = \"0600\"\n}\n";
    ASSERT_OK(load(&c, text, &err));
    ASSERT_OK(tr_config_finish(&c, &err));
    ASSERT_STR_EQ("10.0.0.1:8500", c.address);
    ASSERT_STR_EQ("secret", c.token);
    ASSERT_EQ(3, c.retry_attempts);
    ASSERT_EQ(100 * CN_NS_PER_MS, c.retry_backoff_ns);
    ASSERT_EQ(60 * CN_NS_PER_S, c.retry_max_backoff_ns);
    ASSERT_EQ(10 * CN_NS_PER_S, c.max_stale_ns);
    ASSERT_EQ(60 * CN_NS_PER_S, c.block_query_wait_ns);
    ASSERT_STR_EQ("SIGTERM", c.kill_signal);
    ASSERT_STR_EQ("SIGHUP", c.reload_signal);
    ASSERT_EQ(2, c.ntemplates);
    struct tr_template *a = &c.templates[0], *b = &c.templates[1];
    ASSERT_STR_EQ("systemctl reload haproxy", a->command[0]);
    ASSERT_EQ(60 * CN_NS_PER_S, a->command_timeout_ns);
    ASSERT_EQ(0640, a->perms);
    ASSERT_EQ(1, a->backup);
    ASSERT_STR_EQ("[[", a->left_delim);
    ASSERT_EQ(1, a->error_on_missing_key);
    ASSERT_EQ(1, a->error_fatal);
    ASSERT(a->wait_set);
    ASSERT_EQ(2 * CN_NS_PER_S, a->wait_min_ns);
    ASSERT_EQ(8 * CN_NS_PER_S, a->wait_max_ns);
    ASSERT_EQ(2, b->ncommand);
    ASSERT_STR_EQ("x", b->command[1]);
    ASSERT_EQ(0600, b->perms);
    ASSERT_EQ(CN_NS_PER_S, b->wait_min_ns);
    ASSERT_EQ(3 * CN_NS_PER_S, b->wait_max_ns);
    ASSERT_EQ(30 * CN_NS_PER_S, b->command_timeout_ns);
    tr_config_release(&c);
}

TEST(config, json_and_legacy_consul)
{
    struct tr_config c;
    struct cn_err err;
    ASSERT_OK(load(&c,
                   "{\"consul\": {\"address\": \"h:1\"}, \"template\": "
                   "[{\"source\": \"a\", \"destination\": \"b\"}, {\"source\": \"c\"}]}",
                   &err));
    ASSERT_STR_EQ("h:1", c.address);
    ASSERT_EQ(2, c.ntemplates);
    tr_config_release(&c);
    ASSERT_OK(load(&c, "consul = \"h:2\"", &err));
    ASSERT_STR_EQ("h:2", c.address);
    tr_config_release(&c);
}

TEST(config, errors)
{
    struct tr_config c;
    struct cn_err err;
    ASSERT_EQ(CN_EINVAL, load(&c, "bogus = 1", &err));
    ASSERT(strstr(err.msg, "has invalid keys: bogus"));
    tr_config_release(&c);
    ASSERT_EQ(CN_EINVAL, load(&c, "template {\n  sauce = \"a\"\n}", &err));
    ASSERT(strstr(err.msg, "'template' has invalid keys: sauce"));
    tr_config_release(&c);
    ASSERT_EQ(CN_EINVAL, load(&c, "max_stale = \"ten\"", &err));
    ASSERT(strstr(err.msg, "invalid duration"));
    tr_config_release(&c);
    ASSERT_EQ(CN_EINVAL, load(&c, "consul {\n address = \n", &err));
    ASSERT(strstr(err.msg, "error decoding config at \"test.hcl\""));
    tr_config_release(&c);
    ASSERT_OK(load(&c, "template {\n source = \"a\"\n contents = \"b\"\n}", &err));
    ASSERT_EQ(CN_EINVAL, tr_config_finish(&c, &err));
    ASSERT_STR_EQ("template: cannot specify both 'source' and 'contents'", err.msg);
    tr_config_release(&c);
    ASSERT_OK(load(&c, "template {\n destination = \"a\"\n}", &err));
    ASSERT_EQ(CN_EINVAL, tr_config_finish(&c, &err));
    ASSERT_STR_EQ("template: must specify exactly one of 'source' or 'contents'", err.msg);
    tr_config_release(&c);
    ASSERT_OK(load(&c, "log_level = \"loud\"", &err));
    ASSERT_EQ(CN_EINVAL, tr_config_finish(&c, &err));
    tr_config_release(&c);
    ASSERT_OK(load(&c, "reload_signal = \"HUP\"", &err));
    ASSERT_EQ(CN_EINVAL, tr_config_finish(&c, &err));
    tr_config_release(&c);
}

TEST(config, env_fallbacks_and_defaults)
{
    struct tr_config c;
    struct cn_err err;
    setenv("CONSUL_HTTP_ADDR", "envhost:8500", 1);
    setenv("CONSUL_HTTP_TOKEN", "envtok", 1);
    tr_config_init(&c);
    ASSERT_OK(tr_config_finish(&c, &err));
    ASSERT_STR_EQ("envhost:8500", c.address);
    ASSERT_STR_EQ("envtok", c.token);
    ASSERT_STR_EQ("WARN", c.log_level);
    ASSERT_EQ(2 * CN_NS_PER_S, c.max_stale_ns);
    ASSERT_EQ(12, c.retry_attempts);
    ASSERT_EQ(250 * CN_NS_PER_MS, c.retry_backoff_ns);
    tr_config_release(&c);
    /* something that set the value wins over the environment */
    ASSERT_OK(load(&c, "consul {\n address = \"file:1\"\n}", &err));
    ASSERT_OK(tr_config_finish(&c, &err));
    ASSERT_STR_EQ("file:1", c.address);
    tr_config_release(&c);
    unsetenv("CONSUL_HTTP_ADDR");
    unsetenv("CONSUL_HTTP_TOKEN");
    tr_config_init(&c);
    ASSERT_OK(tr_config_finish(&c, &err));
    ASSERT_STR_EQ("127.0.0.1:8500", c.address);
    ASSERT(c.token == NULL);
    tr_config_release(&c);
}

TEST(config, signals)
{
    ASSERT_EQ(1, tr_signal_parse("SIGHUP"));
    ASSERT_EQ(1, tr_signal_parse("sighup"));
    ASSERT_EQ(-1, tr_signal_parse("HUP"));
    ASSERT_EQ(0, tr_signal_parse(""));
}
