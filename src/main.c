/* cairn: one binary for the agent, the CLI and the template renderer. */
#include "cli/cli.h"

int main(int argc, char **argv)
{
    return cli_main(argc, argv);
}
