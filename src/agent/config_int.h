/* config_int.h - the configuration schema, shared by the loader files. */
#ifndef AGENT_CONFIG_INT_H
#define AGENT_CONFIG_INT_H

#include "agent/config.h"

enum config_type { T_STR = 1, T_INT, T_NUM, T_BOOL, T_DUR, T_LIST, T_MAP, T_OBJ, T_ANY };

struct config_key {
    const char *path;
    enum config_type type;
};

extern const struct config_key config_schema[];
const struct config_key *config_schema_find(const char *path);

#endif
