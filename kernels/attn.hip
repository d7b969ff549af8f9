/*
 * kernels/attn.hip - the paged KV cache: KV_WRITE and ATTENTION (args:
 * attn.h; host: backends/hip/hip_op_attn.c; reference:
 * backends/cpu/ref_attention.c).
 *
 *   k_kv_write_{f32,f16,bf16}   src f32 [D, Hkv, T] -> cache rows, RNE to the cache type
 *   k_kv_copy                   cache -> node when they are not the same memory
 *   k_attn_dec_<K>_<V>          few query tokens: one block per (key split,
 *                               kv head x head group, token), flash-decoding
 *   k_attn_pf_<K>_<V>_<DM>      many query tokens: tiles of query rows against
 *                               K/V tiles in shared memory (DM: head_dim <= 128 / 256)
 *   k_attn_pfw_<K>_<V>_<DM>     the same on gfx11 WMMA, f16/bf16 caches (SC_HIP_WMMA;
 *                               kernels/wmma_emu.h)
 *   k_attn_reduce               merges the split-K partial records
 * <K>, <V>: the k and v cache types (f32, f16, bf16).
 *
 * Softmax is online (running max m, sum l, accumulator rescaled by
 * exp(m_old - m_new)), in f32; q is pre-multiplied by the scale. A masked or
 * missing score is ATTN_NEG (a finite stand-in for -inf, so that no inf - inf
 * can make a NaN) and weighs exactly 0. A query with no key of weight (its
 * sequence or position out of range) gets zeros, as the reference gives for
 * a row of -inf scores; keys whose block index or block id is out of range
 * are skipped. Both are the reference's SC_ERANGE and are reported in p.err
 * (sc_report), only by the blocks of kv head 0's first head group (they
 * read every key any query of a token reads; a bad token: split 0 only), so
 * the atomics stay few and off the hot loops.
 */
#include "sc_hip.h"
#include "attn.h"
#include "wmma_emu.h"

#define ATTN_NEG (-3.0e38f)

/* unrolled loops keep the per-head arrays in registers (g++ on EMU knows no #pragma unroll) */
#if defined(SC_HIP_EMU)
#define ATTN_UNROLL
#else
#define ATTN_UNROLL _Pragma("unroll")
#endif

typedef struct __attribute__((aligned(16))) attn_f4 {
    float x, y, z, w;
} attn_f4;
typedef struct __attribute__((aligned(8))) attn_u2 {
    uint32_t a, b;
} attn_u2;

enum { AT_F32 = 0, AT_F16 = 1, AT_BF16 = 2 }; /* sc_type numbering */

static __device__ __forceinline__ int attn_min(int a, int b) { return a < b ? a : b; }
static __device__ __forceinline__ int attn_max(int a, int b) { return a > b ? a : b; }
static __device__ __forceinline__ attn_f4 f4_zero(void) { return attn_f4{0.0f, 0.0f, 0.0f, 0.0f}; }
static __device__ __forceinline__ float f4_dot(const attn_f4 &a, const attn_f4 &b) {
    return a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w;
}
static __device__ __forceinline__ void f4_scale(attn_f4 &a, float s) {
    a.x *= s;
    a.y *= s;
    a.z *= s;
    a.w *= s;
}
static __device__ __forceinline__ void f4_fma(attn_f4 &a, float s, const attn_f4 &b) {
    a.x += s * b.x;
    a.y += s * b.y;
    a.z += s * b.z;
    a.w += s * b.w;
}
static __device__ __forceinline__ void f4_add(attn_f4 &a, const attn_f4 &b) {
    a.x += b.x;
    a.y += b.y;
    a.z += b.z;
    a.w += b.w;
}

template <int TY>
static __device__ __forceinline__ float attn_h2f(uint32_t h) {
    return TY == AT_F16 ? sc_h2f((uint16_t)h) : sc_bf2f((uint16_t)h);
}

/* Elements 4*d4 .. 4*d4+3 of a cache row of type TY as f32. vec: the row is
 * aligned for one 16-byte (f32) or 8-byte (f16/bf16) load. */
template <int TY>
static __device__ __forceinline__ attn_f4 attn_load4(const uint8_t *row, int d4, bool vec) {
    if (TY == AT_F32) {
        if (vec) return ((const attn_f4 *)row)[d4];
        const float *r = (const float *)row + 4 * d4;
        return attn_f4{r[0], r[1], r[2], r[3]};
    }
    uint32_t a, b;
    if (vec) {
        const attn_u2 w = ((const attn_u2 *)row)[d4];
        a = w.a;
        b = w.b;
    } else {
        const uint16_t *r = (const uint16_t *)row + 4 * d4;
        a = r[0] | (uint32_t)r[1] << 16;
        b = r[2] | (uint32_t)r[3] << 16;
    }
    return attn_f4{attn_h2f<TY>(a & 0xffffu), attn_h2f<TY>(a >> 16), attn_h2f<TY>(b & 0xffffu),
                   attn_h2f<TY>(b >> 16)};
}

/* Byte offsets inside a k and a v cache of the row of position j of the
 * sequence whose block-table row is btrow; false when the block index or
 * the block id is out of range. */
static __device__ __forceinline__ bool attn_slot(const attn_args &p, const int32_t *btrow, int j, int64_t &koff,
                                                 int64_t &voff) {
    const int rb = j / p.BS;
    const int b = rb < p.MB ? btrow[rb] : -1;
    if (b < 0 || b >= p.NB) return false;
    const int slot = j - rb * p.BS;
    koff = (int64_t)slot * p.k_nb2 + (int64_t)b * p.k_nb3;
    voff = (int64_t)slot * p.v_nb2 + (int64_t)b * p.v_nb3;
    return true;
}

/* The keys a query (sequence s, position ps) reads in split `split` of NS,
 * cut in runs of whole tiles of `tile` keys: [kbeg, kend). */
