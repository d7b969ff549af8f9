/*
 * kernels/matmul_gemm.hip - prefill GEMM for MUL_MAT (M past the GEMV's
 * columns) and grouped MUL_MAT_ID (the pairs of one expert as columns, from
 * k_mm_id_lists); arguments kernels/matmul.h, host backends/hip/hip_op_matmul.c.
 *
 *   y[n, m] = sum_k W[n, k] * x[k, m]   over a tile of 64 rows n x 64 columns m
 *
 * A block (256 threads) owns one output tile; K goes in steps of 32. Each
 * step every thread loads 8 consecutive k of one weight row (dequantised,
 * mm_w_load8: exactly the reference's weights) and of one x column into
 * shared memory, then the block multiplies the two 64 x 32 tiles:
 *
 *   k_mm_gemm_<w>       f32 FMA: thread (tx, ty) of 16 x 16 owns rows
 *                       4tx..4tx+3 x columns 4ty..4ty+3; tiles stored [k][n]
 *                       and [k][m] (f32 bits, as 16-byte words) so each k step
 *                       is two 128-bit LDS reads.
 *   k_mm_gemm_wmma_<w>  gfx11 WMMA (v_wmma_f32_16x16x16_f16 / _bf16, wave32):
 *                       tiles stored as 16-bit [n][k] and [m][k]; warp w of 8
 *                       owns the 16 x 16 output blocks (m block w % 4, n blocks
 *                       2(w/4), 2(w/4)+1). The weights are exact in the 16-bit
 *                       type: f16 for f16 and QG, bf16 for bf16 and bf16-rounded
 *                       QG. x is rounded to f16 (2^-11), or split into two bf16
 *                       (hi + lo, two WMMAs: bf16 alone errs by 2^-9). Built
 *                       where SC_HIP_WMMA; elsewhere the kernel is empty and the
 *                       host never picks it, except in EMU test builds with
 *                       -DSC_MM_EMU_WMMA, where the instruction is emulated
 *                       with the layout of kernels/wmma_emu.h (STRIXCORE_HIP_MATMUL=wmma then
 *                       runs these kernels on EMU: a check of the tiling, not
 *                       of the hardware's layout).
 *
 * WMMA operand layout: kernels/wmma_emu.h (wave32; C/D element i of lane l
 * is D[2i + l / 16][l % 16]).
 * Here A = the x tile (rows m), B = the weight tile (columns n), so lane l's
 * element i is y[n = l % 16, m = 2i + l / 16] of the block.
 */
#include "sc_hip.h"
#include "matmul.h"
#include "matmul_dev.h"
#include "wmma_emu.h"

#define TILE SC_MM_TILE
#define TK SC_MM_TILE_K

/* ---- the columns of a block ------------------------------------------------------------ */
struct mm_tile {
    const uint8_t *w;      /* weight matrix (QG: slab) */
    const uint32_t *list;  /* MUL_MAT_ID: the tile's pairs; NULL for MUL_MAT */
    const uint8_t *x0;     /* MUL_MAT: column 0 of the tile */
    uint8_t *y0;
    uint32_t n0, ncols;
    bool ok;
};

static __device__ __forceinline__ mm_tile mm_gemm_tile(const sc_mm_gemm_args &p) {
    const sc_mm_cols &c = p.c;
    mm_tile t;
    t.n0 = blockIdx.y * TILE;
    t.list = 0;
    t.x0 = 0;
    t.y0 = 0;
    if (p.lists) {
        t.ok = blockIdx.x < p.lists[0];
        if (!t.ok) return t;
        const uint32_t e = p.lists[p.items_at + 2 * blockIdx.x], first = p.lists[p.items_at + 2 * blockIdx.x + 1];
        const uint32_t beg = p.lists[p.off_at + e], end = p.lists[p.off_at + e + 1];
        t.list = p.lists + p.list_at + beg + first;
        t.ncols = end - beg - first < TILE ? end - beg - first : TILE;
        t.w = p.w.base + (int64_t)e * p.w.nb2;
    } else {
        const uint32_t b = blockIdx.z, i2 = b % c.ne2, i3 = b / c.ne2, m0 = blockIdx.x * TILE;
        t.ok = true;
        t.ncols = c.M - m0 < TILE ? c.M - m0 : TILE;
        t.w = p.w.base + (int64_t)(i2 / c.r2) * p.w.nb2 + (int64_t)(i3 / c.r3) * p.w.nb3;
        t.x0 = c.x + (int64_t)m0 * c.x_nb1 + (int64_t)i2 * c.x_nb2 + (int64_t)i3 * c.x_nb3;
        t.y0 = c.y + (int64_t)m0 * c.y_nb1 + (int64_t)i2 * c.y_nb2 + (int64_t)i3 * c.y_nb3;
    }
    return t;
}

