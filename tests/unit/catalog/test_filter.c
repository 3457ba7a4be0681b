/* The ?filter= language: parsing, validation against shapes, evaluation. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/rpc_filter.h"
#include "test.h"

static const char *CSN =
    "{\"Node\":{\"ID\":\"\",\"Node\":\"n1\",\"Address\":\"10.0.0.1\",\"Datacenter\":\"dc1\","
    "\"TaggedAddresses\":{\"lan\":\"10.0.0.1\"},\"Meta\":{\"env\":\"prod\",\"a.b\":\"dotted\"}},"
    "\"Service\":{\"ID\":\"web1\",\"Service\":\"web\",\"Tags\":[\"primary\",\"v1\"],"
    "\"Address\":\"\",\"Meta\":{},\"Port\":8080,\"Weights\":{\"Passing\":3,\"Warning\":1},"
    "\"EnableTagOverride\":true},"
    "\"Checks\":[{\"Node\":\"n1\",\"CheckID\":\"serfHealth\",\"Status\":\"passing\","
    "\"ServiceTags\":[]},{\"Node\":\"n1\",\"CheckID\":\"c2\",\"Status\":\"critical\","
    "\"ServiceTags\":[\"primary\"]}]}";

static const char *bad(const char *expr, const struct rpc_fschema *shape);

static bool m(const char *expr)
{
    struct cn_err err;
    struct rpc_filter *f = rpc_filter_new(expr, rpc_fs_check_service_node, &err);
    if (!f) FAIL("filter %s: %s", expr, err.msg);
    bool ok = rpc_filter_match_text(f, CSN, strlen(CSN));
    rpc_filter_free(f);
    return ok;
}

static const char *bad(const char *expr, const struct rpc_fschema *shape)
{
    static struct cn_err err;
    struct rpc_filter *f = rpc_filter_new(expr, shape, &err);
    if (f) {
        rpc_filter_free(f);
        FAIL("filter %s should not parse", expr);
    }
    return err.msg;
}

TEST(filter, equality_and_types)
{
    ASSERT(m("Service.Service == web"));
    ASSERT(m("Service.Service == \"web\""));
    ASSERT(m("Service.Service == `web`"));
    ASSERT(!m("Service.Service != web"));
    ASSERT(m("Service.Port == 8080"));
    ASSERT(m("Service.Port != 80"));
    ASSERT(m("Service.EnableTagOverride == true"));
    ASSERT(m("Service.Weights.Passing == 3"));
    ASSERT(m("Node.Address == \"10.0.0.1\""));
    bad("Node.Address == 10.0.0.1", rpc_fs_check_service_node); /* bexpr wants quotes too */
}

TEST(filter, collections_and_maps)
{
    ASSERT(m("primary in Service.Tags"));
    ASSERT(m("Service.Tags contains v1"));
    ASSERT(m("Service.Tags not contains v2"));
    ASSERT(m("\"v2\" not in Service.Tags"));
    ASSERT(m("Node.Meta.env == prod"));
    ASSERT(m("Node.Meta[\"a.b\"] == dotted"));
    ASSERT(m("env in Node.Meta"));
    ASSERT(!m("Node.Meta.missing == x"));
    ASSERT(m("Node.Meta.missing != x"));
    ASSERT(m("Service.Meta is empty"));
    ASSERT(m("Service.Tags is not empty"));
    ASSERT(m("Service.Address is empty"));
    ASSERT(m("Node.Node contains n"));
}

TEST(filter, lists_of_structs_mean_any)
{
    ASSERT(m("Checks.Status == critical"));
    ASSERT(m("Checks.Status == passing"));
    ASSERT(!m("Checks.Status == warning"));
    ASSERT(m("Checks.CheckID == c2 and Checks.Status == critical"));
    ASSERT(m("primary in Checks.ServiceTags"));
    ASSERT(m("Checks is not empty"));
}

TEST(filter, boolean_structure_and_precedence)
{
    ASSERT(m("Service.Service == web and Service.Port == 8080"));
    ASSERT(m("Service.Service == db or Service.Port == 8080"));
    ASSERT(!m("not Service.Service == web"));
    ASSERT(m("not not Service.Service == web"));
    ASSERT(m("(Service.Service == db or Service.Service == web) and Node.Node == n1"));
    ASSERT(!m("Service.Service == db or Service.Port == 1 and Node.Node == n1"));
    ASSERT(m("Service.Service == web or Service.Port == 1 and Node.Node == zz"));
    ASSERT(m("  ( Node.Node == n1 )  "));
}

