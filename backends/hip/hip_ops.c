/*
 * backends/hip/hip_ops.c - which op family handles which op.
 *
 * Families land independently: CMakeLists.txt defines
 * SC_HIP_HAVE_FAMILY_<family>=1 for every hip_op_<family>.c present; an op
 * whose family is absent is unsupported (the scheduler runs it on the CPU,
 * backend-ops reports "not supported").
 */
#include <stdio.h>

#include "sc_tensor_checks.h"
#include "hip_internal.h"

typedef struct hip_family {
    const char *name;
    bool (*supports)(hip_dev *d, const sc_tensor *node);
    int (*run)(hip_stream *s, const sc_tensor *node);
} hip_family;

/* a family whose hip_op_<family>.c is absent has no functions: NULL */
#define FAM_ON(f) {#f, hip_supports_##f, hip_run_##f}
#define FAM_OFF(f) {#f, NULL, NULL}
#ifdef SC_HIP_HAVE_FAMILY_eltwise
#define FAM_ELTWISE FAM_ON(eltwise)
#else
#define FAM_ELTWISE FAM_OFF(eltwise)
#endif
#ifdef SC_HIP_HAVE_FAMILY_norm
#define FAM_NORM FAM_ON(norm)
#else
#define FAM_NORM FAM_OFF(norm)
#endif
#ifdef SC_HIP_HAVE_FAMILY_select
#define FAM_SELECT FAM_ON(select)
#else
#define FAM_SELECT FAM_OFF(select)
#endif
#ifdef SC_HIP_HAVE_FAMILY_matmul
#define FAM_MATMUL FAM_ON(matmul)
#else
#define FAM_MATMUL FAM_OFF(matmul)
#endif
#ifdef SC_HIP_HAVE_FAMILY_attn
#define FAM_ATTN FAM_ON(attn)
#else
#define FAM_ATTN FAM_OFF(attn)
#endif
#ifdef SC_HIP_HAVE_FAMILY_recurrent
#define FAM_RECURRENT FAM_ON(recurrent)
#else
#define FAM_RECURRENT FAM_OFF(recurrent)
#endif

static const hip_family families[SC_FAM_COUNT] = {FAM_ELTWISE, FAM_NORM,  FAM_SELECT,
                                                  FAM_MATMUL,  FAM_ATTN, FAM_RECURRENT};


bool hip_ops_supports(hip_dev *d, const sc_tensor *node) {
    int f = sc_chk_op_family(node->op);
    if (f < 0 || !families[f].supports) return false;
    return families[f].supports(d, node);
}

int hip_ops_run(hip_stream *s, const sc_tensor *node) {
    int f = sc_chk_op_family(node->op);
    if (f < 0 || !families[f].run) return SC_ENOTSUP;
    return families[f].run(s, node);
}

const char *hip_ops_families(void) {
    static char buf[96];
    size_t o = 0;
    buf[0] = '\0';
    for (int f = 0; f < SC_FAM_COUNT; f++) {
        if (!families[f].supports) continue;
        int n = snprintf(buf + o, sizeof(buf) - o, "%s%s", o ? ", " : "", families[f].name);
        if (n > 0 && (size_t)n < sizeof(buf) - o) o += (size_t)n;
    }
    return o ? buf : "none";
}