/* column j < ncols of the tile: x [K] and y [N] */
static __device__ __forceinline__ const float *mm_tile_x(const mm_tile &t, const sc_mm_cols &c, uint32_t j) {
    if (!t.list) return (const float *)(t.x0 + (int64_t)j * c.x_nb1);
    const uint32_t pair = t.list[j], i = pair % c.M, tt = pair / c.M;
    return (const float *)(c.x + (int64_t)(c.x_bcast ? 0u : i) * c.x_nb1 + (int64_t)tt * c.x_nb2);
}
static __device__ __forceinline__ float *mm_tile_y(const mm_tile &t, const sc_mm_cols &c, uint32_t j) {
    if (!t.list) return (float *)(t.y0 + (int64_t)j * c.y_nb1);
    const uint32_t pair = t.list[j], i = pair % c.M, tt = pair / c.M;
    return (float *)(c.y + (int64_t)i * c.y_nb1 + (int64_t)tt * c.y_nb2);
}

/* x[k .. k+7] of a column, zero past K or for a column past the tile (x NULL) */
static __device__ __forceinline__ void mm_tile_x8(const float *x, uint32_t k, uint32_t K, bool vec, float (&v)[8]) {
    if (x && k + 8 <= K) {
        mm_load_x8(x, k, vec, v);
        return;
    }
    MM_UNROLL
    for (int i = 0; i < 8; i++) v[i] = (x && k + i < K) ? x[k + i] : 0.0f;
}

/* The weight kind mm_w_load8 gets: dense as is, any QG as MW_QG. */
#define MM_WLOAD(WT) ((WT) == MW_F32 || (WT) == MW_F16 || (WT) == MW_BF16 ? (WT) : MW_QG)

/* ---- f32 FMA GEMM -------------------------------------------------------------------------- */
struct mm_smem_f32 {          /* f32 bits, 4 a word: rows of 64 + 4 (16-byte aligned, fewer bank conflicts) */
    mm_u4 w[TK][TILE / 4 + 1]; /* [k][n / 4] */
    mm_u4 x[TK][TILE / 4 + 1]; /* [k][m / 4] */
};

