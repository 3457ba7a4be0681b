/* cairn: one binary for the agent, the CLI and the template renderer. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "version")) {
        printf("Cairn v0.1.0\n");
        return 0;
    }
    fprintf(stderr, "usage: cairn <command> [args]\n");
    return 1;
}