static __device__ __forceinline__ void attn_split_range(int ctx, int split, int NS, int tile, int &kbeg, int &kend) {
    const int64_t chunk = ((int64_t)(ctx + NS - 1) / NS + tile - 1) / tile * tile;
    const int64_t b = (int64_t)split * chunk;
    kbeg = b < ctx ? (int)b : ctx;
    kend = b + chunk < ctx ? (int)(b + chunk) : ctx;
}

/* Output of one query row: NS == 1 the normalised row of out [D, H, T] (zeros
 * when no key had weight), else the partial record (m, l, acc). Writes the 4
 * elements of column d4; the thread with d4 == 0 also writes m and l. */
static __device__ __forceinline__ void attn_store(const attn_args &p, int t, int h, int split, int d4,
                                                  const attn_f4 &acc, float m, float l) {
    if (p.NS == 1) {
        float *o = (float *)(p.dst + (int64_t)t * p.o_nb2 + (int64_t)h * p.o_nb1) + 4 * d4;
        const float r = l > 0.0f ? 1.0f / l : 0.0f;
        o[0] = acc.x * r;
        o[1] = acc.y * r;
        o[2] = acc.z * r;
        o[3] = acc.w * r;
    } else {
        float *rec = p.part + (((int64_t)t * p.H + h) * p.NS + split) * (p.D + 4);
        if (d4 == 0) {
            rec[0] = m;
            rec[1] = l;
        }
        float *o = rec + 4 + 4 * d4;
        o[0] = acc.x;
        o[1] = acc.y;
        o[2] = acc.z;
        o[3] = acc.w;
    }
}

/* ---- KV_WRITE ---------------------------------------------------------------------------------
 * Thread = element d of kv head h of token t (y): adjacent threads write
 * adjacent elements of one cache row. A token whose sequence, position,
 * block index or block id is out of range is skipped and reported (by
 * thread i == 0: once per token). */
template <int TY>
static __device__ __forceinline__ void kv_write(const attn_kv_write_args &p) {
    const int i = (int)(blockIdx.x * blockDim.x + threadIdx.x); /* d + D * h */
    if (i >= p.D * p.Hkv) return;
    const int d = i % p.D, h = i / p.D;
    for (int t = (int)blockIdx.y; t < p.T; t += (int)gridDim.y) {
        const int s = p.seq ? p.seq[t] : 0, ps = p.pos[t];
        const bool slot_ok = s >= 0 && s < p.NSEQ && ps >= 0 && ps / p.BS < p.MB;
        const int b = slot_ok ? ((const int32_t *)((const uint8_t *)p.bt + (int64_t)s * p.bt_nb1))[ps / p.BS] : -1;
        if (b < 0 || b >= p.NB) { /* the reference's SC_ERANGE: the token is skipped */
            if (i == 0) sc_report(p.err, SC_HIP_ERR_RANGE);
            continue;
        }
        const uint32_t x = ((const uint32_t *)(p.src + (int64_t)h * p.src_nb1 + (int64_t)t * p.src_nb2))[d];
        uint8_t *row = p.dst + (int64_t)h * p.dst_nb1 + (int64_t)(ps % p.BS) * p.dst_nb2 + (int64_t)b * p.dst_nb3;
        if (TY == AT_F32) {
            ((uint32_t *)row)[d] = x; /* the bits as they are */
        } else {
            const float f = __uint_as_float(x);
            ((uint16_t *)row)[d] = TY == AT_F16 ? sc_f2h(f) : sc_f2bf(f);
        }
    }
}

SC_KERNEL(k_kv_write_f32, attn_kv_write_args, ATTN_KV_WG) { kv_write<AT_F32>(p); }
SC_KERNEL(k_kv_write_f16, attn_kv_write_args, ATTN_KV_WG) { kv_write<AT_F16>(p); }
SC_KERNEL(k_kv_write_bf16, attn_kv_write_args, ATTN_KV_WG) { kv_write<AT_BF16>(p); }

/* cache -> node, 16-bit words; word w = e + RW * (h + Hkv * (slot + BS * blk)) */
SC_KERNEL(k_kv_copy, attn_kv_copy_args, ATTN_KV_WG) {
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t w = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; w < p.words; w += stride) {
        int64_t r = w / p.RW;
        const int64_t e = w - r * p.RW;
        const int64_t h = r % p.Hkv;
        r /= p.Hkv;
        const int64_t slot = r % p.BS, blk = r / p.BS;
        const uint16_t *s = (const uint16_t *)(p.src + h * p.snb1 + slot * p.snb2 + blk * p.snb3);
        uint16_t *d = (uint16_t *)(p.dst + h * p.dnb1 + slot * p.dnb2 + blk * p.dnb3);
        d[e] = s[e];
    }
}

/* ---- ATTENTION, decode ------------------------------------------------------------------------
 * One block of ATTN_DEC_WG threads per (split, kv head x head group, token):
 * the group's nh (<= ATTN_DEC_GH) query heads share every K and V row read.
 * Per tile of WG keys:
 *   scores  thread j takes key kb + j: its K row (8 loads in flight) dotted
 *           with the nh scaled q rows in shared memory (broadcast reads);
 *   softmax per head: tile max by warp shuffles + shared memory, rescale,
 *           p = exp(s - m) to shared memory, tile sum likewise;
 *   P @ V   thread (dl, ks) owns elements 4*dl..4*dl+3 of every head's
 *           accumulator and the keys ks, ks + KS, ...: V rows are read
 *           coalesced (a warp reads whole rows).
 * The KS partial accumulators are summed through shared memory at the end. */
