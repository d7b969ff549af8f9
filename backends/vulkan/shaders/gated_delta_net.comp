#version 450
// backends/vulkan/shaders/gated_delta_net.comp - GATED_DELTA_NET: the gated
// delta rule of a Gated DeltaNet layer in its recurrent form, state updated
// in place (docs/ops.md, backends/cpu/ref_recurrent.c
// sc__cpu_ref_gated_delta_net).
//
//   qkv   f32 [nk*(2*dk + r*dv), T]  rows contiguous (qkv_nb1 in elements); per key group g:
//                                   [q_g (dk) | k_g (dk) | v of heads g*r .. g*r+r-1 (r*dv)]
//   ba    f32 [2*nv, T]              rows contiguous (ba_nb1); per group [b of its r heads | a of them]
//   ad    f32 [nv, 2]                row 0 A_log, row 1 dt_bias
//   state f32 [dv, dk, nv, NS]       contiguous: S[s][h][i][j]
//   seq, pos i32 [T]
//   o     f32 [dv, nv, T]            contiguous
//
// Every column j of S evolves on its own: with k, q normalised, per token
//   S[:, j] *= decay;  kv_j = S[:, j] . k;  S[:, j] += k * (v_j - kv_j) * beta;  o_j = S[:, j] . q
// so a workgroup takes CB columns of one value head h, and each column is
// split over RP invocations of NR = ceil(dk / RP) rows each (rows
// part*NR .. part*NR+NR-1), held in registers for the whole run. Invocation
// tid = jl + CB * part: adjacent invocations read adjacent columns of a row of
// S (coalesced). The two dot products per token are summed over the RP parts
// through shared memory, in the same order by every invocation of a column.
//
// Grid: x = column block + NCB * h (NCB = ceil(dv / CB)), y = token
// (t_base + y). Only workgroups whose token starts a run (t == 0 or
// seq[t-1] != seq[t]) work: they load the slot's S (zeros when the run starts
// at position 0), walk the run's tokens in order, and store S back at its
// end. Runs are of distinct slots (the op's contract), so workgroups never
// share state. Per token the workgroup stages q_g and k_g in shared memory and
// reduces their squared norms (norm_reduce.glsl wg_sum), then every
// invocation computes beta and the decay itself (uniform values).
//
// Range errors (seq outside [0, NS), pos < 0) set the error flag; a run of an
// out-of-range slot is skipped whole.
//
// Specialization constants (vk_op_recurrent.c): 0 WG = CB * RP (a power of
// two), 3 SG (norm_reduce.glsl), 4 CB, 5 RP, 6 NR.
#include "common.glsl"
#include "norm_reduce.glsl"

layout(constant_id = 4) const uint CB = 32; // columns per workgroup
layout(constant_id = 5) const uint RP = 4;  // invocations per column
layout(constant_id = 6) const uint NR = 32; // rows per invocation: ceil(dk / RP)

layout(push_constant, std430) uniform PC {
    uint64_t qkv, ba, ad, state, seq, pos, o, err;
    uint qkv_nb1, ba_nb1; // elements
    uint dk, dv, nv, nk, T, NS;
    uint t_base;
    float eps;
} pc;

shared float sh_q[NR * RP], sh_k[NR * RP]; // q_g, k_g of the token (zero beyond dk)
shared float red_p[WG];                    // per-part partial dot products, [RP][CB]

// log(1 + u) for u >= 0, accurate for small u (GLSL has no log1p): the
// rounding error of 1 + u is divided back out
float log1p_pos(float u) {
    const float w = 1.0 + u;
    return w == 1.0 ? u : log(w) * (u / (w - 1.0));
}

// softplus with the usual threshold of 20 (the reference's)
float softplus(float v) { return v > 20.0 ? v : log1p_pos(exp(v)); }

