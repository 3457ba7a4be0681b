/* flags.c - Go's flag package rules, which scripts written for consul rely on. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/cn_common.h"
#include "lib/cn_str.h"

void cli_print_usage(const char *cmd, const char *synopsis, const struct cli_flag *flags)
{
    fprintf(stderr, "Usage: cairn %s\n\n", synopsis ? synopsis : cmd);
    for (const struct cli_flag *f = flags; f->name; f++)
        fprintf(stderr, "  -%s%s\n      %s\n", f->name, f->kind == CF_BOOL ? "" : "=<value>",
                f->usage ? f->usage : "");
}

static int set(const char *cmd, const struct cli_flag *f, const char *val)
{
    bool b;
    int64_t i;
    uint64_t u;
    switch (f->kind) {
    case CF_BOOL:
        if (cn_parse_bool(cn_str_from(val), &b)) goto bad;
        *(bool *)f->dst = b;
        break;
    case CF_STR: *(const char **)f->dst = val; break;
    case CF_INT:
        if (cn_parse_i64(cn_str_from(val), &i)) goto bad;
        *(int64_t *)f->dst = i;
        break;
    case CF_UINT:
        if (cn_parse_u64(cn_str_from(val), &u)) goto bad;
        *(uint64_t *)f->dst = u;
        break;
    case CF_LIST: {
        struct cli_list *l = f->dst;
        l->items = cn_realloc(l->items, (l->n + 1) * sizeof *l->items);
        l->items[l->n++] = (char *)val;
        break;
    }
    }
    if (f->seen) *f->seen = true;
    return 0;
bad:
    fprintf(stderr, "invalid value \"%s\" for flag -%s: parse error\n", val, f->name);
    (void)cmd;
    return -1;
}

int cli_parse_flags(const char *cmd, const struct cli_flag *flags, int argc, char **argv)
{
    int i = 0;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] == '\0') break;
        if (!strcmp(a, "--")) return i + 1;
        a += a[1] == '-' ? 2 : 1;
        const char *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        const struct cli_flag *f = NULL;
        for (const struct cli_flag *g = flags; g->name; g++)
            if (strlen(g->name) == nlen && !strncmp(g->name, a, nlen)) f = g;
        if (!f) {
            if ((nlen == 1 && a[0] == 'h') || (nlen == 4 && !strncmp(a, "help", 4))) {
                cli_print_usage(cmd, NULL, flags);
                return -2;
            }
            fprintf(stderr, "flag provided but not defined: -%.*s\n", (int)nlen, a);
            cli_print_usage(cmd, NULL, flags);
            return -1;
        }
        const char *val;
        if (eq)
            val = eq + 1;
        else if (f->kind == CF_BOOL)
            val = "true";
        else if (i + 1 < argc)
            val = argv[++i];
        else {
            fprintf(stderr, "flag needs an argument: -%s\n", f->name);
            return -1;
        }
        if (set(cmd, f, val)) return -1;
    }
    return i;
}
