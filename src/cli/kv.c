/* kv.c - `cairn kv get|put|delete|export|import` (Consul's command/kv). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/cn_base64.h"
#include "lib/cn_common.h"
#include "lib/cn_json.h"
#include "lib/cn_jw.h"

struct pair {
    const char *key;
    uint64_t flags, create_index, modify_index, lock_index;
    const char *session;
    char *value; /* decoded, heap */
    size_t value_len;
};

/* Go's api client error text for a non-200 answer. */
static void api_error(const char *what, const struct cli_resp *r)
{
    fprintf(stderr, "%s: Unexpected response code: %ld (%.*s)\n", what, r->status,
            (int)r->body.len, r->body.data ? r->body.data : "");
}

static int decode_pairs(const struct cli_resp *r, json_t **root, struct pair **out, size_t *n)
{
    struct cn_err err;
    json_t *arr = cn_json_parse(r->body.data ? r->body.data : "", r->body.len, &err);
    *root = arr;
    *out = NULL;
    *n = 0;
    if (!json_is_array(arr)) {
        fprintf(stderr, "Error querying Consul agent: bad response: %s\n", err.msg);
        return -1;
    }
    *out = cn_calloc(json_array_size(arr) + 1, sizeof **out);
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        struct pair *p = &(*out)[i];
        const char *v64 = NULL;
        cn_json_str(e, "Key", &p->key, &err);
        cn_json_u64(e, "Flags", &p->flags, &err);
        cn_json_u64(e, "CreateIndex", &p->create_index, &err);
        cn_json_u64(e, "ModifyIndex", &p->modify_index, &err);
        cn_json_u64(e, "LockIndex", &p->lock_index, &err);
        cn_json_str(e, "Session", &p->session, &err);
        cn_json_str(e, "Value", &v64, &err);
        if (v64) {
            p->value = cn_malloc(cn_base64_decoded_max(strlen(v64)) + 1);
            long m = cn_base64_decode(v64, strlen(v64), p->value);
            p->value_len = m > 0 ? (size_t)m : 0;
        } else {
            p->value = cn_calloc(1, 1);
        }
    }
    *n = json_array_size(arr);
    return 0;
}

static void free_pairs(json_t *root, struct pair *p, size_t n)
{
    for (size_t i = 0; i < n; i++) free(p[i].value);
    free(p);
    json_decref(root);
}

static void print_value(const struct pair *p, bool b64)
{
    if (b64) {
        char *enc = cn_malloc(cn_base64_encoded_len(p->value_len) + 1);
        cn_base64_encode(p->value, p->value_len, enc);
        enc[cn_base64_encoded_len(p->value_len)] = '\0';
        fputs(enc, stdout);
        free(enc);
    } else {
        fwrite(p->value, 1, p->value_len, stdout);
    }
}

/* tabwriter(minwidth 0, tabwidth 2, padding 6): the label column is the
 * widest label plus six spaces. */
static void print_detailed(const struct pair *p, bool b64)
{
    printf("%-17s%llu\n", "CreateIndex", (unsigned long long)p->create_index);
    printf("%-17s%llu\n", "Flags", (unsigned long long)p->flags);
    printf("%-17s%s\n", "Key", p->key);
    printf("%-17s%llu\n", "LockIndex", (unsigned long long)p->lock_index);
    printf("%-17s%llu\n", "ModifyIndex", (unsigned long long)p->modify_index);
    printf("%-17s%s\n", "Session", p->session && *p->session ? p->session : "-");
    printf("%-17s", "Value");
    print_value(p, b64);
    printf("\n");
}

