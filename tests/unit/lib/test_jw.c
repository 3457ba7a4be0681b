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
