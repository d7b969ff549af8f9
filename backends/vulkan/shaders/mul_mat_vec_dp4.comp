#version 450
// backends/vulkan/shaders/mul_mat_vec_dp4.comp - decode GEMV for QG 4- and
// 8-bit weights on int8 activations through packed 4x8-bit dot products
// (VK_KHR_shader_integer_dot_product; host: vk_op_matmul_dp4.c).
//
//   w QG [K, N] (no g_idx, f16 or bf16 rounding, group_size % 32 == 0),
//   x as int8 blocks from quantize_q8.comp: qs [M, K/32, 32], ds vec2 [M, K/32]
//   -> y f32 [N, M]
//
// Per 32-weight block b (in group g of row n) and column m, with
// W = scale_g * (code - zero_g) (before the reference's f16 rounding) and
// x ~= d_b * xq:
//   sum_{k in b} W[k] x[k] ~= scale_g * d_b * (sum_k code_k * xq_k - zero_g * sum_k xq_k)
// The code/xq products go through OpSDot on packed bytes, 4 per instruction,
// the rest is integer until one f32 multiply-add per (block, row, column).
//  - 4-bit: a block's 32 codes are 16 bytes, one uvec4 of the row: word j
//    holds codes 8j .. 8j+7 as nibbles. (word & 0x0f0f0f0f) is codes
//    8j + 0, 2, 4, 6 as bytes 0..15 (valid signed bytes), ((word >> 4) &
//    0x0f0f0f0f) codes 8j + 1, 3, 5, 7; quantize_q8.comp stored x in that
//    order (PERM = 1): 8 dot instructions per block, no shuffles.
//  - 8-bit: 32 bytes, two uvec4: word j is codes 4j .. 4j+3. Codes 0..255 are
//    no signed bytes: word ^ 0x80808080 is code - 128 per byte, so
//    sum (code - zero) xq = sdot(word ^ 0x80808080, xq) + (128 - zero) * sum xq.
//    (OpSUDot would take the codes as they are, but the signed form is the
//    one devices report accelerated: integerDotProduct4x8BitPackedSigned.)
//
// Work split: a workgroup is BS / TL teams of TL lanes (TL = 32, or the
// subgroup size when that is larger); team t owns NR consecutive rows (2*NR
// with EPI_SWIGLU: the same rows of w and w2) for all NC (= M <= 4) columns,
// and its lanes walk the row's blocks: lane l takes blocks l, l + TL, ...,
// two per iteration with every load of both issued before the dot products,
// so each lane keeps 2 * NR 16-byte weight loads in flight. Teams never meet:
// the sums are reduced within a team by subgroupAdd when the subgroup is the
// team, else by subgroupAdd and shared memory (subgroups smaller than TL, one
// barrier). The host sizes the workgroup (4 teams of 1 row by default) so
// that a decode GEMV's grid fills a large GPU and each lane keeps two 16-byte
// loads per row in flight: on an H200, Qwen3-14B decodes ran 1.28x faster
// than with the one-team workgroups of 4-8 rows this shader had before.
//
// Epilogues (vk_fuse_gemv.c), written by lane o of the team for output o:
//   EPI_SWIGLU  y = silu(W x) * (W2 x), W2 = aux (same layout as w)
//   EPI_ADD     y = r + W x, r = aux [N, M] with r_nb1 floats between columns
// Rows past N read row N-1 and write nothing. Grid: x = workgroups (+ base_x).
//
// MUL_MAT_ID (the routed experts at decode, NC = 1): w is a stack of E
// matrices w_nb2 bytes apart, pair (slot i, token t) multiplies expert
// e = ids[i + t*ids_nb1] by int8 column i*ci + t*ct of x (ci = 0: every slot
// reads its token's column). An expert id outside [0, E) sets the error flag
// and the pair (its slot, with EPI_MOE) is left out.
//   with EPI_SWIGLU (moe_gate_up): grid z = pairs; y [N, n_used, T] at
//     i*y_nb1 + t*y_nb2 floats gets silu(W_e x) * (W2_e x); with Q8OUT also
//     y's int8 copy, at rw (unused by this epilogue).
//   EPI_MOE (moe_down): grid z = tokens; the workgroup walks the n_used slots
//     of t and folds them as the graph does (MUL by the routing weight rw
//     [n_used, T] contiguous, ADDs in slot order, then the residual aux, of
//     y's layout, when not 0): y[n, t] = r[n, t] + ((s_0 + s_1) + s_2) + ...
#extension GL_EXT_control_flow_attributes : require
#extension GL_EXT_spirv_intrinsics : require
#include "common.glsl"

