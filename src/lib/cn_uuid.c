#include "lib/cn_uuid.h"

#include "lib/cn_err.h"
#include "lib/cn_rand.h"

void cn_uuid_format(const uint8_t b[16], char out[CN_UUID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}

void cn_uuid_new(char out[CN_UUID_LEN + 1])
{
    uint8_t b[16];
    cn_rand_os_bytes(b, sizeof b);
    cn_uuid_format(b, out);
}

static int hexv(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int cn_uuid_parse(struct cn_str s, uint8_t b[16])
{
    int bi = 0;
    if (s.len != CN_UUID_LEN) return CN_EINVAL;
    for (size_t i = 0; i < s.len;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s.p[i] != '-') return CN_EINVAL;
            i++;
            continue;
        }
        int hi = hexv(s.p[i]), lo = hexv(s.p[i + 1]);
        if (hi < 0 || lo < 0) return CN_EINVAL;
        b[bi++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    return 0;
}

bool cn_uuid_valid(struct cn_str s)
{
    uint8_t b[16];
    return cn_uuid_parse(s, b) == 0;
}