static int kv_get(int argc, char **argv)
{
    struct cli_http_opts o = {0};
    bool recurse = false, keys = false, detailed = false, b64 = false;
    const char *sep = "/";
    const struct cli_flag flags[] = {
        {"recurse", CF_BOOL, &recurse, "recursively look at all keys under the prefix", NULL},
        {"keys", CF_BOOL, &keys, "list keys under the prefix", NULL},
        {"separator", CF_STR, &sep, "list keys only up to this separator (with -keys)", NULL},
        {"detailed", CF_BOOL, &detailed, "show all metadata", NULL},
        {"base64", CF_BOOL, &b64, "base64-encode the value", NULL},
        {"stale", CF_BOOL, &o.stale, "allow any server to answer", NULL},
        CLI_HTTP_FLAGS(&o),
        {0}};
    int i = cli_parse_flags("kv get", flags, argc, argv), rc = 1;
    if (i < 0) return i == -2 ? 0 : 1;
    if (argc - i > 1) {
        fprintf(stderr, "Too many arguments (expected 1, got %d)\n", argc - i);
        return 1;
    }
    const char *key = argc - i == 1 ? argv[i] : "";
    if (key[0] == '/') key++;
    if (!*key && !recurse && !keys) {
        fprintf(stderr, "Error! Missing KEY argument\n");
        return 1;
    }
    struct cli_client *c = cli_client_new(&o);
    char *ek = cli_escape_path(key), path[8192];
    struct cli_resp r;
    if (keys) {
        char *es = cli_escape_path(sep);
        snprintf(path, sizeof path, "/v1/kv/%s?keys=&separator=%s", ek, es);
        free(es);
    } else {
        snprintf(path, sizeof path, "/v1/kv/%s%s", ek, recurse ? "?recurse=" : "");
    }
    free(ek);
    if (cli_http(c, "GET", path, NULL, 0, &r, "Error querying Consul agent")) goto out;
    if (r.status == 404) {
        if (keys || recurse) {
            rc = 0;
        } else {
            fprintf(stderr, "Error! No key exists at: %s\n", key);
        }
        cli_resp_release(&r);
        goto out;
    }
    if (r.status != 200) {
        api_error("Error querying Consul agent", &r);
        cli_resp_release(&r);
        goto out;
    }
    if (keys) {
        struct cn_err err;
        json_t *arr = cn_json_parse(r.body.data, r.body.len, &err), *k;
        size_t n;
        json_array_foreach(arr, n, k) printf("%s\n", json_string_value(k));
        json_decref(arr);
        rc = 0;
    } else {
        json_t *root;
        struct pair *p;
        size_t n;
        if (decode_pairs(&r, &root, &p, &n) == 0) {
            for (size_t k = 0; k < n; k++) {
                if (detailed) {
                    print_detailed(&p[k], b64);
                    if (recurse && k + 1 < n) printf("\n");
                } else if (recurse) {
                    printf("%s:", p[k].key);
                    print_value(&p[k], b64);
                    printf("\n");
                } else {
                    print_value(&p[k], b64);
                    printf("\n");
                }
            }
            rc = 0;
        }
        free_pairs(root, p, n);
    }
    cli_resp_release(&r);
out:
    cli_client_free(c);
    return rc;
}

/* PUT and read the JSON true/false answer; -1 on transport or API error. */
static int put_bool(struct cli_client *c, const char *path, const void *body, size_t len,
                    const char *what)
{
    struct cli_resp r;
    if (cli_http(c, "PUT", path, body, len, &r, what)) return -1;
    int ok = -1;
    if (r.status == 200)
        ok = r.body.len >= 4 && !strncmp(r.body.data, "true", 4);
    else
        api_error(what, &r);
    cli_resp_release(&r);
    return ok;
}