template <int WT>
static __device__ __forceinline__ void mm_gemm_f32(const sc_mm_gemm_args &p) {
    __shared__ mm_smem_f32 sm;
    const mm_tile t = mm_gemm_tile(p);
    if (!t.ok) return; /* the whole block */
    const uint32_t tid = threadIdx.x, K = p.w.K;
    const uint32_t lr = tid % TILE, lk = (tid / TILE) * 8; /* loads: row / column lr, k lk .. lk+7 */
    const uint32_t tx = tid % 16, ty = tid / 16;           /* computes rows 4tx.., columns 4ty.. */
    const float *xcol = lr < t.ncols ? mm_tile_x(t, p.c, lr) : 0;
    const bool xvec = p.c.xvec != 0;

    float acc[4][4];
    MM_UNROLL
    for (int i = 0; i < 4; i++)
        MM_UNROLL
        for (int j = 0; j < 4; j++) acc[i][j] = 0.0f;

    for (uint32_t k0 = 0; k0 < K; k0 += TK) {
        float wv[8], xv[8];
        mm_w_load8<MM_WLOAD(WT)>(p.w, t.w, t.n0 + lr, k0 + lk, p.c.err, wv);
        mm_tile_x8(xcol, k0 + lk, K, xvec, xv);
        __syncthreads(); /* the previous step's reads are done */
        MM_UNROLL
        for (int i = 0; i < 8; i++) {
            sm.w[lk + i][lr / 4].v[lr % 4] = __float_as_uint(wv[i]);
            sm.x[lk + i][lr / 4].v[lr % 4] = __float_as_uint(xv[i]);
        }
        __syncthreads();
        /* hot loop: a 4 x 4 outer product per k */
        MM_UNROLL
        for (int kk = 0; kk < TK; kk++) {
            const mm_u4 a = sm.w[kk][tx], b = sm.x[kk][ty];
            MM_UNROLL
            for (int i = 0; i < 4; i++)
                MM_UNROLL
                for (int j = 0; j < 4; j++)
                    acc[i][j] = fmaf(__uint_as_float(a.v[i]), __uint_as_float(b.v[j]), acc[i][j]);
        }
    }

    MM_UNROLL
    for (int j = 0; j < 4; j++) {
        const uint32_t m = 4 * ty + j;
        if (m >= t.ncols) break;
        float *y = mm_tile_y(t, p.c, m);
        MM_UNROLL
        for (int i = 0; i < 4; i++) {
            const uint32_t n = t.n0 + 4 * tx + i;
            if (n < p.w.N) y[n] = acc[i][j];
        }
    }
}

/* ---- WMMA GEMM (gfx11) ----------------------------------------------------------------------- */
#define MM_WMMA SC_WMMA_ON /* kernels/wmma_emu.h: the instruction, or its emulation in EMU test builds */

#if MM_WMMA
typedef sc_wmma_v8f mm_v8f;
typedef sc_wmma_u8w mm_u8w;

#define WPITCH (TK / 8 + 1) /* 16-byte words per row (8 16-bit values each): 80 bytes, fewer bank conflicts */
template <bool BF> struct mm_smem_16 {
    mm_u4 w[TILE][WPITCH];             /* [n][k / 8] */
    mm_u4 x[TILE][WPITCH];             /* [m][k / 8] */
    mm_u4 xl[BF ? TILE : 1][WPITCH];   /* bf16 only: x - bf16(x), rounded to bf16 again */
};

/* 16 consecutive 16-bit values (32 bytes) of a shared row from word s */
static __device__ __forceinline__ mm_u8w mm_lds16(const mm_u4 *s) {
    const mm_u4 a = s[0], b = s[1];
    mm_u8w r;
    MM_UNROLL
    for (int i = 0; i < 4; i++) {
        r.v[i] = a.v[i];
        r.v[4 + i] = b.v[i];
    }
    return r;
}

template <bool BF>
static __device__ __forceinline__ mm_v8f mm_wmma(const mm_u8w &a, const mm_u8w &b, mm_v8f c) {
    return sc_wmma<BF>(a, b, c);
}

template <bool BF> static __device__ __forceinline__ uint32_t mm_pack16(float lo, float hi) {
    return sc_wmma_pack16<BF>(lo, hi);
}
#endif

