/*
 * backends/hip/hip_op_attn.c - the paged KV cache on HIP: KV_WRITE and
 * ATTENTION (kernels/attn.hip; the reference is backends/cpu/ref_attention.c).
 *
 * cache       [head_dim D, n_kv_heads Hkv, block_size BS, n_blocks NB] f32/f16/bf16
 * block_table i32 [max_blocks MB, n_seqs NSEQ]: (position p, sequence s) lives in
 *             block bt[p / BS, s], row p % BS
 * pos, seq    i32 [T] (seq NULL: every token in sequence 0)
 *
 * KV_WRITE: k_kv_write_<type>, grid (ceil(D * Hkv / 256), min(T, 65535)) x
 * 256 threads, one thread per element of the new rows. The node is a view of
 * the cache; when it is not the cache's memory (backend-ops puts the output
 * in a buffer of its own) k_kv_copy first copies the cache into it, the
 * reference's "not in place" rule.
 *
 * ATTENTION, q f32 [D, H, T] -> f32 [D, H, T]:
 *  - decode (T <= HIP_ATTN_DECODE_MAX_T: decode steps, speculative verify,
 *    a few sequences' tokens): k_attn_dec_<K>_<V>, one block of 128 threads
 *    per (key split, kv head x head group, token), the group's <= 8 GQA heads
 *    sharing each K/V row;
 *  - prefill: k_attn_pf_<K>_<V>_<128|256>, one block of 128 threads per
 *    (tile of 16 query rows = tokens x heads of one kv head, head group,
 *    key split), K/V tiles in shared memory; on gfx11 (hip_caps()->wmma)
 *    with f16/bf16 k and v caches k_attn_pfw_<K>_<V>_<128|256> instead, the
 *    same tiles with S = Q K^T and P V on WMMA (q and the softmax weights
 *    rounded to the cache types, f32 accumulation; f32 caches stay scalar:
 *    their bound is 1e-6).
 * Both split the keys over NS blocks when the grid would not fill the GPU
 * (flash-decoding); k_attn_reduce then merges the NS partial records of each
 * (head, token) from node scratch. The context length lives on the device
 * (pos), so NS is sized from the block table's capacity MB * BS; the kernels
 * cut the actual context into NS runs (empty runs cost one record).
 *
 * Supported: what the reference accepts with head_dim % 4 == 0 and <= 256,
 * and counts that fit the kernels' 32-bit indices; the rest runs on the CPU.
 * Range errors (a sequence, position, block index or block id out of range:
 * the reference's SC_ERANGE) are reported by the kernels in the stream's
 * error word (hip_err_word, passed as the args' err), and graph_compute
 * returns SC_ERANGE; KV_WRITE skips the token, ATTENTION the key (a query
 * with no key gets zeros).
 *
 * Test knobs (run backend-ops under them to put every case through a path):
 *   STRIXCORE_HIP_ATTN=decode|prefill|prefill-wmma   force one ATTENTION kernel
 *       (prefill: the scalar one even on gfx11; prefill-wmma: the WMMA one
 *       for 16-bit caches whatever hip_caps says, for the EMU test library
 *       that emulates the instruction; f32 caches take the scalar one)
 *   STRIXCORE_HIP_ATTN_SPLITS=n         force NS (1..ATTN_MAX_SPLITS)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn.h"
#include "hip_internal.h"
#include "sc_tensor_checks.h"

#define HIP_ATTN_DECODE_MAX_T 8  /* more query tokens than this take the prefill kernel */
#define HIP_ATTN_WAVES 4         /* split the keys until the grid has this many blocks per CU */
#define HIP_ATTN_DEFAULT_CUS 40  /* when the device does not say (Strix Halo: 40) */

/* ---- shape checks ------------------------------------------------------------------------- */

static bool is_cache_type(int32_t type) {
    return type == SC_TYPE_F32 || type == SC_TYPE_F16 || type == SC_TYPE_BF16;
}

/* The paged operands shared by both ops (the reference's check_paged), with
 * the counts the kernels hold in int32. */
static bool paged_ok(const sc_tensor *cache, const sc_tensor *bt, const sc_tensor *pos, const sc_tensor *seq,
                     int64_t T) {
    if (!cache || !is_cache_type(cache->type) || !sc_chk_rows_of(cache, cache->type)) return false;
    if (!sc_chk_rows_of(bt, SC_TYPE_I32) || bt->ne[2] != 1 || bt->ne[3] != 1) return false;
    if (!sc_chk_rows_of(pos, SC_TYPE_I32) || pos->ne[0] != T || pos->ne[1] != 1 || pos->ne[2] != 1 || pos->ne[3] != 1)
        return false;
    if (seq && (!sc_chk_rows_of(seq, SC_TYPE_I32) || !sc_chk_same_shape(seq, pos))) return false;
    return cache->ne[0] * cache->ne[1] <= INT32_MAX && cache->ne[2] * bt->ne[0] <= INT32_MAX &&
           cache->ne[3] <= INT32_MAX && bt->ne[1] <= INT32_MAX && T <= INT32_MAX;
}