// OpSDot (SPV_KHR_integer_dot_product; core in SPIR-V 1.6) on two u32 each
// holding 4 signed bytes; fmt 0 = PackedVectorFormat4x8Bit. Capabilities:
// DotProduct (6019), DotProductInput4x8BitPacked (6018). Written with
// GL_EXT_spirv_intrinsics because Debian 12's glslang lacks
// GL_EXT_integer_dot_product.
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6019, 6018], id = 4450)
int sdot4(uint a, uint b, spirv_literal int fmt);

layout(constant_id = 3) const uint QBITS = 4; // 4 or 8
layout(constant_id = 4) const uint NR = 2;    // rows per team (of each matrix)
layout(constant_id = 5) const uint NC = 1;    // columns (the host's M, <= 4)
layout(constant_id = 6) const uint TL = 32;   // lanes per team: a power of two >= the subgroup size

#ifndef MUL_MAT_ID
layout(push_constant) uniform Push {
    uint64_t w, qs, ds, y;        // w: QG slab; qs/ds: quantize_q8.comp's output; y f32 [N, M]
    uint64_t aux;                 // EPI_SWIGLU: w2 (w's layout); EPI_ADD: the residual
    uint w_nb1, N, M, nblk;       // w_nb1: bytes per row of codes; nblk = K / 32
    uint y_nb1, r_nb1, q_scales, q_zeros; // floats between columns; q_*: byte offsets in the slab
    uint G, gblk, base_x, pad_;   // G groups per row; gblk blocks per group (group_size / 32)
#ifdef Q8OUT
    uint64_t yq;                  // y's int8 copy: qs int8 [N/32, 32], then ds vec2 [N/32] (4-bit order)
#endif
} pc;
#else
layout(push_constant) uniform Push {
    uint64_t w, qs, ds, y;        // w: the stack of E slabs, w_nb2 bytes apart
    uint64_t aux, ids, rw, err;   // aux: w2 (EPI_SWIGLU) or the residual (EPI_MOE, 0: none); ids i32 [n_used, T]
    uint w_nb1, w_nb2, N, nblk;
    uint q_scales, q_zeros, G, gblk;
    uint E, n_used, ids_nb1, ci;  // int8 column of pair (i, t): i * ci + t * ct
    uint ct, y_nb1, y_nb2, base_x; // y (and the residual): floats between slots / tokens
} pc;
#endif

layout(buffer_reference, scalar, buffer_reference_align = 16) readonly buffer RU32x4 { uvec4 v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 8) readonly buffer RVec2 { vec2 v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 4) readonly buffer RF32 { float v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 4) readonly buffer RI32 { int v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 2) readonly buffer RU16 { uint16_t v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 1) readonly buffer RU8 { uint8_t v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 4) writeonly buffer WF32 { float v[]; };

#ifdef EPI_SWIGLU
const uint NMAT = 2u;
#else
const uint NMAT = 1u;
#endif
const uint BS = gl_WorkGroupSize.x;
const uint NT = BS / TL;          // teams
const uint NRT = NR * NMAT;       // register rows: row n0 + r % NR of matrix r / NR
const uint NOUT = NR * NC;        // outputs of a team
const int BIAS = QBITS == 8u ? 128 : 0; // code bytes are read as code - BIAS
shared float red[NRT * NC * BS];  // subgroups smaller than a team: their sums

float silu(float v) { return v / (1.0 + exp(-v)); } // as eltwise.comp

