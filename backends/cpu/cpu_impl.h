/*
 * backends/cpu/cpu_impl.h - what the CPU backend's files share internally.
 *
 * Layering: ref_*.c (one op family each) hold, per op, a shape/type check
 * (sc__cpu_check_<op>, no data access: supports_op uses it before memory
 * exists) and the scalar reference (sc__cpu_ref_<op>). fast_*.c hold the
 * SIMD + threaded versions; they run the same check first and fall back to
 * the reference for anything they do not cover. The SIMD primitives sit in a
 * table of function pointers chosen once at run time (fast_kern_*.c).
 */
#ifndef STRIXCORE_CPU_IMPL_H
#define STRIXCORE_CPU_IMPL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cpu.h"
#include "cpu_fp.h"

/* x86 SIMD kernels are built (and picked at run time) on x86 only;
 * -DSC_CPU_NO_X86 builds the portable path alone, as on aarch64. */
#if (defined(__x86_64__) || defined(__i386__)) && !defined(SC_CPU_NO_X86)
#define SC_CPU_X86 1
#else
#define SC_CPU_X86 0
#endif

/* ------------------------------------------------------------------------ */
/* small helpers                                                             */
/* ------------------------------------------------------------------------ */

/* Bytes per element for the element types the CPU backend reads; 0 for QG
 * and anything unknown (kept here so the backend does not depend on type.c). */
static inline size_t sc__cpu_type_size(int32_t type) {
    switch (type) {
    case SC_TYPE_F32: case SC_TYPE_I32: return 4;
    case SC_TYPE_F16: case SC_TYPE_BF16: return 2;
    case SC_TYPE_I8: return 1;
    default: return 0;
    }
}

static inline bool sc__cpu_is_float(int32_t type) {
    return type == SC_TYPE_F32 || type == SC_TYPE_F16 || type == SC_TYPE_BF16;
}

/* Read element i of a row of f32/f16/bf16 as f32. */
static inline float sc__cpu_load_f(const void *row, int32_t type, int64_t i) {
    const uint8_t *p = row;
    uint16_t h;
    float f;
    switch (type) {
    case SC_TYPE_F16: memcpy(&h, p + i * 2, 2); return sc__f16_to_f32_inl(h);
    case SC_TYPE_BF16: memcpy(&h, p + i * 2, 2); return sc__bf16_to_f32_inl(h);
    default: memcpy(&f, p + i * 4, 4); return f;
    }
}

/* Write element i of a row of f32/f16/bf16 from f32 (RNE for the halves). */
static inline void sc__cpu_store_f(void *row, int32_t type, int64_t i, float v) {
    uint8_t *p = row;
    uint16_t h;
    switch (type) {
    case SC_TYPE_F16: h = sc__f32_to_f16_inl(v); memcpy(p + i * 2, &h, 2); break;
    case SC_TYPE_BF16: h = sc__f32_to_bf16_inl(v); memcpy(p + i * 2, &h, 2); break;
    default: memcpy(p + i * 4, &v, 4); break;
    }
}

static inline int32_t sc__cpu_load_i32(const sc_tensor *t, int64_t i0, int64_t i1) {
    int32_t v;
    memcpy(&v, (const uint8_t *)t->data + (size_t)i0 * t->nb[0] + (size_t)i1 * t->nb[1], sizeof v);
    return v;
}

/* Address of element (0, i1, i2, i3): the start of a row. */
static inline void *sc__cpu_row(const sc_tensor *t, int64_t i1, int64_t i2, int64_t i3) {
    return (uint8_t *)t->data + (size_t)i1 * t->nb[1] + (size_t)i2 * t->nb[2] + (size_t)i3 * t->nb[3];
}

/* Paged KV addressing shared by kv_write and attention: block_table i32
 * [max_blocks, n_seqs] maps (position p, sequence s) to the cache block
 * holding it; the row inside that block is p % block_size. */
static inline int sc__cpu_kv_block(const sc_tensor *bt, int64_t s, int64_t p, int64_t block_size,
                                   int64_t n_blocks, int64_t *blk) {
    *blk = 0;
    if (s < 0 || s >= bt->ne[1] || p < 0 || p / block_size >= bt->ne[0]) return SC_ERANGE;
    int32_t b = sc__cpu_load_i32(bt, p / block_size, s);
    if (b < 0 || b >= n_blocks) return SC_ERANGE;
    *blk = b;
    return SC_OK;
}