static bool supports_kv_write(const sc_tensor *node) {
    const sc_tensor *cache = node->src[0], *src = node->src[1];
    if (!sc_chk_rows_of(src, SC_TYPE_F32) || src->ne[3] != 1) return false;
    if (!paged_ok(cache, node->src[2], node->src[3], node->src[4], src->ne[2])) return false;
    if (src->ne[0] != cache->ne[0] || src->ne[1] != cache->ne[1]) return false;
    return sc_chk_rows_of(node, cache->type) && sc_chk_same_shape(node, cache);
}

static bool supports_attention(const sc_tensor *node) {
    const sc_tensor *q = node->src[0], *k = node->src[1], *v = node->src[2];
    if (!sc_chk_rows_of(q, SC_TYPE_F32) || q->ne[3] != 1) return false;
    if (!paged_ok(k, node->src[3], node->src[4], node->src[5], q->ne[2])) return false;
    if (!v || !is_cache_type(v->type) || !sc_chk_rows_of(v, v->type) || !sc_chk_same_shape(k, v)) return false;
    if (q->ne[0] != k->ne[0] || q->ne[1] % k->ne[1] != 0) return false;
    if (q->ne[0] % 4 != 0 || q->ne[0] > ATTN_MAX_D || q->ne[1] > (int64_t)HIP_GRID_YZ_MAX) return false;
    return sc_chk_rows_of(node, SC_TYPE_F32) && sc_chk_same_shape(node, q);
}

bool hip_supports_attn(hip_dev *d, const sc_tensor *node) {
    (void)d;
    if (!node) return false;
    switch (node->op) {
    case SC_OP_KV_WRITE: return supports_kv_write(node);
    case SC_OP_ATTENTION: return supports_attention(node);
    default: return false;
    }
}

/* ---- KV_WRITE ----------------------------------------------------------------------------- */
static int run_kv_copy(hip_stream *s, const sc_tensor *node, const sc_tensor *cache) {
    /* the copy runs in parallel: the two tensors must not overlap */
    const uint8_t *a = cache->data, *b = node->data;
    const size_t na = hip_host->tensor_nbytes(cache), nb = hip_host->tensor_nbytes(node);
    if (a < b + nb && b < a + na) {
        HIP_LOG(SC_LOG_ERROR, "kv_write %s: the node partly overlaps its cache", node->name);
        return SC_ENOTSUP;
    }
    attn_kv_copy_args c = {
        .src = cache->data, .dst = node->data,
        .snb1 = (int64_t)cache->nb[1], .snb2 = (int64_t)cache->nb[2], .snb3 = (int64_t)cache->nb[3],
        .dnb1 = (int64_t)node->nb[1], .dnb2 = (int64_t)node->nb[2], .dnb3 = (int64_t)node->nb[3],
        .RW = (int32_t)(cache->ne[0] * (int64_t)sc_chk_elem_size(cache->type) / 2),
        .Hkv = (int32_t)cache->ne[1], .BS = (int32_t)cache->ne[2],
    };
    c.words = (int64_t)c.RW * cache->ne[1] * cache->ne[2] * cache->ne[3];
    int64_t blocks = (c.words + ATTN_KV_WG - 1) / ATTN_KV_WG;
    if (blocks > 4096) blocks = 4096; /* the kernel strides over the rest */
    return HIP_LAUNCH(s, "k_kv_copy", blocks, 1, 1, ATTN_KV_WG, c);
}

