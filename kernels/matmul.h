/*
 * kernels/matmul.h - arguments of the matmul family (kernels/matmul_*.hip):
 * MUL_MAT and MUL_MAT_ID. Shared by the host (C11, backends/hip/
 * hip_op_matmul.c) and the kernels (C++/HIP/CUDA/EMU).
 *
 *   MUL_MAT    w [K, N, B2, B3] (f32/f16/bf16/QG), x f32 [K, M, b2, b3]
 *              -> y f32 [N, M, b2, b3]; batch (i2, i3) reads weight matrix
 *              (i2 / r2, i3 / r3), r2 = b2 / B2, r3 = b3 / B3.
 *   MUL_MAT_ID w [K, N, E], x f32 [K, X, T] (X == n_used or 1), ids i32
 *              [n_used, T] -> y f32 [N, n_used, T]:
 *              y[:, i, t] = W_{ids[i, t]} x[:, X == 1 ? 0 : i, t].
 *
 * A weight "row" n is the K-long run W[n, :] (contiguous; QG: a row of packed
 * codes); an x / y "column" is the K- / N-long contiguous run x[:, m] / y[:, m].
 * Every other stride is free (bytes, int64).
 *
 * Kernels (matmul_gemv.hip, matmul_gemm.hip, matmul_id.hip):
 *   k_mm_gemv_<w>        decode GEMV, sc_mm_gemv_args
 *   k_mm_gemv_dp4_q4/_q8 decode GEMV on int8 activations, sc_mm_gemv_args
 *   k_mm_quant_q8        x -> int8 blocks of 32 for the dp4 GEMV, sc_mm_q8_args
 *   k_mm_gemm_<w>        tiled GEMM (f32 FMA), sc_mm_gemm_args
 *   k_mm_gemm_wmma_<w>   tiled GEMM on gfx11 WMMA (empty elsewhere), sc_mm_gemm_args
 *   k_mm_id_lists        MUL_MAT_ID pairs sorted by expert, sc_mm_id_lists_args
 *
 * Range errors (the reference's SC_ERANGE) go to the stream's error word
 * (hip_err_word, sc_report), passed as sc_mm_cols.err / sc_mm_id_lists_args.err:
 * an expert id outside 0..E-1 (its pair's y column is left unwritten) and a
 * g_idx entry outside 0..G-1 (the weight is computed with group 0).
 */
#ifndef SC_KERNELS_MATMUL_H
#define SC_KERNELS_MATMUL_H

#include <stdint.h>

/* ---- geometry ---------------------------------------------------------------------- */
/* GEMV: a block of SC_MM_GEMV_WARPS warps, each owning SC_MM_GEMV_ROWS
 * consecutive weight rows and up to SC_MM_GEMV_COLS x columns.
 * grid (ceil(N / (WARPS * ROWS)), column blocks, batches or (i, t) pairs). */
#define SC_MM_GEMV_WARPS 4
#define SC_MM_GEMV_ROWS 2
#define SC_MM_GEMV_COLS 4
#define SC_MM_GEMV_THREADS (SC_MM_GEMV_WARPS * 32)

/* GEMM: SC_MM_TILE weight rows x SC_MM_TILE columns per block, K in steps of
 * SC_MM_TILE_K; grid (column tiles or work items, ceil(N / TILE), batches). */
#define SC_MM_TILE 64
#define SC_MM_TILE_K 32
#define SC_MM_GEMM_THREADS 256

/* int8 activations: blocks of 32 values, one f32 scale each. */
#define SC_MM_Q8_BLOCK 32
#define SC_MM_Q8_THREADS 256 /* 8 warps, a block of 32 values per warp */

/* MUL_MAT_ID sort: one block; experts counted in shared memory. */
#define SC_MM_ID_THREADS 256
#define SC_MM_ID_MAX_E 1024

/* ---- operands ------------------------------------------------------------------------ */
/* The weight: dense rows or a QG slab (plugin.h). */
typedef struct sc_mm_weight {
    const uint8_t *base;     /* matrix 0 (QG: slab 0) */
    int64_t nb1;             /* bytes between rows (QG: row_bytes) */
    int64_t nb2, nb3;        /* bytes between matrices (MUL_MAT_ID: experts, nb2) */
    int64_t q_scales;        /* QG: f16 scales [N, G] at this offset in a slab */
    int64_t q_zeros;         /* QG: u8 zeros [N, G] */
    int64_t q_gidx;          /* QG: i32 g_idx [K], or -1 */
    uint32_t K, N;
    uint32_t bits;           /* QG: 2, 3, 4, 8 */
    uint32_t group_size, G;  /* QG */
    uint32_t bf16_round;     /* QG: SC_QUANT_BF16_ROUND (else dequantised weights round to f16) */
    uint32_t align;          /* largest of 16, 8, 4 dividing every row's start address */
    uint32_t pad_;
} sc_mm_weight;

