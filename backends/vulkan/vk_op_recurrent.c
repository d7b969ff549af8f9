/*
 * backends/vulkan/vk_op_recurrent.c - the recurrent ops of Gated DeltaNet
 * (Qwen3-Next linear attention) layers: SSM_CONV and GATED_DELTA_NET
 * (docs/ops.md; the reference is backends/cpu/ref_recurrent.c).
 *
 * Both keep a fixed-size state per sequence slot and update it IN PLACE: the
 * node's output is another tensor, so vk_graph.c counts the state source
 * (src[2] of SSM_CONV, src[3] of GATED_DELTA_NET) as written when it places
 * barriers. Neither op takes part in any fusion.
 *
 * The tokens of one sequence form one run of consecutive entries of seq; runs
 * are of distinct slots and independent, so the shaders work per run: the
 * grid's y is the token, and only the workgroups (invocations) whose token
 * starts a run (t == 0 or seq[t-1] != seq[t]) do anything. A decode step of
 * n sequences is n runs of one token; a prefill of one sequence is one run
 * that the other rows of the grid skip at once.
 *
 * SSM_CONV (shaders/ssm_conv.comp), x f32 [Cg, G, T] -> f32 [C, T]: one
 * invocation per (channel, run), the KC-1 previous inputs in registers (KC a
 * specialization constant).
 *
 * GATED_DELTA_NET (shaders/gated_delta_net.comp), -> f32 [dv, nv, T]: one
 * workgroup per (value head, block of CB columns of S, run); each column of
 * S is split over RP invocations of NR = ceil(dk / RP) rows held in
 * registers for the whole run. Qwen3-Next-80B (dk = dv = 128, nv = 32):
 * CB = 32, RP = 4, NR = 32, 128 invocations; a decode step of one sequence
 * is 32 heads x 4 blocks = 128 workgroups, each reading and writing its 16 KiB
 * of state once.
 *
 * Range errors (seq outside the state's slots, pos < 0) are flagged through
 * vk_rec_error_addr() (graph_compute returns SC_ERANGE); a run of an
 * out-of-range slot is skipped.
 *
 * Test knob: STRIXCORE_VK_GDN=cb=<columns>,rp=<parts> (powers of two, cb * rp
 * within the device's workgroup limit) forces GATED_DELTA_NET's split, to put
 * the cases through other shapes of the kernel (e.g. cb=8,rp=16 or cb=64,rp=1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_util.h"

#define VK_SSM_CONV_WG 64   /* invocations (channels) per workgroup: 8192 channels -> 128 workgroups */
#define VK_SSM_CONV_MAX_KC 16
#define VK_GDN_MAX_D 256    /* dk, dv bound (the op's) */
#define VK_GDN_WG 128       /* invocations per workgroup, when dk allows */
#define VK_GDN_MAX_CB 32    /* columns per workgroup */
#define VK_GDN_MAX_NR 32    /* rows of S per invocation (registers) before RP grows */

/* ---- push constants (std430 blocks of the shaders; 8-byte fields first) ------------- */
typedef struct ssm_conv_push {
    uint64_t x, w, state, seq, pos, y, err;
    uint32_t x_nb1, x_nb2; /* elements */
    uint32_t Cg, G, T, NS;
    uint32_t t_base;
} ssm_conv_push;

typedef struct gdn_push {
    uint64_t qkv, ba, ad, state, seq, pos, o, err;
    uint32_t qkv_nb1, ba_nb1; /* elements */
    uint32_t dk, dv, nv, nk, T, NS;
    uint32_t t_base;
    float eps;
} gdn_push;

_Static_assert(sizeof(ssm_conv_push) <= 128, "push constants over the guaranteed 128 bytes");
_Static_assert(sizeof(gdn_push) <= 128, "push constants over the guaranteed 128 bytes");

/* ---- shape checks ------------------------------------------------------------------- */

/* f32 with contiguous rows, 4-byte aligned, every stride a whole number of
 * elements that fits the shaders' u32 fields */
static bool f32_rows(const sc_tensor *t) {
    if (!vk_shape_ok(t) || t->type != SC_TYPE_F32 || t->nb[0] != sizeof(float) || vk_addr(t) % sizeof(float))
        return false;
    for (int d = 1; d < SC_MAX_DIMS; d++)
        if (t->nb[d] % sizeof(float) != 0 || !vk_fits_u32((int64_t)(t->nb[d] / sizeof(float)))) return false;
    return true;
}

/* seq / pos: 4-byte aligned */
static bool i32_aligned(const sc_tensor *t) { return vk_addr(t) % sizeof(int32_t) == 0; }

/* The shapes (sc_tensor_checks.h), then this backend's limits: aligned
 * operands, u32 strides and index arithmetic, the grid. */
