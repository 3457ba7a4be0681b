/* libFuzzer: service and check definitions as the agent API and config
 * files give them, and catalog registration bodies: JSON parsing, Go-like
 * field decoding, Consul's validation. A definition that decodes and
 * validates must survive the agent's persistence format unchanged. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "agent/defs.h"
#include "lib/cn_json.h"
#include "lib/cn_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const struct agent_service_def *def)
{
    struct cn_buf b;
    struct cn_jw w;
    struct cn_err err;
    struct cn_arena a;
    struct agent_service_def again;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_jw_init(&w, &b, false);
    agent_service_def_json(&w, &def->svc, def->token);
    json_t *v = cn_json_parse(b.data, b.len, &err);
    if (!v) abort(); /* we wrote invalid JSON */
    cn_arena_init(&a, 1024);
    if (agent_service_def_decode(v, &a, &again, &err)) abort();
    if (!state_service_same(&def->svc, &again.svc)) abort();
    for (size_t i = 0; i < def->nchecks; i++) {
        cn_buf_reset(&b);
        cn_jw_init(&w, &b, false);
        agent_check_def_json(&w, &def->checks[i]);
        json_t *c = cn_json_parse(b.data, b.len, &err);
        struct agent_check_def cd;
        if (!c || agent_check_def_decode(c, &a, &cd, &err)) abort();
        json_decref(c);
    }
    cn_arena_release(&a);
    json_decref(v);
    cn_buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cn_err err;
    struct cn_arena a;
    cn_log_set_level(CN_LOG_OFF);
    json_t *v = cn_json_parse((const char *)data, size, &err);
    if (!v) return 0;
    cn_arena_init(&a, 4096);
    struct agent_service_def def;
    if (agent_service_def_decode(v, &a, &def, &err) == 0 &&
        agent_service_def_validate(&def, &err) == 0)
        roundtrip(&def);
    struct agent_check_def cd;
    if (agent_check_def_decode(v, &a, &cd, &err) == 0) {
        (void)agent_check_def_validate(&cd, &err);
        (void)agent_check_type(&cd);
    }
    struct state_register reg;
    const char *token;
    (void)agent_catalog_register_decode(v, &a, &reg, &token, &err);
    const char *n, *s, *c;
    (void)agent_catalog_deregister_decode(v, &a, &n, &s, &c, &token, &err);
    cn_arena_release(&a);
    json_decref(v);
    return 0;
}