TEST(filter, regex)
{
    ASSERT(m("Node.Node matches \"^n[0-9]$\""));
    ASSERT(m("Service.Service not matches \"^db\""));
    ASSERT(!m("Service.Service matches \"^db\""));
}

TEST(filter, errors_name_the_problem)
{
    const char *e = bad("Service.Nope == 1", rpc_fs_check_service_node);
    ASSERT(strstr(e, "Failed to create boolean expression evaluator: "));
    ASSERT(strstr(e, "Selector \"Service.Nope\" is not valid"));
    e = bad("Service.Tags == x", rpc_fs_check_service_node);
    ASSERT(strstr(e, "Invalid match operator \"==\" for selector \"Service.Tags\""));
    e = bad("Service.Port == abc", rpc_fs_check_service_node);
    ASSERT(strstr(e, "Failed to coerce value \"abc\""));
    e = bad("Node.Node matches \"(\"", rpc_fs_check_service_node);
    ASSERT(strstr(e, "Failed to compile regular expression"));
    bad("Node.Node ==", rpc_fs_check_service_node);
    bad("(Node.Node == x", rpc_fs_check_service_node);
    bad("Node.Node == x and", rpc_fs_check_service_node);
    bad("Node.Node = x", rpc_fs_check_service_node);
    bad("Node.Node == \"unterminated", rpc_fs_check_service_node);
    bad("Node.Meta[ == x", rpc_fs_check_service_node);
    bad("", rpc_fs_check_service_node);
    bad("1abc in Service.Tags", rpc_fs_check_service_node);
    bad("Node.Node.Deeper == x", rpc_fs_check_service_node);
}

TEST(filter, pathological_regexes_are_refused)
{
    const char *e = bad("Node.Node matches \"a++++++++++++++++++++++++++\"", rpc_fs_check_service_node);
    ASSERT(strstr(e, "invalid nested repetition operator"));
    e = bad("Node.Node matches \"((a{100}){100}){100}\"", rpc_fs_check_service_node);
    ASSERT(strstr(e, "expression too large"));
    e = bad("Node.Node matches \"a{1001}\"", rpc_fs_check_service_node);
    ASSERT(strstr(e, "invalid repeat count"));
    ASSERT(m("Node.Node matches \"^(n|m){1,3}[0-9]+$\""));
    ASSERT(m("Node.Node matches \"[]n]1\""));
}

TEST(filter, deep_nesting_is_refused_not_a_crash)
{
    char expr[4096] = "";
    for (int i = 0; i < 500; i++) strcat(expr, "(");
    bad(expr, rpc_fs_node);
    memset(expr, 0, sizeof expr);
    for (int i = 0; i < 300; i++) strcat(expr, "not ");
    strcat(expr, "Node == x");
    bad(expr, rpc_fs_node);
}

TEST(filter, other_shapes)
{
    struct cn_err err;
    struct rpc_filter *f = rpc_filter_new("Meta.rack == r1 and Datacenter == dc1", rpc_fs_node, &err);
    ASSERT(f);
    const char *node = "{\"Node\":\"x\",\"Datacenter\":\"dc1\",\"Meta\":{\"rack\":\"r1\"}}";
    ASSERT(rpc_filter_match_text(f, node, strlen(node)));
    rpc_filter_free(f);
    f = rpc_filter_new("ServiceTaggedAddresses.lan.Port == 80", rpc_fs_service_node, &err);
    ASSERT(f);
    const char *sn = "{\"ServiceTaggedAddresses\":{\"lan\":{\"Address\":\"a\",\"Port\":80}}}";
    ASSERT(rpc_filter_match_text(f, sn, strlen(sn)));
    rpc_filter_free(f);
    f = rpc_filter_new("Tags.role == consul", rpc_fs_member, &err);
    ASSERT(f);
    rpc_filter_free(f);
    ASSERT(rpc_filter_match_text(NULL, "{}", 2));
}
