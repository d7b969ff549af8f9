/*
 * backends/vulkan/vk_ops.c - which op family handles which op.
 *
 * Families land independently: CMakeLists.txt defines
 * SC_VK_HAVE_FAMILY_<family>=1 for every vk_op_<family>.c present, and an
 * op whose family file is absent is simply unsupported (the scheduler runs
 * it elsewhere; backend-ops reports "not supported").
 */
#include <stdio.h>

#include "sc_tensor_checks.h"
#include "vk_infra.h"

typedef bool (*vk_supports_fn)(vk_dev *d, const sc_tensor *node);
typedef int (*vk_record_fn)(vk_rec *r, const sc_tensor *node);

typedef struct vk_family {
    const char *name;
    vk_supports_fn supports;
    vk_record_fn record;
} vk_family;

#ifdef SC_VK_HAVE_FAMILY_eltwise
#define FAM_ELTWISE {"eltwise", vk_supports_eltwise, vk_record_eltwise}
#else
#define FAM_ELTWISE {"eltwise", NULL, NULL}
#endif
#ifdef SC_VK_HAVE_FAMILY_norm
#define FAM_NORM {"norm", vk_supports_norm, vk_record_norm}
#else
#define FAM_NORM {"norm", NULL, NULL}
#endif
#ifdef SC_VK_HAVE_FAMILY_select
#define FAM_SELECT {"select", vk_supports_select, vk_record_select}
#else
#define FAM_SELECT {"select", NULL, NULL}
#endif
#ifdef SC_VK_HAVE_FAMILY_matmul
#define FAM_MATMUL {"matmul", vk_supports_matmul, vk_record_matmul}
#else
#define FAM_MATMUL {"matmul", NULL, NULL}
#endif
#ifdef SC_VK_HAVE_FAMILY_attn
#define FAM_ATTN {"attn", vk_supports_attn, vk_record_attn}
#else
#define FAM_ATTN {"attn", NULL, NULL}
#endif
#ifdef SC_VK_HAVE_FAMILY_recurrent
#define FAM_RECURRENT {"recurrent", vk_supports_recurrent, vk_record_recurrent}
#else
#define FAM_RECURRENT {"recurrent", NULL, NULL}
#endif

static const vk_family families[SC_FAM_COUNT] = {FAM_ELTWISE, FAM_NORM,  FAM_SELECT,
                                                 FAM_MATMUL,  FAM_ATTN, FAM_RECURRENT};


bool vk_ops_supports(vk_dev *d, const sc_tensor *node) {
    int f = sc_chk_op_family(node->op);
    if (f < 0 || !families[f].supports) return false;
    return families[f].supports(d, node);
}

int vk_ops_record(vk_rec *r, const sc_tensor *node) {
    int f = sc_chk_op_family(node->op);
    if (f < 0 || !families[f].record) return SC_ENOTSUP;
    return families[f].record(r, node);
}

const char *vk_ops_families(void) {
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
