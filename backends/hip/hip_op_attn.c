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
 * Tuning (hip_tune.c, docs/hip.md "Tuning"): a variant is a kernel and a
 * split count, "<decode|prefill|prefill-wmma>.splits=<NS>"; tune_query
 * offers decode up to ATTN_TUNE_DECODE_MAX_T tokens, prefill always,
 * prefill-wmma where it can run, each with its heuristic's NS and the powers
 * of two above it up to 32, none past splits_cap (a split at least min_keys
 * of the table's capacity); never fewer splits than the heuristic's (see
 * hip_tune_query_attn: the key's ctx is the capacity, not the context). Key: attn.<k>.<v>:D=..,H=..,Hkv=..,T=<bucket>,ctx=<bucket
 * of MB * BS> (the context itself is device data the host never reads).
 *
 * Test knobs (run backend-ops under them to put every case through a path;
 * all but wmma win over the tuning table and make ATTENTION untunable):
 *   STRIXCORE_HIP_ATTN=decode|prefill|prefill-wmma   force one ATTENTION kernel
 *       (prefill: the scalar one even on gfx11; prefill-wmma: the WMMA one
 *       for 16-bit caches whatever hip_caps says, for the EMU test library
 *       that emulates the instruction; f32 caches take the scalar one)
 *   STRIXCORE_HIP_ATTN=wmma             the WMMA prefill available (and the
 *       default for 16-bit caches) whatever hip_caps says, nothing forced
 *   STRIXCORE_HIP_ATTN_SPLITS=n         force NS (1..ATTN_MAX_SPLITS)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn.h"
#include "hip_internal.h"
#include "sc_tune_table.h"
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

static int32_t ceil_div32(int64_t a, int64_t b) { return (int32_t)((a + b - 1) / b); }

/* ---- kernel choice and tuning --------------------------------------------------------------- */
/* An ATTENTION kernel and its key split count. Variant names (persisted in
 * tuning caches): "<kernel>.splits=<NS>", kernel decode | prefill |
 * prefill-wmma, e.g. "decode.splits=8". */
typedef enum attn_kernel { AK_DECODE, AK_PREFILL, AK_PREFILL_WMMA, AK_N } attn_kernel;
static const char *const ak_names[AK_N] = {"decode", "prefill", "prefill-wmma"};
#define ATTN_TUNE_DECODE_MAX_T 64 /* tune_query offers the decode kernel up to this many tokens */

typedef struct attn_choice {
    attn_kernel k;
    int32_t ns; /* 0: the heuristic's (pick_splits) */
} attn_choice;

/* The env knobs: STRIXCORE_HIP_ATTN=decode|prefill|prefill-wmma and
 * STRIXCORE_HIP_ATTN_SPLITS force (the table is not consulted then);
 * STRIXCORE_HIP_ATTN=wmma only makes the WMMA prefill kernel available. */
static const char *attn_env(void) { return getenv("STRIXCORE_HIP_ATTN"); }
static bool attn_forced(void) {
    const char *e = attn_env(), *ns = getenv("STRIXCORE_HIP_ATTN_SPLITS");
    return (e && (!strcmp(e, "decode") || !strcmp(e, "prefill") || !strcmp(e, "prefill-wmma"))) || (ns && *ns);
}

static bool k16_of(const sc_tensor *node) {
    return node->src[1]->type != SC_TYPE_F32 && node->src[2]->type != SC_TYPE_F32;
}

static bool wmma_avail(hip_dev *d, const sc_tensor *node) {
    const char *e = attn_env();
    const hip_dev_caps *caps = hip_caps(d);
    return k16_of(node) && ((caps && caps->wmma) || (e && (!strcmp(e, "prefill-wmma") || !strcmp(e, "wmma"))));
}

/* the untuned kernel (and the STRIXCORE_HIP_ATTN knob) */
static attn_kernel kernel_default(hip_dev *d, const sc_tensor *node) {
    const char *env = attn_env();
    const int64_t T = node->src[0]->ne[2];
    const hip_dev_caps *caps = hip_caps(d);
    bool decode = T <= HIP_ATTN_DECODE_MAX_T;
    bool wmma = k16_of(node) && caps && caps->wmma;
    if (env && !strcmp(env, "decode")) decode = true;
    if (env && !strcmp(env, "prefill")) {
        decode = false;
        wmma = false;
    }
    if (env && !strcmp(env, "prefill-wmma")) {
        decode = false;
        wmma = k16_of(node);
    }
    if (env && !strcmp(env, "wmma")) wmma = k16_of(node);
    return decode ? AK_DECODE : wmma ? AK_PREFILL_WMMA : AK_PREFILL;
}

/* The launch geometry of kernel k for this node: heads per block, head
 * groups, tiles, and the blocks before splitting and keys a split should at
 * least have (pick_splits' inputs). */
typedef struct attn_geom {
    int32_t GH, NHG, n_tiles, dm;
    int64_t base_blocks, min_keys;
} attn_geom;

static attn_geom geom_of(const sc_tensor *node, attn_kernel k) {
    const sc_tensor *q = node->src[0], *kc = node->src[1];
    const int32_t D = (int32_t)q->ne[0], H = (int32_t)q->ne[1], Hkv = (int32_t)kc->ne[1], T = (int32_t)q->ne[2];
    const int32_t G = H / Hkv;
    attn_geom g = {0};
    if (k == AK_DECODE) {
        /* heads per block: G in NHG near-equal groups of <= ATTN_DEC_GH */
        g.NHG = ceil_div32(G, ATTN_DEC_GH);
        g.GH = ceil_div32(G, g.NHG);
        g.NHG = ceil_div32(G, g.GH);
        g.base_blocks = (int64_t)T * Hkv * g.NHG;
        g.min_keys = 2 * ATTN_DEC_WG;
    } else {
        /* a tile: R / GH tokens x GH heads of one kv head */
        g.dm = D <= 128 ? 128 : 256;
        const int32_t bk = k == AK_PREFILL_WMMA ? 64 : g.dm > 128 ? 16 : 32;
        g.GH = G < ATTN_PF_R ? G : ATTN_PF_R;
        g.NHG = ceil_div32(G, g.GH);
        g.n_tiles = ceil_div32(T, ATTN_PF_R / g.GH);
        g.base_blocks = (int64_t)g.n_tiles * Hkv * g.NHG;
        g.min_keys = 4 * bk;
    }
    return g;
}

static int64_t max_ctx_of(const sc_tensor *node) { return node->src[3]->ne[0] * node->src[1]->ne[2]; }

/* the most splits worth offering: none shorter than min_keys (at least 1) */
static int32_t splits_cap(const sc_tensor *node, const attn_geom *g) {
    int64_t c = (max_ctx_of(node) + g->min_keys - 1) / g->min_keys;
    if (c > ATTN_MAX_SPLITS) c = ATTN_MAX_SPLITS;
    return c < 1 ? 1 : (int32_t)c;
}

/* Key splits: enough blocks to fill the GPU (HIP_ATTN_WAVES per CU), none
 * shorter than min_keys (splits_cap) */
static int32_t auto_splits(hip_dev *d, const sc_tensor *node, const attn_geom *g) {
    const hip_dev_caps *caps = hip_caps(d);
    const int64_t cus = caps && caps->compute_units > 0 ? caps->compute_units : HIP_ATTN_DEFAULT_CUS;
    const int64_t target = cus * HIP_ATTN_WAVES;
    if (g->base_blocks >= target) return 1;
    int64_t ns = target / g->base_blocks;
    const int32_t cap = splits_cap(node, g);
    if (ns > cap) ns = cap;
    return ns < 1 ? 1 : (int32_t)ns;
}

/* STRIXCORE_HIP_ATTN_SPLITS, else auto_splits */
static int32_t pick_splits(hip_dev *d, const sc_tensor *node, const attn_geom *g) {
    const char *env = getenv("STRIXCORE_HIP_ATTN_SPLITS");
    if (env && *env) {
        long n = strtol(env, NULL, 10);
        if (n >= 1 && n <= ATTN_MAX_SPLITS) return (int32_t)n;
    }
    return auto_splits(d, node, g);
}

static bool kernel_valid(hip_dev *d, const sc_tensor *node, attn_kernel k) {
    switch (k) {
    case AK_DECODE: return node->src[0]->ne[2] <= ATTN_TUNE_DECODE_MAX_T;
    case AK_PREFILL: return true;
    case AK_PREFILL_WMMA: return wmma_avail(d, node);
    default: return false;
    }
}

/* "decode.splits=8" -> {AK_DECODE, 8}; false for anything else */
static bool parse_variant(const char *name, attn_choice *c) {
    for (int k = AK_N - 1; k >= 0; k--) { /* "prefill-wmma" before its prefix "prefill" */
        const size_t n = strlen(ak_names[k]);
        if (strncmp(name, ak_names[k], n) != 0 || strncmp(name + n, ".splits=", 8) != 0) continue;
        const char *num = name + n + 8;
        char *end = NULL;
        if (*num < '1' || *num > '9') return false;
        const long ns = strtol(num, &end, 10);
        if (*end || ns < 1 || ns > ATTN_MAX_SPLITS) return false;
        c->k = (attn_kernel)k;
        c->ns = (int32_t)ns;
        return true;
    }
    return false;
}

/* The node's key: attn.<k>.<v>:D=..,H=..,Hkv=..,T=<bucket>,ctx=<bucket of
 * the table's capacity MB * BS> (the context itself lives on the device). */
static bool attn_key(const sc_tensor *node, char *key) {
    const sc_tensor *q = node->src[0], *k = node->src[1], *v = node->src[2];
    return sc_tune_key(key, "attn.%s.%s:D=%lld,H=%lld,Hkv=%lld,T=%lld,ctx=%lld", type_tag(k->type),
                       type_tag(v->type), (long long)q->ne[0], (long long)q->ne[1], (long long)k->ne[1],
                       (long long)sc_tune_bucket(q->ne[2]), (long long)sc_tune_bucket(max_ctx_of(node)));
}

int hip_tune_query_attn(hip_dev *d, const sc_tensor *node, sc_tune_info *info) {
    if (node->op != SC_OP_ATTENTION || attn_forced()) return SC_ENOTSUP;
    char key[SC_TUNE_KEY_LEN], name[SC_TUNE_NAME_LEN], chosen[SC_TUNE_NAME_LEN];
    if (!attn_key(node, key)) return SC_ENOTSUP;
    const attn_kernel def = kernel_default(d, node);
    int def_at = -1;
    sc_tune_info_begin(info, key);
    /* The default kernel first; each kernel with its heuristic's split count
     * and the powers of two above it, never fewer: the key's ctx is the block
     * table's capacity, not the context, so a choice is measured at whatever
     * context the tuner met first (short, in practice) and also runs at the
     * longest one. More splits than needed cost a few microseconds at a short
     * context (empty runs write one record each); fewer than the heuristic's
     * at a long one leave most of the GPU idle. */
    for (int i = 0; i < AK_N; i++) {
        const attn_kernel k = i == 0 ? def : (attn_kernel)(i <= (int)def ? i - 1 : i);
        if (!kernel_valid(d, node, k) && k != def) continue;
        const attn_geom g = geom_of(node, k);
        const int32_t cap = splits_cap(node, &g);
        const int32_t auto_ns = auto_splits(d, node, &g);
        /* the heuristic's count, then the powers of two above it (not past 32 or cap) */
        snprintf(name, sizeof name, "%s.splits=%d", ak_names[k], (int)auto_ns);
        const int at = sc_tune_info_add(info, name);
        if (k == def) def_at = at;
        for (int32_t ns = 2; ns <= 32 && ns <= cap; ns *= 2) {
            if (ns <= auto_ns) continue;
            snprintf(name, sizeof name, "%s.splits=%d", ak_names[k], (int)ns);
            sc_tune_info_add(info, name);
        }
    }
    return sc_tune_info_finish(info, def_at, hip_tune_get(d, key, chosen) ? chosen : NULL);
}

bool hip_tune_known_attn(const char *key, const char *variant) {
    attn_choice c;
    (void)key;
    return parse_variant(variant, &c);
}

/* The kernel and split count this node runs: the default, or the table's
 * choice when it is valid for the node (its split count within the node's
 * offer). key/variant (for the tune log) are filled when the table was
 * consulted. */
static attn_choice choose(hip_stream *s, const sc_tensor *node, char *key, char *variant, bool *chosen) {
    hip_dev *d = hip_stream_dev(s);
    attn_choice c = {kernel_default(d, node), 0};
    key[0] = '\0';
    *chosen = false;
    if (attn_forced() || !hip_tune_active(d) || !attn_key(node, key)) return c;
    attn_choice t;
    if (hip_tune_get(d, key, variant) && parse_variant(variant, &t) && kernel_valid(d, node, t.k)) {
        const attn_geom g = geom_of(node, t.k);
        if (t.ns <= splits_cap(node, &g)) {
            *chosen = true;
            return t;
        }
    }
    const attn_geom g = geom_of(node, c.k);
    snprintf(variant, SC_TUNE_NAME_LEN, "%s.splits=%d", ak_names[c.k], (int)pick_splits(d, node, &g));
    return c;
}

static int run_attention(hip_stream *s, const sc_tensor *node) {
    const sc_tensor *q = node->src[0], *k = node->src[1], *v = node->src[2], *bt = node->src[3];
    const sc_tensor *pos = node->src[4], *seq = node->src[5];
    const int32_t D = (int32_t)q->ne[0], H = (int32_t)q->ne[1], Hkv = (int32_t)k->ne[1], T = (int32_t)q->ne[2];
    const int32_t G = H / Hkv;                       /* query heads per kv head (GQA) */
    int rc;

    char key[SC_TUNE_KEY_LEN], variant[SC_TUNE_NAME_LEN];
    bool chosen;
    const attn_choice ch = choose(s, node, key, variant, &chosen);
    const bool decode = ch.k == AK_DECODE, wmma = ch.k == AK_PREFILL_WMMA;
    const attn_geom geo = geom_of(node, ch.k);

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
    a.GH = geo.GH;
    a.NHG = geo.NHG;
    a.NS = ch.ns > 0 ? ch.ns : pick_splits(hip_stream_dev(s), node, &geo);
    if (decode)
        snprintf(name, sizeof name, "k_attn_dec_%s_%s", type_tag(k->type), type_tag(v->type));
    else
        snprintf(name, sizeof name, "k_attn_pf%s_%s_%s_%d", wmma ? "w" : "", type_tag(k->type), type_tag(v->type),
                 (int)geo.dm);
    if (key[0]) hip_tune_note(key, variant, chosen, name);

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
        if ((rc = HIP_LAUNCH(s, name, geo.n_tiles, Hkv * a.NHG, a.NS, ATTN_PF_WG, a)) != SC_OK) return rc;
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