/* Sequence of token t: seq i32 [n_tokens], or 0 for all when seq is NULL. */
static inline int64_t sc__cpu_seq_of(const sc_tensor *seq, int64_t t) {
    return seq ? (int64_t)sc__cpu_load_i32(seq, t, 0) : 0;
}

/* RoPE inverse frequency of pair i, computed exactly like Hugging Face's
 * default rotary embedding: 1 / base^((2i) / n_rot) with f32 arithmetic.
 * Shared by the reference and the fast path so both get the same angles. */
static inline float sc__cpu_rope_inv_freq(int64_t i, int32_t n_rot, float base) {
    return 1.0f / powf(base, (float)(2 * i) / (float)n_rot);
}

/* ------------------------------------------------------------------------ */
/* checks (no data access) and the scalar reference, per op                  */
/* ------------------------------------------------------------------------ */

/* Node-level checks used by both paths. SC_OK, SC_EINVAL or SC_ENOTSUP. */
int sc__cpu_check(const sc_tensor *node);
/* The check plus: node and every source carry a data pointer. */
int sc__cpu_check_ready(const sc_tensor *node);

/* Shared tensor checks. */
bool sc__cpu_shape_ok(const sc_tensor *t);              /* every ne >= 1 */
bool sc__cpu_rows_ok(const sc_tensor *t, int32_t type); /* type matches, nb[0] == elem size */
bool sc__cpu_same_shape(const sc_tensor *a, const sc_tensor *b);
/* A weight/table operand: f32/f16/bf16 with contiguous rows, or a valid QG. */
bool sc__cpu_weight_ok(const sc_tensor *w);

/* QG layout check (core/src/quant.c): SC_OK or SC_EINVAL. */
int sc__quant_check(const sc_tensor *t);

/* Convert row `row` of weight matrix (i2, i3) of w (f32/f16/bf16/QG) to K f32. */
int sc__cpu_weight_row(const sc_tensor *w, int64_t row, int64_t i2, int64_t i3, float *out);

/* attention: check every block the queries will read (SC_ERANGE if one is
 * out of range) and report the longest context, max(pos) + 1. */
int sc__cpu_attn_validate(const sc_tensor *node, int64_t *max_ctx);

/* get_rows: every id inside the table? SC_OK or SC_ERANGE. */
int sc__cpu_get_rows_validate(const sc_tensor *node);

#define SC_CPU_OPS(X) \
    X(get_rows)       \
    X(rms_norm)       \
    X(mul_mat)        \
    X(mul_mat_id)     \
    X(add)            \
    X(mul)            \
    X(scale)          \
    X(silu)           \
    X(swiglu)         \
    X(rope)           \
    X(softmax)        \
    X(top_k)          \
    X(attention)      \
    X(kv_write)       \
    X(argmax)         \
    X(cpy)            \
    X(sigmoid)        \
    X(ssm_conv)       \
    X(gated_delta_net)

#define SC_CPU_DECL(name)                               \
    int sc__cpu_check_##name(const sc_tensor *node);    \
    int sc__cpu_ref_##name(sc_tensor *node);
SC_CPU_OPS(SC_CPU_DECL)
#undef SC_CPU_DECL

/* ------------------------------------------------------------------------ */
/* thread pool (threadpool.c)                                                */
/* ------------------------------------------------------------------------ */

/* One task of a parallel-for. Tasks of one call run concurrently on the
 * pool's threads (the caller is one of them), in no particular order. */
typedef void (*sc_cpu_task_fn)(void *ctx, int64_t task);

/* Run fn(ctx, 0..n_tasks-1) across the pool and return when all are done.
 * A call from inside a task runs its tasks serially on that thread. */
void sc__cpu_parallel_for(int64_t n_tasks, sc_cpu_task_fn fn, void *ctx);
/* Threads the next parallel-for will use (>= 1). */
int sc__cpu_n_threads(void);
/* A per-thread scratch buffer of at least `bytes` bytes, 64-byte aligned,
 * valid until the same thread asks for the same slot again. NULL on OOM. */
#define SC_CPU_SCRATCH_SLOTS 3
void *sc__cpu_scratch(int slot, size_t bytes);
/* Split n_items of `cost` each into tasks: 1 when the work is too small to be
 * worth waking the pool, else enough tasks to balance the threads. */
int64_t sc__cpu_n_tasks(int64_t n_items, double cost_per_item);

/* Parallel-for over the rows (i1, i2, i3) of `shape`: fn is called once per
 * row, rows split into contiguous ranges sized from cost_per_row. */
