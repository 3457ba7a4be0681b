/* sim_table.h - sim_gossip --table: convergence and bandwidth at scale. */
#ifndef SIM_TABLE_H
#define SIM_TABLE_H

int sim_table(int argc, char **argv);

#endif
