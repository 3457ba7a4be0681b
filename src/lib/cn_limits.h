/*
 * cn_limits.h - every hard limit in one place (TigerStyle: a bound on every
 * input, queue, buffer and batch). Consul's defaults where Consul has one.
 */
#ifndef CN_LIMITS_H
#define CN_LIMITS_H

/* HTTP */
#define CN_HTTP_HEADER_MAX (64 * 1024)     /* request line + headers */
#define CN_HTTP_HEADERS_COUNT_MAX 100
#define CN_HTTP_BODY_MAX (8 * 1024 * 1024) /* any body, before per-endpoint limits */
#define CN_HTTP_PIPELINE_MAX (256 * 1024)  /* unread input buffered behind a request */
#define CN_HTTP_CONNS_MAX 16384
#define CN_HTTP_QUERY_PARAMS_MAX 64
#define CN_HTTP_IDLE_TIMEOUT_MS (10 * 60 * 1000 + 30 * 1000)

/* KV (limits.kv_max_value_size, limits.txn_max_req_len) */
#define CN_KV_VALUE_MAX_DEFAULT (512 * 1024)
#define CN_KV_KEY_MAX (64 * 1024)
#define CN_TXN_REQ_MAX_DEFAULT (512 * 1024)
#define CN_TXN_OPS_MAX 128

/* Blocking queries */
#define CN_QUERY_DEFAULT_WAIT_MS (300 * 1000)
#define CN_QUERY_MAX_WAIT_MS (600 * 1000)

/* Config files */
#define CN_CONFIG_FILE_MAX (4 * 1024 * 1024)
#define CN_CONFIG_FILES_MAX 1024

/* Names and metadata */
#define CN_NODE_META_MAX_PAIRS 64
#define CN_META_KEY_MAX 128
#define CN_META_VALUE_MAX 512

/* User events */
#define CN_EVENT_SIZE_MAX 512
#define CN_EVENT_BUFFER 256

/* Network coordinates (Consul's consul.coordinate defaults): a server
 * applies at most BATCH_SIZE updates per command and MAX_BATCHES commands
 * per period, dropping the rest; names in a coordinate row are bounded. */
#define CN_COORD_BATCH_SIZE 128
#define CN_COORD_MAX_BATCHES 5
#define CN_COORD_NAME_MAX 4096

/* Codec: the largest single field in an encoded command or frame. */
#define CN_CODEC_FIELD_MAX (16 * 1024 * 1024)

#endif