template <int KT, int VT>
static __device__ __forceinline__ void attn_decode(const attn_args &p) {
    constexpr int WG = ATTN_DEC_WG, GHM = ATTN_DEC_GH, NW = ATTN_DEC_WG / SC_WARP;
    constexpr int KB = 8, VB = 8; /* K / V loads in flight per thread */
    /* q [GHM][D4] (scaled) during the key loop; then the KS partial
     * accumulators [KS][GHM][D4] (KS * D4 <= WG) */
    __shared__ attn_f4 big[WG * GHM];
    __shared__ float p_sh[GHM * WG];      /* [GHM][WG] exp(s - m) of the tile */
    __shared__ int64_t voff_sh[WG];       /* V row of each key of the tile, -1: none */
    __shared__ float max_sh[GHM * NW], sum_sh[GHM * NW];

    const int tid = (int)threadIdx.x, lane = (int)sc_lane(), warp = tid / SC_WARP;
    const int split = (int)blockIdx.x;
    const int hg = (int)blockIdx.y % p.NHG, kvh = (int)blockIdx.y / p.NHG;
    const int t = p.t_base + (int)blockIdx.z;
    const int hh0 = hg * p.GH;                      /* first head of the group inside the kv head's G */
    const int nh = attn_min(p.GH, p.G - hh0);       /* heads of this group */
    const int D4 = p.D / 4;

    const int s = p.seq ? p.seq[t] : 0, ps = p.pos[t];
    const bool tok_ok = s >= 0 && s < p.NSEQ && ps >= 0;
    if (!tok_ok && tid == 0 && split == 0 && blockIdx.y == 0) sc_report(p.err, SC_HIP_ERR_RANGE); /* once per token */
    int kbeg, kend;
    attn_split_range(tok_ok ? ps + 1 : 0, split, p.NS, WG, kbeg, kend);

    for (int idx = tid; idx < GHM * D4; idx += WG) { /* q rows, scaled: [GHM][D4] */
        const int i = idx / D4, d4 = idx % D4;
        attn_f4 x = f4_zero();
        if (i < nh) {
            const float *qr = (const float *)(p.q + (int64_t)(kvh * p.G + hh0 + i) * p.q_nb1 + (int64_t)t * p.q_nb2);
            x = attn_f4{qr[4 * d4], qr[4 * d4 + 1], qr[4 * d4 + 2], qr[4 * d4 + 3]};
            f4_scale(x, p.scale);
        }
        big[idx] = x;
    }
    __syncthreads();

    float m[GHM], l[GHM];
    attn_f4 acc[GHM];
ATTN_UNROLL
    for (int i = 0; i < GHM; i++) {
        m[i] = ATTN_NEG;
        l[i] = 0.0f;
        acc[i] = f4_zero();
    }
    const int dl = tid % D4, ks = tid / D4, KS = WG / D4;
    const uint8_t *kbase = p.k + (int64_t)kvh * p.k_nb1, *vbase = p.v + (int64_t)kvh * p.v_nb1;
    const int32_t *btrow = (const int32_t *)((const uint8_t *)p.bt + (int64_t)(tok_ok ? s : 0) * p.bt_nb1);
    const bool kvec = p.k_vec != 0, vvec = p.v_vec != 0;

    for (int kb = kbeg; kb < kend; kb += WG) {
        /* ---- hot loop 1: scores of key kb + tid against the group's heads */
        float sc[GHM];
ATTN_UNROLL
        for (int i = 0; i < GHM; i++) sc[i] = ATTN_NEG;
        int64_t koff = -1, voff = -1;
        const int j = kb + tid;
        const bool key_ok = j < kend && attn_slot(p, btrow, j, koff, voff);
        if (!key_ok && j < kend && blockIdx.y == 0) sc_report(p.err, SC_HIP_ERR_RANGE); /* bad block: key skipped */
        if (key_ok) {
            const uint8_t *row = kbase + koff;
            float dt[GHM];
ATTN_UNROLL
            for (int i = 0; i < GHM; i++) dt[i] = 0.0f;
            for (int d0 = 0; d0 < D4; d0 += KB) {
                attn_f4 kr[KB];
ATTN_UNROLL
                for (int u = 0; u < KB; u++) kr[u] = d0 + u < D4 ? attn_load4<KT>(row, d0 + u, kvec) : f4_zero();
ATTN_UNROLL
                for (int u = 0; u < KB; u++) {
                    if (d0 + u < D4) {
ATTN_UNROLL
                        for (int i = 0; i < GHM; i++)
                            if (i < nh) dt[i] += f4_dot(big[i * D4 + d0 + u], kr[u]);
                    }
                }
            }
ATTN_UNROLL
            for (int i = 0; i < GHM; i++) sc[i] = dt[i];
        }
        voff_sh[tid] = voff;

        /* ---- online softmax over the tile, per head */
ATTN_UNROLL
        for (int i = 0; i < GHM; i++) {
            if (i < nh) {
                const float mx = sc_warp_max(sc[i]);
                if (lane == 0) max_sh[i * NW + warp] = mx;
            }
        }
        __syncthreads();
        float alpha[GHM];
ATTN_UNROLL
        for (int i = 0; i < GHM; i++) {
            alpha[i] = 1.0f;
            if (i < nh) {
                float cm = max_sh[i * NW];
ATTN_UNROLL
                for (int w = 1; w < NW; w++) cm = fmaxf(cm, max_sh[i * NW + w]);
                const float mn = fmaxf(m[i], cm);
                alpha[i] = expf(m[i] - mn);
                const float pj = sc[i] <= ATTN_NEG ? 0.0f : expf(sc[i] - mn);
                m[i] = mn;
                p_sh[i * WG + tid] = pj;
                const float ts = sc_warp_sum(pj);
                if (lane == 0) sum_sh[i * NW + warp] = ts;
            }
        }
        __syncthreads();
ATTN_UNROLL
        for (int i = 0; i < GHM; i++) {
            if (i < nh) {
                float ts = 0.0f;
ATTN_UNROLL
                for (int w = 0; w < NW; w++) ts += sum_sh[i * NW + w];
                l[i] = l[i] * alpha[i] + ts;
                f4_scale(acc[i], alpha[i]);
            }
        }

        /* ---- hot loop 2: P @ V, keys ks, ks + KS, ... (VB V rows in flight) */
        if (ks < KS) {
            const int nk = attn_min(WG, kend - kb);
            for (int j0 = ks; j0 < nk; j0 += VB * KS) {
                attn_f4 vv[VB];
ATTN_UNROLL
                for (int u = 0; u < VB; u++) {
                    const int jj = j0 + u * KS;
                    const int64_t off = jj < nk ? voff_sh[jj] : -1;
                    vv[u] = off >= 0 ? attn_load4<VT>(vbase + off, dl, vvec) : f4_zero();
                }
ATTN_UNROLL
                for (int u = 0; u < VB; u++) {
                    const int jj = j0 + u * KS;
                    if (jj < nk) {
ATTN_UNROLL
                        for (int i = 0; i < GHM; i++)
                            if (i < nh) f4_fma(acc[i], p_sh[i * WG + jj], vv[u]);
                    }
                }
            }
        }
        __syncthreads(); /* p_sh, voff_sh, max_sh and sum_sh are rewritten by the next tile */
    }

    /* the KS partial accumulators meet in shared memory (q is no longer read) */
    __syncthreads();
    if (ks < KS) {
ATTN_UNROLL
        for (int i = 0; i < GHM; i++)
            if (i < nh) big[(ks * GHM + i) * D4 + dl] = acc[i];
    }
    __syncthreads();
    if (ks != 0) return;
ATTN_UNROLL
    for (int i = 0; i < GHM; i++) {
        if (i < nh) {
            attn_f4 a = big[i * D4 + dl];
            for (int r = 1; r < KS; r++) f4_add(a, big[(r * GHM + i) * D4 + dl]);
            attn_store(p, t, kvh * p.G + hh0 + i, split, dl, a, m[i], l[i]);
        }
    }
}

