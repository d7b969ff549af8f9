#version 450
// backends/vulkan/shaders/mul_mat_vec.comp - GEMV for MUL_MAT with few
// activation columns (decode: M <= 4) and for MUL_MAT_ID per (i, t) pair.
//
// One workgroup of BS = local_size_x lanes computes NR consecutive output rows
// n (weight rows) for NC consecutive columns m:
//   y[n0 + r, m0 + c] = sum_k W[k, n0 + r] * x[k, m0 + c],  r < NR, c < NC
// Lane t walks the K reduction in steps: step s covers UW consecutive u32 words
// (QG) or UW consecutive elements (dense) of each of the NR rows, starting at
// step index s = t, t + BS, ...; so in one step the workgroup reads BS*UW
// consecutive words of a row (coalesced; UW = 4 gives 16-byte loads) and every
// weight byte is read exactly once. The x values of a step are loaded once and
// used for all NR rows. Each lane's partial sums are reduced with subgroupAdd
// (OPT_SUBGROUP) and across subgroups in shared memory, or (NO_SUBGROUP) by a
// shared-memory tree.
//
// QG steps are fused dequantisation: codes are unpacked from the words held in
// registers, the group's scale/zero are loaded once per step (GMODE 0), per 8
// codes (GMODE 1) or per code (GMODE 2: g_idx), and W = round(scale*(code-zero))
// is exactly the reference's weight. Codes past the last full step (K tail) go
// through the per-code path.
//
// QG_F16MUL (devices with shaderFloat16, f16 rounding, GMODE 0/1): the
// dequantisation runs on f16x2 pairs, (1024+code) - (1024+zero) then * scale,
// one correctly rounded f16 multiply per two weights instead of integer
// rounding per weight (the GEMV is otherwise ALU-bound on fast memory).
//
// Grid: x = row blocks (+ base_x), y = column blocks of NC, z = batch matrix
// i2 + ne2*i3 (mul_mat) or pair p = i + n_used*t (+ base_z, mul_mat_id, NC = 1).
//
// Fused epilogues (vk_fuse_gemv.c; push blocks in mul_mat_common.glsl) turn a
// chain of graph nodes into this one dispatch:
//  - EPI_SWIGLU: the workgroup also computes the same rows of a second matrix
//    W2 (same x, same layout): NR rows of each, 2*NR in registers; the lane
//    that holds output (r, c) writes silu(g) * u, the eltwise SWIGLU.
//  - EPI_ADD: y = r + W x, the residual read in the epilogue.
//  - EPI_MOE (MUL_MAT_ID): grid z = tokens t; the workgroup loops over the
//    n_used slots i of t, each a GEMV of expert ids[i, t] with x[:, i, t], and
//    the lanes holding row sums fold them in as the graph does (MUL by the
//    routing weight, then ADDs of the slots in rank order, then the residual):
//      y[n, t] = r[n, t] + ((s_0 + s_1) + s_2) + ...,  s_i = (W_e x_i)[n] * rw[i, t]
//  Outputs: the reduction leaves output o = r*NC + c (r < NR) on lane o.
#ifdef QG_F16MUL
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#endif
#include "mul_mat_common.glsl"

const uint BS = gl_WorkGroupSize.x;
// codes per step and per chunk (a chunk: the codes decoded from <= 32 bits at once)
const uint QUC = (QBITS == 3u) ? 32u : UW * (32u / QBITS); // 3-bit: UW == 3 words = 32 codes
const uint QCH = (QBITS == 8u) ? 4u : 8u;
const uint NCHUNK = (WTYPE == W_QG) ? QUC / QCH : 1u;
const uint STEPK = (WTYPE == W_QG) ? QUC : UW; // columns k per step
const uint XCH = (WTYPE == W_QG) ? QCH : UW;   // x values per column per chunk

// Fused epilogues: matrices whose rows a workgroup computes; rows in registers.
#ifdef EPI_SWIGLU
const uint NMAT = 2u;
#else
const uint NMAT = 1u;
#endif
const uint NRT = NR * NMAT; // row r of the registers: row n0 + r % NR of matrix r / NR
const uint NOUT = NR * NC;  // outputs of a workgroup