#ifdef Q8OUT
// EPI_SWIGLU with Q8OUT (NT * NR == 32 rows per workgroup, N % 32 == 0;
// mul_mat_vec_dp4_swiglu_q8 at M = 1, mul_mat_vec_dp4_id_swiglu_q8 per pair):
// the workgroup's 32 outputs are one int8 block of y, written for the down
// projection's GEMV (vk_rec_memo), so it needs no quantize dispatch. Same
// arithmetic as quantize_q8.comp / q8_pack; the copy's ds follow its qs.
shared float yq_sh[32];
layout(buffer_reference, scalar, buffer_reference_align = 4) writeonly buffer WU32 { uint v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 8) writeonly buffer WVec2 { vec2 v[]; };

// Block bi of the copy at yq (nq blocks in all) from yq_sh, after a barrier:
// invocations 0..7 put word w together (byte t of word w: element
// 8*(w/2) + 2t + w%2, the 4-bit order), invocation 0 also (d, sum).
void q8out_block(uint64_t yq, uint nq, uint bi, uint tid) {
    if (tid >= 8u) return;
    float amax = 0.0;
    for (uint e = 0; e < 32u; e++) amax = max(amax, abs(yq_sh[e]));
    const float id = amax > 0.0 ? 127.0 / amax : 0.0;
    const uint w = tid;
    uint word = 0u;
    [[unroll]] for (uint t = 0; t < 4u; t++) {
        const int q = int(clamp(roundEven(yq_sh[8u * (w / 2u) + 2u * t + w % 2u] * id), -127.0, 127.0));
        word |= (uint(q) & 0xffu) << (8u * t);
    }
    WU32(yq).v[bi * 8u + w] = word;
    if (tid == 0u) {
        int sum = 0;
        for (uint e = 0; e < 32u; e++) sum += int(clamp(roundEven(yq_sh[e] * id), -127.0, 127.0));
        WVec2(yq + 32u * uint64_t(nq)).v[bi] = vec2(amax / 127.0, float(sum));
    }
}
#endif