/* ---- ATTENTION, prefill -----------------------------------------------------------------------
 * A block takes R = ATTN_PF_R query rows reading one kv head: BQ = R / GH
 * consecutive tokens x GH heads (row rr = token (rr / GH), head (rr % GH)),
 * so the rows of all GH heads share each K/V tile. TPR threads per row:
 * thread (r, c) = (tid / TPR, tid % TPR).
 * The tokens of a tile may be of different sequences (a batch orders its
 * tokens freely), so the tile walks its distinct sequences in increasing id;
 * for each it streams that sequence's keys 0..max pos of its rows in tiles
 * of BK, and a row takes a key only when it is of the row's sequence and at
 * or before the row's position (causal). With one sequence per tile (a
 * prompt) that is a single pass.
 * Per key tile:
 *   K tile  [BK][DS] f32 in shared memory (DS = D/4 + 1 vec4: the TPR
 *           threads of a row read TPR different key rows at one column and
 *           hit different banks)
 *   S       thread (r, c): row r against keys c, c + TPR, ... (KPT of them);
 *           the row's max and sum by shuffles over its TPR lanes
 *   V tile  replaces the K tile
 *   P @ V   thread (r, c) owns columns c, c + TPR, ... (DPT vec4) of row r */
/* Token t and query head h of row rr of a prefill tile (rows: BQ = R / GH
 * tokens x GH heads, head fastest); false for a padding row. */
static __device__ __forceinline__ bool pf_row(const attn_args &p, int rr, int tile, int hg, int kvh, int &t, int &h) {
    const int GH = p.GH, BQ = ATTN_PF_R / GH, hh = hg * GH + rr % GH;
    t = tile * BQ + rr / GH;
    h = kvh * p.G + hh;
    return rr < BQ * GH && hh < p.G && t < p.T;
}