typedef void (*sc_cpu_row_fn)(void *ctx, int64_t i1, int64_t i2, int64_t i3);
void sc__cpu_parallel_rows(const sc_tensor *shape, double cost_per_row, sc_cpu_row_fn fn, void *ctx);

/* ------------------------------------------------------------------------ */
/* SIMD kernel table (fast_kern_generic.c, fast_kern_avx2.c, _avx512.c)      */
/* ------------------------------------------------------------------------ */

/* A QG matrix row's pieces, located by the caller. */
typedef struct sc_cpu_qrow {
    const uint8_t *codes;   /* [row_bytes] */
    const uint8_t *scales;  /* f16 [G] (possibly unaligned) */
    const uint8_t *zeros;   /* u8 [G] */
    uint32_t bits;          /* 2, 3, 4 or 8 (AVX2 has 4 and 8 with groups of 8k; the rest are portable) */
    uint32_t group_size;
    uint32_t flags;         /* SC_QUANT_BF16_ROUND honoured; never HAS_GIDX here */
} sc_cpu_qrow;

/* Weight k of a QG row (no g_idx), rounded as the format says: the scalar
 * form every kernel uses for tails and odd bit widths. */
static inline float sc__cpu_qg_weight(const sc_cpu_qrow *q, int64_t k) {
    const uint64_t bit = (uint64_t)k * q->bits;
    uint32_t v = q->codes[bit >> 3];
    const uint32_t shift = (uint32_t)(bit & 7u);
    if (shift + q->bits > 8) v |= (uint32_t)q->codes[(bit >> 3) + 1] << 8;
    const int32_t code = (int32_t)((v >> shift) & ((1u << q->bits) - 1u));
    const int64_t g = k / q->group_size;
    uint16_t sh;
    memcpy(&sh, q->scales + g * 2, 2);
    const float w = sc__f16_to_f32_inl(sh) * (float)(code - (int32_t)q->zeros[g]);
    return (q->flags & SC_QUANT_BF16_ROUND) ? sc__round_bf16_inl(w) : sc__round_f16_inl(w);
}

/* An activation column quantized to int8 for the integer QG dot (ggml's
 * Q8_0 idea): blocks of SC_CPU_Q8_BLOCK values, x[k] ~= d[b] * q[k] with
 * d[b] = max|x| / 127 over block b. For 4-bit weights the values of a block
 * are stored evens first, then odds (q[b*32 + i] = x[b*32 + 2i], q[b*32 +
 * 16 + i] = x[b*32 + 2i + 1]), the order in which a block's 16 code bytes
 * split into low and high nibbles; for 8-bit they are in natural order.
 * gsum[g] = sum over the blocks b of weight group g of d[b] * sum_i q[i],
 * which carries the zero point: sum_k (c_k - z) x_k = dot(c, x) - z * gsum.
 * That order of q is the portable table's; a table may keep its own (the
 * AVX2 one interleaves pairs of blocks for 4-bit, see fast_kern_avx2.c):
 * columns are only ever made by a table's quant_q8 for its dot_qg_q8. */
#define SC_CPU_Q8_BLOCK 32
typedef struct sc_cpu_q8 {
    const int8_t *q;    /* [K] */
    const float *d;     /* [K / 32] */
    const float *gsum;  /* [G] */
    float *dx;          /* [K / 8] scratch the kernel table may fill in quant_q8 and read in
                           dot_qg_q8 (AVX2, paired 4-bit: each d of a pair of blocks repeated
                           four times, [d0 d0 d0 d0 d1 d1 d1 d1] per 64 values) */
} sc_cpu_q8;

/* Is the int8-activation QG path enabled (STRIXCORE_CPU_QG_ACT != f32)? */
bool sc__cpu_qg_int8(void);

/* Does the int8-activation path take this QG row layout? (bits 4 or 8,
 * groups a multiple of 32 columns, K a multiple of 32, no g_idx.) */
static inline bool sc__cpu_q8_ok(uint32_t bits, uint32_t group_size, uint32_t flags, int64_t K) {
    return (bits == 4 || bits == 8) && group_size % SC_CPU_Q8_BLOCK == 0 && K % SC_CPU_Q8_BLOCK == 0 && K > 0 &&
           !(flags & SC_QUANT_HAS_GIDX);
}

