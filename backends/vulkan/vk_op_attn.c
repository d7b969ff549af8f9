/*
 * backends/vulkan/vk_op_attn.c - the paged KV cache on Vulkan: KV_WRITE and
 * ATTENTION (docs/ops.md; the reference is backends/cpu/ref_attention.c).
 *
 * cache       [head_dim D, n_kv_heads Hkv, block_size BS, n_blocks NB] f32/f16/bf16
 * block_table i32 [max_blocks MB, n_seqs NSEQ]: (position p, sequence s) lives in
 *             block bt[p / BS, s], row p % BS
 * pos, seq    i32 [T] (seq NULL: every token in sequence 0)
 *
 * KV_WRITE (shaders/kv_write.comp): one invocation per element of the new
 * rows, rounded to the cache type exactly as sc_f32_to_f16/bf16 do. When the
 * node does not share the cache's memory, kv_write_copy.comp first copies the
 * cache into it (the reference's "not in place" rule).
 *
 * ATTENTION, q f32 [D, H, T] -> f32 [D, H, T], two kernels:
 *  - decode (T <= VK_ATTN_DECODE_MAX_T: decode steps, speculative verify,
 *    batches whose tokens are of many sequences): attention_decode.comp, one
 *    workgroup per (key split, kv head x head group, token), the group's GQA
 *    heads sharing each K/V row;
 *  - prefill (more tokens): attention_prefill.comp, tiles of query rows
 *    (tokens x GQA heads of one kv head) with K/V tiles in shared memory.
 * Both split the keys over NS workgroups when the grid would otherwise be
 * too small for the GPU (flash-decoding); attention_reduce.comp then merges
 * the NS partial (max, sum, acc) records of each (head, token). The context
 * length lives on the device (pos), so NS is sized from the table's capacity
 * MB * BS and the shaders cut the actual context into NS equal runs.
 *
 * Range errors (seq, pos, block index, block id) are flagged through
 * vk_rec_error_addr(); the offending token (KV_WRITE) or key (ATTENTION) is
 * skipped.
 *
 * The split between the kernels is a guess made without the token data:
 * the prefill kernel walks each sequence of a tile separately, so a large
 * batch of single decode tokens of many sequences (T > 8) runs correctly
 * there but with most tile rows idle.
 *
 * Test knobs (run backend-ops under them to put every case through each path):
 *   STRIXCORE_VK_ATTN=decode|prefill   force one ATTENTION kernel
 *   STRIXCORE_VK_ATTN_SPLITS=n         force NS (1..VK_ATTN_MAX_SPLITS)
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "sc_tensor_checks.h"
#include "vk_internal.h"
#include "vk_op_matmul_dp4.h"
#include "vk_tune.h"

#define VK_ATTN_DECODE_MAX_T 8   /* more query tokens than this take the prefill kernel */
#define VK_ATTN_MAX_D 256        /* head_dim bound: the prefill tiles' shared memory */
#define VK_ATTN_DECODE_WG 128    /* decode: invocations = keys per tile */
#define VK_ATTN_DECODE_MAX_GH 8  /* decode: query heads per workgroup (registers: GH vec4 + GH floats) */
#define VK_ATTN_DECODE_MIN_WGS 64 /* decode: fewer heads per workgroup below this many workgroups */
#define VK_ATTN_PREFILL_WG 128
#define VK_ATTN_TARGET_WGS 512   /* split the keys until the grid has about this many workgroups
                                    (decode at 32K context on an H200: 512 beat 128, 256 and 1024) */
#define VK_ATTN_MAX_SPLITS 128  /* = MAX_NS of attention_reduce.comp */
#define VK_KV_WRITE_WG 256
#define VK_KV_COPY_WG 256
#define VK_KV_COPY_MAX_WGS 4096  /* grid-stride loop beyond this */
#define VK_MAX_GRID 65535u

/* the shaders take cache dtypes as specialization constants in sc_type numbering */
_Static_assert(SC_TYPE_F32 == 0 && SC_TYPE_F16 == 1 && SC_TYPE_BF16 == 2, "shader type codes");

