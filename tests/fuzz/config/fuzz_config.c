/* libFuzzer: an agent configuration file, through JSON parsing, the plural
 * folding, schema validation, merging and decoding. */
#include <stddef.h>
#include <stdint.h>

#include "agent/config.h"
#include "lib/cn_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct agent_config cfg;
    struct cn_err err;
    cn_log_set_level(CN_LOG_OFF);
    agent_config_from_json((const char *)data, size, &cfg, &err);
    agent_config_release(&cfg);
    return 0;
}