typedef struct sc_cpu_kernels {
    const char *name;
    /* reductions: sum_i a[i] * b[i] */
    float (*dot_f32)(const float *a, const float *b, int64_t n);
    float (*dot_f16)(const uint16_t *a, const float *b, int64_t n);
    float (*dot_bf16)(const uint16_t *a, const float *b, int64_t n);
    /* out[r] = dot(w + r*ldw, x), r = 0..3: four weight rows share x loads */
    void (*dot4_f32)(const float *w, int64_t ldw, const float *x, int64_t n, float out[4]);
    /* the same for two columns at once: out0[r] = dot(w_r, x0), out1[r] = dot(w_r, x1) */
    void (*dot4x2_f32)(const float *w, int64_t ldw, const float *x0, const float *x1, int64_t n, float out0[4],
                       float out1[4]);
    /* fused dequant-dot of one QG row (no g_idx) with x [K] */
    float (*dot_qg)(const sc_cpu_qrow *q, const float *x, int64_t K);
    /* conversions to f32 */
    void (*cvt_f16)(const uint16_t *src, float *dst, int64_t n);
    void (*cvt_bf16)(const uint16_t *src, float *dst, int64_t n);
    void (*dequant_qg)(const sc_cpu_qrow *q, float *dst, int64_t K); /* no g_idx */
    /* y[i] += a * x[i], x of the cache type */
    void (*axpy_f32)(float a, const float *x, float *y, int64_t n);
    /* y[i] += a[0] x_0[i] + .. + a[3] x_3[i], x_r = x + r*ldx: as four
     * axpy_f32 calls in order (the same roundings), y loaded once */
    void (*axpy4_f32)(const float a[4], const float *x, int64_t ldx, float *y, int64_t n);
    void (*axpy_f16)(float a, const uint16_t *x, float *y, int64_t n);
    void (*axpy_bf16)(float a, const uint16_t *x, float *y, int64_t n);
    /* elementwise; y may alias the inputs exactly */
    void (*add)(const float *a, const float *b, float *y, int64_t n);
    void (*mul)(const float *a, const float *b, float *y, int64_t n);
    void (*scale)(const float *a, float s, float *y, int64_t n);
    void (*silu)(const float *a, float *y, int64_t n);
    void (*swiglu)(const float *g, const float *u, float *y, int64_t n);
    /* norms and softmax */
    float (*sum_sq)(const float *x, int64_t n);
    void (*scale_mul)(const float *x, float s, const float *w, float *y, int64_t n); /* y = x*s*w */
    float (*max_scaled)(const float *x, float s, int64_t n);                       /* max(x*s) */
    float (*exp_sum)(const float *x, float s, float m, float *y, int64_t n);       /* y=exp(x*s-m), sum */
    /* int8 activations (see sc_cpu_q8); NULL where the table has none.
     * quant_q8: x [K] (K % 32 == 0) -> q [K], d [K/32], gsum [K/group_size]
     * in the order `bits` wants. dot_qg_q8: out[j] = W_row . x_j for nx
     * (1..4) columns, the row's codes unpacked once for all of them.
     * The tiled pair, NULL where the table has none (batches then use the
     * pair above): quant_q8_tiled as quant_q8, in the order gemm_q8 wants
     * (it may differ from dot_qg_q8's); gemm_q8: rows q[0..R) of one matrix
     * (same bits, groups, flags) and M columns, y[m][y_off + r] = W_r . x_m,
     * tiled over rows and columns. */
    void (*quant_q8)(const float *x, int64_t K, uint32_t bits, uint32_t group_size, int8_t *q, float *d,
                     float *gsum, float *dx);
    void (*dot_qg_q8)(const sc_cpu_qrow *q, const sc_cpu_q8 *x, int nx, int64_t K, float *out);
    void (*quant_q8_tiled)(const float *x, int64_t K, uint32_t bits, uint32_t group_size, int8_t *q, float *d,
                           float *gsum, float *dx);
    void (*gemm_q8)(const sc_cpu_qrow *q, int64_t R, const sc_cpu_q8 *x, int64_t M, int64_t K, float *const *y,
                    int64_t y_off);
    /* Dense GEMM for batches of columns (f32/f16/bf16 weights), NULL where
     * the table has none (the caller then converts rows to f32 and uses
     * dot4x2_f32). gemm_prep puts column x [K] in the form gemm reads,
     * into buf [gemm_prep_len(K)] floats (64-byte aligned), and returns buf,
     * or x itself when that already is the form. gemm: for the R rows at w
     * (row stride ldw bytes, K values of type wtype) and M prepared columns
     * xp[m], y[m][y_off + r] = W[r] . x_m, r < R, in f32 arithmetic. */
    size_t (*gemm_prep_len)(int64_t K);
    const float *(*gemm_prep)(int32_t wtype, const float *x, int64_t K, float *buf);
    void (*gemm)(int32_t wtype, const uint8_t *w, size_t ldw, int64_t R, int64_t K, const float *const *xp,
                 int64_t M, float *const *y, int64_t y_off);
} sc_cpu_kernels;

