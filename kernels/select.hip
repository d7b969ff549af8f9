/*
 * kernels/select.hip - GET_ROWS, CPY, TOP_K, ARGMAX (args: select.h; host:
 * backends/hip/hip_op_select.c; reference: backends/cpu/ref_get_rows.c,
 * ref_cpy.c, ref_softmax.c).
 *
 * All four are exact (backend-ops compares them bit for bit): f32 values move
 * as bits, 16-bit floats convert with sc_h2f / sc_bf2f and sc_f2h / sc_f2bf
 * (round to nearest even), and the ranking of TOP_K / ARGMAX works on integer
 * keys made from the f32 bits (sel_rank_key), never on float compares.
 */
#include "sc_hip.h"
#include "select.h"

/* 16 bytes, aligned: one 128-bit load or store */
typedef struct __attribute__((aligned(16))) sel_u4 {
    uint32_t x, y, z, w;
} sel_u4;

/* ---- GET_ROWS ----------------------------------------------------------------------------------
 * table [D, V], ids i32 [n] -> y f32 [D, n]. Thread = column k of output
 * row i (coalesced on both sides). An id outside 0..V-1 or a g_idx entry
 * outside 0..G-1 (the reference's SC_ERANGE) is reported in p.err (once
 * per row, by its thread k == 0; once per column and block) and leaves that
 * output row / column unwritten.
 * QG weight: W[v][k] = round16( scale[v][g] * (code - zero[v][g]) ), round16
 * = f16 (bf16 with bf16_round), g = g_idx[k] or k / group_size; the f32
 * product of an f16 scale and an integer of at most 9 bits is exact. */
enum { GR_F32 = 0, GR_F16 = 1, GR_BF16 = 2, GR_QG = 3 };

template <int TT>
static __device__ __forceinline__ void get_rows(const sel_get_rows_args &p) {
    const int32_t k = (int32_t)(blockIdx.x * blockDim.x + threadIdx.x); /* column */
    if (k >= p.D) return;
    uint32_t g = 0; /* QG: the group of column k, the same in every row */
    if (TT == GR_QG) {
        if (p.gidx_off >= 0) {
            const int32_t gi = ((const int32_t *)(p.table + p.gidx_off))[k];
            if (gi < 0 || (uint32_t)gi >= p.G) { /* the reference's SC_ERANGE: column k stays unwritten */
                sc_report(p.err, SC_HIP_ERR_RANGE);
                return;
            }
            g = (uint32_t)gi;
        } else {
            g = (uint32_t)k / p.group_size;
        }
    }
    for (int32_t i = (int32_t)blockIdx.y; i < p.n; i += (int32_t)gridDim.y) {
        const int32_t id = p.ids[i];
        if (id < 0 || id >= p.V) { /* the reference's SC_ERANGE: row i stays unwritten */
            if (k == 0) sc_report(p.err, SC_HIP_ERR_RANGE); /* once per row */
            continue;
        }
        const uint8_t *row = p.table + (int64_t)id * p.tnb1;
        uint32_t *yr = (uint32_t *)((uint8_t *)p.y + (int64_t)i * p.ynb1); /* [D] f32 bits */
        if (TT == GR_F32) {
            yr[k] = ((const uint32_t *)row)[k];
        } else if (TT == GR_F16) {
            const float v = sc_h2f(((const uint16_t *)row)[k]);
            ((float *)yr)[k] = v;
        } else if (TT == GR_BF16) {
            yr[k] = (uint32_t)((const uint16_t *)row)[k] << 16;
        } else {
            /* code k: `bits` wide at bit bits*k of the row, LSB first; a 3-bit
             * code may straddle two bytes (read the second only then) */
            const uint64_t bit = (uint64_t)k * p.bits;
            const uint32_t shift = (uint32_t)(bit & 7u);
            uint32_t v = row[bit >> 3];
            if (shift + p.bits > 8u) v |= (uint32_t)row[(bit >> 3) + 1] << 8;
            const int32_t code = (int32_t)((v >> shift) & ((1u << p.bits) - 1u));
            const int64_t sg = (int64_t)id * p.G + g; /* [V, G] */
            const float scale = sc_h2f(((const uint16_t *)(p.table + p.scales_off))[sg]);
            const int32_t zero = (int32_t)p.table[p.zeros_off + sg];
            const float w = scale * (float)(code - zero); /* exact */
            ((float *)yr)[k] = p.bf16_round ? sc_bf2f(sc_f2bf(w)) : sc_h2f(sc_f2h(w));
        }
    }
}

