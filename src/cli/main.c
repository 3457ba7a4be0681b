/* main.c - the command table: `cairn <command> ...`. */
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "cli/cli.h"
#include "lib/cn_common.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *synopsis;
};

/* Command families live in their own files; one not built yet is a weak
 * NULL and is left out of the list. */
#define CMD(name) int name(int argc, char **argv) __attribute__((weak));
CMD(cli_acl)
CMD(cli_catalog)
CMD(cli_event)
CMD(cli_exec)
CMD(cli_force_leave)
CMD(cli_info)
CMD(cli_join)
CMD(cli_keygen)
CMD(cli_keyring)
CMD(cli_leave)
CMD(cli_lock)
CMD(cli_maint)
CMD(cli_members)
CMD(cli_monitor)
CMD(cli_operator)
CMD(cli_reload)
CMD(cli_rtt)
CMD(cli_services)
CMD(cli_snapshot)
CMD(cli_template)
CMD(cli_validate)
CMD(cli_watch)
#undef CMD

static const struct command commands[] = {
    {"acl", cli_acl, "Interact with Consul's ACLs"},
    {"agent", agent_main, "Runs a cairn agent"},
    {"catalog", cli_catalog, "Interact with the catalog"},
    {"event", cli_event, "Fire a new event"},
    {"exec", cli_exec, "Executes a command on cairn nodes"},
    {"force-leave", cli_force_leave, "Forces a member of the cluster to enter the \"left\" state"},
    {"info", cli_info, "Provides debugging information for operators."},
    {"join", cli_join, "Tell cairn agent to join cluster"},
    {"keygen", cli_keygen, "Generates a new encryption key"},
    {"keyring", cli_keyring, "Manages gossip layer encryption keys"},
    {"kv", cli_kv, "Interact with the key-value store"},
    {"leave", cli_leave, "Gracefully leaves the cairn cluster and shuts down"},
    {"lock", cli_lock, "Execute a command holding a lock"},
    {"maint", cli_maint, "Controls node or service maintenance mode"},
    {"members", cli_members, "Lists the members of a cairn cluster"},
    {"monitor", cli_monitor, "Stream logs from a cairn agent"},
    {"operator", cli_operator, "Provides cluster-level tools for cairn operators"},
    {"reload", cli_reload, "Triggers the agent to reload configuration files"},
    {"rtt", cli_rtt, "Estimates network round trip time between nodes"},
    {"services", cli_services, "Interact with services"},
    {"snapshot", cli_snapshot, "Saves, restores and inspects snapshots of cairn server state"},
    {"template", cli_template, "Renders templates from live cairn state (consul-template)"},
    {"validate", cli_validate, "Validate config files/directories"},
    {"version", cli_version, "Prints the cairn version"},
    {"watch", cli_watch, "Watch for changes in cairn"},
};

static void list_commands(void)
{
    fprintf(stderr, "Usage: cairn [--version] [--help] <command> [<args>]\n\n"
                    "Available commands are:\n");
    for (size_t i = 0; i < CN_ARRAY_SIZE(commands); i++)
        if (commands[i].run) fprintf(stderr, "    %-14s %s\n", commands[i].name, commands[i].synopsis);
}

int cli_main(int argc, char **argv)
{
    if (argc < 2) {
        list_commands();
        return 1;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-version") || !strcmp(cmd, "-v"))
        return cli_version(0, NULL);
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-help") || !strcmp(cmd, "-h")) {
        list_commands();
        return 0;
    }
    for (size_t i = 0; i < CN_ARRAY_SIZE(commands); i++)
        if (commands[i].run && !strcmp(commands[i].name, cmd))
            return commands[i].run(argc - 2, argv + 2);
    list_commands();
    return 127;
}