const sc_cpu_kernels *sc__cpu_kernels_generic(void);
const sc_cpu_kernels *sc__cpu_kernels_avx2(void); /* NULL when not built (non-x86) */
/* AVX2 plus AVX-VNNI integer dots for the QG int8 path; NULL when not built. */
const sc_cpu_kernels *sc__cpu_kernels_avxvnni(void);
/* AVX-512 (F/BW/VL/DQ/VNNI) batch kernels, register-tiled dense and int8 QG
 * GEMMs (fast_kern_avx512.c), over `base` (the AVX-VNNI or the AVX2 table)
 * for everything else; the first call's base stays. NULL when not built. */
const sc_cpu_kernels *sc__cpu_kernels_avx512(const sc_cpu_kernels *base);
/* The table in use (chosen on first call; the best the CPU runs, or as
 * STRIXCORE_CPU_FEATURES caps it: generic = the portable table, avx2 = AVX2
 * without AVX-VNNI, avxvnni = AVX2 with AVX-VNNI, avx512 = the default). */
const sc_cpu_kernels *sc__cpu_kernels(void);
/* Tests: force the portable kernels (true) or re-detect (false). */
void sc__cpu_force_generic(bool on);
/* The tables a tuned mul_mat may pick, best (the active one) first, with
 * their variant-name words "avx512", "avxvnni", "avx2" ("generic" only when
 * it is the active table); returns how many (fast_dispatch.c). */
#define SC_CPU_N_LEVELS 4
int sc__cpu_kernel_levels(const sc_cpu_kernels *tabs[SC_CPU_N_LEVELS], const char *names[SC_CPU_N_LEVELS]);

/* ------------------------------------------------------------------------ */
/* kernel tuning (fast_tune.c): mul_mat / mul_mat_id variants                */
/* ------------------------------------------------------------------------ */

/* How one mul_mat / mul_mat_id node runs: the kernel table, the int8- or
 * f32-activation QG path, and rows of W per task (0: the heuristic). */
typedef struct sc_cpu_mm_plan {
    const sc_cpu_kernels *kr;
    bool q8;              /* take the int8 path where the layout and table allow it */
    int64_t rows_per_task; /* 0 = mm_run's heuristic */
} sc_cpu_mm_plan;

/* The plan for node (MUL_MAT or MUL_MAT_ID, checked): the default (active
 * table, STRIXCORE_CPU_QG_ACT, heuristic split), or the tuning table's
 * choice for the node's key when one is set and valid for the node. */
void sc__cpu_mm_plan(const sc_tensor *node, sc_cpu_mm_plan *plan);
/* sc_backend_iface.tune_query / tune_set of the CPU device */
int sc__cpu_tune_query(const sc_tensor *node, sc_tune_info *info);
int sc__cpu_tune_set(const char *key, const char *variant);
/* Tests: what the calling thread's last mul_mat / mul_mat_id ran: the
 * variant name the table chose ("" when it ran the default untuned), and,
 * from mm_run, the kernel table's name, whether the int8 QG path ran and the
 * rows per task it used. */
typedef struct sc_cpu_mm_last {
    char variant[SC_TUNE_NAME_LEN];
    const char *table;
    bool q8;
    int64_t rows_per_task;
} sc_cpu_mm_last;
sc_cpu_mm_last *sc__cpu_mm_last(void);

/* fast ops (fast_*.c); each assumes sc__cpu_check_ready() passed */
int sc__cpu_fast_mul_mat(sc_tensor *node);  /* both take sc__cpu_mm_plan's choice */
int sc__cpu_fast_mul_mat_id(sc_tensor *node);
int sc__cpu_fast_rms_norm(sc_tensor *node);
int sc__cpu_fast_elementwise(sc_tensor *node); /* add, mul, scale, silu, swiglu */
int sc__cpu_fast_softmax(sc_tensor *node);
int sc__cpu_fast_rope(sc_tensor *node);
int sc__cpu_fast_attention(sc_tensor *node);
int sc__cpu_fast_get_rows(sc_tensor *node);

#endif