template <int KT, int VT, int DM>
static __device__ __forceinline__ void attn_prefill(const attn_args &p) {
    constexpr int WG = ATTN_PF_WG, R = ATTN_PF_R, TPR = ATTN_PF_TPR;
    constexpr int BK = DM > 128 ? 16 : 32;  /* keys per tile (shared memory: <= 36 KB) */
    constexpr int KPT = BK / TPR;           /* keys per thread in S */
    constexpr int DPT = DM / 4 / TPR;       /* vec4 columns per thread in P @ V */
    constexpr int DSM = DM / 4 + 1;
    static_assert(R * TPR == WG, "rows x threads per row == block");
    __shared__ attn_f4 q_sh[R * DSM];       /* [R][DS] q * scale */
    __shared__ attn_f4 kv_sh[BK * DSM];     /* [BK][DS] the K tile, then the V tile */
    __shared__ float p_sh[R * BK];          /* [R][BK] exp(s - m) */
    __shared__ int64_t koff_sh[BK], voff_sh[BK]; /* rows of the tile's keys, -1: none */
    __shared__ int rseq_sh[R], rpos_sh[R];  /* sequence (-1: no keys) and position of each row */

    const int tid = (int)threadIdx.x, r = tid / TPR, c = tid % TPR;
    const int tile = p.t_base + (int)blockIdx.x;
    const int hg = (int)blockIdx.y % p.NHG, kvh = (int)blockIdx.y / p.NHG;
    const int split = (int)blockIdx.z;
    const int D4 = p.D / 4, DS = D4 + 1;

    if (tid < R) {
        int t, h, sq = -1, ps = -1;
        if (pf_row(p, tid, tile, hg, kvh, t, h) && h >= 0) {
            const int s = p.seq ? p.seq[t] : 0, pp = p.pos[t];
            if (s >= 0 && s < p.NSEQ && pp >= 0) {
                sq = s;
                ps = pp;
            } else if (blockIdx.y == 0 && split == 0) {
                sc_report(p.err, SC_HIP_ERR_RANGE); /* the row reads no key */
            }
        }
        rseq_sh[tid] = sq;
        rpos_sh[tid] = ps;
    }
    for (int idx = tid; idx < R * D4; idx += WG) {
        const int rr = idx / D4, d4 = idx % D4;
        int t, h;
        attn_f4 x = f4_zero();
        if (pf_row(p, rr, tile, hg, kvh, t, h)) {
            const float *qr = (const float *)(p.q + (int64_t)h * p.q_nb1 + (int64_t)t * p.q_nb2);
            x = attn_f4{qr[4 * d4], qr[4 * d4 + 1], qr[4 * d4 + 2], qr[4 * d4 + 3]};
            f4_scale(x, p.scale);
        }
        q_sh[rr * DS + d4] = x;
    }
    __syncthreads();

    float m = ATTN_NEG, l = 0.0f;
    attn_f4 acc[DPT];
ATTN_UNROLL
    for (int i = 0; i < DPT; i++) acc[i] = f4_zero();
    const uint8_t *kbase = p.k + (int64_t)kvh * p.k_nb1, *vbase = p.v + (int64_t)kvh * p.v_nb1;
    const bool kvec = p.k_vec != 0, vvec = p.v_vec != 0;

    /* the tile's sequences in increasing id (uniform: every thread reads the same shared rows) */
    for (int prev = -1;;) {
        int cur = -1, kend = 0;
        for (int rr = 0; rr < R; rr++) {
            const int sq = rseq_sh[rr];
            if (sq > prev && (cur < 0 || sq < cur)) cur = sq;
        }
        if (cur < 0) break;
        for (int rr = 0; rr < R; rr++)
            if (rseq_sh[rr] == cur) kend = attn_max(kend, rpos_sh[rr] + 1);
        int kbeg, kstop;
        attn_split_range(kend, split, p.NS, BK, kbeg, kstop);
        const bool mine = rseq_sh[r] == cur;
        const int mypos = rpos_sh[r];
        const int32_t *btrow = (const int32_t *)((const uint8_t *)p.bt + (int64_t)cur * p.bt_nb1);

        for (int kb = kbeg; kb < kstop; kb += BK) {
            if (tid < BK) { /* rows of the tile's keys (the last P @ V is past the barrier above) */
                int64_t ko = -1, vo = -1; /* left so when the key is past kstop or its block is bad */
                if (kb + tid < kstop && !attn_slot(p, btrow, kb + tid, ko, vo) && blockIdx.y == 0)
                    sc_report(p.err, SC_HIP_ERR_RANGE); /* the key is skipped */
                koff_sh[tid] = ko;
                voff_sh[tid] = vo;
            }
            __syncthreads(); /* also: every thread is done with the previous tile's kv_sh and p_sh */
            for (int idx = tid; idx < BK * D4; idx += WG) {
                const int kk = idx / D4, d4 = idx % D4;
                const int64_t off = koff_sh[kk];
                kv_sh[kk * DS + d4] = off >= 0 ? attn_load4<KT>(kbase + off, d4, kvec) : f4_zero();
            }
            __syncthreads();

            /* ---- hot loop 1: S = q K^T for row r, keys c + i * TPR */
            float sacc[KPT];
ATTN_UNROLL
            for (int i = 0; i < KPT; i++) sacc[i] = 0.0f;
            for (int d4 = 0; d4 < D4; d4++) {
                const attn_f4 qv = q_sh[r * DS + d4];
ATTN_UNROLL
                for (int i = 0; i < KPT; i++) sacc[i] += f4_dot(qv, kv_sh[(c + i * TPR) * DS + d4]);
            }
            /* mask, then the row's online softmax over its TPR lanes */
            float mx = ATTN_NEG;
ATTN_UNROLL
            for (int i = 0; i < KPT; i++) {
                const int jj = c + i * TPR, j = kb + jj;
                if (!mine || j > mypos || j >= kstop || koff_sh[jj] < 0) sacc[i] = ATTN_NEG;
                mx = fmaxf(mx, sacc[i]);
            }
            for (int o = TPR / 2; o > 0; o >>= 1) mx = fmaxf(mx, sc_shfl_xor(mx, o));
            const float mn = fmaxf(m, mx), alpha = expf(m - mn);
            float ts = 0.0f;
ATTN_UNROLL
            for (int i = 0; i < KPT; i++) {
                const float pj = sacc[i] <= ATTN_NEG ? 0.0f : expf(sacc[i] - mn);
                p_sh[r * BK + c + i * TPR] = pj;
                ts += pj;
            }
            for (int o = TPR / 2; o > 0; o >>= 1) ts += sc_shfl_xor(ts, o);
            m = mn;
            l = l * alpha + ts;
ATTN_UNROLL
            for (int i = 0; i < DPT; i++) f4_scale(acc[i], alpha);
            __syncthreads(); /* S is done with the K tile */

            for (int idx = tid; idx < BK * D4; idx += WG) {
                const int kk = idx / D4, d4 = idx % D4;
                const int64_t off = voff_sh[kk];
                kv_sh[kk * DS + d4] = off >= 0 ? attn_load4<VT>(vbase + off, d4, vvec) : f4_zero();
            }
            __syncthreads();

            /* ---- hot loop 2: O += P V for row r, columns c + i * TPR */
            for (int jj = 0; jj < BK; jj++) {
                const float pj = p_sh[r * BK + jj];
ATTN_UNROLL
                for (int i = 0; i < DPT; i++) {
                    const int d4 = c + i * TPR;
                    if (d4 < D4) f4_fma(acc[i], pj, kv_sh[jj * DS + d4]);
                }
            }
        }
        prev = cur;
    }

    int t, h;
    if (!pf_row(p, r, tile, hg, kvh, t, h)) return;
ATTN_UNROLL
    for (int i = 0; i < DPT; i++) {
        const int d4 = c + i * TPR;
        if (d4 < D4) attn_store(p, t, h, split, d4, acc[i], m, l);
    }
}

/* ---- ATTENTION, prefill with gfx11 WMMA -------------------------------------------------------
 * k_attn_pfw_<K>_<V>_<DM> (16-bit caches only: the f32 cache's 1e-6 bound
 * leaves no room for 16-bit operands). The same tiles, rows, sequence walk,
 * masks, online softmax and range reports as attn_prefill; the two products
 * run on WMMA (kernels/wmma_emu.h for the operand layout) with f32
 * accumulation, over key tiles of BK = 64 keys:
 *   S = Q K^T   A = q * scale rounded to K's type, [R][DM] in shared memory
 *               (zero past D); B = the K tile as it is in the cache, [BK][DM]
 *               (key rows). Warp w computes keys 16w .. 16w + 15 of the tile
 *               over D in steps of 16 and writes them to s_sh [R][BK] f32.
 *   softmax     thread (r, c) as in attn_prefill, over the contiguous keys
 *               KPT c .. KPT c + KPT - 1 (whole words of P); the weights are
 *               rounded to V's type and summed rounded (l), so the
 *               normalisation matches what the P V product sees.
 *   O += P V    A = P [R][BK] 16-bit; B = the V tile transposed, [DM][BK]
 *               (column d's keys in order). Warp w owns the 16-column blocks
 *               w, w + 4, ... of the output (DM / 64 accumulators of 8 floats
 *               a lane), rescaled by the rows' alpha (alpha_sh) per tile.
 * At the end the accumulators go through shared memory (f32 [R][DM]) to
 * attn_store in attn_prefill's layout. Built where SC_WMMA_ON; elsewhere the
 * body is empty and the host never picks it (STRIXCORE_HIP_ATTN=prefill-wmma
 * runs it on the EMU test library that emulates the instruction). */
