#version 450
// backends/vulkan/shaders/mul_mat.comp - tiled GEMM for MUL_MAT with many
// activation columns (prefill) and for MUL_MAT_ID grouped by expert.
//
// A workgroup of 256 lanes (16 x 16) computes a BN x BM tile of y: rows
// n0..n0+63 (weight rows), columns m0..m0+BM-1 (activation columns), BM = 16,
// 32 or 64 (spec constant NC, sized to M by the host: a narrow tile keeps the
// FMAs close to the useful ones while the weights are still read once). Lane
// (tn, tm) owns the 4 x BM/16 block at rows tn + 16*i, columns tm + 16*j, so
// neighbouring lanes read neighbouring shared-memory words and write
// neighbouring y elements.
//
// The K reduction runs in BK = 32 steps: the weight tile W[k0..k0+31,
// n0..n0+63] is converted to f32 in shared memory (QG dequantised there,
// rounded exactly as the reference does, once per BM columns), the x tile
// likewise, then every lane does 32 x 4 x BM/16 FMAs.
//   Ws[k][n], Xs[k][m]: k-major so the compute loop reads rows of n / m; a
//   lane loading one (row, chunk) writes along k, and the +1 padding puts a
//   row's 8 chunks in different banks.
// QG groups: GMODE 0 (set by the host when group_size is a multiple of the
// 8-code chunk, 4 for 8-bit, or there is one group per row) looks a chunk's
// group up once; GMODE 2 (g_idx, odd group sizes) per code.
//
// mul_mat:    grid x = row tiles (+ base_x), y = column tiles, z = batch
//             matrix i2 + ne2*i3 (+ base_z).
// mul_mat_id: grid x = row tiles, y = expert e. The lists built by
//             mul_mat_id_group.comp (u32 at pc.ids: off[E + 1], then pairs
//             p = i + n_used*t sorted by expert) give expert e's columns
//             off[e] .. off[e+1]-1; the workgroup loops over them BM at a
//             time, so each expert's weights are read once per BM of its pairs.
#include "mul_mat_common.glsl"

const uint BN = 64u, BK = 32u;
const uint BM = NC;       // tile columns: 16, 32 or 64 (the host sizes it to M)
const uint TMN = BM / 16u; // columns per lane
const uint NT = 256u; // lanes: local_size_x must be 256
const uint QCH = (QBITS == 8u) ? 4u : 8u;      // codes per chunk: <= 32 bits (3-bit: 24)
const uint WCH = (WTYPE == W_QG) ? QCH : 4u;  // weight elements per chunk
const uint WNCH = BK / WCH;                   // chunks per row per K step

shared float Ws[BK][BN + 1u];
shared float Xs[BK][BM + 1u];
#ifdef MUL_MAT_ID
shared uint colp[BM]; // the tile's pairs
#endif

layout(buffer_reference, scalar, buffer_reference_align = 4) readonly buffer RU32L { uint v[]; };

uint64_t g_mat;                  // weight matrix / slab
#ifndef MUL_MAT_ID
uint64_t g_xb, g_yb;             // batch matrix bases of x and y
#endif

uint64_t xcol_addr(uint j, uint m0) {
#ifndef MUL_MAT_ID
    return g_xb + 4u * uint64_t(m0 + j) * pc.x_nb1;
#else
    const uint p = colp[j], i = p % pc.n_used, t = p / pc.n_used;
    const uint xi = pc.x_bcast != 0u ? 0u : i;
    return pc.x + 4u * (uint64_t(xi) * pc.x_nb1 + uint64_t(t) * pc.x_nb2);
#endif
}

uint64_t ycol_addr(uint j, uint m0) {
#ifndef MUL_MAT_ID
    return g_yb + 4u * uint64_t(m0 + j) * pc.y_nb1;
#else
    const uint p = colp[j], i = p % pc.n_used, t = p / pc.n_used;
    return pc.y + 4u * (uint64_t(i) * pc.y_nb1 + uint64_t(t) * pc.y_nb2);
#endif
}

// Load W[k0..k0+BK, n0..n0+BN] into Ws as f32 (zeros past K and N).
void load_w_tile(uint n0, uint k0, uint tid) {
    const uint K = pc.K;
    const uint row_words = qg_row_words();
    for (uint p = tid; p < BN * WNCH; p += NT) {
        // consecutive lanes take consecutive chunks of one row: coalesced reads
        const uint nl = p / WNCH, j = p % WNCH;
        const uint n = n0 + nl, k = k0 + j * WCH;
        float v[WCH];
        [[unroll]] for (uint i = 0; i < WCH; i++) v[i] = 0.0;
        if (n < pc.N && k < K) {
            const uint64_t row = g_mat + uint64_t(n) * pc.w_nb1;
            if (WTYPE == W_QG) {
                // the chunk's WCH*QBITS bits start at bit k*QBITS (3-bit: may straddle a word)
                const uint bo = k * QBITS, wi = bo >> 5, sh = bo & 31u;
                uint bits = RU32(row).v[wi] >> sh;
                if (sh + WCH * QBITS > 32u && wi + 1u < row_words) bits |= RU32(row).v[wi + 1u] << (32u - sh);
                const uint64_t srow = qg_scales_row(g_mat, n), zrow = qg_zeros_row(g_mat, n);
                if (GMODE != 2u) { // the whole chunk in one group: one division, one scale/zero
                    const uint g = k / pc.group_size;
                    const float s1 = f16_to_f32(RU16(srow).v[g]);
                    const int z1 = int(RU8(zrow).v[g]);
                    [[unroll]] for (uint i = 0; i < WCH; i++)
                        if (k + i < K) v[i] = qg_weight((bits >> (i * QBITS)) & QMASK, s1, z1);
                } else {
                    int gprev = -1;
                    float s = 0.0;
                    int z = 0;
                    [[unroll]] for (uint i = 0; i < WCH; i++) {
                        if (k + i < K) {
                            const int g = qg_group(g_mat, k + i);
                            if (g >= 0) {
                                if (g != gprev) { // scale and zero once per group change
                                    s = f16_to_f32(RU16(srow).v[g]);
                                    z = int(RU8(zrow).v[g]);
                                    gprev = g;
                                }
                                v[i] = qg_weight((bits >> (i * QBITS)) & QMASK, s, z);
                            }
                        }
                    }
                }
            } else if (UW == 4u && k + 4u <= K) { // aligned rows: one 16/8-byte load
                const vec4 q = dense_at4(row, k / 4u);
                v[0] = q.x; v[1 % WCH] = q.y; v[2 % WCH] = q.z; v[3 % WCH] = q.w;
            } else {
                [[unroll]] for (uint i = 0; i < WCH; i++)
                    if (k + i < K) v[i] = dense_at(row, k + i);
            }
        }
        [[unroll]] for (uint i = 0; i < WCH; i++) Ws[j * WCH + i][nl] = v[i];
    }
}