/* ---- push constants (std430 blocks of the shaders; 8-byte fields first) ------------- */
typedef struct kv_write_push {
    uint64_t dst, src, bt, pos, seq, err;
    uint32_t src_nb1, src_nb2;
    uint32_t dst_nb1, dst_nb2, dst_nb3;
    uint32_t bt_nb1;
    uint32_t D, Hkv, BS, NB, MB, NSEQ;
    uint32_t t_base;
} kv_write_push;

typedef struct kv_copy_push {
    uint64_t src, dst;
    uint32_t src_nb1, src_nb2, src_nb3;
    uint32_t dst_nb1, dst_nb2, dst_nb3;
    uint32_t RW, Hkv, BS, NB;
} kv_copy_push;

/* attention_decode.comp and attention_prefill.comp share the head; the tail
 * is the decode block's (t_base, qscale) or the prefill block's (T,
 * tile_base, qscale). 128 bytes in all, the guaranteed push-constant size. */
typedef struct attn_push {
    uint64_t q, k, v, bt, pos, seq, dst, err;
    uint32_t q_nb1, q_nb2;
    uint32_t k_nb1, k_nb2, k_nb3;
    uint32_t v_nb1, v_nb2, v_nb3;
    uint32_t bt_nb1;
    uint32_t BS, NB, MB, NSEQ;
    uint32_t tail[3]; /* decode: t_base, qscale (bits), -; prefill: T, tile_base, qscale (bits) */
} attn_push;

typedef struct attn_reduce_push {
    uint64_t part, dst;
    uint32_t H, NS, t_base;
    uint32_t q8_T; /* attention_reduce_q8: tokens of the int8 copy */
    uint64_t qs;   /* attention_reduce_q8: the int8 copy (its ds follow) */
} attn_reduce_push;

_Static_assert(sizeof(kv_write_push) <= 128, "push constants over the guaranteed 128 bytes");
_Static_assert(sizeof(kv_copy_push) <= 128, "push constants over the guaranteed 128 bytes");
_Static_assert(sizeof(attn_push) == 128, "attn_push must match the shaders' blocks");
_Static_assert(sizeof(attn_reduce_push) <= 128, "push constants over the guaranteed 128 bytes");

/* ---- shape checks ------------------------------------------------------------------- */

static bool is_cache_type(int32_t type) {
    return type == SC_TYPE_F32 || type == SC_TYPE_F16 || type == SC_TYPE_BF16;
}

/* type matches and rows are contiguous (docs/ops.md), every dim >= 1 */
static bool rows_ok(const sc_tensor *t, int32_t type) {
    if (!t || t->type != type || t->nb[0] != sc_chk_elem_size(type)) return false;
    for (int i = 0; i < SC_MAX_DIMS; i++)
        if (t->ne[i] < 1) return false;
    return true;
}

static bool fits_u32(uint64_t v) { return v <= UINT32_MAX; }

/* every byte stride of dims 1..3 fits the shaders' u32 push constants */
static bool strides_u32(const sc_tensor *t) {
    return fits_u32(t->nb[1]) && fits_u32(t->nb[2]) && fits_u32(t->nb[3]);
}

/* The paged operands shared by both ops (the reference's check_paged). */
static bool paged_ok(const sc_tensor *cache, const sc_tensor *bt, const sc_tensor *pos, const sc_tensor *seq,
                     int64_t T) {
    if (!cache || !is_cache_type(cache->type) || !rows_ok(cache, cache->type) || !strides_u32(cache)) return false;
    if (!rows_ok(bt, SC_TYPE_I32) || bt->ne[2] != 1 || bt->ne[3] != 1 || !fits_u32(bt->nb[1])) return false;
    if (!rows_ok(pos, SC_TYPE_I32) || pos->ne[0] != T || pos->ne[1] != 1 || pos->ne[2] != 1 || pos->ne[3] != 1)
        return false;
    if (seq && (!rows_ok(seq, SC_TYPE_I32) || !sc_chk_same_shape(seq, pos))) return false;
    /* dims the shaders hold in u32 (the grids split T themselves) */
    return fits_u32((uint64_t)cache->ne[0] * (uint64_t)cache->ne[1]) && fits_u32((uint64_t)cache->ne[2]) &&
           fits_u32((uint64_t)cache->ne[3]) && fits_u32((uint64_t)bt->ne[0]) && fits_u32((uint64_t)bt->ne[1]) &&
           fits_u32((uint64_t)T) && fits_u32((uint64_t)cache->ne[2] * (uint64_t)bt->ne[0]);
}

