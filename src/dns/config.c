/* config.c - the DNS settings the core reads, and service_ttl selection. */
#include <string.h>
#include <strings.h>

#include "dns/dns.h"
#include "lib/cn_common.h"
#include "lib/cn_err.h"
#include "lib/cn_time.h"

void dns_config_init(struct dns_config *c, const char *dc)
{
    memset(c, 0, sizeof *c);
    dns_config_set_zone(c, 0, "consul.");
    size_t i = 0;
    for (; dc && dc[i] && i < DNS_LABEL_MAX; i++)
        c->dc[i] = (char)(dc[i] >= 'A' && dc[i] <= 'Z' ? dc[i] + 32 : dc[i]);
    c->dc[i] = '\0';
    c->allow_stale = true;
    c->max_stale_ns = 87600LL * 3600 * CN_NS_PER_S;
    c->udp_answer_limit = 3;
    c->node_meta_txt = true;
    c->soa_refresh = 3600;
    c->soa_retry = 600;
    c->soa_expire = 86400;
    c->soa_min_ttl = 0;
}

int dns_config_set_zone(struct dns_config *c, int i, const char *text)
{
    struct dns_zone *z = &c->zone[i];
    size_t len = strlen(text);
    uint8_t wire[DNS_NAME_MAX];
    if (i == 1 && (len == 0 || !strcmp(text, "."))) {
        memset(z, 0, sizeof *z);
        return 0;
    }
    int wl = dns_name_from_text(text, len, wire);
    if (wl <= 1) return CN_EINVAL;
    for (int k = 0; k < wl; k++)
        if (wire[k] >= 'A' && wire[k] <= 'Z') wire[k] = (uint8_t)(wire[k] + 32);
    memcpy(z->wire, wire, (size_t)wl);
    z->wire_len = (uint8_t)wl;
    dns_name_to_text(z->wire, z->text, sizeof z->text, true);
    z->nlabels = 0;
    for (const uint8_t *p = z->wire; *p; p += *p + 1) z->nlabels++;
    return 0;
}

void dns_config_add_ttl(struct dns_config *c, const char *key, int64_t ttl_ns)
{
    size_t len = strlen(key);
    struct dns_ttl_rule r = {.prefix = len && key[len - 1] == '*'};
    r.klen = r.prefix ? len - 1 : len;
    r.key = cn_strndup(key, r.klen);
    r.ttl = ttl_ns > 0 ? (uint32_t)CN_MIN(ttl_ns / CN_NS_PER_S, (int64_t)INT32_MAX) : 0;
    c->service_ttl = cn_realloc(c->service_ttl, (c->nservice_ttl + 1) * sizeof r);
    c->service_ttl[c->nservice_ttl++] = r;
}

void dns_config_release(struct dns_config *c)
{
    for (size_t i = 0; i < c->nservice_ttl; i++) free(c->service_ttl[i].key);
    free(c->service_ttl);
    c->service_ttl = NULL;
    c->nservice_ttl = 0;
}

uint32_t dns_service_ttl(const struct dns_config *c, struct cn_str service)
{
    const struct dns_ttl_rule *best = NULL;
    for (size_t i = 0; i < c->nservice_ttl; i++) {
        const struct dns_ttl_rule *r = &c->service_ttl[i];
        if (!r->prefix) {
            if (r->klen == service.len && !strncasecmp(r->key, service.p, service.len)) return r->ttl;
            continue;
        }
        if (r->klen <= service.len && !strncasecmp(r->key, service.p, r->klen) &&
            (!best || r->klen > best->klen))
            best = r;
    }
    return best ? best->ttl : 0;
}