static int kv_put(int argc, char **argv)
{
    struct cli_http_opts o = {0};
    bool cas = false, b64 = false, acquire = false, release = false;
    uint64_t modify_index = 0, kvflags = 0;
    const char *session = NULL;
    const struct cli_flag flags[] = {
        {"cas", CF_BOOL, &cas, "check-and-set: write only if -modify-index matches", NULL},
        {"modify-index", CF_UINT, &modify_index, "ModifyIndex for -cas", NULL},
        {"flags", CF_UINT, &kvflags, "unsigned integer stored with the key", NULL},
        {"base64", CF_BOOL, &b64, "the data is base64-encoded", NULL},
        {"acquire", CF_BOOL, &acquire, "acquire a lock on the key with -session", NULL},
        {"release", CF_BOOL, &release, "release the lock held by -session", NULL},
        {"session", CF_STR, &session, "session for -acquire or -release", NULL},
        CLI_HTTP_FLAGS(&o),
        {0}};
    int i = cli_parse_flags("kv put", flags, argc, argv), rc = 1;
    if (i < 0) return i == -2 ? 0 : 1;
    int nargs = argc - i;
    if (nargs == 0) {
        fprintf(stderr, "Error! Missing KEY argument\n");
        return 1;
    }
    if (nargs > 2) {
        fprintf(stderr, "Error! Too many arguments (expected 1 or 2, got %d)\n", nargs);
        return 1;
    }
    const char *key = argv[i];
    if (key[0] == '/') key++;
    struct cn_buf data;
    cn_buf_init(&data, 1u << 30);
    if (nargs == 2 && cli_read_data(argv[i + 1], &data)) {
        fprintf(stderr, "Error! Failed to read data\n");
        cn_buf_release(&data);
        return 1;
    }
    if (b64) {
        char *dec = cn_malloc(cn_base64_decoded_max(data.len) + 1);
        long n = cn_base64_decode(data.data ? data.data : "", data.len, dec);
        if (n < 0) {
            fprintf(stderr, "Error! Cannot base 64 decode data: illegal base64 data\n");
            free(dec);
            cn_buf_release(&data);
            return 1;
        }
        cn_buf_reset(&data);
        if (cn_buf_append(&data, dec, (size_t)n)) n = 0;
        free(dec);
    }
    if ((acquire || release) && !session) {
        fprintf(stderr, "Error! Missing -session (required with -acquire and -release)\n");
        cn_buf_release(&data);
        return 1;
    }
    if (cas && modify_index == 0) {
        fprintf(stderr, "Must specify -modify-index with -cas!\n");
        cn_buf_release(&data);
        return 1;
    }
    struct cli_client *c = cli_client_new(&o);
    char *ek = cli_escape_path(key), path[8192];
    int n = snprintf(path, sizeof path, "/v1/kv/%s?flags=%llu", ek, (unsigned long long)kvflags);
    free(ek);
    if (cas) snprintf(path + n, sizeof path - (size_t)n, "&cas=%llu", (unsigned long long)modify_index);
    if (acquire || release) {
        char *es = cli_escape_path(session);
        snprintf(path + n, sizeof path - (size_t)n, "&%s=%s", acquire ? "acquire" : "release", es);
        free(es);
    }
    int ok = put_bool(c, path, data.data, data.len, "Error! Failed writing data");
    if (ok == 1) {
        rc = 0;
        if (acquire)
            printf("Success! Lock acquired on: %s\n", key);
        else if (release)
            printf("Success! Lock released on: %s\n", key);
        else
            printf("Success! Data written to: %s\n", key);
    } else if (ok == 0) {
        if (acquire)
            fprintf(stderr, "Error! Did not acquire lock\n");
        else if (release)
            fprintf(stderr, "Error! Did not release lock\n");
        else
            fprintf(stderr, "Error! Did not write to %s: CAS failed\n", key);
    }
    cn_buf_release(&data);
    cli_client_free(c);
    return rc;
}