static bool supports_kv_write(const sc_tensor *node) {
    const sc_tensor *cache = node->src[0], *src = node->src[1];
    if (!rows_ok(src, SC_TYPE_F32) || src->ne[3] != 1 || !fits_u32(src->nb[1]) || !fits_u32(src->nb[2])) return false;
    if (!paged_ok(cache, node->src[2], node->src[3], node->src[4], src->ne[2])) return false;
    if (src->ne[0] != cache->ne[0] || src->ne[1] != cache->ne[1]) return false;
    if (!rows_ok(node, cache->type) || !sc_chk_same_shape(node, cache) || !strides_u32(node)) return false;
    /* grid x = ceil(D * Hkv / WG) */
    return (uint64_t)cache->ne[0] * (uint64_t)cache->ne[1] <= (uint64_t)VK_MAX_GRID * VK_KV_WRITE_WG;
}

static bool supports_attention(vk_dev *d, const sc_tensor *node) {
    const sc_tensor *q = node->src[0], *k = node->src[1], *v = node->src[2];
    const vk_caps *caps = vk_dev_caps(d);
    if (!caps || !caps->subgroup_arithmetic || caps->max_push_constants < sizeof(attn_push)) return false;
    if (caps->max_workgroup_size < VK_ATTN_DECODE_WG || caps->max_workgroup_size < VK_ATTN_PREFILL_WG) return false;
    if (!rows_ok(q, SC_TYPE_F32) || q->ne[3] != 1 || !fits_u32(q->nb[1]) || !fits_u32(q->nb[2])) return false;
    if (!paged_ok(k, node->src[3], node->src[4], node->src[5], q->ne[2])) return false;
    if (!v || !is_cache_type(v->type) || !rows_ok(v, v->type) || !sc_chk_same_shape(k, v) || !strides_u32(v)) return false;
    if (q->ne[0] != k->ne[0] || q->ne[1] % k->ne[1] != 0) return false;
    if (q->ne[0] > VK_ATTN_MAX_D || !fits_u32((uint64_t)q->ne[1])) return false;
    /* the output is written as contiguous [D, H, T] (a new node always is) */
    if (!rows_ok(node, SC_TYPE_F32) || !sc_chk_same_shape(node, q) || node->nb[1] != (size_t)q->ne[0] * 4 ||
        node->nb[2] != node->nb[1] * (size_t)q->ne[1])
        return false;
    return true;
}

bool vk_supports_attn(vk_dev *d, const sc_tensor *node) {
    if (!d || !node) return false;
    switch (node->op) {
    case SC_OP_KV_WRITE: return supports_kv_write(node);
    case SC_OP_ATTENTION: return supports_attention(d, node);
    default: return false;
    }
}