// sum over the RP parts of column jl, the same order in every invocation
float parts_sum(uint jl) {
    float s = 0.0;
    for (uint p = 0; p < RP; p++) s += red_p[p * CB + jl];
    return s;
}

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint jl = tid % CB, part = tid / CB;
    const uint NCB = (pc.dv + CB - 1) / CB;
    const uint h = gl_WorkGroupID.x / NCB, j = (gl_WorkGroupID.x % NCB) * CB + jl;
    const uint t0 = pc.t_base + gl_WorkGroupID.y;
    if (h >= pc.nv || t0 >= pc.T) return; // uniform over the workgroup
    I32Buf SEQ = I32Buf(pc.seq);
    I32Buf POS = I32Buf(pc.pos);
    const int s = SEQ.v[t0];
    if (t0 > 0 && SEQ.v[t0 - 1] == s) return; // not a run's first token
    if (s < 0 || uint(s) >= pc.NS) {
        if (tid == 0 && gl_WorkGroupID.x == 0) atomicOr(ErrBuf(pc.err).flag, ERR_RANGE);
        return;
    }
    const bool fresh = POS.v[t0] == 0;
    const bool jok = j < pc.dv;
    const uint r = pc.nv / pc.nk, g = h / r, hr = h % r;
    const uint grp = 2 * pc.dk + r * pc.dv;

    // this invocation's part of column j of S[s][h]: rows i0 .. i0 + NR - 1
    F32Buf S = F32Buf(pc.state + 4ul * (uint64_t(uint(s)) * pc.nv + h) * pc.dk * pc.dv);
    const uint i0 = part * NR;
    float st[NR];
    for (uint m = 0; m < NR; m++) {
        const uint i = i0 + m;
        st[m] = (!fresh && jok && i < pc.dk) ? S.v[i * pc.dv + j] : 0.0;
    }
    F32Buf AD = F32Buf(pc.ad);
    const float a_exp = exp(AD.v[h]), dt_bias = AD.v[pc.nv + h];
    const float sqrt_dk = sqrt(float(pc.dk));

    // hot loop: the run's tokens in order
    for (uint t = t0; t < pc.T && SEQ.v[t] == s; t++) {
        if (POS.v[t] < 0 && tid == 0 && gl_WorkGroupID.x == 0) atomicOr(ErrBuf(pc.err).flag, ERR_RANGE);
        const uint64_t row = pc.qkv + 4ul * (uint64_t(t) * pc.qkv_nb1 + uint64_t(g) * grp);
        F32Buf Q = F32Buf(row);
        F32Buf K = F32Buf(row + 4ul * pc.dk);
        const float vj = jok ? F32Buf(row + 4ul * (2 * pc.dk + hr * pc.dv)).v[j] : 0.0;
        F32Buf BA = F32Buf(pc.ba + 4ul * uint64_t(t) * pc.ba_nb1);
        const float b = BA.v[g * 2 * r + hr], a = BA.v[g * 2 * r + r + hr];

        barrier(); // the previous token's reads of sh_q, sh_k, red_p are done
        float qq = 0.0, kk = 0.0;
        for (uint i = tid; i < NR * RP; i += WG) {
            const float qv = i < pc.dk ? Q.v[i] : 0.0, kv = i < pc.dk ? K.v[i] : 0.0;
            sh_q[i] = qv;
            sh_k[i] = kv;
            qq += qv * qv;
            kk += kv * kv;
        }
        qq = wg_sum(qq); // its barriers also publish sh_q, sh_k
        kk = wg_sum(kk);
        const float qs = 1.0 / sqrt(qq + pc.eps) / sqrt_dk, ks = 1.0 / sqrt(kk + pc.eps);
        const float beta = 1.0 / (1.0 + exp(-b));
        const float decay = exp(-a_exp * softplus(a + dt_bias));

        // S *= decay; kv = S^T k
        float acc = 0.0;
        for (uint m = 0; m < NR; m++) {
            st[m] *= decay;
            acc += st[m] * (sh_k[i0 + m] * ks);
        }
        red_p[tid] = acc;
        barrier();
        const float delta = (vj - parts_sum(jl)) * beta;

        // S += k delta^T; o = S^T q
        acc = 0.0;
        for (uint m = 0; m < NR; m++) {
            st[m] += (sh_k[i0 + m] * ks) * delta;
            acc += st[m] * (sh_q[i0 + m] * qs);
        }
        barrier(); // every column's kv sum is read
        red_p[tid] = acc;
        barrier();
        if (part == 0 && jok) F32Buf(pc.o + 4ul * (uint64_t(t) * pc.nv + h) * pc.dv).v[j] = parts_sum(jl);
    }

    for (uint m = 0; m < NR; m++) {
        const uint i = i0 + m;
        if (jok && i < pc.dk) S.v[i * pc.dv + j] = st[m];
    }
}