static bool supports_ssm_conv(const sc_tensor *node) {
    if (!sc_chk_ssm_conv_shape(node)) return false;
    const sc_tensor *x = node->src[0], *w = node->src[1], *st = node->src[2];
    if (!f32_rows(x) || !f32_rows(w) || !f32_rows(st) || !f32_rows(node)) return false;
    if (!i32_aligned(node->src[3]) || !i32_aligned(node->src[4])) return false;
    const int64_t C = x->ne[0] * x->ne[1], T = x->ne[2], Kc = w->ne[0];
    if (Kc > VK_SSM_CONV_MAX_KC) return false;
    /* u32 index arithmetic in the shader: channels x taps, slots; the grid's x */
    return vk_fits_u32(C * Kc) && vk_fits_u32(T) && vk_fits_u32(st->ne[2]) &&
           (C + VK_SSM_CONV_WG - 1) / VK_SSM_CONV_WG <= VK_GRID_MAX;
}

/* GATED_DELTA_NET's launch shape: CB columns x RP parts (powers of two), NR rows each */
typedef struct gdn_shape {
    uint32_t cb, rp, nr, wg;
} gdn_shape;

static uint32_t pow2_ceil(uint32_t v) {
    uint32_t p = 1;
    while (p < v) p *= 2;
    return p;
}

static bool gdn_pick(const vk_caps *c, uint32_t dk, uint32_t dv, gdn_shape *out) {
    const uint32_t lim = vk_floor_pow2(c->max_workgroup_size ? c->max_workgroup_size : 128u);
    uint32_t cb = pow2_ceil(dv) < VK_GDN_MAX_CB ? pow2_ceil(dv) : VK_GDN_MAX_CB;
    uint32_t rp = VK_GDN_WG / cb;
    const uint32_t rp_regs = pow2_ceil((dk + VK_GDN_MAX_NR - 1) / VK_GDN_MAX_NR); /* NR <= 32 */
    if (rp < rp_regs) rp = rp_regs;
    if (rp > pow2_ceil(dk)) rp = pow2_ceil(dk); /* no part without rows */
    const char *env = getenv("STRIXCORE_VK_GDN");
    if (env && *env) {
        unsigned ecb = 0, erp = 0;
        if (sscanf(env, "cb=%u,rp=%u", &ecb, &erp) == 2 && ecb >= 1 && erp >= 1 && !(ecb & (ecb - 1)) &&
            !(erp & (erp - 1)) && ecb <= 1024 && erp <= 1024) {
            cb = ecb;
            rp = erp;
        }
    }
    while (cb * rp > lim && rp > 1) rp /= 2; /* a small device: more rows per invocation */
    while (cb * rp > lim && cb > 1) cb /= 2;
    out->cb = cb;
    out->rp = rp;
    out->nr = (dk + rp - 1) / rp;
    out->wg = cb * rp;
    /* shared memory: q_g, k_g (NR * RP each) and two WG-float arrays */
    const uint64_t shared = (2ull * out->nr * out->rp + 2ull * out->wg) * sizeof(float);
    return out->nr <= VK_GDN_MAX_D && (!c->max_shared_bytes || shared <= c->max_shared_bytes);
}

static bool supports_gated_delta_net(vk_dev *d, const sc_tensor *node) {
    const vk_caps *caps = vk_dev_caps(d);
    if (!caps || caps->max_push_constants < sizeof(gdn_push)) return false;
    if (!sc_chk_gated_delta_net_shape(node, VK_GDN_MAX_D)) return false;
    const sc_tensor *qkv = node->src[0], *ba = node->src[1], *ad = node->src[2], *st = node->src[3];
    if (!f32_rows(qkv) || !f32_rows(ba) || !f32_rows(ad) || !f32_rows(st) || !f32_rows(node)) return false;
    if (!i32_aligned(node->src[4]) || !i32_aligned(node->src[5])) return false;
    const int64_t dv = st->ne[0], dk = st->ne[1], nv = st->ne[2], T = qkv->ne[1];
    gdn_shape sh;
    if (!gdn_pick(caps, (uint32_t)dk, (uint32_t)dv, &sh)) return false;
    const int64_t ncb = (dv + sh.cb - 1) / sh.cb;
    return vk_fits_u32(T) && vk_fits_u32(st->ne[3]) && vk_fits_u32(qkv->ne[0]) && nv * ncb <= VK_GRID_MAX;
}

bool vk_supports_recurrent(vk_dev *d, const sc_tensor *node) {
    if (!d || !node) return false;
    switch (node->op) {
    case SC_OP_SSM_CONV: return supports_ssm_conv(node);
    case SC_OP_GATED_DELTA_NET: return supports_gated_delta_net(d, node);
    default: return false;
    }
}

/* ---- recording ---------------------------------------------------------------------- */