/* ---- KV_WRITE ----------------------------------------------------------------------- */
static int record_kv_copy(vk_rec *r, const sc_tensor *node, const sc_tensor *cache) {
    vk_dev *d = vk_rec_dev(r);
    /* the copy runs in parallel: it needs the two tensors apart (or equal,
     * which never reaches here) */
    const uint64_t a = vk_addr(cache), b = vk_addr(node);
    const uint64_t na = vk_host->tensor_nbytes(cache), nb = vk_host->tensor_nbytes(node);
    if (a < b + nb && b < a + na) {
        VK_LOG(SC_LOG_ERROR, "kv_write %s: the node partly overlaps its cache", node->name);
        return SC_ENOTSUP;
    }
    const uint32_t spec[3] = {VK_KV_COPY_WG, 1, 1};
    vk_pipeline *p = vk_pipeline_get(d, "kv_write_copy", sizeof(kv_copy_push), spec, 3, 0);
    if (!p) return SC_EBACKEND;
    kv_copy_push pc = {
        .src = a, .dst = b,
        .src_nb1 = (uint32_t)cache->nb[1], .src_nb2 = (uint32_t)cache->nb[2], .src_nb3 = (uint32_t)cache->nb[3],
        .dst_nb1 = (uint32_t)node->nb[1], .dst_nb2 = (uint32_t)node->nb[2], .dst_nb3 = (uint32_t)node->nb[3],
        .RW = (uint32_t)((size_t)cache->ne[0] * sc_chk_elem_size(cache->type) / 2),
        .Hkv = (uint32_t)cache->ne[1], .BS = (uint32_t)cache->ne[2], .NB = (uint32_t)cache->ne[3],
    };
    const uint64_t words = (uint64_t)pc.RW * pc.Hkv * pc.BS * pc.NB;
    uint64_t groups = (words + VK_KV_COPY_WG - 1) / VK_KV_COPY_WG;
    if (groups > VK_KV_COPY_MAX_WGS) groups = VK_KV_COPY_MAX_WGS;
    return vk_dispatch(r, p, &pc, sizeof pc, (uint32_t)groups, 1, 1);
}

static int record_kv_write(vk_rec *r, const sc_tensor *node) {
    const sc_tensor *cache = node->src[0], *src = node->src[1], *bt = node->src[2];
    const sc_tensor *pos = node->src[3], *seq = node->src[4];
    const int64_t T = src->ne[2];
    int rc;
    if (node->data != cache->data && (rc = record_kv_copy(r, node, cache)) != SC_OK) return rc;

    const uint32_t spec[4] = {VK_KV_WRITE_WG, 1, 1, (uint32_t)node->type};
    vk_pipeline *p = vk_pipeline_get(vk_rec_dev(r), "kv_write", sizeof(kv_write_push), spec, 4, 0);
    if (!p) return SC_EBACKEND;
    kv_write_push pc = {
        .dst = vk_addr(node), .src = vk_addr(src), .bt = vk_addr(bt), .pos = vk_addr(pos),
        .seq = seq ? vk_addr(seq) : 0, .err = vk_rec_error_addr(r),
        .src_nb1 = (uint32_t)src->nb[1], .src_nb2 = (uint32_t)src->nb[2],
        .dst_nb1 = (uint32_t)node->nb[1], .dst_nb2 = (uint32_t)node->nb[2], .dst_nb3 = (uint32_t)node->nb[3],
        .bt_nb1 = (uint32_t)bt->nb[1],
        .D = (uint32_t)cache->ne[0], .Hkv = (uint32_t)cache->ne[1], .BS = (uint32_t)cache->ne[2],
        .NB = (uint32_t)cache->ne[3], .MB = (uint32_t)bt->ne[0], .NSEQ = (uint32_t)bt->ne[1],
    };
    const uint32_t gx = (pc.D * pc.Hkv + VK_KV_WRITE_WG - 1) / VK_KV_WRITE_WG;
    for (int64_t t0 = 0; t0 < T; t0 += VK_MAX_GRID) { /* [D * Hkv] x tokens */
        const int64_t n = T - t0 < VK_MAX_GRID ? T - t0 : VK_MAX_GRID;
        pc.t_base = (uint32_t)t0;
        if ((rc = vk_dispatch(r, p, &pc, sizeof pc, gx, (uint32_t)n, 1)) != SC_OK) return rc;
    }
    return SC_OK;
}