// Reduction scratch: NRT*NC partial sums per subgroup (NSG = BS / SGX subgroups
// when the device runs the expected subgroup size), or BS values for the tree
// (and its NRT*NC results).
const uint NSG = BS / SGX;
const uint RED_SG = NRT * NC * NSG;
const uint RED = RED_SG > BS ? RED_SG : BS;
#ifndef WGX
shared float red[RED];
shared float res[NRT * NC];
#else
// WGX (QG, UW == 4, NC == 1, f16 dequantisation): BS = NWARP warps of WL
// lanes; warp w owns RPW = NR / NWARP rows, local rows w*RPW .. w*RPW+RPW-1 of
// each matrix. The K reduction runs in chunks of WL steps (one step per lane of
// a warp, STEPK columns each): the workgroup stages a chunk's x once in shared
// memory (coalesced 16-byte loads, double-buffered: chunk c+1 is loaded while
// chunk c is computed, one barrier per chunk) and every warp reads it from
// there for its own rows, so x costs one global read per NR rows instead of
// per warp. Shared layout: lane t's vec4 v of a chunk lives at v*WL + (t ^ v),
// so a warp reading one v, and 8 lanes storing one lane's 8 vec4s, hit
// distinct banks. Registers hold the next chunk's weight words (software
// pipelining). Reduction: subgroupAdd over each subgroup (the host picks WGX
// only for subgroups of at most WL lanes, which then lie inside one warp),
// then the subgroups of a warp through shared memory.
#ifndef QG_F16MUL
#error "WGX needs QG_F16MUL"
#endif
const uint WL = 32u;
const uint NWARP = BS / WL;
const uint RPW = NR / NWARP;           // rows per warp (host: NR == NWARP * RPW)
const uint NRL = NMAT * RPW;           // register row r: local row warp*RPW + r % RPW of matrix r / RPW
const uint XV = STEPK / 4u;            // x vec4s per lane step
const uint CHV = WL * XV;              // x vec4s per chunk
const uint XLD = (CHV + BS - 1u) / BS; // vec4s each lane stages per chunk
shared vec4 xs[2u * CHV];
shared float wred[NMAT * NR * WL];
#endif

float silu(float v) { return v / (1.0 + exp(-v)); } // as eltwise.comp

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint n0 = (gl_WorkGroupID.x + pc.base_x) * NR;
    const uint K = pc.K;
    const uint nsteps = K / STEPK;
    const uint row_words = qg_row_words();

