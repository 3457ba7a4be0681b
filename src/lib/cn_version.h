/* cn_version.h - what cairn says it is. The agent reports an emulated
 * Consul version in /v1/agent/self because tools gate features on it. */
#ifndef CN_VERSION_H
#define CN_VERSION_H

#define CN_VERSION "0.1.0"
#define CN_CONSUL_VERSION "1.17.0"
#define CN_PROTOCOL_MIN 1
#define CN_PROTOCOL_MAX 5
#define CN_PROTOCOL_CUR 2

/* The commit the binary was built from (generated at build time). */
extern const char cn_version_revision[];
extern const char cn_version_build_date[];

#endif