/* ---- ATTENTION ---------------------------------------------------------------------- */
/* Rows of a cache may be read with 16-byte loads (8 elements of a 16-bit
 * cache, 4 of an f32 one) when the base address and every stride are
 * multiples of 16 bytes and head_dim of 8 (the shaders' K_/V_ALIGNED). */
static bool rows_aligned16(const sc_tensor *t) {
    return t->ne[0] % 8 == 0 && vk_addr(t) % 16 == 0 && t->nb[1] % 16 == 0 && t->nb[2] % 16 == 0 &&
           t->nb[3] % 16 == 0;
}

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static uint32_t ceil_div(uint64_t a, uint64_t b) { return (uint32_t)((a + b - 1) / b); }

/* Splits of the keys: enough workgroups to fill the GPU, none shorter than
 * min_keys (bounded by the table's capacity MB * BS). */
static uint32_t pick_splits(uint64_t base_wgs, uint64_t max_ctx, uint32_t min_keys, const vk_tune_sel *sel) {
    if (sel->splits >= 1 && sel->splits <= VK_ATTN_MAX_SPLITS) return sel->splits; /* tuned (vk_tune.c) */
    const char *env = getenv("STRIXCORE_VK_ATTN_SPLITS");
    if (env && *env) {
        long n = strtol(env, NULL, 10);
        if (n >= 1 && n <= VK_ATTN_MAX_SPLITS) return (uint32_t)n;
    }
    if (base_wgs >= VK_ATTN_TARGET_WGS) return 1;
    uint64_t ns = VK_ATTN_TARGET_WGS / base_wgs;
    const uint64_t by_ctx = (max_ctx + min_keys - 1) / min_keys;
    if (ns > by_ctx) ns = by_ctx;
    if (ns > VK_ATTN_MAX_SPLITS) ns = VK_ATTN_MAX_SPLITS;
    return ns < 1 ? 1 : (uint32_t)ns;
}