#if SC_WMMA_ON
typedef struct __attribute__((aligned(16))) attn_w4 {
    uint32_t v[4];
} attn_w4;

/* 16 consecutive 16-bit values of a shared row starting at 16-byte word s */
static __device__ __forceinline__ sc_wmma_u8w attn_lds16(const attn_w4 *s) {
    const attn_w4 a = s[0], b = s[1];
    sc_wmma_u8w r;
ATTN_UNROLL
    for (int i = 0; i < 4; i++) {
        r.v[i] = a.v[i];
        r.v[4 + i] = b.v[i];
    }
    return r;
}

/* elements 4*d4 .. 4*d4+3 of a 16-bit cache row, as two words (bits as they are) */
static __device__ __forceinline__ attn_u2 attn_raw4(const uint8_t *row, int d4, bool vec) {
    if (vec) return ((const attn_u2 *)row)[d4];
    const uint16_t *r = (const uint16_t *)row + 4 * d4;
    return attn_u2{r[0] | (uint32_t)r[1] << 16, r[2] | (uint32_t)r[3] << 16};
}
#endif

template <int KT, int VT, int DM>
static __device__ __forceinline__ void attn_prefill_wmma(const attn_args &p) {
#if SC_WMMA_ON
    constexpr bool KBF = KT == AT_BF16, VBF = VT == AT_BF16;
    constexpr int WG = ATTN_PF_WG, R = ATTN_PF_R, TPR = ATTN_PF_TPR, NW = WG / SC_WARP;
    constexpr int BK = 64;                  /* keys per tile: 16 per warp in S */
    constexpr int KPT = BK / TPR;           /* keys per thread in the softmax */
    constexpr int NCB = DM / 16 / NW;       /* output column blocks per warp */
    constexpr int QP = DM / 8 + 1;          /* 16-byte words per q / K row (one of padding: fewer bank conflicts) */
    constexpr int VP = BK / 8 + 1;          /* words per row of V^T and of P */
    constexpr int KVW = BK * QP > DM * VP ? BK * QP : DM * VP;
    static_assert(R * TPR == WG && BK == 16 * NW && R == 16 && KPT == 8, "tile shape");
    static_assert(KVW * 4 >= R * DM, "the output fits the K/V buffer");
    static_assert(KT != AT_F32 && VT != AT_F32, "16-bit caches only");
    __shared__ attn_w4 q_sh[R * QP];        /* [R][DM] q * scale, K's type */
    __shared__ attn_w4 kv_sh[KVW];          /* [BK][DM] the K tile, then [DM][BK] V^T, then f32 [R][DM] out */
    __shared__ attn_w4 p_sh[R * VP];        /* [R][BK] exp(s - m), V's type */
    __shared__ float s_sh[R * BK];          /* [R][BK] scores */
    __shared__ float alpha_sh[R];
    __shared__ int64_t koff_sh[BK], voff_sh[BK];
    __shared__ int rseq_sh[R], rpos_sh[R];

    const int tid = (int)threadIdx.x, r = tid / TPR, c = tid % TPR;
    const int lane = (int)sc_lane(), warp = tid / SC_WARP;
    const int tile = p.t_base + (int)blockIdx.x;
    const int hg = (int)blockIdx.y % p.NHG, kvh = (int)blockIdx.y / p.NHG;
    const int split = (int)blockIdx.z;
    const int D4 = p.D / 4, D16 = (p.D + 15) / 16 * 16;

    if (tid < R) {
        int t, h, sq = -1, ps = -1;
        if (pf_row(p, tid, tile, hg, kvh, t, h) && h >= 0) {
            const int s = p.seq ? p.seq[t] : 0, pp = p.pos[t];
            if (s >= 0 && s < p.NSEQ && pp >= 0) {
                sq = s;
                ps = pp;
            } else if (blockIdx.y == 0 && split == 0) {
                sc_report(p.err, SC_HIP_ERR_RANGE); /* the row reads no key */
            }
        }
        rseq_sh[tid] = sq;
        rpos_sh[tid] = ps;
    }
    /* q * scale rounded to K's type, two values a word; zero past D (and in padding rows) */
    for (int idx = tid; idx < R * (D16 / 2); idx += WG) {
        const int rr = idx / (D16 / 2), d = 2 * (idx % (D16 / 2));
        int t, h;
        float x0 = 0.0f, x1 = 0.0f;
        if (d < p.D && pf_row(p, rr, tile, hg, kvh, t, h)) { /* D % 4 == 0: d + 1 < D too */
            const float *qr = (const float *)(p.q + (int64_t)h * p.q_nb1 + (int64_t)t * p.q_nb2);
            x0 = qr[d] * p.scale;
            x1 = qr[d + 1] * p.scale;
        }
        q_sh[rr * QP + d / 8].v[(d % 8) / 2] = sc_wmma_pack16<KBF>(x0, x1);
    }
    __syncthreads();

    float m = ATTN_NEG, l = 0.0f;
    sc_wmma_v8f acc[NCB];
ATTN_UNROLL
    for (int j = 0; j < NCB; j++)
ATTN_UNROLL
        for (int i = 0; i < 8; i++) acc[j][i] = 0.0f;
    const uint8_t *kbase = p.k + (int64_t)kvh * p.k_nb1, *vbase = p.v + (int64_t)kvh * p.v_nb1;
    const bool kvec = p.k_vec != 0, vvec = p.v_vec != 0;

    for (int prev = -1;;) {
        int cur = -1, kend = 0;
        for (int rr = 0; rr < R; rr++) {
            const int sq = rseq_sh[rr];
            if (sq > prev && (cur < 0 || sq < cur)) cur = sq;
        }
        if (cur < 0) break;
        for (int rr = 0; rr < R; rr++)
            if (rseq_sh[rr] == cur) kend = attn_max(kend, rpos_sh[rr] + 1);
        int kbeg, kstop;
        attn_split_range(kend, split, p.NS, BK, kbeg, kstop);
        const bool mine = rseq_sh[r] == cur;
        const int mypos = rpos_sh[r];
        const int32_t *btrow = (const int32_t *)((const uint8_t *)p.bt + (int64_t)cur * p.bt_nb1);

        for (int kb = kbeg; kb < kstop; kb += BK) {
            if (tid < BK) {
                int64_t ko = -1, vo = -1;
                if (kb + tid < kstop && !attn_slot(p, btrow, kb + tid, ko, vo) && blockIdx.y == 0)
                    sc_report(p.err, SC_HIP_ERR_RANGE); /* the key is skipped */
                koff_sh[tid] = ko;
                voff_sh[tid] = vo;
            }
            __syncthreads(); /* also: every warp is done with the previous tile's V^T */
            /* the K tile [BK][D16], 4 values (two words) a thread, zero past D and for skipped keys */
            for (int idx = tid; idx < BK * (D16 / 4); idx += WG) {
                const int kk = idx / (D16 / 4), d4 = idx % (D16 / 4);
                const int64_t off = koff_sh[kk];
                const attn_u2 w = off >= 0 && d4 < D4 ? attn_raw4(kbase + off, d4, kvec) : attn_u2{0u, 0u};
                attn_w4 &dst = kv_sh[kk * QP + d4 / 2];
                dst.v[2 * (d4 % 2)] = w.a;
                dst.v[2 * (d4 % 2) + 1] = w.b;
            }
            __syncthreads();

            /* ---- S: warp w, keys 16w .. 16w + 15 */
            {
                sc_wmma_v8f sacc;
ATTN_UNROLL
                for (int i = 0; i < 8; i++) sacc[i] = 0.0f;
                for (int d0 = 0; d0 < D16; d0 += 16) {
                    const sc_wmma_u8w a = attn_lds16(&q_sh[(lane % 16) * QP + d0 / 8]);
                    const sc_wmma_u8w b = attn_lds16(&kv_sh[(warp * 16 + lane % 16) * QP + d0 / 8]);
                    sacc = sc_wmma<KBF>(a, b, sacc);
                }
ATTN_UNROLL
                for (int i = 0; i < 8; i++) s_sh[(2 * i + lane / 16) * BK + warp * 16 + lane % 16] = sacc[i];
            }
            __syncthreads();

            /* mask, then the row's online softmax over its TPR lanes (as attn_prefill, but
             * thread (r, c) takes the contiguous keys KPT c .. KPT c + KPT - 1: whole words of P) */
            float sc[KPT], mx = ATTN_NEG;
ATTN_UNROLL
            for (int i = 0; i < KPT; i++) {
                const int jj = c * KPT + i, j = kb + jj;
                sc[i] = s_sh[r * BK + jj];
                if (!mine || j > mypos || j >= kstop || koff_sh[jj] < 0) sc[i] = ATTN_NEG;
                mx = fmaxf(mx, sc[i]);
            }
            for (int o = TPR / 2; o > 0; o >>= 1) mx = fmaxf(mx, sc_shfl_xor(mx, o));
            const float mn = fmaxf(m, mx), alpha = expf(m - mn);
            float ts = 0.0f;
ATTN_UNROLL
            for (int i = 0; i < KPT; i += 2) {
                const float p0 = sc[i] <= ATTN_NEG ? 0.0f : expf(sc[i] - mn);
                const float p1 = sc[i + 1] <= ATTN_NEG ? 0.0f : expf(sc[i + 1] - mn);
                const uint32_t w = sc_wmma_pack16<VBF>(p0, p1);
                ts += attn_h2f<VT>(w & 0xffffu) + attn_h2f<VT>(w >> 16); /* l sums the weights P V sees */
                p_sh[r * VP + (c * KPT + i) / 8].v[((c * KPT + i) % 8) / 2] = w;
            }
            for (int o = TPR / 2; o > 0; o >>= 1) ts += sc_shfl_xor(ts, o);
            m = mn;
            l = l * alpha + ts;
            if (c == 0) alpha_sh[r] = alpha;
            __syncthreads(); /* S is done with the K tile */

            /* V^T [D16][BK]: a thread takes keys 2kp, 2kp + 1 at columns 4d4 .. 4d4 + 3 */
            for (int idx = tid; idx < (BK / 2) * (D16 / 4); idx += WG) {
                const int kp = idx / (D16 / 4), d4 = idx % (D16 / 4);
                const int64_t o0 = voff_sh[2 * kp], o1 = voff_sh[2 * kp + 1];
                const attn_u2 w0 = o0 >= 0 && d4 < D4 ? attn_raw4(vbase + o0, d4, vvec) : attn_u2{0u, 0u};
                const attn_u2 w1 = o1 >= 0 && d4 < D4 ? attn_raw4(vbase + o1, d4, vvec) : attn_u2{0u, 0u};
                const uint32_t col[4] = {(w0.a & 0xffffu) | w1.a << 16, (w0.a >> 16) | (w1.a & 0xffff0000u),
                                         (w0.b & 0xffffu) | w1.b << 16, (w0.b >> 16) | (w1.b & 0xffff0000u)};
ATTN_UNROLL
                for (int e = 0; e < 4; e++) kv_sh[(4 * d4 + e) * VP + kp / 4].v[kp % 4] = col[e];
            }
            /* the rows' rescale: element i of a lane is row 2i + lane / 16 */
ATTN_UNROLL
            for (int i = 0; i < 8; i++) {
                const float al = alpha_sh[2 * i + lane / 16];
ATTN_UNROLL
                for (int j = 0; j < NCB; j++) acc[j][i] *= al;
            }
            __syncthreads();

            /* ---- O += P V: warp w, column blocks w + NW * j */
ATTN_UNROLL
            for (int j = 0; j < NCB; j++) {
                const int cb = warp + NW * j;
                if (cb * 16 >= p.D) continue; /* uniform in the warp */
ATTN_UNROLL
                for (int k0 = 0; k0 < BK; k0 += 16) {
                    const sc_wmma_u8w a = attn_lds16(&p_sh[(lane % 16) * VP + k0 / 8]);
                    const sc_wmma_u8w b = attn_lds16(&kv_sh[(cb * 16 + lane % 16) * VP + k0 / 8]);
                    acc[j] = sc_wmma<VBF>(a, b, acc[j]);
                }
            }
        }
        prev = cur;
    }

    /* the accumulators through shared memory (f32 [R][DM]) to attn_store's layout */
    __syncthreads();
ATTN_UNROLL
    for (int j = 0; j < NCB; j++) {
        const int cb = warp + NW * j;
ATTN_UNROLL
        for (int i = 0; i < 8; i++) {
            const int e = (2 * i + lane / 16) * DM + cb * 16 + lane % 16; /* [row][column] */
            kv_sh[e / 4].v[e % 4] = __float_as_uint(acc[j][i]);
        }
    }
    __syncthreads();
    int t, h;
    if (!pf_row(p, r, tile, hg, kvh, t, h)) return;
    for (int d4 = c; d4 < D4; d4 += TPR) {
        const attn_w4 o = kv_sh[(r * DM) / 4 + d4];
        attn_store(p, t, h, split, d4,
                   attn_f4{__uint_as_float(o.v[0]), __uint_as_float(o.v[1]), __uint_as_float(o.v[2]),
                           __uint_as_float(o.v[3])},
                   m, l);
    }
#else
    (void)p;
#endif
}