// The team's sums for NR rows from n0 of matrix m0 (and of m1, EPI_SWIGLU)
// times the NC int8 columns at qc (column c at qc + 32*c*nblk, its (d, sum)
// pairs at dc + 8*c*nblk): lane o < NOUT gets v[mi] of output o = r*NC + c.
void team_gemv(uint64_t m0, uint64_t m1, uint64_t qc, uint64_t dc, uint n0, uint team, uint lane, out float v[NMAT]) {
    uint64_t wrow[NRT], srow[NRT], zrow[NRT]; // codes, f16 scales [G], u8 zeros [G] of each row
    [[unroll]] for (uint r = 0; r < NRT; r++) {
        const uint n = min(n0 + r % NR, pc.N - 1u);
        const uint64_t m = r < NR ? m0 : m1;
        wrow[r] = m + uint64_t(n) * pc.w_nb1;
        srow[r] = m + pc.q_scales + uint64_t(n) * pc.G * 2u;
        zrow[r] = m + pc.q_zeros + uint64_t(n) * pc.G;
    }

    float acc[NRT][NC];
    [[unroll]] for (uint r = 0; r < NRT; r++)
        [[unroll]] for (uint c = 0; c < NC; c++) acc[r][c] = 0.0;

    // ---- hot loop: blocks b and b + TL of every row, loads first ----------------------
    for (uint b0 = lane; b0 < pc.nblk; b0 += 2u * TL) {
        const bool two = b0 + TL < pc.nblk; // uniform but for the last iteration
        uvec4 q[2][NRT], q2[2][NRT];        // q2: the second uvec4 of an 8-bit block
        float sc[2][NRT];
        int zb[2][NRT];
        uint xq[2][NC][8];
        vec2 xd[2][NC]; // (d, float(sum of the block's xq))
        [[unroll]] for (uint u = 0; u < 2u; u++) {
            const uint b = u == 0u ? b0 : (two ? b0 + TL : b0); // a repeat of b0 is dropped below
            const uint g = b / pc.gblk;
            [[unroll]] for (uint r = 0; r < NRT; r++) {
                if (QBITS == 4u) {
                    q[u][r] = RU32x4(wrow[r]).v[b];
                } else {
                    q[u][r] = RU32x4(wrow[r]).v[2u * b];
                    q2[u][r] = RU32x4(wrow[r]).v[2u * b + 1u];
                }
                sc[u][r] = f16_to_f32(RU16(srow[r]).v[g]);
                zb[u][r] = BIAS - int(RU8(zrow[r]).v[g]);
            }
            [[unroll]] for (uint c = 0; c < NC; c++) {
                const uint64_t qcc = qc + 32u * uint64_t(c) * pc.nblk;
                const uvec4 lo = RU32x4(qcc).v[2u * b], hi = RU32x4(qcc).v[2u * b + 1u];
                xq[u][c][0] = lo.x; xq[u][c][1] = lo.y; xq[u][c][2] = lo.z; xq[u][c][3] = lo.w;
                xq[u][c][4] = hi.x; xq[u][c][5] = hi.y; xq[u][c][6] = hi.z; xq[u][c][7] = hi.w;
                xd[u][c] = RVec2(dc + 8u * uint64_t(c) * pc.nblk).v[b];
            }
        }
        [[unroll]] for (uint u = 0; u < 2u; u++) {
            const float keep = (u == 0u || two) ? 1.0 : 0.0;
            [[unroll]] for (uint r = 0; r < NRT; r++) {
                // the block's 8 words of code bytes, in the byte order of xq
                uint cw[8];
                const uint qw[4] = uint[4](q[u][r].x, q[u][r].y, q[u][r].z, q[u][r].w);
                if (QBITS == 4u) {
                    [[unroll]] for (uint j = 0; j < 4u; j++) {
                        cw[2u * j] = qw[j] & 0x0f0f0f0fu;
                        cw[2u * j + 1u] = (qw[j] >> 4) & 0x0f0f0f0fu;
                    }
                } else {
                    const uint qv[4] = uint[4](q2[u][r].x, q2[u][r].y, q2[u][r].z, q2[u][r].w);
                    [[unroll]] for (uint j = 0; j < 4u; j++) {
                        cw[j] = qw[j] ^ 0x80808080u;
                        cw[4u + j] = qv[j] ^ 0x80808080u;
                    }
                }
                [[unroll]] for (uint c = 0; c < NC; c++) {
                    int dot = 0;
                    [[unroll]] for (uint j = 0; j < 8u; j++) dot += sdot4(cw[j], xq[u][c][j], 0);
                    // exact: |dot + zb * sum| <= 32 * 255 * 127 < 2^24
                    const int s = dot + zb[u][r] * int(xd[u][c].y);
                    acc[r][c] = fma(sc[u][r] * xd[u][c].x * keep, float(s), acc[r][c]);
                }
            }
        }
    }

    // ---- reduce within the team: lane o gets v[mi] of output o ------------------------
    [[unroll]] for (uint mi = 0; mi < NMAT; mi++) v[mi] = 0.0;
    if (gl_SubgroupSize == TL) { // uniform: the team is one subgroup
        [[unroll]] for (uint r = 0; r < NRT; r++)
            [[unroll]] for (uint c = 0; c < NC; c++) {
                const float a = subgroupAdd(acc[r][c]);
                if (lane == (r % NR) * NC + c) v[r / NR] = a;
            }
    } else { // subgroups smaller than the team (TL is a multiple of their size)
        const uint sgs = gl_SubgroupSize, nsub = TL / sgs;
        [[unroll]] for (uint r = 0; r < NRT; r++)
            [[unroll]] for (uint c = 0; c < NC; c++) {
                const float a = subgroupAdd(acc[r][c]);
                if (gl_SubgroupInvocationID == 0u) red[((r * NC + c) * NT + team) * nsub + lane / sgs] = a;
            }
        barrier();
        if (lane < NOUT) {
            [[unroll]] for (uint mi = 0; mi < NMAT; mi++) {
                const uint o = (mi * NR + lane / NC) * NC + lane % NC; // (r, c) of output `lane` in matrix mi
                float a = 0.0;
                for (uint s = 0; s < nsub; s++) a += red[(o * NT + team) * nsub + s];
                v[mi] = a;
            }
        }
        barrier(); // red is free for the next call
    }
}

#ifdef MUL_MAT_ID
void flag_range_error() { atomicOr(ErrBuf(pc.err).flag, ERR_RANGE); }
#endif