static int record_attention(vk_rec *r, const sc_tensor *node) {
    const sc_tensor *q = node->src[0], *k = node->src[1], *v = node->src[2], *bt = node->src[3];
    const sc_tensor *pos = node->src[4], *seq = node->src[5];
    vk_dev *d = vk_rec_dev(r);
    const vk_caps *caps = vk_dev_caps(d);
    const uint32_t D = (uint32_t)q->ne[0], H = (uint32_t)q->ne[1], Hkv = (uint32_t)k->ne[1];
    const uint32_t G = H / Hkv; /* query heads per kv head (GQA) */
    const int64_t T = q->ne[2];
    const uint64_t max_ctx = (uint64_t)bt->ne[0] * (uint64_t)k->ne[2]; /* the most keys a token can read */
    const float qscale = sc_op_param_f32(node, 0) * 1.4426950408889634f; /* scores in log2 units */
    int rc;

    vk_tune_sel sel; /* the tuned variant (vk_tune.c; zeros: the heuristics) */
    vk_tune_pick(d, node, &sel);
    bool decode = sel.path == VK_TP_DECODE || (sel.path != VK_TP_PREFILL && T <= VK_ATTN_DECODE_MAX_T);
    const char *env = getenv("STRIXCORE_VK_ATTN");
    if (env && !strcmp(env, "decode")) decode = true;
    if (env && !strcmp(env, "prefill")) decode = false;

    attn_push pc = {
        .q = vk_addr(q), .k = vk_addr(k), .v = vk_addr(v), .bt = vk_addr(bt), .pos = vk_addr(pos),
        .seq = seq ? vk_addr(seq) : 0, .dst = vk_addr(node), .err = vk_rec_error_addr(r),
        .q_nb1 = (uint32_t)q->nb[1], .q_nb2 = (uint32_t)q->nb[2],
        .k_nb1 = (uint32_t)k->nb[1], .k_nb2 = (uint32_t)k->nb[2], .k_nb3 = (uint32_t)k->nb[3],
        .v_nb1 = (uint32_t)v->nb[1], .v_nb2 = (uint32_t)v->nb[2], .v_nb3 = (uint32_t)v->nb[3],
        .bt_nb1 = (uint32_t)bt->nb[1],
        .BS = (uint32_t)k->ne[2], .NB = (uint32_t)k->ne[3], .MB = (uint32_t)bt->ne[0], .NSEQ = (uint32_t)bt->ne[1],
    };
    const uint32_t k_al = rows_aligned16(k), v_al = rows_aligned16(v);

    vk_pipeline *p;
    uint32_t NS, NHG, n_tiles = 0, q8_nsg = 0;
    if (decode) {
        /* heads per workgroup: G split into NHG near-equal groups of <= 8 */
        NHG = ceil_div(G, VK_ATTN_DECODE_MAX_GH);
        /* A small grid (one token, few kv heads: Qwen3-30B-A3B has 4) gets
         * fewer heads per workgroup before the keys are split: each
         * workgroup rereads its kv head's keys (from cache) but needs no
         * merge pass. H200, Qwen3-30B-A3B decode at ~150 positions: 4
         * workgroups of 8 heads -> 32 of 1 (measured in the whole decode). */
        if ((uint64_t)T * Hkv * NHG < VK_ATTN_DECODE_MIN_WGS) {
            const uint64_t want = ceil_div(VK_ATTN_DECODE_MIN_WGS, (uint64_t)T * Hkv);
            NHG = want < G ? (uint32_t)want : G;
        }
        const uint32_t GH = ceil_div(G, NHG);
        NHG = ceil_div(G, GH);
        /* bound on gl_NumSubgroups for the shared reduction arrays: the
         * smallest subgroup the driver may run the pipeline with */
        uint32_t sg = caps->subgroup_size ? caps->subgroup_size : 1;
        if (caps->min_subgroup_size && caps->min_subgroup_size < sg) sg = caps->min_subgroup_size;
        q8_nsg = ceil_div(VK_ATTN_DECODE_WG, sg);
        const uint32_t spec[11] = {VK_ATTN_DECODE_WG, 1, 1, D, G, GH, (uint32_t)k->type, (uint32_t)v->type,
                                   k_al, v_al, q8_nsg};
        NS = pick_splits((uint64_t)T * Hkv * NHG, max_ctx, 2 * VK_ATTN_DECODE_WG, &sel);
        p = vk_pipeline_get(d, "attention_decode", sizeof pc, spec, 11, 0);
    } else {
        /* tile: R query rows x BK keys, sized by head_dim (shared memory <= 29.3 KB) */
        const uint32_t D4 = (D + 3) / 4;
        const uint32_t R = D4 <= 16 ? 32 : D4 <= 32 ? 16 : 8;
        const uint32_t BK = D4 <= 32 ? 32 : 16;
        const uint32_t GHP = G < R ? G : R;
        NHG = ceil_div(G, GHP);
        n_tiles = ceil_div((uint64_t)T, R / GHP);
        const uint32_t spec[12] = {VK_ATTN_PREFILL_WG, 1, 1, D, G, GHP, R, BK,
                                   (uint32_t)k->type, (uint32_t)v->type, k_al, v_al};
        NS = pick_splits((uint64_t)n_tiles * Hkv * NHG, max_ctx, 4 * BK, &sel);
        p = vk_pipeline_get(d, "attention_prefill", sizeof pc, spec, 12, 0);
    }
    if (!p) return SC_EBACKEND;

    /* split-K: the NS partial records of every (h, t) go to scratch first */
    uint64_t part = 0;
    if (NS > 1) {
        const size_t bytes = (size_t)T * H * NS * (D + 4) * sizeof(float);
        if ((rc = vk_rec_scratch(r, bytes, &part)) != SC_OK) return rc;
        pc.dst = part;
    }

    /* Decode in one split, feeding an int8-activation GEMV: the shader also
     * writes the int8 copy of out [D, H, T] as the output projection reads it
     * ([D*H, T]: vk_mm_dp4_q8_target_at), so that GEMV quantizes nothing (one
     * dependent dispatch less per layer: H200 tg128 Qwen3-14B 194.0 / 191.6
     * -> 196.3 / 197.9 tok/s, alternated). Its address rides in a table the
     * recording carries, with the error flag's, to stay within 128 bytes of
     * push constants (lavapipe's limit). */
    const char *mmenv = getenv("STRIXCORE_VK_MATMUL"); /* "noattnq8": the projection quantizes (A/B) */
    const bool q8_ok = D % 32 == 0 && node->nb[1] == (size_t)D * 4 && node->nb[2] == (size_t)D * H * 4 &&
                       !(mmenv && strstr(mmenv, "noattnq8"));
    if (decode && NS == 1 && q8_ok && vk_spirv_find("attention_decode_q8")) {
        uint64_t tab[2] = {pc.err, 0}, ds = 0, taddr = 0; /* {error flag, int8 copy}: the shader's pc.err */
        uint32_t perm = 0;
        if (vk_mm_dp4_q8_target_at(r, vk_addr(node), (uint64_t)D * H, (uint64_t)T, (uint64_t)D * H, &tab[1], &ds,
                                   &perm) == SC_OK) {
            if ((rc = vk_rec_const(r, tab, sizeof tab, &taddr)) != SC_OK) return rc;
            const uint32_t spec[11] = {VK_ATTN_DECODE_WG, 1, 1, D, G, ceil_div(G, NHG), (uint32_t)k->type,
                                       (uint32_t)v->type, k_al, v_al, q8_nsg};
            vk_pipeline *pq = vk_pipeline_get(d, "attention_decode_q8", sizeof pc, spec, 11, 0);
            if (!pq) return SC_EBACKEND;
            attn_push qp = pc;
            qp.err = taddr;
            qp.tail[0] = 0;
            qp.tail[1] = f32_bits(qscale);
            qp.tail[2] = (uint32_t)T; /* T <= VK_ATTN_DECODE_MAX_T <= 65535: one dispatch */
            return vk_dispatch(r, pq, &qp, sizeof qp, 1, Hkv * NHG, (uint32_t)T);
        }
    }

    if (decode) { /* grid: splits x (Hkv * NHG) x tokens */
        pc.tail[1] = f32_bits(qscale);
        for (int64_t t0 = 0; t0 < T; t0 += VK_MAX_GRID) {
            const int64_t n = T - t0 < VK_MAX_GRID ? T - t0 : VK_MAX_GRID;
            pc.tail[0] = (uint32_t)t0;
            if ((rc = vk_dispatch(r, p, &pc, sizeof pc, NS, Hkv * NHG, (uint32_t)n)) != SC_OK) return rc;
        }
    } else { /* grid: token tiles x (Hkv * NHG) x splits */
        pc.tail[0] = (uint32_t)T;
        pc.tail[2] = f32_bits(qscale);
        for (uint32_t i0 = 0; i0 < n_tiles; i0 += VK_MAX_GRID) {
            const uint32_t n = n_tiles - i0 < VK_MAX_GRID ? n_tiles - i0 : VK_MAX_GRID;
            pc.tail[1] = i0;
            if ((rc = vk_dispatch(r, p, &pc, sizeof pc, n, Hkv * NHG, NS)) != SC_OK) return rc;
        }
    }
    if (NS == 1) return SC_OK;

    /* merge the splits: one workgroup per (h, t); in decode it writes the int8
     * copy for the output projection as the single-split shader does */
    const uint32_t rspec[4] = {128, 1, 1, D}; /* a power of two (tree reductions) */
    attn_reduce_push rp = {.part = part, .dst = vk_addr(node), .H = H, .NS = NS};
    const char *rmod = "attention_reduce";
    if (decode && q8_ok && D <= 512 && vk_spirv_find("attention_reduce_q8")) {
        uint64_t ds = 0;
        uint32_t perm = 0;
        if (vk_mm_dp4_q8_target_at(r, vk_addr(node), (uint64_t)D * H, (uint64_t)T, (uint64_t)D * H, &rp.qs, &ds,
                                   &perm) == SC_OK) {
            rmod = "attention_reduce_q8";
            rp.q8_T = (uint32_t)T;
        }
    }
    vk_pipeline *pr = vk_pipeline_get(d, rmod, sizeof(attn_reduce_push), rspec, 4, 0);
    if (!pr) return SC_EBACKEND;
    for (int64_t t0 = 0; t0 < T; t0 += VK_MAX_GRID) {
        const int64_t n = T - t0 < VK_MAX_GRID ? T - t0 : VK_MAX_GRID;
        rp.t_base = (uint32_t)t0;
        if ((rc = vk_dispatch(r, pr, &rp, sizeof rp, H, (uint32_t)n, 1)) != SC_OK) return rc;
    }
    return SC_OK;
}

