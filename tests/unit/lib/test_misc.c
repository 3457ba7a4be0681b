#include "lib/cn_base64.h"
#include "lib/cn_crc32c.h"
#include "lib/cn_err.h"
#include "lib/cn_json.h"
#include "lib/cn_uuid.h"
#include "test.h"

TEST(base64, round_trip_and_strict)
{
    char enc[64], dec[64];
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        size_t n = strlen(in[i]);
        cn_base64_encode(in[i], n, enc);
        enc[cn_base64_encoded_len(n)] = 0;
        ASSERT_STR_EQ(out[i], enc);
        long m = cn_base64_decode(enc, strlen(enc), dec);
        ASSERT_EQ((long)n, m);
        ASSERT_MEM_EQ(in[i], dec, n);
    }
    ASSERT_EQ(CN_EINVAL, cn_base64_decode("Zg=", 3, dec));
    ASSERT_EQ(CN_EINVAL, cn_base64_decode("Z!==", 4, dec));
    ASSERT_EQ(CN_EINVAL, cn_base64_decode("Zh==", 4, dec)); /* non-zero pad bits */
}

TEST(crc32c, known_vectors)
{
    /* RFC 3720 B.4 test vectors */
    uint8_t zeros[32] = {0}, ones[32];
    memset(ones, 0xff, sizeof ones);
    ASSERT(cn_crc32c(0, zeros, 32) == 0x8a9136aa);
    ASSERT(cn_crc32c(0, ones, 32) == 0x62a8ab43);
    ASSERT(cn_crc32c(0, "123456789", 9) == 0xe3069283);
    /* incremental == one shot */
    ASSERT(cn_crc32c(cn_crc32c(0, "12345", 5), "6789", 4) == 0xe3069283);
}

TEST(uuid, format_and_parse)
{
    char id[CN_UUID_LEN + 1];
    uint8_t b[16];
    cn_uuid_new(id);
    ASSERT_EQ(36, strlen(id));
    ASSERT(cn_uuid_valid(cn_str_from(id)));
    ASSERT_OK(cn_uuid_parse(cn_str_from(id), b));
    char again[CN_UUID_LEN + 1];
    cn_uuid_format(b, again);
    ASSERT_STR_EQ(id, again);
    ASSERT(!cn_uuid_valid(CN_STR("not-a-uuid")));
    ASSERT(!cn_uuid_valid(CN_STR("0000000000000000000000000000000000000")));
}

TEST(json, case_insensitive_and_unknown_fields)
{
    struct cn_err err;
    const char *body = "{\"name\":\"web\",\"serviceid\":\"w1\",\"Port\":80,\"ttl\":\"15.0s\"}";
    json_t *v = cn_json_parse(body, strlen(body), &err);
    const char *name = NULL, *sid = NULL;
    uint64_t port = 0;
    int64_t ttl = 0;
    ASSERT(v != NULL);
    ASSERT_OK(cn_json_str(v, "Name", &name, &err));
    ASSERT_OK(cn_json_str(v, "ServiceID", &sid, &err));
    ASSERT_OK(cn_json_u64(v, "Port", &port, &err));
    ASSERT_OK(cn_json_dur(v, "TTL", &ttl, &err));
    ASSERT_STR_EQ("web", name);
    ASSERT_STR_EQ("w1", sid);
    ASSERT_EQ(80, port);
    ASSERT(ttl == 15000000000LL);
    static const char *const known[] = {"Name", "ServiceID", "Port", NULL};
    ASSERT_EQ(CN_EINVAL, cn_json_check_fields(v, known, &err));
    ASSERT_STR_EQ("json: unknown field \"ttl\"", err.msg);
    ASSERT_EQ(CN_EINVAL, cn_json_u64(v, "Name", &port, &err));
    json_decref(v);
    ASSERT(cn_json_parse("{\"a\":", 5, &err) == NULL);
}

TEST(json, uint64_above_int64_max_survives_parsing)
{
    struct cn_err err;
    const char *body = "[{\"Flags\":18446744073709551615,\"Key\":\"a\\\"1844674407370955161999\","
                       "\"N\":-5,\"F\":1.5e300},{\"Flags\":3304740253564472344}]";
    json_t *v = cn_json_parse(body, strlen(body), &err);
    uint64_t flags = 0;
    const char *key = NULL;
    ASSERT(v != NULL);
    ASSERT_OK(cn_json_u64(json_array_get(v, 0), "Flags", &flags, &err));
    ASSERT(flags == UINT64_MAX);
    ASSERT_OK(cn_json_str(json_array_get(v, 0), "Key", &key, &err));
    ASSERT_STR_EQ("a\"1844674407370955161999", key);
    ASSERT_OK(cn_json_u64(json_array_get(v, 1), "Flags", &flags, &err));
    ASSERT(flags == 3304740253564472344ULL);
    json_decref(v);
}
