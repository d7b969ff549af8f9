/*
 * kernels/norm.hip - RMS_NORM, SOFTMAX, ROPE on f32 (the CPU reference is
 * backends/cpu/ref_norm.c, ref_softmax.c, ref_rope.c; host side
 * backends/hip/hip_op_norm.c; arguments and formulas kernels/norm.h).
 *
 * k_rms_norm_f32, k_softmax_f32: row reductions. A row of n floats belongs
 *   to tpr threads: one warp (tpr 32, blockDim.x / 32 rows a block: short
 *   rows, e.g. per-head norms of [128, heads, T]) or the whole block (tpr ==
 *   blockDim.x, 64..1024: hidden rows of 4096, vocab rows of 151936). Sweeps
 *   over the row (sum of squares then scale; max, sum of exp, write), each
 *   thread the same strided items every sweep, float4 where aligned; the
 *   second and third sweeps mostly hit the cache. Reductions: a warp
 *   butterfly, then (tpr > 32) one float per warp through shared memory.
 *   Every thread of a row ends with the same bits, so the row is written
 *   consistently.
 * k_rope_f32: one thread per (pair, head, token) item, or per pass-through
 *   column; consecutive threads take consecutive pairs of a head, so the
 *   reads of x[i] and x[i + half] are coalesced.
 *
 * In place (y == x) is safe everywhere: a thread writes only elements it
 * alone read, after its last read of them.
 */
#include "sc_hip.h"
#include "norm.h"

#define NORM_NEG_INF __uint_as_float(0xff800000u) /* -inf */

struct alignas(16) norm_f4 {
    float v[4];
};
template <int VEC> struct norm_vec;
template <> struct norm_vec<1> { typedef float type; };
template <> struct norm_vec<4> { typedef norm_f4 type; };
static __device__ __forceinline__ float norm_lane(const float &x, int) { return x; }
static __device__ __forceinline__ float norm_lane(const norm_f4 &x, int k) { return x.v[k]; }
static __device__ __forceinline__ void norm_set(float &x, int, float v) { x = v; }
static __device__ __forceinline__ void norm_set(norm_f4 &x, int k, float v) { x.v[k] = v; }

/* ---- row reductions ------------------------------------------------------------ */

/* Sum (MAX false) or max (MAX true) of v over the tpr threads of a row.
 * red: 32 floats of shared memory; used only when tpr > 32, where the row is
 * the whole block (so the barriers are uniform). */
template <bool MAX> static __device__ __forceinline__ float row_reduce(float v, uint32_t tpr, float *red) {
    v = MAX ? sc_warp_max(v) : sc_warp_sum(v);
    if (tpr <= SC_WARP) return v;
    const uint32_t warp = threadIdx.x / SC_WARP, nw = tpr / SC_WARP;
    __syncthreads(); /* the previous reduction's reads of red are done */
    if (sc_lane() == 0) red[warp] = v;
    __syncthreads();
    v = sc_lane() < nw ? red[sc_lane()] : (MAX ? NORM_NEG_INF : 0.0f);
    return MAX ? sc_warp_max(v) : sc_warp_sum(v); /* every warp: the same sum, same order */
}

/* This thread's row: byte offsets of its start in x and y (offsets, not
 * pointers, so that the loads stay global_load: the address space is seen
 * from p.x / p.y), and its index inside the row. */
struct row_pos {
    int64_t x, y;
    uint32_t t; /* thread index inside the row's tpr */
};

static __device__ __forceinline__ bool row_locate(const sc_rows_args &p, row_pos &rp) {
    const uint32_t row = blockIdx.x * (blockDim.x / p.tpr) + threadIdx.x / p.tpr;
    if (row >= p.rows) return false; /* uniform over the row's threads (a warp, or the block) */
    const uint32_t i1 = row % p.r1, r = row / p.r1, i2 = r % p.r2, i3 = r / p.r2;
    rp.x = (int64_t)i1 * p.x_nb[1] + (int64_t)i2 * p.x_nb[2] + (int64_t)i3 * p.x_nb[3];
    rp.y = (int64_t)i1 * p.y_nb[1] + (int64_t)i2 * p.y_nb[2] + (int64_t)i3 * p.y_nb[3];
    rp.t = threadIdx.x % p.tpr;
    return true;
}

/* RMS_NORM of one row: y = w * (x * inv), inv = 1 / sqrt(sum(x^2) / n + eps),
 * the reference's order of operations. */