/* Where the x and y columns are. MUL_MAT: column m of batch (i2, i3) at
 * x + m*x_nb1 + i2*x_nb2 + i3*x_nb3 (y alike). MUL_MAT_ID: pair (i, t) reads
 * x + (x_bcast ? 0 : i)*x_nb1 + t*x_nb2 and writes y + i*y_nb1 + t*y_nb2.
 * err: where the GEMV / GEMM kernels report range errors (expert ids, g_idx). */
typedef struct sc_mm_cols {
    const uint8_t *x;
    uint8_t *y;
    const uint8_t *ids;       /* MUL_MAT_ID: i32 [n_used, T], ids[i, t] at i*4 + t*ids_nb1; NULL: MUL_MAT */
    unsigned *err;            /* the stream's error word (hip_err_word) */
    int64_t x_nb1, x_nb2, x_nb3;
    int64_t y_nb1, y_nb2, y_nb3;
    int64_t ids_nb1;
    uint32_t M;               /* MUL_MAT: columns per batch; MUL_MAT_ID: n_used */
    uint32_t ne2;             /* MUL_MAT: x ne[2]; MUL_MAT_ID: T */
    uint32_t r2, r3;          /* MUL_MAT: broadcast factors */
    uint32_t x_bcast;         /* MUL_MAT_ID: X == 1 */
    uint32_t E;               /* MUL_MAT_ID: experts (an id outside 0..E-1: reported, its column unwritten) */
    uint32_t xvec;            /* every x column starts 16-byte aligned */
    uint32_t pad_;
} sc_mm_cols;

/* ---- GEMV ---------------------------------------------------------------------------- */
typedef struct sc_mm_gemv_args {
    sc_mm_weight w;
    sc_mm_cols c;
    /* dp4 only: x as int8 blocks (k_mm_quant_q8), column q at xq + q*K and
     * xd + q*2*(K/32) ({d, sum} per block); q = b*M + m (MUL_MAT) or
     * t*X + (X == 1 ? 0 : i) (MUL_MAT_ID) */
    const int8_t *xq;
    const float *xd;
} sc_mm_gemv_args;

/* k_mm_quant_q8: x f32 columns [K, ne1, ne2, ...] -> int8 blocks of 32.
 * Column q = c1 + ne1*(c2 + ne2*c3) at x + c1*nb1 + c2*nb2 + c3*nb3.
 * xq [ncols, K] int8: for 4-bit weights (perm) each 8 values v0..v7 are
 * stored v0 v2 v4 v6 v1 v3 v5 v7, the order of the low and high nibbles of a
 * word of codes; xd [ncols, K/32] {d, sum of the int8 values}: x ~ d * q.
 * grid ceil(ncols * K/32 / 8), SC_MM_Q8_THREADS threads: a block of 32 per warp. */
typedef struct sc_mm_q8_args {
    const uint8_t *x;
    int8_t *xq;
    float *xd;
    int64_t nb1, nb2, nb3;
    uint32_t ne1, ne2;
    uint32_t ncols, K;
    uint32_t perm;
    uint32_t pad_;
} sc_mm_q8_args;

/* ---- GEMM ---------------------------------------------------------------------------- */
/* MUL_MAT: grid (ceil(M / TILE), ceil(N / TILE), batches).
 * MUL_MAT_ID (grouped): grid (most work items, ceil(N / TILE), 1) over the
 * lists k_mm_id_lists wrote (lists != NULL): u32 words
 *   lists[0]                 number of work items
 *   lists[off_at + e]        first list entry of expert e (E + 1 entries)
 *   lists[items_at + 2j]     work item j: expert, first entry (a multiple of TILE)
 *   lists[list_at + q]       pair i + t*n_used, sorted by expert */
typedef struct sc_mm_gemm_args {
    sc_mm_weight w;
    sc_mm_cols c;
    const uint32_t *lists;
    uint32_t off_at, items_at, list_at;
    uint32_t pad_;
} sc_mm_gemm_args;

/* k_mm_id_lists: one block of SC_MM_ID_THREADS threads; E <= SC_MM_ID_MAX_E.
 * Writes the lists above (pairs whose id is outside 0..E-1 are reported in
 * *err and left out). */
typedef struct sc_mm_id_lists_args {
    const uint8_t *ids;       /* i32 [n_used, T] */
    uint32_t *lists;
    unsigned *err;            /* the stream's error word (hip_err_word) */
    int64_t ids_nb1;
    uint32_t n_used, T, E;
    uint32_t off_at, items_at, list_at;
} sc_mm_id_lists_args;

#endif /* SC_KERNELS_MATMUL_H */
