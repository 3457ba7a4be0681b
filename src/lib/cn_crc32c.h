/* cn_crc32c.h - CRC-32C (Castagnoli), the checksum of log records and
 * snapshots; hardware-accelerated with SSE4.2 when the CPU has it. */
#ifndef CN_CRC32C_H
#define CN_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extend crc (start with 0) over n bytes. */
uint32_t cn_crc32c(uint32_t crc, const void *p, size_t n);

#endif
