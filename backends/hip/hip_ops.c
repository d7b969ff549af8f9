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

#define FAM(f, on) {#f, on ? hip_supports_##f : NULL, on ? hip_run_##f : NULL}
#ifndef SC_HIP_HAVE_FAMILY_eltwise
#define SC_HIP_HAVE_FAMILY_eltwise 0
bool hip_supports_eltwise(hip_dev *d, const sc_tensor *n) { (void)d; (void)n; return false; }
int hip_run_eltwise(hip_stream *s, const sc_tensor *n) { (void)s; (void)n; return SC_ENOTSUP; }
#endif
#ifndef SC_HIP_HAVE_FAMILY_norm
#define SC_HIP_HAVE_FAMILY_norm 0
bool hip_supports_norm(hip_dev *d, const sc_tensor *n) { (void)d; (void)n; return false; }
int hip_run_norm(hip_stream *s, const sc_tensor *n) { (void)s; (void)n; return SC_ENOTSUP; }
#endif
#ifndef SC_HIP_HAVE_FAMILY_select
#define SC_HIP_HAVE_FAMILY_select 0
bool hip_supports_select(hip_dev *d, const sc_tensor *n) { (void)d; (void)n; return false; }
int hip_run_select(hip_stream *s, const sc_tensor *n) { (void)s; (void)n; return SC_ENOTSUP; }
#endif
#ifndef SC_HIP_HAVE_FAMILY_matmul
#define SC_HIP_HAVE_FAMILY_matmul 0
bool hip_supports_matmul(hip_dev *d, const sc_tensor *n) { (void)d; (void)n; return false; }
int hip_run_matmul(hip_stream *s, const sc_tensor *n) { (void)s; (void)n; return SC_ENOTSUP; }
#endif
#ifndef SC_HIP_HAVE_FAMILY_attn
#define SC_HIP_HAVE_FAMILY_attn 0
bool hip_supports_attn(hip_dev *d, const sc_tensor *n) { (void)d; (void)n; return false; }
int hip_run_attn(hip_stream *s, const sc_tensor *n) { (void)s; (void)n; return SC_ENOTSUP; }
#endif

static const hip_family families[SC_FAM_COUNT] = {
    FAM(eltwise, SC_HIP_HAVE_FAMILY_eltwise), FAM(norm, SC_HIP_HAVE_FAMILY_norm),
    FAM(select, SC_HIP_HAVE_FAMILY_select),   FAM(matmul, SC_HIP_HAVE_FAMILY_matmul),
    FAM(attn, SC_HIP_HAVE_FAMILY_attn),
};


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