SC_KERNEL(k_get_rows_f32, sel_get_rows_args, SEL_WG) { get_rows<GR_F32>(p); }
SC_KERNEL(k_get_rows_f16, sel_get_rows_args, SEL_WG) { get_rows<GR_F16>(p); }
SC_KERNEL(k_get_rows_bf16, sel_get_rows_args, SEL_WG) { get_rows<GR_BF16>(p); }
SC_KERNEL(k_get_rows_qg, sel_get_rows_args, SEL_WG) { get_rows<GR_QG>(p); }

/* ---- CPY ---------------------------------------------------------------------------------------
 * Element e of src (logical order) -> element e of dst. The host merged
 * contiguous dims, so a dense tensor is one dim here and a dense same-type
 * copy arrives as SEL_T_U128 (or SEL_T_I32) words. Casts: float <-> float
 * through f32 (RNE to the halves), i8 -> i32 sign-extends, i32 -> i8 keeps
 * -128..127; another value is reported in p.err (the reference's SC_ERANGE)
 * and its element left unwritten. */
static __device__ __forceinline__ int64_t cpy_offset(uint32_t e, const uint32_t ne[4], const int64_t nb[4]) {
    const uint32_t i0 = e % ne[0];
    e /= ne[0];
    const uint32_t i1 = e % ne[1];
    e /= ne[1];
    const uint32_t i2 = e % ne[2];
    const uint32_t i3 = e / ne[2];
    return (int64_t)i0 * nb[0] + (int64_t)i1 * nb[1] + (int64_t)i2 * nb[2] + (int64_t)i3 * nb[3];
}

/* f32 bits of a float element of type t */
static __device__ __forceinline__ float cpy_load_f(const uint8_t *s, int32_t t) {
    if (t == SEL_T_F16) return sc_h2f(*(const uint16_t *)s);
    if (t == SEL_T_BF16) return sc_bf2f(*(const uint16_t *)s);
    return *(const float *)s;
}

SC_KERNEL(k_cpy, sel_cpy_args, SEL_WG) {
    const uint32_t stride = gridDim.x * blockDim.x;
    for (uint32_t e = blockIdx.x * blockDim.x + threadIdx.x; (int64_t)e < p.n; e += stride) {
        const uint8_t *s = p.src + cpy_offset(e, p.sne, p.snb);
        uint8_t *d = p.dst + cpy_offset(e, p.dne, p.dnb);
        if (p.stype == p.dtype) { /* bits as they are */
            switch (p.stype) {
            case SEL_T_U128: *(sel_u4 *)d = *(const sel_u4 *)s; break;
            case SEL_T_F32: case SEL_T_I32: *(uint32_t *)d = *(const uint32_t *)s; break;
            case SEL_T_I8: *d = *s; break;
            default: *(uint16_t *)d = *(const uint16_t *)s; break;
            }
        } else if (p.stype == SEL_T_I8) { /* -> i32 */
            *(int32_t *)d = (int32_t)*(const int8_t *)s;
        } else if (p.stype == SEL_T_I32) { /* -> i8 */
            const int32_t v = *(const int32_t *)s;
            if (v >= -128 && v <= 127) *(int8_t *)d = (int8_t)v;
            else sc_report(p.err, SC_HIP_ERR_RANGE);
        } else if (p.dtype == SEL_T_F32 && p.stype == SEL_T_BF16) { /* exact: bits shift */
            *(uint32_t *)d = (uint32_t)*(const uint16_t *)s << 16;
        } else {
            const float v = cpy_load_f(s, p.stype);
            if (p.dtype == SEL_T_F16) *(uint16_t *)d = sc_f2h(v);
            else if (p.dtype == SEL_T_BF16) *(uint16_t *)d = sc_f2bf(v);
            else *(float *)d = v;
        }
    }
}

/* ---- ranking (TOP_K, ARGMAX) -------------------------------------------------------------------
 * Order: larger value first, NaN below every number (-inf included), equal
 * values (-0 == +0, any NaN == any NaN) by lower index. sel_rank_key maps f32
 * bits to a u32 ordered like the value (NaN -> 0, -inf -> 0x007fffff,
 * +-0 -> 0x80000000, +inf -> 0xff800000); with ~index beside it (larger for
 * a lower index) the pair (key, ~i) is distinct per element and "ranks
 * before" is plain ">" on it, lexicographically or as a u64. */