static int run_kv_write(hip_stream *s, const sc_tensor *node) {
    const sc_tensor *cache = node->src[0], *src = node->src[1], *bt = node->src[2];
    const sc_tensor *pos = node->src[3], *seq = node->src[4];
    int rc;
    if (node->data != cache->data && (rc = run_kv_copy(s, node, cache)) != SC_OK) return rc;
    attn_kv_write_args a = {
        .dst = node->data, .src = src->data, .bt = bt->data, .pos = pos->data, .seq = seq ? seq->data : NULL,
        .err = hip_err_word(s),
        .src_nb1 = (int64_t)src->nb[1], .src_nb2 = (int64_t)src->nb[2],
        .dst_nb1 = (int64_t)node->nb[1], .dst_nb2 = (int64_t)node->nb[2], .dst_nb3 = (int64_t)node->nb[3],
        .bt_nb1 = (int64_t)bt->nb[1],
        .D = (int32_t)cache->ne[0], .Hkv = (int32_t)cache->ne[1], .BS = (int32_t)cache->ne[2],
        .NB = (int32_t)cache->ne[3], .MB = (int32_t)bt->ne[0], .NSEQ = (int32_t)bt->ne[1],
        .T = (int32_t)src->ne[2],
    };
    const char *name = node->type == SC_TYPE_F16 ? "k_kv_write_f16"
                       : node->type == SC_TYPE_BF16 ? "k_kv_write_bf16" : "k_kv_write_f32";
    const unsigned gy = a.T < (int32_t)HIP_GRID_YZ_MAX ? (unsigned)a.T : HIP_GRID_YZ_MAX;
    return HIP_LAUNCH(s, name, hip_div_up((int64_t)a.D * a.Hkv, ATTN_KV_WG), gy, 1, ATTN_KV_WG, a);
}

/* ---- ATTENTION ---------------------------------------------------------------------------- */
static const char *type_tag(int32_t type) {
    return type == SC_TYPE_F16 ? "f16" : type == SC_TYPE_BF16 ? "bf16" : "f32";
}

/* Rows of a cache may be read 4 elements at a time (16 bytes of f32, 8 of a
 * 16-bit type) when the base address and every stride are multiples of that. */
static int32_t rows_vec(const sc_tensor *t) {
    const size_t al = 4 * sc_chk_elem_size(t->type);
    return (uintptr_t)t->data % al == 0 && t->nb[1] % al == 0 && t->nb[2] % al == 0 && t->nb[3] % al == 0;
}

/* Key splits: enough blocks to fill the GPU, none shorter than min_keys
 * (bounded by the table's capacity: the most keys a query can read). */
static int32_t pick_splits(hip_stream *s, int64_t base_blocks, int64_t max_ctx, int64_t min_keys) {
    const char *env = getenv("STRIXCORE_HIP_ATTN_SPLITS");
    if (env && *env) {
        long n = strtol(env, NULL, 10);
        if (n >= 1 && n <= ATTN_MAX_SPLITS) return (int32_t)n;
    }
    const hip_dev_caps *caps = hip_caps(hip_stream_dev(s));
    const int64_t cus = caps && caps->compute_units > 0 ? caps->compute_units : HIP_ATTN_DEFAULT_CUS;
    const int64_t target = cus * HIP_ATTN_WAVES;
    if (base_blocks >= target) return 1;
    int64_t ns = target / base_blocks;
    const int64_t by_ctx = (max_ctx + min_keys - 1) / min_keys;
    if (ns > by_ctx) ns = by_ctx;
    if (ns > ATTN_MAX_SPLITS) ns = ATTN_MAX_SPLITS;
    return ns < 1 ? 1 : (int32_t)ns;
}

static int32_t ceil_div32(int64_t a, int64_t b) { return (int32_t)((a + b - 1) / b); }