template <int WT, bool BF>
static __device__ __forceinline__ void mm_gemm_wmma(const sc_mm_gemm_args &p) {
#if MM_WMMA
    __shared__ mm_smem_16<BF> sm;
    const mm_tile t = mm_gemm_tile(p);
    if (!t.ok) return; /* the whole block */
    const uint32_t tid = threadIdx.x, lane = sc_lane(), warp = tid / SC_WARP, K = p.w.K;
    /* loads: row / column lr, k lk .. lk+7; 4 neighbouring threads take one row's 32 k
     * (contiguous in memory and in shared memory) */
    const uint32_t lr = tid / 4, lk = (tid % 4) * 8;
    const uint32_t mb = (warp % 4) * 16, nb = (warp / 4) * 32; /* this warp's m block, first n block */
    const float *xcol = lr < t.ncols ? mm_tile_x(t, p.c, lr) : 0;
    const bool xvec = p.c.xvec != 0;

    mm_v8f c0 = {}, c1 = {};
    for (uint32_t k0 = 0; k0 < K; k0 += TK) {
        float wv[8], xv[8];
        mm_w_load8<MM_WLOAD(WT)>(p.w, t.w, t.n0 + lr, k0 + lk, p.c.err, wv);
        mm_tile_x8(xcol, k0 + lk, K, xvec, xv);
        mm_u4 wp, xp, xl;
        MM_UNROLL
        for (int i = 0; i < 4; i++) {
            wp.v[i] = mm_pack16<BF>(wv[2 * i], wv[2 * i + 1]);
            xp.v[i] = mm_pack16<BF>(xv[2 * i], xv[2 * i + 1]);
            /* bf16: x ~ hi + lo to about 2^-16 (bf16 alone, 2^-9, errs past the 1e-5 nmse of a 16-bit weight) */
            xl.v[i] = BF ? mm_pack16<BF>(xv[2 * i] - sc_bf2f((uint16_t)xp.v[i]),
                                         xv[2 * i + 1] - sc_bf2f((uint16_t)(xp.v[i] >> 16)))
                         : 0u;
        }
        __syncthreads(); /* the previous step's reads are done */
        sm.w[lr][lk / 8] = wp;
        sm.x[lr][lk / 8] = xp;
        if (BF) sm.xl[BF ? lr : 0][lk / 8] = xl;
        __syncthreads();
        /* hot loop: two 16-deep k steps, two WMMAs each */
        MM_UNROLL
        for (int kk = 0; kk < TK; kk += 16) {
            const mm_u8w a = mm_lds16(&sm.x[mb + lane % 16][kk / 8]);
            const mm_u8w b0 = mm_lds16(&sm.w[nb + lane % 16][kk / 8]);
            const mm_u8w b1 = mm_lds16(&sm.w[nb + 16 + lane % 16][kk / 8]);
            c0 = mm_wmma<BF>(a, b0, c0);
            c1 = mm_wmma<BF>(a, b1, c1);
            if (BF) {
                const mm_u8w al = mm_lds16(&sm.xl[BF ? mb + lane % 16 : 0][kk / 8]);
                c0 = mm_wmma<BF>(al, b0, c0);
                c1 = mm_wmma<BF>(al, b1, c1);
            }
        }
    }

    /* element i of lane l: y[n = n block + l % 16, m = mb + 2i + l / 16] */
    MM_UNROLL
    for (int i = 0; i < 8; i++) {
        const uint32_t m = mb + 2 * i + lane / 16;
        if (m >= t.ncols) continue;
        float *y = mm_tile_y(t, p.c, m);
        const uint32_t n = t.n0 + nb + lane % 16;
        if (n < p.w.N) y[n] = c0[i];
        if (n + 16 < p.w.N) y[n + 16] = c1[i];
    }
#else
    (void)p;
#endif
}

#define MM_GEMM(name, WT) \
    SC_KERNEL(name, sc_mm_gemm_args, SC_MM_GEMM_THREADS) { mm_gemm_f32<WT>(p); }
#define MM_GEMM_WMMA(name, WT, BF) \
    SC_KERNEL(name, sc_mm_gemm_args, SC_MM_GEMM_THREADS) { mm_gemm_wmma<WT, BF>(p); }

MM_GEMM(k_mm_gemm_f32, MW_F32)
MM_GEMM(k_mm_gemm_f16, MW_F16)
MM_GEMM(k_mm_gemm_bf16, MW_BF16)
MM_GEMM(k_mm_gemm_qg, MW_QG)
MM_GEMM_WMMA(k_mm_gemm_wmma_f16, MW_F16, false)
MM_GEMM_WMMA(k_mm_gemm_wmma_bf16, MW_BF16, true)
MM_GEMM_WMMA(k_mm_gemm_wmma_qg, MW_QG, false)    /* QG rounded to f16 */
MM_GEMM_WMMA(k_mm_gemm_wmma_qg_bf, MW_QG, true)  /* QG rounded to bf16 */
