/* cairn: one binary for the agent, the CLI and the template renderer. */
#include <sys/resource.h>

#include "cli/cli.h"

/* An agent holds one descriptor per client connection, blocking query
 * and peer: the usual soft limit of 1024 would refuse connections long
 * before memory runs out. Raise it to the hard limit, as Go programs
 * (Consul) do at startup. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    raise_fd_limit();
    return cli_main(argc, argv);
}