template <int VEC> static __device__ __forceinline__ void rms_row(const sc_rows_args &p, const row_pos &rp, float *red) {
    typedef typename norm_vec<VEC>::type V;
    const V *x = (const V *)((const char *)p.x + rp.x); /* [n / VEC] */
    V *y = (V *)((char *)p.y + rp.y);
    const V *w = (const V *)p.w;  /* [n / VEC] or NULL */
    const uint32_t n = p.n / VEC;

    float ss = 0.0f;
    for (uint32_t j = rp.t; j < n; j += p.tpr) { /* hot loop 1: sum of squares */
        const V v = x[j];
        for (int k = 0; k < VEC; k++) ss += norm_lane(v, k) * norm_lane(v, k);
    }
    ss = row_reduce<false>(ss, p.tpr, red);
    const float inv = 1.0f / sqrtf(ss / (float)p.n + p.s);

    for (uint32_t j = rp.t; j < n; j += p.tpr) { /* hot loop 2: scale (x from the cache) */
        const V v = x[j];
        V o;
        if (w) {
            const V g = w[j];
            for (int k = 0; k < VEC; k++) norm_set(o, k, norm_lane(g, k) * (norm_lane(v, k) * inv));
        } else {
            for (int k = 0; k < VEC; k++) norm_set(o, k, norm_lane(v, k) * inv);
        }
        y[j] = o;
    }
}

/* SOFTMAX of one row, v = x * scale: max, sum of exp(v - max), write
 * exp(v - max) / sum. A row whose every v is -inf gives zeros (the reference's
 * "nothing to attend to"). */
template <int VEC>
static __device__ __forceinline__ void softmax_row(const sc_rows_args &p, const row_pos &rp, float *red) {
    typedef typename norm_vec<VEC>::type V;
    const V *x = (const V *)((const char *)p.x + rp.x); /* [n / VEC] */
    V *y = (V *)((char *)p.y + rp.y);
    const uint32_t n = p.n / VEC;
    const float s = p.s;

    float m = NORM_NEG_INF;
    for (uint32_t j = rp.t; j < n; j += p.tpr) { /* hot loop 1: max */
        const V v = x[j];
        for (int k = 0; k < VEC; k++) m = fmaxf(m, norm_lane(v, k) * s);
    }
    m = row_reduce<true>(m, p.tpr, red);

    if (m == NORM_NEG_INF) { /* uniform over the row */
        V z;
        for (int k = 0; k < VEC; k++) norm_set(z, k, 0.0f);
        for (uint32_t j = rp.t; j < n; j += p.tpr) y[j] = z;
        return;
    }

    float sum = 0.0f;
    for (uint32_t j = rp.t; j < n; j += p.tpr) { /* hot loop 2: sum of exp */
        const V v = x[j];
        for (int k = 0; k < VEC; k++) sum += expf(norm_lane(v, k) * s - m);
    }
    sum = row_reduce<false>(sum, p.tpr, red);

    for (uint32_t j = rp.t; j < n; j += p.tpr) { /* hot loop 3: write */
        const V v = x[j];
        V o;
        for (int k = 0; k < VEC; k++) norm_set(o, k, expf(norm_lane(v, k) * s - m) / sum);
        y[j] = o;
    }
}

SC_KERNEL(k_rms_norm_f32, sc_rows_args, SC_ROWS_THREADS) {
    __shared__ float red[SC_ROWS_THREADS / SC_WARP];
    row_pos rp;
    if (!row_locate(p, rp)) return;
    if (p.vec == 4)
        rms_row<4>(p, rp, red);
    else
        rms_row<1>(p, rp, red);
}

SC_KERNEL(k_softmax_f32, sc_rows_args, SC_ROWS_THREADS) {
    __shared__ float red[SC_ROWS_THREADS / SC_WARP];
    row_pos rp;
    if (!row_locate(p, rp)) return;
    if (p.vec == 4)
        softmax_row<4>(p, rp, red);
    else
        softmax_row<1>(p, rp, red);
}

/* ---- ROPE ------------------------------------------------------------------------ */

/* item = ((t * H + h) * (ni + n_pass) + j): j < ni rotates pair i0 + j of
 * head h of token t, j >= ni copies column n_rot + j - ni. */
SC_KERNEL(k_rope_f32, sc_rope_args, SC_ROPE_THREADS) {
    const uint32_t per_row = p.ni + p.n_pass;
    const uint32_t step = gridDim.x * blockDim.x;
    for (uint32_t item = blockIdx.x * blockDim.x + threadIdx.x; item < p.items; item += step) {
        const uint32_t j = item % per_row, row = item / per_row;
        const uint32_t h = row % p.H, t = row / p.H;
        const float *x = (const float *)((const char *)p.x + (int64_t)h * p.x_nb1 + (int64_t)t * p.x_nb2); /* [D] */
        float *y = (float *)((char *)p.y + (int64_t)h * p.y_nb1 + (int64_t)t * p.y_nb2);
        if (j < p.ni) {
            const float theta = (float)p.pos[t] * p.inv_freq[j];
            const float c = cosf(theta), s = sinf(theta);
            const uint32_t i = p.i0 + j;
            const float x0 = x[i], x1 = x[i + p.half];
            y[i] = x0 * c - x1 * s;
            y[i + p.half] = x1 * c + x0 * s;
        } else {
            const uint32_t col = p.n_rot + (j - p.ni);
            y[col] = x[col];
        }
    }
}