/* Tuning (vk_tune.c): key attn.<k type>[.<v type>]:H=,Hkv=,D=,T=<bucket>,ctx=<bucket of MB*BS>;
 * variants: the default kernel ("decode" for T <= 8, else "prefill") with
 * its own split count, the same kernel with fixed splits ("decode.s1" ..
 * "decode.s32", "prefill.s1" .. "prefill.s8", up to the context's runs of
 * 64 keys), and the other kernel where both make sense (T <= 32). Not
 * tunable while STRIXCORE_VK_ATTN or STRIXCORE_VK_ATTN_SPLITS is set. */
int vk_attn_tune_variants(vk_dev *d, const sc_tensor *node, sc_tune_info *info) {
    if (node->op != SC_OP_ATTENTION || !supports_attention(d, node)) return SC_ENOTSUP;
    const char *e1 = getenv("STRIXCORE_VK_ATTN"), *e2 = getenv("STRIXCORE_VK_ATTN_SPLITS");
    if ((e1 && *e1) || (e2 && *e2)) return SC_ENOTSUP; /* the knobs win */
    const sc_tensor *q = node->src[0], *k = node->src[1], *v = node->src[2], *bt = node->src[3];
    const int64_t T = q->ne[2];
    const uint64_t max_ctx = (uint64_t)bt->ne[0] * (uint64_t)k->ne[2];
    char key[SC_TUNE_KEY_LEN], vt[16] = "";
    if (v->type != k->type) snprintf(vt, sizeof vt, ".%s", vk_host->type_name(v->type));
    if (!sc_tune_key(key, "attn.%s%s:H=%lld,Hkv=%lld,D=%lld,T=%lld,ctx=%lld", vk_host->type_name(k->type), vt,
                     (long long)q->ne[1], (long long)k->ne[1], (long long)q->ne[0], (long long)sc_tune_bucket(T),
                     (long long)sc_tune_bucket((int64_t)max_ctx)))
        return SC_ENOTSUP;
    sc_tune_info_begin(info, key);
    const bool dec = T <= VK_ATTN_DECODE_MAX_T;
    const char *kn = dec ? "decode" : "prefill";
    sc_tune_info_add(info, kn); /* index 0: the default */
    const uint32_t max_s = dec ? 32u : 8u;
    char name[SC_TUNE_NAME_LEN];
    for (uint32_t ns = 1; ns <= max_s && ns <= VK_ATTN_MAX_SPLITS; ns *= 2) {
        if (ns > 1 && (uint64_t)ns * 64u > max_ctx) break; /* runs of fewer than 64 keys: pointless */
        snprintf(name, sizeof name, "%s.s%u", kn, ns);
        sc_tune_info_add(info, name);
    }
    if (dec) sc_tune_info_add(info, "prefill");
    else if (T <= 32) sc_tune_info_add(info, "decode");
    return 0;
}

int vk_record_attn(vk_rec *r, const sc_tensor *node) {
    switch (node->op) {
    case SC_OP_KV_WRITE: return record_kv_write(r, node);
    case SC_OP_ATTENTION: return record_attention(r, node);
    default: return SC_ENOTSUP;
    }
}