static int run_attention(hip_stream *s, const sc_tensor *node) {
    const sc_tensor *q = node->src[0], *k = node->src[1], *v = node->src[2], *bt = node->src[3];
    const sc_tensor *pos = node->src[4], *seq = node->src[5];
    const int32_t D = (int32_t)q->ne[0], H = (int32_t)q->ne[1], Hkv = (int32_t)k->ne[1], T = (int32_t)q->ne[2];
    const int32_t G = H / Hkv;                       /* query heads per kv head (GQA) */
    const int64_t max_ctx = bt->ne[0] * k->ne[2];    /* the most keys a query can read */
    int rc;

    bool decode = T <= HIP_ATTN_DECODE_MAX_T;
    const bool k16 = k->type != SC_TYPE_F32 && v->type != SC_TYPE_F32;
    const hip_dev_caps *caps = hip_caps(hip_stream_dev(s));
    bool wmma = k16 && caps && caps->wmma; /* the WMMA prefill kernel */
    const char *env = getenv("STRIXCORE_HIP_ATTN");
    if (env && !strcmp(env, "decode")) decode = true;
    if (env && !strcmp(env, "prefill")) {
        decode = false;
        wmma = false;
    }
    if (env && !strcmp(env, "prefill-wmma")) {
        decode = false;
        wmma = k16;
    }

    attn_args a = {
        .q = q->data, .k = k->data, .v = v->data, .bt = bt->data, .pos = pos->data,
        .seq = seq ? seq->data : NULL, .dst = node->data, .err = hip_err_word(s),
        .q_nb1 = (int64_t)q->nb[1], .q_nb2 = (int64_t)q->nb[2],
        .k_nb1 = (int64_t)k->nb[1], .k_nb2 = (int64_t)k->nb[2], .k_nb3 = (int64_t)k->nb[3],
        .v_nb1 = (int64_t)v->nb[1], .v_nb2 = (int64_t)v->nb[2], .v_nb3 = (int64_t)v->nb[3],
        .bt_nb1 = (int64_t)bt->nb[1],
        .o_nb1 = (int64_t)node->nb[1], .o_nb2 = (int64_t)node->nb[2],
        .D = D, .H = H, .G = G,
        .BS = (int32_t)k->ne[2], .NB = (int32_t)k->ne[3], .MB = (int32_t)bt->ne[0], .NSEQ = (int32_t)bt->ne[1],
        .T = T,
        .k_vec = rows_vec(k), .v_vec = rows_vec(v),
        .scale = sc_op_param_f32(node, 0),
    };
    char name[48];
    int32_t n_tiles = 0;
    if (decode) {
        /* heads per block: G in NHG near-equal groups of <= ATTN_DEC_GH */
        a.NHG = ceil_div32(G, ATTN_DEC_GH);
        a.GH = ceil_div32(G, a.NHG);
        a.NHG = ceil_div32(G, a.GH);
        a.NS = pick_splits(s, (int64_t)T * Hkv * a.NHG, max_ctx, 2 * ATTN_DEC_WG);
        snprintf(name, sizeof name, "k_attn_dec_%s_%s", type_tag(k->type), type_tag(v->type));
    } else {
        /* a tile: R / GH tokens x GH heads of one kv head */
        const int32_t dm = D <= 128 ? 128 : 256, bk = wmma ? 64 : dm > 128 ? 16 : 32;
        a.GH = G < ATTN_PF_R ? G : ATTN_PF_R;
        a.NHG = ceil_div32(G, a.GH);
        n_tiles = ceil_div32(T, ATTN_PF_R / a.GH);
        a.NS = pick_splits(s, (int64_t)n_tiles * Hkv * a.NHG, max_ctx, 4 * bk);
        snprintf(name, sizeof name, "k_attn_pf%s_%s_%s_%d", wmma ? "w" : "", type_tag(k->type), type_tag(v->type),
                 (int)dm);
    }

    /* split-K: the NS partial records of every (h, t) go to node scratch first */
    if (a.NS > 1) {
        const size_t bytes = (size_t)T * (size_t)H * (size_t)a.NS * (size_t)(D + 4) * sizeof(float);
        a.part = hip_scratch(s, bytes);
        if (!a.part) a.NS = 1; /* no scratch: one pass over the keys, still right */
    }

    if (decode) { /* grid: splits x (Hkv * NHG) x tokens */
        for (int32_t t0 = 0; t0 < T; t0 += (int32_t)HIP_GRID_YZ_MAX) {
            const int32_t n = T - t0 < (int32_t)HIP_GRID_YZ_MAX ? T - t0 : (int32_t)HIP_GRID_YZ_MAX;
            a.t_base = t0;
            if ((rc = HIP_LAUNCH(s, name, a.NS, Hkv * a.NHG, n, ATTN_DEC_WG, a)) != SC_OK) return rc;
        }
    } else { /* grid: token tiles x (Hkv * NHG) x splits */
        a.t_base = 0;
        if ((rc = HIP_LAUNCH(s, name, n_tiles, Hkv * a.NHG, a.NS, ATTN_PF_WG, a)) != SC_OK) return rc;
    }
    if (a.NS == 1) return SC_OK;

    /* merge the splits: one block per (h, t) */
    attn_reduce_args r = {
        .part = a.part, .dst = node->data, .o_nb1 = a.o_nb1, .o_nb2 = a.o_nb2, .D = D, .H = H, .NS = a.NS,
    };
    for (int32_t t0 = 0; t0 < T; t0 += (int32_t)HIP_GRID_YZ_MAX) {
        const int32_t n = T - t0 < (int32_t)HIP_GRID_YZ_MAX ? T - t0 : (int32_t)HIP_GRID_YZ_MAX;
        r.t_base = t0;
        if ((rc = HIP_LAUNCH(s, "k_attn_reduce", H, n, 1, ATTN_RED_WG, r)) != SC_OK) return rc;
    }
    return SC_OK;
}

int hip_run_attn(hip_stream *s, const sc_tensor *node) {
    switch (node->op) {
    case SC_OP_KV_WRITE: return run_kv_write(s, node);
    case SC_OP_ATTENTION: return run_attention(s, node);
    default: return SC_ENOTSUP;
    }
}
