/*
 * kernels/select.h - arguments of the select family's kernels (select.hip),
 * shared by the host code (backends/hip/hip_op_select.c) and the kernels.
 *
 *   GET_ROWS  table [D, V] (f32/f16/bf16/QG), ids i32 [n] -> f32 [D, n]
 *   CPY       a (f32/f16/bf16/i32/i8, any strides) -> contiguous of another type
 *   TOP_K     x f32 [n, rows] -> i32 [k, rows]  (ranked, ties to the lower index)
 *   ARGMAX    x f32 [n, rows] -> i32 [rows]
 *
 * Plain C: compiles as C11 (host) and as C++/HIP/CUDA (kernels).
 */
#ifndef SC_KERNELS_SELECT_H
#define SC_KERNELS_SELECT_H

#include <stdint.h>

#define SEL_WG 256         /* threads of get_rows, cpy and top_k blocks */
#define SEL_ARGMAX_WG 512  /* threads of an argmax block (one row each) */
#define SEL_TOPK_CAP 2048  /* keys a top_k round sorts in shared memory (16 KiB) */

/* Element codes of CPY: sc_type numbering for the real types, plus a 16-byte
 * word that dense same-type copies move. */
enum { SEL_T_F32 = 0, SEL_T_F16 = 1, SEL_T_BF16 = 2, SEL_T_I32 = 3, SEL_T_I8 = 4, SEL_T_U128 = 5 };

/* k_get_rows_{f32,f16,bf16,qg}: grid (ceil(D / SEL_WG), min(n, 65535)),
 * SEL_WG threads; blocks stride over the output rows in y. An id outside
 * 0..V-1 or a g_idx entry outside 0..G-1 is reported in *err (sc_report) and
 * its row / element left unwritten. */
typedef struct sel_get_rows_args {
    const uint8_t *table;   /* row v at table + v * tnb1 (QG: the slab, codes row v at v * row_bytes) */
    const int32_t *ids;     /* [n], contiguous */
    float *y;               /* [D, n], row i at y + i * ynb1 bytes */
    unsigned *err;          /* the stream's error word (hip_err_word) */
    int64_t tnb1, ynb1;     /* bytes */
    int64_t scales_off;     /* QG: f16 [V, G] */
    int64_t zeros_off;      /* QG: u8 [V, G] */
    int64_t gidx_off;       /* QG: i32 [D], or -1 when the table has no g_idx */
    int32_t D, V, n;
    uint32_t bits, group_size, G, bf16_round; /* QG */
} sel_get_rows_args;

/* k_cpy: element e (logical order, ne0 fastest) of src -> element e of dst.
 * Both shapes are merged over contiguous dims on the host (4 dims, element
 * strides). grid (min(ceil(n / SEL_WG), 65535 * 64), ...) as x only;
 * blocks stride over the elements. An i32 -> i8 value outside -128..127 is
 * reported in *err and its element left unwritten. */
typedef struct sel_cpy_args {
    const uint8_t *src;
    uint8_t *dst;
    unsigned *err;          /* the stream's error word (hip_err_word) */
    uint32_t sne[4];        /* src shape after merging */
    int64_t snb[4];         /* src byte strides */
    uint32_t dne[4];
    int64_t dnb[4];
    int64_t n;              /* elements (< 2^32) */
    int32_t stype, dtype;   /* SEL_T_* */
} sel_cpy_args;

/* k_top_k: one block (SEL_WG threads) per row; rows flattened over
 * (r1, r2, r3) in x (grid x = rows, < 2^31). */
typedef struct sel_rank_args {
    const uint8_t *x;       /* f32 rows, row (i1, i2, i3) at x + i1*xnb1 + i2*xnb2 + i3*xnb3 */
    uint8_t *y;             /* i32 output, see each kernel */
    int64_t xnb1, xnb2, xnb3;
    int64_t ynb0, ynb1, ynb2, ynb3;
    int32_t n, k;           /* row length; top_k: k */
    int32_t r1, r2;         /* rows = r1 * r2 * r3 */
    int32_t rows;
} sel_rank_args;

#endif /* SC_KERNELS_SELECT_H */
