#include "lib/cn_jw.h"
#include "test.h"

TEST(jw, compact_matches_go)
{
    struct cn_buf b;
    struct cn_jw w;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_jw_init(&w, &b, false);
    cn_jw_arr_begin(&w);
    cn_jw_obj_begin(&w);
    cn_jw_key_u64(&w, "LockIndex", 0);
    cn_jw_key_str(&w, "Key", "a<b>&\"\n\x01");
    cn_jw_key(&w, "Value");
    cn_jw_base64(&w, "hi", 2);
    cn_jw_key(&w, "Empty");
    cn_jw_base64(&w, "", 0);
    cn_jw_key(&w, "Obj");
    cn_jw_obj_begin(&w);
    cn_jw_obj_end(&w);
    cn_jw_obj_end(&w);
    cn_jw_arr_end(&w);
    cn_jw_finish(&w);
    ASSERT_STR_EQ("[{\"LockIndex\":0,\"Key\":\"a\\u003cb\\u003e\\u0026\\\"\\n\\u0001\","
                  "\"Value\":\"aGk=\",\"Empty\":null,\"Obj\":{}}]",
                  b.data);
    cn_buf_release(&b);
}

TEST(jw, pretty_matches_marshal_indent)
{
    struct cn_buf b;
    struct cn_jw w;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_jw_init(&w, &b, true);
    cn_jw_obj_begin(&w);
    cn_jw_key(&w, "A");
    cn_jw_arr_begin(&w);
    cn_jw_u64(&w, 1);
    cn_jw_str(&w, "x");
    cn_jw_arr_end(&w);
    cn_jw_key(&w, "B");
    cn_jw_arr_begin(&w);
    cn_jw_arr_end(&w);
    cn_jw_key(&w, "C");
    const char *raw = "{\"d\":[1,{}],\"e\":\"a,b:{\"}";
    cn_jw_raw(&w, raw, strlen(raw));
    cn_jw_obj_end(&w);
    cn_jw_finish(&w);
    ASSERT_STR_EQ("{\n    \"A\": [\n        1,\n        \"x\"\n    ],\n    \"B\": [],\n"
                  "    \"C\": {\n        \"d\": [\n            1,\n            {}\n        ],\n"
                  "        \"e\": \"a,b:{\"\n    }\n}\n",
                  b.data);
    cn_buf_release(&b);
}

TEST(jw, invalid_utf8_replaced)
{
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_json_quote(&b, "ok\xff\xc3\xa9", 5);
    ASSERT_STR_EQ("\"ok\\ufffd\xc3\xa9\"", b.data);
    cn_buf_release(&b);
}

/* Expected text from Go 1.19's json.Marshal of the same []float64. */
TEST(jw, doubles_match_go)
{
    static const double v[] = {0, 1.5, 1e-05, -0.00012345, 1e-07, 1.2345e-10, 123456789012, 1e20,
                               1e21, 1.5e22, 0.1, 0.30000000000000004, 2.5e-06, 9.999999e-07,
                               0.000999, 100, 1234.5678, -3, 5e-324, 1.7976931348623157e308};
    struct cn_buf b;
    struct cn_jw w;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    cn_jw_init(&w, &b, false);
    cn_jw_arr_begin(&w);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) cn_jw_double(&w, v[i]);
    cn_jw_arr_end(&w);
    ASSERT_STR_EQ("[0,1.5,0.00001,-0.00012345,1e-7,1.2345e-10,123456789012,100000000000000000000,"
                  "1e+21,1.5e+22,0.1,0.30000000000000004,0.0000025,9.999999e-7,0.000999,100,"
                  "1234.5678,-3,5e-324,1.7976931348623157e+308]",
                  b.data);
    cn_buf_release(&b);
}