/* ---- the kernels: every (k type, v type) pair; prefill also per head_dim bound */
#define ATTN_KERNELS(kn, kt, vn, vt)                                                                             \
    SC_KERNEL(k_attn_dec_##kn##_##vn, attn_args, ATTN_DEC_WG) { attn_decode<kt, vt>(p); }                        \
    SC_KERNEL(k_attn_pf_##kn##_##vn##_128, attn_args, ATTN_PF_WG) { attn_prefill<kt, vt, 128>(p); }              \
    SC_KERNEL(k_attn_pf_##kn##_##vn##_256, attn_args, ATTN_PF_WG) { attn_prefill<kt, vt, 256>(p); }
#define ATTN_KERNELS_V(kn, kt) \
    ATTN_KERNELS(kn, kt, f32, AT_F32) ATTN_KERNELS(kn, kt, f16, AT_F16) ATTN_KERNELS(kn, kt, bf16, AT_BF16)
ATTN_KERNELS_V(f32, AT_F32)
ATTN_KERNELS_V(f16, AT_F16)
ATTN_KERNELS_V(bf16, AT_BF16)

/* the WMMA prefill: 16-bit (k type, v type) pairs */
#define ATTN_KERNELS_W(kn, kt, vn, vt)                                                                           \
    SC_KERNEL(k_attn_pfw_##kn##_##vn##_128, attn_args, ATTN_PF_WG) { attn_prefill_wmma<kt, vt, 128>(p); }        \
    SC_KERNEL(k_attn_pfw_##kn##_##vn##_256, attn_args, ATTN_PF_WG) { attn_prefill_wmma<kt, vt, 256>(p); }
ATTN_KERNELS_W(f16, AT_F16, f16, AT_F16)
ATTN_KERNELS_W(f16, AT_F16, bf16, AT_BF16)
ATTN_KERNELS_W(bf16, AT_BF16, f16, AT_F16)
ATTN_KERNELS_W(bf16, AT_BF16, bf16, AT_BF16)

/* ---- split-K merge ----------------------------------------------------------------------------
 *   M = max_s m_s,  w_s = exp(m_s - M),  y = sum_s w_s acc_s / sum_s w_s l_s
 * (zeros when no split saw a key of weight). Thread s < NS reads record s's
 * (m, l); then threads stride over D. */
SC_KERNEL(k_attn_reduce, attn_reduce_args, ATTN_RED_WG) {
    constexpr int NW = ATTN_RED_WG / SC_WARP;
    __shared__ float w_sh[ATTN_MAX_SPLITS];
    __shared__ float red_sh[NW];
    const int tid = (int)threadIdx.x, lane = (int)sc_lane(), warp = tid / SC_WARP;
    const int h = (int)blockIdx.x, t = p.t_base + (int)blockIdx.y;
    const int PS = p.D + 4;
    const float *base = p.part + ((int64_t)t * p.H + h) * p.NS * PS; /* [NS][PS] */

    const float ms = tid < p.NS ? base[(int64_t)tid * PS] : ATTN_NEG;
    float v = sc_warp_max(ms);
    if (lane == 0) red_sh[warp] = v;
    __syncthreads();
    float M = red_sh[0];
ATTN_UNROLL
    for (int w = 1; w < NW; w++) M = fmaxf(M, red_sh[w]);
    __syncthreads(); /* red_sh is reused below */

    const float ws = tid < p.NS ? expf(ms - M) : 0.0f;
    if (tid < p.NS) w_sh[tid] = ws;
    v = sc_warp_sum(tid < p.NS ? ws * base[(int64_t)tid * PS + 1] : 0.0f);
    if (lane == 0) red_sh[warp] = v;
    __syncthreads();
    float L = 0.0f;
ATTN_UNROLL
    for (int w = 0; w < NW; w++) L += red_sh[w];
    const float rl = L > 0.0f ? 1.0f / L : 0.0f;

    float *o = (float *)(p.dst + (int64_t)t * p.o_nb2 + (int64_t)h * p.o_nb1); /* [D] */
    for (int d = tid; d < p.D; d += ATTN_RED_WG) {
        float y = 0.0f;
        for (int s = 0; s < p.NS; s++) y += w_sh[s] * base[(int64_t)s * PS + 4 + d];
        o[d] = y * rl;
    }
}
