/* cn_uuid.h - Consul-style IDs: 36 lowercase hex characters 8-4-4-4-12 over
 * 128 random bits (no RFC 4122 version bits, as Consul's go-uuid). */
#ifndef CN_UUID_H
#define CN_UUID_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/cn_str.h"

#define CN_UUID_LEN 36

/* From 16 bytes into out[37] (NUL-terminated). */
void cn_uuid_format(const uint8_t bytes[16], char out[CN_UUID_LEN + 1]);
/* A fresh random UUID from the OS CSPRNG. */
void cn_uuid_new(char out[CN_UUID_LEN + 1]);
bool cn_uuid_valid(struct cn_str s);
/* Parse into 16 bytes; CN_EINVAL when not a UUID (any hex case accepted). */
int cn_uuid_parse(struct cn_str s, uint8_t bytes[16]);

#endif