static __device__ __forceinline__ uint32_t sel_rank_key(uint32_t b) {
    if ((b & 0x7fffffffu) > 0x7f800000u) return 0u; /* NaN */
    if (b == 0x80000000u) b = 0u;                   /* -0 ties with +0 */
    return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

static __device__ __forceinline__ const uint8_t *sel_row(const sel_rank_args &p, int32_t row, const uint8_t *base,
                                                         int64_t nb1, int64_t nb2, int64_t nb3) {
    const int32_t i1 = row % p.r1, i2 = (row / p.r1) % p.r2, i3 = row / (p.r1 * p.r2);
    return base + (int64_t)i1 * nb1 + (int64_t)i2 * nb2 + (int64_t)i3 * nb3;
}

/* ---- ARGMAX: one block per row ------------------------------------------------------------------
 * x f32 [n, rows] -> y i32 [rows]. Each thread keeps the best (key, ~i) of a
 * strided part of the row (128-bit loads, two in flight, when the row is
 * 16-byte aligned and n % 4 == 0), then warps reduce with shuffles and the
 * warps' winners meet in shared memory. */
static __device__ __forceinline__ void am_take(uint32_t k, uint32_t ni, uint32_t &bk, uint32_t &bi) {
    if (k > bk || (k == bk && ni > bi)) {
        bk = k;
        bi = ni;
    }
}

SC_KERNEL(k_argmax, sel_rank_args, SEL_ARGMAX_WG) {
    __shared__ uint32_t red_k[SEL_ARGMAX_WG / SC_WARP], red_i[SEL_ARGMAX_WG / SC_WARP];
    const int32_t row = (int32_t)blockIdx.x;
    const uint8_t *xr = sel_row(p, row, p.x, p.xnb1, p.xnb2, p.xnb3); /* [n] f32 bits */
    const uint32_t tid = threadIdx.x, nt = blockDim.x, n = (uint32_t)p.n;
    uint32_t bk = 0u, bi = 0u; /* loses to every element: ~i > 0 for i < 2^31 */

    uint32_t i = tid;
    if (((uintptr_t)xr & 15u) == 0 && (n & 3u) == 0) {
        /* ---- hot loop: 16-byte loads, two in flight ---- */
        const sel_u4 *xv = (const sel_u4 *)xr;
        const uint32_t n4 = n / 4u;
        uint32_t j = tid;
        for (; j + nt < n4; j += 2u * nt) {
            const sel_u4 a = xv[j], b = xv[j + nt];
            const uint32_t ia = 4u * j, ib = 4u * (j + nt);
            am_take(sel_rank_key(a.x), ~ia, bk, bi);
            am_take(sel_rank_key(a.y), ~(ia + 1u), bk, bi);
            am_take(sel_rank_key(a.z), ~(ia + 2u), bk, bi);
            am_take(sel_rank_key(a.w), ~(ia + 3u), bk, bi);
            am_take(sel_rank_key(b.x), ~ib, bk, bi);
            am_take(sel_rank_key(b.y), ~(ib + 1u), bk, bi);
            am_take(sel_rank_key(b.z), ~(ib + 2u), bk, bi);
            am_take(sel_rank_key(b.w), ~(ib + 3u), bk, bi);
        }
        if (j < n4) {
            const sel_u4 a = xv[j];
            const uint32_t ia = 4u * j;
            am_take(sel_rank_key(a.x), ~ia, bk, bi);
            am_take(sel_rank_key(a.y), ~(ia + 1u), bk, bi);
            am_take(sel_rank_key(a.z), ~(ia + 2u), bk, bi);
            am_take(sel_rank_key(a.w), ~(ia + 3u), bk, bi);
        }
        i = n; /* done */
    }
    const uint32_t *xs = (const uint32_t *)xr;
    for (; i < n; i += nt) am_take(sel_rank_key(xs[i]), ~i, bk, bi);

    /* warp: butterfly max of the pair */
    for (int m = SC_WARP / 2; m > 0; m >>= 1) {
        const uint32_t ok = (uint32_t)sc_shfl_xor((int)bk, m), oi = (uint32_t)sc_shfl_xor((int)bi, m);
        am_take(ok, oi, bk, bi);
    }
    const uint32_t warp = tid / SC_WARP, nw = nt / SC_WARP;
    if (sc_lane() == 0) {
        red_k[warp] = bk;
        red_i[warp] = bi;
    }
    __syncthreads();
    if (tid == 0) {
        for (uint32_t w = 1; w < nw; w++) am_take(red_k[w], red_i[w], bk, bi);
        int32_t *yo = (int32_t *)sel_row(p, row, p.y, p.ynb0, p.ynb1, p.ynb2);
        *yo = (int32_t)~bi;
    }
}

/* ---- TOP_K: one block per row -------------------------------------------------------------------
 * x f32 [n, rows] -> y i32 [k, rows], the k largest keys K = key << 32 | ~i
 * in descending order, in rounds of at most CAP keys:
 *   1. threshold T such that exactly m = min(k - done, CAP) keys lie in
 *      [T, U) (U: below every key already written; all ones at first, which
 *      no key equals): a radix select on the u64 keys, 8 bits a pass from the
 *      top, a 256-bin shared histogram per pass, stopping when the chosen bin
 *      is taken whole. Skipped when every remaining key fits (n - done <= CAP:
 *      MoE routing, 8 of 128, is a single gather).
 *   2. gather [T, U) into shared memory, bitonic sort descending (padding 0
 *      sorts last: no real key is 0), write min(m, k - done) indices.
 *   3. U = the smallest key taken; the next round continues below it.
 * blockDim.x: a power of two, multiple of 32, <= SEL_WG. */
SC_KERNEL(k_top_k, sel_rank_args, SEL_WG) {
    __shared__ uint64_t keys[SEL_TOPK_CAP];
    __shared__ uint32_t hist[256];
    __shared__ uint32_t s_count, s_digit, s_need, s_whole;
    const int32_t row = (int32_t)blockIdx.x;
    const uint32_t *xr = (const uint32_t *)sel_row(p, row, p.x, p.xnb1, p.xnb2, p.xnb3); /* [n] f32 bits */
    int32_t *yr = (int32_t *)sel_row(p, row, p.y, p.ynb1, p.ynb2, p.ynb3);              /* [k] */
    const uint32_t tid = threadIdx.x, nt = blockDim.x, n = (uint32_t)p.n, k = (uint32_t)p.k;

    uint32_t done = 0;
    uint64_t U = ~(uint64_t)0;
    while (done < k) { /* uniform: done and U come from shared memory */
        const uint32_t remaining = n - done;
        const uint32_t want = k - done < SEL_TOPK_CAP ? k - done : SEL_TOPK_CAP;

        /* ---- 1. the threshold */
        uint64_t T = 0;
        uint32_t m = remaining;
        if (remaining > SEL_TOPK_CAP) {
            uint64_t prefix = 0, mask = 0;
            uint32_t need = want;
            for (int shift = 56; shift >= 0; shift -= 8) {
                for (uint32_t b = tid; b < 256u; b += nt) hist[b] = 0;
                __syncthreads();
                for (uint32_t i = tid; i < n; i += nt) {
                    const uint64_t K = (uint64_t)sel_rank_key(xr[i]) << 32 | (uint32_t)~i;
                    if (K < U && (K & mask) == prefix) atomicAdd(&hist[(uint32_t)(K >> shift) & 255u], 1u);
                }
                __syncthreads();
                if (tid == 0) { /* highest bin first: keys in higher bins are all taken */
                    uint32_t cum = 0;
                    int b = 255;
                    while (b > 0 && cum + hist[b] < need) cum += hist[b--];
                    s_digit = (uint32_t)b;
                    s_need = need - cum;
                    s_whole = hist[b] == need - cum;
                }
                __syncthreads();
                prefix |= (uint64_t)s_digit << shift;
                mask |= (uint64_t)0xff << shift;
                need = s_need;
                const bool whole = s_whole != 0;
                __syncthreads(); /* s_* are read by all before the next pass writes them */
                if (whole) break;
            }
            T = prefix;
            m = want;
        }

        /* ---- 2. gather [T, U), sort, write */
        if (tid == 0) s_count = 0;
        __syncthreads();
        for (uint32_t i = tid; i < n; i += nt) {
            const uint64_t K = (uint64_t)sel_rank_key(xr[i]) << 32 | (uint32_t)~i;
            if (K >= T && K < U) {
                const uint32_t slot = atomicAdd(&s_count, 1u);
                if (slot < SEL_TOPK_CAP) keys[slot] = K;
            }
        }
        uint32_t P = 1; /* a power of two >= m */
        while (P < m) P <<= 1;
        for (uint32_t j = m + tid; j < P; j += nt) keys[j] = 0;
        __syncthreads();
        for (uint32_t size = 2; size <= P; size <<= 1) {
            for (uint32_t stride = size >> 1; stride > 0; stride >>= 1) {
                for (uint32_t t = tid; t < P / 2u; t += nt) {
                    const uint32_t lo = 2u * t - (t & (stride - 1u)); /* t with a 0 bit inserted at stride */
                    const uint32_t hi = lo + stride;
                    const bool desc = (lo & size) == 0; /* the last merge (size == P) is descending */
                    const uint64_t a = keys[lo], b = keys[hi];
                    if ((a < b) == desc) {
                        keys[lo] = b;
                        keys[hi] = a;
                    }
                }
                __syncthreads();
            }
        }
        const uint32_t n_out = m < k - done ? m : k - done;
        for (uint32_t j = tid; j < n_out; j += nt) yr[done + j] = (int32_t)~(uint32_t)keys[j];
        U = keys[m - 1];
        done += m;
        __syncthreads(); /* keys are rewritten by the next round */
    }
}
