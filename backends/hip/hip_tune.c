/*
 * backends/hip/hip_tune.c - kernel tuning on HIP (sc_backend_iface.tune_query
 * / tune_set, ABI minor 3): the device's table of choices
 * (backends/common/sc_tune_table.h, hip_dev.tune) and the routing of nodes to
 * the families that have tunable ops:
 *
 *   MUL_MAT, MUL_MAT_ID   hip_op_matmul.c   keys "mm.<w>:..." / "mmid.<w>:..."
 *   ATTENTION             hip_op_attn.c     keys "attn.<k>.<v>:..."
 *
 * Each family builds a node's key, lists the variants valid for that node
 * and, at dispatch, runs the table's choice when it is valid for the node
 * (else its default); docs/hip.md "Tuning" lists keys and variants. While
 * the table is empty the families build no key (hip_tune_active). The
 * families' env knobs (STRIXCORE_HIP_MATMUL, STRIXCORE_HIP_ATTN,
 * STRIXCORE_HIP_ATTN_SPLITS) win over the table: a forced path makes the
 * family's nodes untunable (SC_ENOTSUP) and the table is not consulted.
 * Graph mode (hip_stream.c) never replays a list recorded under another
 * table generation.
 */
#include <stdlib.h>
#include <string.h>

#include "hip_device.h"

static bool fam_matmul(const char *key) { return !strncmp(key, "mm.", 3) || !strncmp(key, "mmid.", 5); }
static bool fam_attn(const char *key) { return !strncmp(key, "attn.", 5); }

int hip_tune_query(hip_dev *d, const sc_tensor *node, sc_tune_info *info) {
    if (!d || !node || !info) return SC_EINVAL;
    if (info->struct_size < sizeof(sc_tune_info)) return SC_ENOTSUP; /* the helpers fill the whole struct */
    if (!hip_ops_supports(d, node)) return SC_ENOTSUP;
    switch (node->op) {
#ifdef SC_HIP_HAVE_FAMILY_matmul
    case SC_OP_MUL_MAT:
    case SC_OP_MUL_MAT_ID: return hip_tune_query_matmul(d, node, info);
#endif
#ifdef SC_HIP_HAVE_FAMILY_attn
    case SC_OP_ATTENTION: return hip_tune_query_attn(d, node, info);
#endif
    default: return SC_ENOTSUP;
    }
}

int hip_tune_set(hip_dev *d, const char *key, const char *variant) {
    if (!d || !key || !*key) return SC_EINVAL;
    if (variant) {
        bool known = false;
#ifdef SC_HIP_HAVE_FAMILY_matmul
        if (fam_matmul(key)) known = hip_tune_known_matmul(key, variant);
#endif
#ifdef SC_HIP_HAVE_FAMILY_attn
        if (fam_attn(key)) known = hip_tune_known_attn(key, variant);
#endif
        (void)fam_matmul;
        (void)fam_attn;
        if (!known) return SC_ENOENT;
    }
    return sc_tune_table_set(&d->tune, key, variant);
}

bool hip_tune_active(hip_dev *d) {
    pthread_mutex_lock(&d->tune.mu);
    const bool on = d->tune.count > 0;
    pthread_mutex_unlock(&d->tune.mu);
    return on;
}

bool hip_tune_get(hip_dev *d, const char *key, char *variant) { return sc_tune_table_get(&d->tune, key, variant); }

uint64_t hip_tune_generation(hip_dev *d) { return sc_tune_table_generation(&d->tune); }

void hip_tune_note(const char *key, const char *variant, bool chosen, const char *kernel) {
    static int on = -1; /* a benign race: every thread computes the same value */
    if (on < 0) {
        const char *e = getenv("STRIXCORE_HIP_TUNE_LOG");
        on = e && *e && strcmp(e, "0") != 0;
    }
    if (on) HIP_LOG(SC_LOG_INFO, "tune %s: %s%s -> %s", key, variant, chosen ? "" : " (default)", kernel);
}