#ifdef EPI_MOE
    const uint t = gl_WorkGroupID.z; // token
    precise float tot = 0.0;         // lanes < NR: the slot sum of row n0 + tid, in slot order
    for (uint slot = 0u; slot < pc.n_used; slot++) {
#else
    { // one GEMV (no slot loop)
#endif
    // ---- which weight matrices, which columns ----------------------------------------
    uint64_t mats[NMAT];    // weight matrix (QG: slab) addresses
    uint64_t xcol[NC];      // x columns [K] (indexed by unrolled loops only: registers)
    uint64_t ycol0;         // y column m0 [N]; column m0 + c at ycol0 + 4*c*ystride
    uint ystride, ncols;    // floats between y columns; valid columns in this block
#if defined(EPI_ADD)
    uint64_t rcol0;         // residual column m0 (r_nb1 floats between columns)
#endif
#if !defined(MUL_MAT_ID) && !defined(EPI_SWIGLU) && !defined(EPI_ADD)
    {
        const uint z = gl_WorkGroupID.z + pc.base_z;
        const uint i2 = z % pc.ne2, i3 = z / pc.ne2;
        mats[0] = pc.w + uint64_t(i2 / pc.r2) * pc.w_nb2 + uint64_t(i3 / pc.r3) * pc.w_nb3;
        const uint m0 = gl_WorkGroupID.y * NC;
        [[unroll]] for (uint c = 0; c < NC; c++) {
            const uint m = min(m0 + c, pc.M - 1u); // columns past M: read the last, write nothing
            xcol[c] = pc.x + 4u * (uint64_t(m) * pc.x_nb1 + uint64_t(i2) * pc.x_nb2 + uint64_t(i3) * pc.x_nb3);
        }
        ycol0 = pc.y + 4u * (uint64_t(m0) * pc.y_nb1 + uint64_t(i2) * pc.y_nb2 + uint64_t(i3) * pc.y_nb3);
        ystride = pc.y_nb1;
        ncols = min(NC, pc.M - m0);
    }
#elif !defined(MUL_MAT_ID)
    { // fused MUL_MAT: one matrix (two with EPI_SWIGLU), x [K, M]
        mats[0] = pc.w;
#ifdef EPI_SWIGLU
        mats[NMAT - 1u] = pc.w2;
#endif
        const uint m0 = gl_WorkGroupID.y * NC;
        [[unroll]] for (uint c = 0; c < NC; c++) xcol[c] = pc.x + 4u * uint64_t(min(m0 + c, pc.M - 1u)) * pc.x_nb1;
        ycol0 = pc.y + 4u * uint64_t(m0) * pc.y_nb1;
        ystride = pc.y_nb1;
        ncols = min(NC, pc.M - m0);
#ifdef EPI_ADD
        rcol0 = pc.r + 4u * uint64_t(m0) * pc.r_nb1;
#endif
    }
#elif !defined(EPI_MOE)
    {
        const uint p = gl_WorkGroupID.z + pc.base_z; // pair: i + n_used * t
        const uint i = p % pc.n_used, t = p / pc.n_used;
        const int e = RI32(pc.ids).v[i + t * pc.ids_nb1];
        if (e < 0 || uint(e) >= pc.E) { // uniform: the whole workgroup leaves
            if (tid == 0u && gl_WorkGroupID.x == 0u) flag_range_error();
            return;
        }
        mats[0] = pc.w + uint64_t(e) * pc.w_nb2;
#ifdef EPI_SWIGLU
        mats[NMAT - 1u] = pc.w2 + uint64_t(e) * pc.w_nb2;
#endif
        const uint xi = pc.x_bcast != 0u ? 0u : i;
        [[unroll]] for (uint c = 0; c < NC; c++) // NC == 1
            xcol[c] = pc.x + 4u * (uint64_t(xi) * pc.x_nb1 + uint64_t(t) * pc.x_nb2);
        ycol0 = pc.y + 4u * (uint64_t(i) * pc.y_nb1 + uint64_t(t) * pc.y_nb2);
        ystride = 0u;
        ncols = 1u;
    }
#else
    { // EPI_MOE: slot `slot` of token t
        const int e = RI32(pc.ids).v[slot + t * pc.ids_nb1];
        if (e < 0 || uint(e) >= pc.E) { // uniform: the slot is left out
            if (tid == 0u && gl_WorkGroupID.x == 0u) flag_range_error();
            continue;
        }
        mats[0] = pc.w + uint64_t(e) * pc.w_nb2;
        [[unroll]] for (uint c = 0; c < NC; c++) // NC == 1
            xcol[c] = pc.x + 4u * (uint64_t(slot) * pc.x_nb1 + uint64_t(t) * pc.x_nb2);
        ycol0 = pc.y + 4u * uint64_t(t) * pc.y_nb1;
        ystride = 0u;
        ncols = 1u;
    }
#endif

#ifdef WGX
    const uint lane = tid % WL, warp = tid / WL;
    uint rown[NRL];
    uint64_t wrow[NRL], srow[NRL], zrow[NRL];
    [[unroll]] for (uint r = 0; r < NRL; r++) {
        rown[r] = min(n0 + warp * RPW + r % RPW, pc.N - 1u);
        wrow[r] = mats[r / RPW] + uint64_t(rown[r]) * pc.w_nb1;
        srow[r] = qg_scales_row(mats[r / RPW], rown[r]);
        zrow[r] = qg_zeros_row(mats[r / RPW], rown[r]);
    }
    float acc[NRL];
    [[unroll]] for (uint r = 0; r < NRL; r++) acc[r] = 0.0;

    const uint64_t xb = xcol[0];
    const uint nch = (nsteps + WL - 1u) / WL; // chunks; the last may be partial
    // stage chunk 0 (pieces of steps past nsteps: zeros, never read)
    [[unroll]] for (uint j = 0; j < XLD; j++) {
        const uint g = tid + j * BS;
        if (g < CHV) {
            const uint st = g / XV, v = g % XV;
            xs[v * WL + (st ^ v)] = st < nsteps ? RVec4(xb).v[g] : vec4(0.0);
        }
    }
    // this lane's weight words (and GMODE 0 group) of chunk 0
    uvec4 wq[NRL];
    float sc[NRL];
    int zr[NRL];
    [[unroll]] for (uint r = 0; r < NRL; r++) {
        wq[r] = uvec4(0u);
        sc[r] = 0.0;
        zr[r] = 0;
    }
    if (lane < nsteps) {
        [[unroll]] for (uint r = 0; r < NRL; r++) {
            wq[r] = RU32x4(wrow[r]).v[lane];
            if (GMODE == 0u) {
                const uint g = lane * STEPK / pc.group_size;
                sc[r] = f16_to_f32(RU16(srow[r]).v[g]);
                zr[r] = int(RU8(zrow[r]).v[g]);
            }
        }
    }
    barrier();

    for (uint ch = 0; ch < nch; ch++) { // uniform
        const uint cur = (ch & 1u) * CHV, nxt = CHV - cur;
        const uint s = ch * WL + lane, sn = s + WL;
        const bool more = ch + 1u < nch;
        // ---- prefetch chunk ch + 1: x pieces and this lane's weight words
        vec4 xn[XLD];
        uvec4 wn[NRL];
        float scn[NRL];
        int zrn[NRL];
        [[unroll]] for (uint r = 0; r < NRL; r++) {
            wn[r] = uvec4(0u);
            scn[r] = 0.0;
            zrn[r] = 0;
        }
        [[unroll]] for (uint j = 0; j < XLD; j++) xn[j] = vec4(0.0);
        if (more) {
            [[unroll]] for (uint j = 0; j < XLD; j++) {
                const uint g = tid + j * BS;
                if (g < CHV && (ch + 1u) * WL + g / XV < nsteps) xn[j] = RVec4(xb).v[(ch + 1u) * CHV + g];
            }
            if (sn < nsteps) {
                [[unroll]] for (uint r = 0; r < NRL; r++) {
                    wn[r] = RU32x4(wrow[r]).v[sn];
                    if (GMODE == 0u) {
                        const uint g = sn * STEPK / pc.group_size;
                        scn[r] = f16_to_f32(RU16(srow[r]).v[g]);
                        zrn[r] = int(RU8(zrow[r]).v[g]);
                    }
                }
            }
        }
        // ---- compute chunk ch: step s of this lane, x from shared memory
        if (s < nsteps) {
            const uint k0 = s * STEPK;
            [[unroll]] for (uint j = 0; j < NCHUNK; j++) {
                const uint kc = k0 + j * QCH;
                float xv[QCH];
                [[unroll]] for (uint q = 0; q < QCH / 4u; q++) {
                    const uint v = j * (QCH / 4u) + q;
                    const vec4 x4 = xs[cur + v * WL + (lane ^ v)];
                    xv[4 * q] = x4.x; xv[4 * q + 1] = x4.y; xv[4 * q + 2] = x4.z; xv[4 * q + 3] = x4.w;
                }
                if (GMODE == 1u) { // one group per chunk
                    const uint g = kc / pc.group_size;
                    [[unroll]] for (uint r = 0; r < NRL; r++) {
                        sc[r] = f16_to_f32(RU16(srow[r]).v[g]);
                        zr[r] = int(RU8(zrow[r]).v[g]);
                    }
                }
                const uint bo = j * QCH * QBITS, lo = bo >> 5, sh = bo & 31u;
                [[unroll]] for (uint r = 0; r < NRL; r++) {
                    const uint bits = wq[r][lo] >> sh; // QCH * QBITS == 32: a chunk never straddles words
                    const uint HB = QCH * QBITS / 2u;
                    const uint HM = HB >= 16u ? 0xffffu : (1u << HB) - 1u;
                    const uint packed = (bits & HM) | (((bits >> HB) & HM) << 16);
                    const f16vec2 zz = f16vec2(float16_t(float(1024 + zr[r])));
                    const f16vec2 ss = f16vec2(float16_t(sc[r]));
                    [[unroll]] for (uint i = 0; i < QCH / 2u; i++) {
                        const uint u = ((packed >> (i * QBITS)) & (QMASK | (QMASK << 16))) | 0x64006400u;
                        const vec2 wv = vec2((unpackFloat2x16(u) - zz) * ss);
                        acc[r] = fma(wv.x, xv[i], acc[r]);
                        acc[r] = fma(wv.y, xv[i + QCH / 2u], acc[r]);
                    }
                }
            }
        }
        // ---- stage chunk ch + 1 into the other buffer (last read in chunk ch - 1)
        if (more) {
            [[unroll]] for (uint j = 0; j < XLD; j++) {
                const uint g = tid + j * BS;
                if (g < CHV) {
                    const uint st = g / XV, v = g % XV;
                    xs[nxt + v * WL + (st ^ v)] = xn[j];
                }
            }
        }
        barrier();
        [[unroll]] for (uint r = 0; r < NRL; r++) {
            wq[r] = wn[r];
            if (GMODE == 0u) {
                sc[r] = scn[r];
                zr[r] = zrn[r];
            }
        }
    }

    // ---- K tail (k >= nsteps * STEPK): one column per lane of each warp
    for (uint k = nsteps * STEPK + lane; k < K; k += WL) {
        const float xv = RF32(xb).v[k];
        [[unroll]] for (uint r = 0; r < NRL; r++)
            acc[r] = fma(qg_weight_at(mats[r / RPW], rown[r], k, row_words), xv, acc[r]);
    }

    // ---- reduce each warp's rows: lane o < NOUT (== NR) gets v[mi], row n0 + o of matrix mi
    float v[NMAT];
    {
        const uint sgs = gl_SubgroupSize; // <= WL (host), a power of two
        [[unroll]] for (uint r = 0; r < NRL; r++) {
            const float a = subgroupAdd(acc[r]);
            if (gl_SubgroupInvocationID == 0u) wred[((r / RPW) * NR + warp * RPW + r % RPW) * WL + lane / sgs] = a;
        }
        barrier();
        if (tid < NOUT) {
            [[unroll]] for (uint mi = 0; mi < NMAT; mi++) {
                float a = 0.0;
                for (uint g = 0; g < WL / sgs; g++) a += wred[(mi * NR + tid) * WL + g];
                v[mi] = a;
            }
        }
    }
#else
    // ---- rows: rows past N read row N-1 and write nothing ------------------------------
    uint rown[NRT];
    uint64_t wrow[NRT], srow[NRT], zrow[NRT]; // codes / elements, QG scales [G], QG zeros [G]
    [[unroll]] for (uint r = 0; r < NRT; r++) {
        rown[r] = min(n0 + r % NR, pc.N - 1u);
        wrow[r] = mats[r / NR] + uint64_t(rown[r]) * pc.w_nb1;
        srow[r] = qg_scales_row(mats[r / NR], rown[r]);
        zrow[r] = qg_zeros_row(mats[r / NR], rown[r]);
    }

    float acc[NRT][NC];
    [[unroll]] for (uint r = 0; r < NRT; r++)
        [[unroll]] for (uint c = 0; c < NC; c++) acc[r][c] = 0.0;

    // ---- hot loop: the K reduction, BS lanes x STEPK columns at a time -------------------
    for (uint s = tid; s < nsteps; s += BS) {
        const uint k0 = s * STEPK;
        if (WTYPE == W_QG) {
            // the step's words of every row (3-bit: 3 words = 32 codes, else UW words)
            uint wd[NRT][UW];
            [[unroll]] for (uint r = 0; r < NRT; r++) {
                if (UW == 4u) {
                    uvec4 q = RU32x4(wrow[r]).v[s];
                    wd[r][0] = q.x; wd[r][1 % UW] = q.y; wd[r][2 % UW] = q.z; wd[r][3 % UW] = q.w;
                } else {
                    [[unroll]] for (uint j = 0; j < UW; j++) wd[r][j] = RU32(wrow[r]).v[s * UW + j];
                }
            }
            float sc[NRT];
            int zr[NRT];
            if (GMODE == 0u) { // one group for the whole step
                const uint g = k0 / pc.group_size;
                [[unroll]] for (uint r = 0; r < NRT; r++) {
                    sc[r] = f16_to_f32(RU16(srow[r]).v[g]);
                    zr[r] = int(RU8(zrow[r]).v[g]);
                }
            }
            [[unroll]] for (uint j = 0; j < NCHUNK; j++) {
                const uint kc = k0 + j * QCH;
                float xv[NC][QCH];
                [[unroll]] for (uint c = 0; c < NC; c++) {
                    if ((OPTS & OPT_XVEC4) != 0u) {
                        [[unroll]] for (uint q = 0; q < QCH / 4u; q++) {
                            vec4 v = RVec4(xcol[c]).v[kc / 4u + q];
                            xv[c][4 * q] = v.x; xv[c][4 * q + 1] = v.y; xv[c][4 * q + 2] = v.z; xv[c][4 * q + 3] = v.w;
                        }
                    } else {
                        [[unroll]] for (uint i = 0; i < QCH; i++) xv[c][i] = RF32(xcol[c]).v[kc + i];
                    }
                }
                if (GMODE == 1u) { // one group per chunk
                    const uint g = kc / pc.group_size;
                    [[unroll]] for (uint r = 0; r < NRT; r++) {
                        sc[r] = f16_to_f32(RU16(srow[r]).v[g]);
                        zr[r] = int(RU8(zrow[r]).v[g]);
                    }
                }
                int gk[NMAT][QCH]; // GMODE 2: the group of each code, shared by a matrix's NR rows
                if (GMODE == 2u) {
                    [[unroll]] for (uint mi = 0; mi < NMAT; mi++)
                        [[unroll]] for (uint i = 0; i < QCH; i++) gk[mi][i] = qg_group(mats[mi], kc + i);
                }
                // the chunk's QCH*QBITS bits, at bit j*QCH*QBITS of the step
                const uint bo = j * QCH * QBITS, lo = bo >> 5, sh = bo & 31u;
                [[unroll]] for (uint r = 0; r < NRT; r++) {
                    uint bits = wd[r][lo] >> sh;
                    if (sh + QCH * QBITS > 32u) bits |= wd[r][(lo + 1u) % UW] << (32u - sh);
#ifdef QG_F16MUL
                    if (GMODE != 2u) {
                        // Two codes per f16x2 op: code i in the low half, code i + QCH/2 in
                        // the high half; 0x6400 | c is the f16 1024 + c, minus 1024 + zero
                        // is exactly c - zero, times the f16 scale rounds once (RTE) to
                        // exactly the reference's W.
                        const uint HB = QCH * QBITS / 2u; // bits of half a chunk (<= 16)
                        const uint HM = HB >= 16u ? 0xffffu : (1u << HB) - 1u;
                        const uint packed = (bits & HM) | (((bits >> HB) & HM) << 16);
                        const f16vec2 zz = f16vec2(float16_t(float(1024 + zr[r])));
                        const f16vec2 ss = f16vec2(float16_t(sc[r])); // exact: sc is an f16 value
                        [[unroll]] for (uint i = 0; i < QCH / 2u; i++) {
                            const uint u = ((packed >> (i * QBITS)) & (QMASK | (QMASK << 16))) | 0x64006400u;
                            const vec2 wv = vec2((unpackFloat2x16(u) - zz) * ss);
                            [[unroll]] for (uint c = 0; c < NC; c++) {
                                acc[r][c] = fma(wv.x, xv[c][i], acc[r][c]);
                                acc[r][c] = fma(wv.y, xv[c][i + QCH / 2u], acc[r][c]);
                            }
                        }
                        continue;
                    }
#endif
                    [[unroll]] for (uint i = 0; i < QCH; i++) {
                        const uint code = (bits >> (i * QBITS)) & QMASK;
                        float wv;
                        if (GMODE == 2u) {
                            const int g = gk[r / NR][i];
                            if (g < 0) {
                                wv = 0.0;
                            } else {
                                const float s2 = f16_to_f32(RU16(srow[r]).v[g]);
                                const int z2 = int(RU8(zrow[r]).v[g]);
                                wv = qg_weight(code, s2, z2);
                            }
                        } else {
                            wv = qg_weight(code, sc[r], zr[r]);
                        }
                        [[unroll]] for (uint c = 0; c < NC; c++) acc[r][c] = fma(wv, xv[c][i], acc[r][c]);
                    }
                }
            }
        } else {
            // dense: UW (4 or 1) consecutive elements of every row
            float xv[NC][UW];
            [[unroll]] for (uint c = 0; c < NC; c++) {
                if (UW == 4u && (OPTS & OPT_XVEC4) != 0u) {
                    vec4 v = RVec4(xcol[c]).v[s];
                    xv[c][0] = v.x; xv[c][1 % UW] = v.y; xv[c][2 % UW] = v.z; xv[c][3 % UW] = v.w;
                } else {
                    [[unroll]] for (uint i = 0; i < UW; i++) xv[c][i] = RF32(xcol[c]).v[k0 + i];
                }
            }
            [[unroll]] for (uint r = 0; r < NRT; r++) {
                float wv[UW];
                if (UW == 4u) {
                    vec4 v = dense_at4(wrow[r], s);
                    wv[0] = v.x; wv[1 % UW] = v.y; wv[2 % UW] = v.z; wv[3 % UW] = v.w;
                } else {
                    [[unroll]] for (uint i = 0; i < UW; i++) wv[i] = dense_at(wrow[r], k0 + i);
                }
                [[unroll]] for (uint i = 0; i < UW; i++)
                    [[unroll]] for (uint c = 0; c < NC; c++) acc[r][c] = fma(wv[i], xv[c][i], acc[r][c]);
            }
        }
    }

    // ---- K tail (k >= nsteps * STEPK): one column per lane ----------------------------
    for (uint k = nsteps * STEPK + tid; k < K; k += BS) {
        float xv[NC];
        [[unroll]] for (uint c = 0; c < NC; c++) xv[c] = RF32(xcol[c]).v[k];
        [[unroll]] for (uint r = 0; r < NRT; r++) {
            const float wv =
                (WTYPE == W_QG) ? qg_weight_at(mats[r / NR], rown[r], k, row_words) : dense_at(wrow[r], k);
            [[unroll]] for (uint c = 0; c < NC; c++) acc[r][c] = fma(wv, xv[c], acc[r][c]);
        }
    }

    // ---- reduce over the workgroup: lane o < NOUT gets v[mi], output o of matrix mi -----
    float v[NMAT];
    bool reduced = false; // uniform
#ifndef NO_SUBGROUP
    if ((OPTS & OPT_SUBGROUP) != 0u && gl_NumSubgroups <= NSG) {
        [[unroll]] for (uint r = 0; r < NRT; r++)
            [[unroll]] for (uint c = 0; c < NC; c++) {
                const float a = subgroupAdd(acc[r][c]);
                if (gl_SubgroupInvocationID == 0u) red[(r * NC + c) * NSG + gl_SubgroupID] = a;
            }
        barrier();
        if (tid < NOUT) {
            [[unroll]] for (uint mi = 0; mi < NMAT; mi++) {
                float a = 0.0;
                for (uint g = 0; g < gl_NumSubgroups; g++) a += red[(mi * NOUT + tid) * NSG + g];
                v[mi] = a;
            }
        }
        reduced = true;
    }
#endif
    if (!reduced) { // shared-memory tree, one output at a time (no subgroup arithmetic)
        [[unroll]] for (uint r = 0; r < NRT; r++)
            [[unroll]] for (uint c = 0; c < NC; c++) {
                red[tid] = acc[r][c];
                barrier();
                for (uint h = BS / 2u; h > 0u; h >>= 1) { // BS is a power of two
                    if (tid < h) red[tid] += red[tid + h];
                    barrier();
                }
                if (tid == 0u) res[r * NC + c] = red[0];
                barrier();
            }
        if (tid < NOUT) {
            [[unroll]] for (uint mi = 0; mi < NMAT; mi++) v[mi] = res[mi * NOUT + tid];
        }
    }

#endif

    // ---- epilogue and write ------------------------------------------------------------------
    if (tid < NOUT) {
        const uint r = tid / NC, c = tid % NC, n = n0 + r;
#if defined(EPI_MOE)
        tot += v[0] * RF32(pc.rw).v[slot + t * pc.rw_nb2]; // MUL by the routing weight, ADD in slot order
#else
        if (n < pc.N && c < ncols) {
#if defined(EPI_SWIGLU)
            const float o = silu(v[0]) * v[NMAT - 1u];
#elif defined(EPI_ADD)
            const float o = RF32(rcol0 + 4u * uint64_t(c) * pc.r_nb1).v[n] + v[0];
#else
            const float o = v[0];
#endif
            WF32(ycol0 + 4u * uint64_t(c) * ystride).v[n] = o;
        }
#endif
    }
#ifdef EPI_MOE
    barrier(); // red / res are reused by the next slot
#endif
    } // slots / the GEMV

#ifdef EPI_MOE
    if (tid < NR && n0 + tid < pc.N) {
        const uint n = n0 + tid;
        precise float o = tot;
        if (pc.r != 0ul) o = RF32(pc.r + 4u * uint64_t(t) * pc.r_nb1).v[n] + tot;
        WF32(pc.y + 4u * uint64_t(t) * pc.y_nb1).v[n] = o;
    }
#endif
}