void main() {
    const uint tid = gl_LocalInvocationID.x, team = tid / TL, lane = tid % TL;
    const uint n0 = ((gl_WorkGroupID.x + pc.base_x) * NT + team) * NR;
    float v[NMAT];
#if !defined(MUL_MAT_ID)
    team_gemv(pc.w, pc.aux, pc.qs, pc.ds, n0, team, lane, v);
    // ---- epilogue and write: lane o < NOUT writes output o -----------------------------
    if (lane < NOUT) {
        const uint r = lane / NC, c = lane % NC, n = n0 + r;
        if (n < pc.N && c < pc.M) {
#if defined(EPI_SWIGLU)
            const float o = silu(v[0]) * v[NMAT - 1u];
#elif defined(EPI_ADD)
            const float o = RF32(pc.aux + 4u * uint64_t(c) * pc.r_nb1).v[n] + v[0];
#else
            const float o = v[0];
#endif
            WF32(pc.y + 4u * uint64_t(c) * pc.y_nb1).v[n] = o;
#ifdef Q8OUT
            yq_sh[team * NR + r] = o;
#endif
        }
    }
#ifdef Q8OUT
    // block b = this workgroup's rows
    barrier();
    q8out_block(pc.yq, pc.N / 32u, gl_WorkGroupID.x + pc.base_x, tid);
#endif
#elif defined(EPI_SWIGLU)
    // ---- one (slot, token) pair: silu(W_e x) * (W2_e x) -----------------------------------
    const uint p = gl_WorkGroupID.z, i = p % pc.n_used, t = p / pc.n_used;
    const int e = RI32(pc.ids).v[i + t * pc.ids_nb1];
    if (e < 0 || uint(e) >= pc.E) { // uniform: the whole workgroup leaves
        if (tid == 0u && gl_WorkGroupID.x == 0u) flag_range_error();
        return;
    }
    const uint col = i * pc.ci + t * pc.ct;
    const uint64_t eo = uint64_t(e) * pc.w_nb2;
    team_gemv(pc.w + eo, pc.aux + eo, pc.qs + 32u * uint64_t(col) * pc.nblk, pc.ds + 8u * uint64_t(col) * pc.nblk,
              n0, team, lane, v);
    if (lane < NR && n0 + lane < pc.N) {
        const float o = silu(v[0]) * v[NMAT - 1u];
        WF32(pc.y + 4u * (uint64_t(i) * pc.y_nb1 + uint64_t(t) * pc.y_nb2)).v[n0 + lane] = o;
#ifdef Q8OUT
        yq_sh[team] = o; // NR == 1
#endif
    }
#ifdef Q8OUT
    // block b of column p = i + n_used * t of the copy at pc.rw (y contiguous
    // [N, n_used, T]: the down projection's x columns in that order)
    barrier();
    const uint nb = pc.N / 32u;
    q8out_block(pc.rw, nb * gl_NumWorkGroups.z, p * nb + gl_WorkGroupID.x + pc.base_x, tid);
#endif
#else
    // ---- EPI_MOE: token t, its n_used slots folded in slot order -------------------------
    const uint t = gl_WorkGroupID.z;
    precise float tot = 0.0; // lanes < NR: the slot sum of row n0 + lane
    for (uint i = 0; i < pc.n_used; i++) { // uniform
        const int e = RI32(pc.ids).v[i + t * pc.ids_nb1];
        if (e < 0 || uint(e) >= pc.E) { // uniform: the slot is left out
            if (tid == 0u && gl_WorkGroupID.x == 0u) flag_range_error();
            continue;
        }
        const uint col = i * pc.ci + t * pc.ct;
        team_gemv(pc.w + uint64_t(e) * pc.w_nb2, 0ul, pc.qs + 32u * uint64_t(col) * pc.nblk,
                  pc.ds + 8u * uint64_t(col) * pc.nblk, n0, team, lane, v);
        tot += v[0] * RF32(pc.rw).v[i + t * pc.n_used]; // MUL by the routing weight, ADD in slot order
    }
    if (lane < NR && n0 + lane < pc.N) {
        const uint n = n0 + lane;
        precise float o = tot;
        if (pc.aux != 0ul) o = RF32(pc.aux + 4u * uint64_t(t) * pc.y_nb2).v[n] + tot;
        WF32(pc.y + 4u * uint64_t(t) * pc.y_nb2).v[n] = o;
    }
#endif
}
