/*
 * backends/hip/hip_op_recurrent.c - the recurrent family: SSM_CONV and
 * GATED_DELTA_NET, the Gated DeltaNet (Qwen3-Next linear attention) ops
 * (kernels/recurrent.hip, arguments kernels/recurrent.h; the CPU reference
 * is backends/cpu/ref_recurrent.c).
 *
 *   SSM_CONV         one launch: a thread per (channel, run), the Kc-1 input
 *                    window in registers (k_ssm_conv_k4 for Kc <= 4, else
 *                    k_ssm_conv_k16)
 *   GATED_DELTA_NET  one launch: a block per (value head, 32 columns of S,
 *                    run), ceil(dk / 32) warps each holding 32 rows of
 *                    its lane's column in registers
 *
 * Both update their state source (SSM_CONV src[2], GATED_DELTA_NET src[3])
 * in place; the stream is in order, so the next node that reads the state
 * sees the update. The runs (a sequence's consecutive tokens) are found on
 * the device from seq: the grid's y is the token, and only a run's first
 * token's blocks work, so the host never reads seq or pos and a decode step
 * launches the same argument bytes every time (graph mode).
 *
 * Range errors (a slot outside the state, a negative position: the
 * reference's SC_ERANGE) are reported by the kernels in the stream's error
 * word (hip_err_word); a run with a bad slot is skipped, nothing is written
 * for it and no state outside the tensor is touched.
 *
 * Supported: exactly what the reference accepts, except strides that are not
 * a multiple of 4 bytes and sizes that do not fit the kernels' 32-bit fields;
 * the scheduler runs those on the CPU.
 */
#include "hip_internal.h"

#include "recurrent.h"
#include "sc_tensor_checks.h"

/* every dimension below 2^31: the kernels index with int32 */
static bool dims32(const sc_tensor *t) { return sc_chk_shape_ok32(t); }

/* grid y: the tokens, striding past 65535 */
static unsigned token_rows(int64_t T) { return T < (int64_t)HIP_GRID_YZ_MAX ? (unsigned)T : HIP_GRID_YZ_MAX; }

/* ---- SSM_CONV ----------------------------------------------------------------------- */

static bool supports_ssm_conv(const sc_tensor *node) {
    if (!sc_chk_ssm_conv_shape(node)) return false;
    const sc_tensor *x = node->src[0], *st = node->src[2];
    return dims32(x) && dims32(st) && dims32(node) && x->ne[0] * x->ne[1] <= INT32_MAX;
}

static int run_ssm_conv(hip_stream *s, const sc_tensor *node) {
    const sc_tensor *x = node->src[0], *w = node->src[1], *st = node->src[2];
    const int64_t C = x->ne[0] * x->ne[1], T = x->ne[2], Kc = w->ne[0];
    sc_ssm_conv_args p = {
        .x = x->data, .w = w->data, .state = st->data, .y = node->data,
        .seq = node->src[3]->data, .pos = node->src[4]->data, .err = hip_err_word(s),
        .x_nb1 = (int64_t)x->nb[1], .x_nb2 = (int64_t)x->nb[2], .y_nb1 = (int64_t)node->nb[1],
        .Cg = (int32_t)x->ne[0], .C = (int32_t)C, .Kc = (int32_t)Kc, .T = (int32_t)T,
        .n_slots = (int32_t)st->ne[2],
    };
    /* a thread per channel: whole warps, at most SC_CONV_THREADS a block */
    int64_t bx = (C + 31) / 32 * 32;
    if (bx > SC_CONV_THREADS) bx = SC_CONV_THREADS;
    const char *kernel = Kc <= 4 ? SC_CONV_KERNEL_K4 : SC_CONV_KERNEL_K16;
    return HIP_LAUNCH(s, kernel, hip_div_up(C, bx), token_rows(T), 1, bx, p);
}

/* ---- GATED_DELTA_NET ---------------------------------------------------------------- */

static bool supports_gated_delta_net(const sc_tensor *node) {
    if (!sc_chk_gated_delta_net_shape(node, SC_GDN_MAX_DK)) return false;
    const sc_tensor *st = node->src[3];
    if (!dims32(node->src[0]) || !dims32(st) || !dims32(node)) return false;
    const int64_t chunks = (st->ne[0] + SC_GDN_COLS - 1) / SC_GDN_COLS; /* dv in blocks of columns */
    return st->ne[2] * chunks <= (int64_t)HIP_GRID_X_MAX;
}

static int run_gated_delta_net(hip_stream *s, const sc_tensor *node) {
    const sc_tensor *qkv = node->src[0], *ba = node->src[1], *ad = node->src[2], *st = node->src[3];
    const int64_t dv = st->ne[0], dk = st->ne[1], nv = st->ne[2], T = qkv->ne[1];
    const int64_t nk = sc_op_param_i32(node, 0);
    /* the rows of a column in parts of SC_GDN_RPT, one warp each */
    const int64_t parts = (dk + SC_GDN_RPT - 1) / SC_GDN_RPT;
    const int64_t chunks = (dv + SC_GDN_COLS - 1) / SC_GDN_COLS;
    sc_gdn_args p = {
        .qkv = qkv->data, .ba = ba->data, .ad = ad->data, .state = st->data, .o = node->data,
        .seq = node->src[4]->data, .pos = node->src[5]->data, .err = hip_err_word(s),
        .qkv_nb1 = (int64_t)qkv->nb[1], .ba_nb1 = (int64_t)ba->nb[1],
        .o_nb1 = (int64_t)node->nb[1], .o_nb2 = (int64_t)node->nb[2],
        .dk = (int32_t)dk, .dv = (int32_t)dv, .nv = (int32_t)nv, .r = (int32_t)(nv / nk),
        .T = (int32_t)T, .n_slots = (int32_t)st->ne[3],
        .parts = (int32_t)parts, .chunks = (int32_t)chunks,
        .eps = sc_op_param_f32(node, 1),
    };
    return HIP_LAUNCH(s, SC_GDN_KERNEL, nv * chunks, token_rows(T), 1, parts * SC_GDN_COLS, p);
}

/* ---- the family's entry points ------------------------------------------------------ */

bool hip_supports_recurrent(hip_dev *d, const sc_tensor *node) {
    (void)d;
    if (!node) return false;
    switch (node->op) {
    case SC_OP_SSM_CONV: return supports_ssm_conv(node);
    case SC_OP_GATED_DELTA_NET: return supports_gated_delta_net(node);
    default: return false;
    }
}

int hip_run_recurrent(hip_stream *s, const sc_tensor *node) {
    switch (node->op) {
    case SC_OP_SSM_CONV: return run_ssm_conv(s, node);
    case SC_OP_GATED_DELTA_NET: return run_gated_delta_net(s, node);
    default: return SC_ENOTSUP;
    }
}
