/* fuzz_raft_msg - the Raft wire codec under libFuzzer.
 *
 * Any input either decodes or is refused with CN_ECORRUPT, never reading past
 * its end (ASan watches an exact-size copy). What decodes must re-encode to
 * the very same bytes and decode again: the encoding is canonical, so a
 * message cannot mean two things. Configurations get the same treatment. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cn_buf.h"
#include "lib/cn_err.h"
#include "raft/raft.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_msg(const uint8_t *data, size_t size)
{
    struct raft_buf *frame = raft_buf_copy(data, size);
    struct raft_msg m;
    int rc = raft_msg_decode(frame->data, size, frame, &m);
    if (rc != 0) {
        if (rc != CN_ECORRUPT) abort();
        raft_buf_unref(frame);
        return;
    }
    uint64_t sum = 0;
    if (m.type == RAFT_MSG_APPEND)
        for (uint32_t i = 0; i < m.append.n_entries; i++)
            for (uint32_t k = 0; k < m.append.entries[i].len; k++)
                sum += m.append.entries[i].data[k];
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    raft_msg_encode(&m, &b);
    if (b.len != size || memcmp(b.data, data, size) != 0) abort();
    struct raft_msg m2;
    if (raft_msg_decode(b.data, b.len, NULL, &m2) != 0) abort();
    if (m2.type != m.type || m2.term != m.term || m2.from != m.from) abort();
    raft_msg_release(&m2);
    raft_msg_release(&m);
    cn_buf_release(&b);
    raft_buf_unref(frame);
    (void)sum;
}

static void check_conf(const uint8_t *data, size_t size)
{
    struct raft_config c;
    if (raft_config_decode(data, size, &c) != 0) return;
    struct cn_buf b;
    cn_buf_init(&b, CN_BUF_UNLIMITED);
    raft_config_encode(&c, &b);
    if (b.len != size || memcmp(b.data, data, size) != 0) abort();
    cn_buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size heap copy, so any overread is caught. */
    uint8_t *copy = malloc(size ? size : 1);
    if (size) memcpy(copy, data, size);
    check_msg(copy, size);
    check_conf(copy, size);
    free(copy);
    return 0;
}
