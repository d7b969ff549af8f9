/*
 * backends/vulkan/vk_ops.c - which op family handles which op.
 *
 * Families land independently: CMakeLists.txt defines
 * SC_VK_HAVE_FAMILY_<family>=1 for every vk_op_<family>.c present, and an
 * op whose family file is absent is simply unsupported (the scheduler runs
 * it elsewhere; backend-ops reports "not supported").
 */
#include <stdio.h>

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

enum { F_ELTWISE, F_NORM, F_SELECT, F_MATMUL, F_ATTN, F_COUNT };

static const vk_family families[F_COUNT] = {FAM_ELTWISE, FAM_NORM, FAM_SELECT, FAM_MATMUL, FAM_ATTN};

/* The family of each op; -1: no work (NONE, VIEW) or unknown. */
static int family_of(int32_t op) {
    switch (op) {
    case SC_OP_ADD:
    case SC_OP_MUL:
    case SC_OP_SCALE:
    case SC_OP_SILU:
    case SC_OP_SWIGLU: return F_ELTWISE;
    case SC_OP_RMS_NORM:
    case SC_OP_SOFTMAX:
    case SC_OP_ROPE: return F_NORM;
    case SC_OP_GET_ROWS:
    case SC_OP_CPY:
    case SC_OP_TOP_K:
    case SC_OP_ARGMAX: return F_SELECT;
    case SC_OP_MUL_MAT:
    case SC_OP_MUL_MAT_ID: return F_MATMUL;
    case SC_OP_KV_WRITE:
    case SC_OP_ATTENTION: return F_ATTN;
    default: return -1; /* includes ops added to the ABI after this was written */
    }
}

bool vk_ops_supports(vk_dev *d, const sc_tensor *node) {
    int f = family_of(node->op);
    if (f < 0 || !families[f].supports) return false;
    return families[f].supports(d, node);
}

int vk_ops_record(vk_rec *r, const sc_tensor *node) {
    int f = family_of(node->op);
    if (f < 0 || !families[f].record) return SC_ENOTSUP;
    return families[f].record(r, node);
}

const char *vk_ops_families(void) {
    static char buf[96];
    size_t o = 0;
    buf[0] = '\0';
    for (int f = 0; f < F_COUNT; f++) {
        if (!families[f].supports) continue;
        int n = snprintf(buf + o, sizeof(buf) - o, "%s%s", o ? ", " : "", families[f].name);
        if (n > 0 && (size_t)n < sizeof(buf) - o) o += (size_t)n;
    }
    return o ? buf : "none";
}