static int kv_delete(int argc, char **argv)
{
    struct cli_http_opts o = {0};
    bool cas = false, recurse = false, mi_seen = false;
    uint64_t modify_index = 0;
    const struct cli_flag flags[] = {
        {"cas", CF_BOOL, &cas, "check-and-set with -modify-index", NULL},
        {"modify-index", CF_UINT, &modify_index, "ModifyIndex for -cas", &mi_seen},
        {"recurse", CF_BOOL, &recurse, "delete every key under the prefix", NULL},
        CLI_HTTP_FLAGS(&o),
        {0}};
    int i = cli_parse_flags("kv delete", flags, argc, argv), rc = 1;
    if (i < 0) return i == -2 ? 0 : 1;
    if (argc - i > 1) {
        fprintf(stderr, "Too many arguments (expected 1, got %d)\n", argc - i);
        return 1;
    }
    const char *key = argc - i == 1 ? argv[i] : "";
    if (key[0] == '/') key++;
    if (!*key && !recurse) {
        fprintf(stderr, "Error! Missing KEY argument\n");
        return 1;
    }
    if (cas && modify_index == 0) {
        fprintf(stderr, "Must specify -modify-index with -cas!\n");
        return 1;
    }
    if (mi_seen && !cas) {
        fprintf(stderr, "Cannot specify -modify-index without -cas!\n");
        return 1;
    }
    if (cas && recurse) {
        fprintf(stderr, "Cannot specify both -cas and -recurse!\n");
        return 1;
    }
    struct cli_client *c = cli_client_new(&o);
    char *ek = cli_escape_path(key), path[8192], what[8300];
    struct cli_resp r;
    if (recurse)
        snprintf(path, sizeof path, "/v1/kv/%s?recurse=", ek);
    else if (cas)
        snprintf(path, sizeof path, "/v1/kv/%s?cas=%llu", ek, (unsigned long long)modify_index);
    else
        snprintf(path, sizeof path, "/v1/kv/%s", ek);
    free(ek);
    snprintf(what, sizeof what, recurse ? "Error! Did not delete prefix %s" : "Error! Did not delete key %s", key);
    if (cli_http(c, "DELETE", path, NULL, 0, &r, what) == 0) {
        if (r.status != 200) {
            api_error(what, &r);
        } else if (r.body.len >= 5 && !strncmp(r.body.data, "false", 5)) {
            fprintf(stderr, "Error! Did not delete key %s: CAS failed\n", key);
        } else {
            rc = 0;
            if (recurse)
                printf("Success! Deleted keys with prefix: %s\n", key);
            else
                printf("Success! Deleted key: %s\n", key);
        }
        cli_resp_release(&r);
    }
    cli_client_free(c);
    return rc;
}

static int kv_export(int argc, char **argv)
{
    struct cli_http_opts o = {0};
    const struct cli_flag flags[] = {CLI_HTTP_FLAGS(&o), {0}};
    int i = cli_parse_flags("kv export", flags, argc, argv), rc = 1;
    if (i < 0) return i == -2 ? 0 : 1;
    const char *prefix = argc - i >= 1 ? argv[i] : "";
    if (prefix[0] == '/') prefix++;
    struct cli_client *c = cli_client_new(&o);
    char *ep = cli_escape_path(prefix), path[8192];
    struct cli_resp r;
    snprintf(path, sizeof path, "/v1/kv/%s?recurse=", ep);
    free(ep);
    if (cli_http(c, "GET", path, NULL, 0, &r, "Error querying Consul agent") == 0) {
        json_t *root = NULL;
        struct pair *p = NULL;
        size_t n = 0;
        if (r.status != 200 && r.status != 404) {
            api_error("Error querying Consul agent", &r);
        } else if (r.status == 404 || decode_pairs(&r, &root, &p, &n) == 0) {
            struct cn_buf out;
            struct cn_jw w;
            cn_buf_init(&out, CN_BUF_UNLIMITED);
            cn_jw_init(&w, &out, true);
            cn_jw_set_indent(&w, "\t");
            cn_jw_arr_begin(&w);
            for (size_t k = 0; k < n; k++) {
                cn_jw_obj_begin(&w);
                cn_jw_key_str(&w, "key", p[k].key);
                cn_jw_key_u64(&w, "flags", p[k].flags);
                cn_jw_key(&w, "value");
                if (p[k].value_len)
                    cn_jw_base64(&w, p[k].value, p[k].value_len);
                else
                    cn_jw_str(&w, "");
                cn_jw_obj_end(&w);
            }
            cn_jw_arr_end(&w);
            printf("%s\n", out.data);
            cn_buf_release(&out);
            rc = 0;
        }
        free_pairs(root, p, n);
        cli_resp_release(&r);
    }
    cli_client_free(c);
    return rc;
}