// Load x[k0..k0+BK, columns m0..m0+mcount) into Xs (zeros past K and mcount).
void load_x_tile(uint m0, uint mcount, uint k0, uint tid) {
    const uint K = pc.K;
    for (uint p = tid; p < BM * (BK / 4u); p += NT) {
        const uint jl = p / (BK / 4u), q = p % (BK / 4u);
        const uint k = k0 + q * 4u;
        vec4 v = vec4(0.0);
        if (jl < mcount && k < K) {
            const uint64_t col = xcol_addr(jl, m0);
            if ((OPTS & OPT_XVEC4) != 0u && k + 4u <= K) {
                v = RVec4(col).v[k / 4u];
            } else {
                v.x = RF32(col).v[k];
                if (k + 1u < K) v.y = RF32(col).v[k + 1u];
                if (k + 2u < K) v.z = RF32(col).v[k + 2u];
                if (k + 3u < K) v.w = RF32(col).v[k + 3u];
            }
        }
        Xs[q * 4u][jl] = v.x;
        Xs[q * 4u + 1u][jl] = v.y;
        Xs[q * 4u + 2u][jl] = v.z;
        Xs[q * 4u + 3u][jl] = v.w;
    }
}

void tile(uint n0, uint m0, uint mcount, uint tid) {
    const uint tn = tid % 16u, tm = tid / 16u;
    float acc[4][TMN];
    [[unroll]] for (uint i = 0; i < 4u; i++)
        [[unroll]] for (uint j = 0; j < TMN; j++) acc[i][j] = 0.0;

    for (uint k0 = 0; k0 < pc.K; k0 += BK) {
        barrier(); // the previous step's tiles are consumed
        load_w_tile(n0, k0, tid);
        load_x_tile(m0, mcount, k0, tid);
        barrier();
        [[unroll]] for (uint kk = 0; kk < BK; kk++) {
            float a[4], b[TMN];
            [[unroll]] for (uint i = 0; i < 4u; i++) a[i] = Ws[kk][tn + 16u * i];
            [[unroll]] for (uint j = 0; j < TMN; j++) b[j] = Xs[kk][tm + 16u * j];
            [[unroll]] for (uint i = 0; i < 4u; i++)
                [[unroll]] for (uint j = 0; j < TMN; j++) acc[i][j] = fma(a[i], b[j], acc[i][j]);
        }
    }
    [[unroll]] for (uint j = 0; j < TMN; j++) {
        const uint jl = tm + 16u * j;
        if (jl < mcount) {
            const uint64_t yc = ycol_addr(jl, m0);
            [[unroll]] for (uint i = 0; i < 4u; i++) {
                const uint n = n0 + tn + 16u * i;
                if (n < pc.N) WF32(yc).v[n] = acc[i][j];
            }
        }
    }
}

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint n0 = (gl_WorkGroupID.x + pc.base_x) * BN;
#ifndef MUL_MAT_ID
    const uint z = gl_WorkGroupID.z + pc.base_z;
    const uint i2 = z % pc.ne2, i3 = z / pc.ne2;
    g_mat = pc.w + uint64_t(i2 / pc.r2) * pc.w_nb2 + uint64_t(i3 / pc.r3) * pc.w_nb3;
    g_xb = pc.x + 4u * (uint64_t(i2) * pc.x_nb2 + uint64_t(i3) * pc.x_nb3);
    g_yb = pc.y + 4u * (uint64_t(i2) * pc.y_nb2 + uint64_t(i3) * pc.y_nb3);
    const uint m0 = gl_WorkGroupID.y * BM;
    tile(n0, m0, min(BM, pc.M - m0), tid);
#else
    const uint e = gl_WorkGroupID.y;
    g_mat = pc.w + uint64_t(e) * pc.w_nb2;
    const uint off = RU32L(pc.ids).v[e], cnt = RU32L(pc.ids).v[e + 1u] - off;
    for (uint m0 = 0; m0 < cnt; m0 += BM) {
        barrier(); // colp of the previous tile is no longer read
        if (tid < BM && m0 + tid < cnt) colp[tid] = RU32L(pc.ids).v[pc.E + 1u + off + m0 + tid];
        barrier();
        tile(n0, m0, min(BM, cnt - m0), tid);
    }
#endif
}
