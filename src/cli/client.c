/*
 * client.c - the CLI's HTTP client (libcurl easy API) and the common
 * options: flags beat CONSUL_HTTP_* environment variables, which beat the
 * default http://127.0.0.1:8500.
 */
#include "lib/cn_curl.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "lib/cn_common.h"
#include "lib/cn_str.h"

struct cli_client {
    CURL *curl;
    char *base;      /* scheme://host:port, no trailing slash */
    char *unix_path; /* for unix:// addresses */
    char *token;
    const char *dc;
    bool stale;
    const struct cli_http_opts *o;
};

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static char *read_token_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char buf[512] = "";
    if (!f) return NULL;
    if (!fgets(buf, sizeof buf, f)) buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    return cn_strdup(buf);
}

struct cli_client *cli_client_new(const struct cli_http_opts *o)
{
    static bool inited;
    struct cli_client *c = CN_NEW(struct cli_client);
    const char *addr = o->addr ? o->addr : env("CONSUL_HTTP_ADDR");
    if (!addr) addr = env("CAIRN_HTTP_ADDR");
    if (!addr) addr = "127.0.0.1:8500";
    const char *ssl = env("CONSUL_HTTP_SSL");
    bool https = ssl && (!strcasecmp(ssl, "true") || !strcmp(ssl, "1"));
    if (!strncmp(addr, "unix://", 7)) {
        c->unix_path = cn_strdup(addr + 7);
        c->base = cn_strdup("http://localhost");
    } else if (strstr(addr, "://")) {
        c->base = cn_strdup(addr);
    } else {
        c->base = cn_malloc(strlen(addr) + 16);
        sprintf(c->base, "%s://%s", https ? "https" : "http", addr);
    }
    size_t bl = strlen(c->base);
    if (bl && c->base[bl - 1] == '/') c->base[bl - 1] = '\0';
    if (o->token)
        c->token = cn_strdup(o->token);
    else if (o->token_file)
        c->token = read_token_file(o->token_file);
    else if (env("CONSUL_HTTP_TOKEN"))
        c->token = cn_strdup(env("CONSUL_HTTP_TOKEN"));
    else if (env("CONSUL_HTTP_TOKEN_FILE"))
        c->token = read_token_file(env("CONSUL_HTTP_TOKEN_FILE"));
    c->dc = o->datacenter;
    c->stale = o->stale;
    c->o = o;
    if (!inited) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        inited = true;
    }
    c->curl = curl_easy_init();
    return c;
}

void cli_client_free(struct cli_client *c)
{
    if (!c) return;
    curl_easy_cleanup(c->curl);
    free(c->base);
    free(c->unix_path);
    free(c->token);
    free(c);
}

const char *cli_client_addr(const struct cli_client *c)
{
    return c->base;
}

void cli_resp_release(struct cli_resp *r)
{
    cn_buf_release(&r->body);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct cli_resp *r = ud;
    if (cn_buf_append(&r->body, p, size * n)) return 0;
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct cli_resp *r = ud;
    size_t len = size * n;
    struct cn_str line = cn_str_make(p, len), name;
    if (cn_str_cut(&line, ':', &name)) {
        line = cn_str_trim(line);
        if (cn_str_case_eq_cstr(name, "X-Consul-Index")) {
            uint64_t v;
            if (!cn_parse_u64(line, &v)) r->index = v;
        } else if (cn_str_case_eq_cstr(name, "X-Consul-Contenthash")) {
            snprintf(r->content_hash, sizeof r->content_hash, "%.*s", (int)line.len, line.p);
        }
    }
    return len;
}

char *cli_escape_path(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = cn_malloc(strlen(s) * 3 + 1), *o = out;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-._~/:@!$&'()*+,;=", c)) {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return out;
}

int cli_http(struct cli_client *c, const char *method, const char *path_query, const void *body,
             size_t len, struct cli_resp *resp, const char *what)
{
    struct cn_buf url;
    struct curl_slist *hdrs = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    CURL *h = c->curl;
    bool has_q = strchr(path_query, '?') != NULL;
    memset(resp, 0, sizeof *resp);
    cn_buf_init(&resp->body, 1u << 30);
    cn_buf_init(&url, CN_BUF_UNLIMITED);
    cn_buf_putf(&url, "%s%s", c->base, path_query);
    if (c->dc) {
        char *e = curl_easy_escape(h, c->dc, 0);
        cn_buf_putf(&url, "%sdc=%s", has_q ? "&" : "?", e);
        curl_free(e);
        has_q = true;
    }
    if (c->stale) cn_buf_putf(&url, "%sstale=", has_q ? "&" : "?");
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url.data);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (c->unix_path) curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->unix_path);
    if (c->o->ca_file) curl_easy_setopt(h, CURLOPT_CAINFO, c->o->ca_file);
    if (c->o->ca_path) curl_easy_setopt(h, CURLOPT_CAPATH, c->o->ca_path);
    if (c->o->client_cert) curl_easy_setopt(h, CURLOPT_SSLCERT, c->o->client_cert);
    if (c->o->client_key) curl_easy_setopt(h, CURLOPT_SSLKEY, c->o->client_key);
    const char *verify = env("CONSUL_HTTP_SSL_VERIFY");
    if (verify && (!strcasecmp(verify, "false") || !strcmp(verify, "0"))) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    const char *auth = env("CONSUL_HTTP_AUTH");
    if (auth) {
        curl_easy_setopt(h, CURLOPT_USERPWD, auth);
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    }
    if (c->token) {
        char th[600];
        snprintf(th, sizeof th, "X-Consul-Token: %s", c->token);
        hdrs = curl_slist_append(hdrs, th);
    }
    if (body || !strcmp(method, "PUT") || !strcmp(method, "POST")) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        hdrs = curl_slist_append(hdrs, "Content-Type:");
        hdrs = curl_slist_append(hdrs, "Expect:");
    }
    if (hdrs) curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(hdrs);
    cn_buf_release(&url);
    if (rc != CURLE_OK) {
        fprintf(stderr, "%s: %s\n", what, errbuf[0] ? errbuf : curl_easy_strerror(rc));
        return -1;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    return 0;
}

int cli_read_data(const char *arg, struct cn_buf *out)
{
    FILE *f = NULL;
    char chunk[65536];
    size_t n;
    if (!strcmp(arg, "-"))
        f = stdin;
    else if (arg[0] == '@')
        f = fopen(arg + 1, "rb");
    else
        return cn_buf_append(out, arg, strlen(arg));
    if (!f) {
        fprintf(stderr, "Failed to read file: %s\n", arg + 1);
        return -1;
    }
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (cn_buf_append(out, chunk, n)) {
            if (f != stdin) fclose(f);
            return -1;
        }
    if (f != stdin) fclose(f);
    return 0;
}