static int kv_import(int argc, char **argv)
{
    struct cli_http_opts o = {0};
    const char *prefix = "";
    const struct cli_flag flags[] = {
        {"prefix", CF_STR, &prefix, "key prefix for the imported keys", NULL}, CLI_HTTP_FLAGS(&o), {0}};
    int i = cli_parse_flags("kv import", flags, argc, argv), rc = 0;
    if (i < 0) return i == -2 ? 0 : 1;
    struct cn_buf data;
    struct cn_err err;
    cn_buf_init(&data, 1u << 30);
    if (cli_read_data(argc - i >= 1 ? argv[i] : "-", &data)) {
        fprintf(stderr, "Error! Failed to read data\n");
        cn_buf_release(&data);
        return 1;
    }
    json_t *arr = cn_json_parse(data.data ? data.data : "", data.len, &err), *e;
    cn_buf_release(&data);
    if (!json_is_array(arr)) {
        fprintf(stderr, "Cannot unmarshal data: %s\n", arr ? "not a JSON array" : err.msg);
        json_decref(arr);
        return 1;
    }
    struct cli_client *c = cli_client_new(&o);
    size_t k;
    json_array_foreach(arr, k, e)
    {
        const char *key = NULL, *v64 = "";
        uint64_t fl = 0;
        cn_json_str(e, "key", &key, &err);
        cn_json_u64(e, "flags", &fl, &err);
        cn_json_str(e, "value", &v64, &err);
        if (!key) continue;
        char *val = cn_malloc(cn_base64_decoded_max(strlen(v64)) + 1);
        long n = cn_base64_decode(v64, strlen(v64), val);
        if (n < 0) {
            fprintf(stderr, "Error base 64 decoding value for key %s\n", key);
            free(val);
            rc = 1;
            break;
        }
        char full[8192], path[16384];
        snprintf(full, sizeof full, "%s%s", prefix, key);
        char *ek = cli_escape_path(full);
        snprintf(path, sizeof path, "/v1/kv/%s?flags=%llu", ek, (unsigned long long)fl);
        free(ek);
        int ok = put_bool(c, path, val, (size_t)n, "Error! Failed writing data");
        free(val);
        if (ok != 1) {
            rc = 1;
            break;
        }
        printf("Imported: %s\n", full);
    }
    json_decref(arr);
    cli_client_free(c);
    return rc;
}

int cli_kv(int argc, char **argv)
{
    if (argc < 1) {
        fprintf(stderr, "Usage: cairn kv <subcommand> [options] [args]\n\n"
                        "Subcommands:\n    delete    Removes data from the KV store\n"
                        "    export    Exports a tree from the KV store as JSON\n"
                        "    get       Retrieves or lists data from the KV store\n"
                        "    import    Imports a tree stored as JSON to the KV store\n"
                        "    put       Sets or updates data in the KV store\n");
        return 1;
    }
    const char *sub = argv[0];
    if (!strcmp(sub, "get")) return kv_get(argc - 1, argv + 1);
    if (!strcmp(sub, "put")) return kv_put(argc - 1, argv + 1);
    if (!strcmp(sub, "delete")) return kv_delete(argc - 1, argv + 1);
    if (!strcmp(sub, "export")) return kv_export(argc - 1, argv + 1);
    if (!strcmp(sub, "import")) return kv_import(argc - 1, argv + 1);
    fprintf(stderr, "Unknown kv subcommand: %s\n", sub);
    return 1;
}
