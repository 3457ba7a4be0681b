/* version.c - `cairn version`, in Consul's format. */
#include <stdio.h>

#include "cli/cli.h"
#include "lib/cn_version.h"

int cli_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("Cairn v%s\n", CN_VERSION);
    printf("Revision %s\n", cn_version_revision);
    printf("Build Date %s\n", cn_version_build_date);
    printf("Protocol 2 spoken by default, understands 2 to 3 (agent will automatically use "
           "protocol >2 when speaking to compatible agents)\n");
    return 0;
}