/* One dispatch per 65535 tokens (grid y); the pieces are independent: each
 * run is walked by the workgroup of its first token, whichever piece that is. */
static int dispatch_tokens(vk_rec *r, vk_pipeline *p, void *pc, uint32_t pc_size, uint32_t *t_base, uint32_t gx,
                           int64_t T) {
    int rc = SC_OK;
    for (int64_t t0 = 0; t0 < T && rc == SC_OK; t0 += VK_GRID_MAX) {
        const int64_t n = T - t0 < VK_GRID_MAX ? T - t0 : VK_GRID_MAX;
        *t_base = (uint32_t)t0;
        if (t0 > 0) vk_rec_independent(r);
        rc = vk_dispatch(r, p, pc, pc_size, gx, (uint32_t)n, 1);
    }
    return rc;
}

static int record_ssm_conv(vk_rec *r, const sc_tensor *node) {
    const sc_tensor *x = node->src[0], *w = node->src[1], *st = node->src[2];
    const int64_t C = x->ne[0] * x->ne[1], T = x->ne[2];
    const uint32_t spec[4] = {VK_SSM_CONV_WG, 1, 1, (uint32_t)w->ne[0]};
    vk_pipeline *p = vk_pipeline_get(vk_rec_dev(r), "ssm_conv", sizeof(ssm_conv_push), spec, 4, 0);
    if (!p) return SC_EBACKEND;
    ssm_conv_push pc = {
        .x = vk_addr(x), .w = vk_addr(w), .state = vk_addr(st), .seq = vk_addr(node->src[3]),
        .pos = vk_addr(node->src[4]), .y = vk_addr(node), .err = vk_rec_error_addr(r),
        .x_nb1 = (uint32_t)(x->nb[1] / sizeof(float)), .x_nb2 = (uint32_t)(x->nb[2] / sizeof(float)),
        .Cg = (uint32_t)x->ne[0], .G = (uint32_t)x->ne[1], .T = (uint32_t)T, .NS = (uint32_t)st->ne[2],
    };
    const uint32_t gx = (uint32_t)((C + VK_SSM_CONV_WG - 1) / VK_SSM_CONV_WG);
    return dispatch_tokens(r, p, &pc, sizeof pc, &pc.t_base, gx, T);
}

static int record_gated_delta_net(vk_rec *r, const sc_tensor *node) {
    const sc_tensor *qkv = node->src[0], *ba = node->src[1], *ad = node->src[2], *st = node->src[3];
    vk_dev *d = vk_rec_dev(r);
    const vk_caps *c = vk_dev_caps(d);
    const uint32_t dv = (uint32_t)st->ne[0], dk = (uint32_t)st->ne[1], nv = (uint32_t)st->ne[2];
    const int64_t T = qkv->ne[1];
    gdn_shape sh;
    if (!gdn_pick(c, dk, dv, &sh)) return SC_ENOTSUP;
    /* the subgroup reduction of norm_reduce.glsl needs SG | WG */
    const uint32_t sg = c->subgroup_size;
    const bool use_sg = c->subgroup_arithmetic && sg >= 1 && !(sg & (sg - 1)) && sg <= sh.wg;
    const uint32_t spec[7] = {sh.wg, 1, 1, use_sg ? sg : 1u, sh.cb, sh.rp, sh.nr};
    vk_pipeline *p = vk_pipeline_get(d, use_sg ? "gated_delta_net" : "gated_delta_net_nosg", sizeof(gdn_push), spec,
                                     7, 0);
    if (!p) return SC_EBACKEND;
    gdn_push pc = {
        .qkv = vk_addr(qkv), .ba = vk_addr(ba), .ad = vk_addr(ad), .state = vk_addr(st),
        .seq = vk_addr(node->src[4]), .pos = vk_addr(node->src[5]), .o = vk_addr(node), .err = vk_rec_error_addr(r),
        .qkv_nb1 = (uint32_t)(qkv->nb[1] / sizeof(float)), .ba_nb1 = (uint32_t)(ba->nb[1] / sizeof(float)),
        .dk = dk, .dv = dv, .nv = nv, .nk = (uint32_t)sc_op_param_i32(node, 0), .T = (uint32_t)T,
        .NS = (uint32_t)st->ne[3], .eps = sc_op_param_f32(node, 1),
    };
    const uint32_t gx = nv * ((dv + sh.cb - 1) / sh.cb);
    return dispatch_tokens(r, p, &pc, sizeof pc, &pc.t_base, gx, T);
}

int vk_record_recurrent(vk_rec *r, const sc_tensor *node) {
    switch (node->op) {
    case SC_OP_SSM_CONV: return record_ssm_conv(r, node);
    case SC_OP_GATED_DELTA_NET: return record_gated_delta_net(r, node);
    default: return SC_ENOTSUP;
    }
}
