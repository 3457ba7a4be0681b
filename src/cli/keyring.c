/* keyring.c - `cairn keyring` (Consul's command/keyring): list, install, use
 * and remove gossip encryption keys across the cluster, through
 * /v1/operator/keyring. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/cn_common.h"
#include "lib/cn_json.h"

int cli_keyring(int argc, char **argv);

#define SYNOPSIS "keyring [options]"

static const char help_text[] =
    "Usage: cairn keyring [options]\n"
    "\n"
    "  Manages encryption keys used for gossip messages. Gossip encryption is\n"
    "  optional. When enabled, this command may be used to examine active encryption\n"
    "  keys in the cluster, add new keys, and remove old ones. When combined, this\n"
    "  functionality provides the ability to perform key rotation cluster-wide,\n"
    "  without disrupting the cluster.\n"
    "\n"
    "  All operations performed by this command can only be run against server nodes,\n"
    "  and affect both the LAN and WAN keyrings in lock-step.\n"
    "\n"
    "  All variations of the keyring command return 0 if all nodes reply and there\n"
    "  are no errors. If any node fails to reply or reports failure, the exit code\n"
    "  will be 1.\n";

/* api.requireOK's error, under the command's "error: " prefix. */
static int request(struct cli_client *c, const char *method, const char *path, const char *key,
                   struct cli_resp *r)
{
    char *body = NULL;
    if (key) {
        json_t *o = json_pack("{s:s}", "Key", key);
        body = json_dumps(o, JSON_COMPACT);
        json_decref(o);
    }
    int rc = cli_http(c, method, path, body, body ? strlen(body) : 0, r, "error");
    free(body);
    if (rc) return -1;
    if (r->status != 200) {
        fprintf(stderr, "error: Unexpected response code: %ld (%.*s)\n", r->status,
                (int)r->body.len, r->body.data ? r->body.data : "");
        cli_resp_release(r);
        return -1;
    }
    return 0;
}

/* One block per pool: a blank line, "<pool>:", then "  <key> [n/m]". */
static int print_list(const struct cli_resp *r)
{
    struct cn_err err;
    json_t *arr = cn_json_parse(r->body.data ? r->body.data : "", r->body.len, &err), *p;
    size_t i;
    if (!json_is_array(arr)) {
        fprintf(stderr, "error: %s\n", arr ? "unexpected answer" : err.msg);
        json_decref(arr);
        return 1;
    }
    json_array_foreach(arr, i, p)
    {
        const char *dc = json_string_value(json_object_get(p, "Datacenter"));
        const char *seg = json_string_value(json_object_get(p, "Segment"));
        json_int_t num = json_integer_value(json_object_get(p, "NumNodes"));
        if (json_is_true(json_object_get(p, "WAN")))
            printf("\nWAN:\n");
        else if (seg && *seg)
            printf("\n%s (LAN) [%s]:\n", dc ? dc : "", seg);
        else
            printf("\n%s (LAN):\n", dc ? dc : "");
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(p, "Messages"), k, v)
            printf("  ===> %s: %s\n", k, json_is_string(v) ? json_string_value(v) : "");
        json_object_foreach(json_object_get(p, "Keys"), k, v)
            printf("  %s [%lld/%lld]\n", k, (long long)json_integer_value(v), (long long)num);
    }
    json_decref(arr);
    return 0;
}

int cli_keyring(int argc, char **argv)
{
    struct cli_http_opts o = {0};
    const char *install = "", *use = "", *rm_key = "";
    bool list = false, local = false;
    int64_t relay = 0;
    const struct cli_flag flags[] = {
        {"install", CF_STR, &install,
         "Install a new encryption key. This will broadcast the new key to all members in "
         "the cluster.",
         NULL},
        {"use", CF_STR, &use,
         "Change the primary encryption key, which is used to encrypt messages. The key "
         "must already be installed before this operation can succeed.",
         NULL},
        {"remove", CF_STR, &rm_key,
         "Remove the given key from the cluster. This operation may only be performed on "
         "keys which are not currently the primary key.",
         NULL},
        {"list", CF_BOOL, &list, "List all keys currently in use within the cluster.", NULL},
        {"relay-factor", CF_INT, &relay,
         "Setting this to a non-zero value will cause nodes to relay their response to the "
         "operation through this many randomly-chosen other nodes in the cluster. The "
         "maximum allowed value is 5.",
         NULL},
        {"local-only", CF_BOOL, &local,
         "Setting this to true will force the keyring query to only hit local servers (no "
         "WAN traffic). This flag can only be set for list queries.",
         NULL},
        CLI_HTTP_FLAGS(&o),
        {0}};
    int i = cli_parse_flags("keyring", flags, argc, argv);
    if (i < 0) return i == -2 ? 0 : 1;
    /* Consul's checks, in its order */
    bool found = list;
    const char *actions[] = {install, use, rm_key};
    for (size_t k = 0; k < CN_ARRAY_SIZE(actions); k++) {
        if (found && *actions[k]) {
            fprintf(stderr, "Only a single action is allowed\n");
            return 1;
        }
        found = found || *actions[k];
    }
    if (!found) {
        fputs(help_text, stderr);
        cli_print_usage("keyring", SYNOPSIS, flags);
        return 1;
    }
    if (relay < 0 || relay > 5) {
        fprintf(stderr, "Error parsing relay factor: Relay factor must be in range: [0, 5]\n");
        return 1;
    }
    if (local && !list) {
        fprintf(stderr, "Error validating local-only: local-only can only be set for list "
                        "requests\n");
        return 1;
    }
    struct cli_client *c = cli_client_new(&o);
    if (!c) return 1;
    char path[128];
    snprintf(path, sizeof path, "/v1/operator/keyring");
    if (relay) snprintf(path + strlen(path), sizeof path - strlen(path), "?relay-factor=%lld",
                        (long long)relay);
    struct cli_resp r;
    int rc = 1;
    if (list) {
        if (local) snprintf(path + strlen(path), sizeof path - strlen(path), "%slocal-only=true",
                            relay ? "&" : "?");
        printf("==> Gathering installed encryption keys...\n");
        fflush(stdout);
        if (request(c, "GET", path, NULL, &r) == 0) {
            rc = print_list(&r);
            cli_resp_release(&r);
        }
    } else {
        const char *what = *install ? "Installing new gossip encryption key..."
                           : *use   ? "Changing primary gossip encryption key..."
                                    : "Removing gossip encryption key...";
        const char *method = *install ? "POST" : *use ? "PUT" : "DELETE";
        printf("==> %s\n", what);
        fflush(stdout);
        if (request(c, method, path, *install ? install : *use ? use : rm_key, &r) == 0) {
            rc = 0;
            cli_resp_release(&r);
        }
    }
    cli_client_free(c);
    return rc;
}
