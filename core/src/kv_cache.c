/*
 * core/src/kv_cache.c - the paged KV cache: cache tensors, block table,
 * reference-counted blocks on an LRU free list, and the prefix hash table
 * (see kv_cache.h).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kv_cache.h"

void sc__kv_free(sc_kv_cache *kv) {
    if (!kv) return;
    sc_buffer_destroy(kv->buf);
    for (int i = 0; i < kv->n_bufs; i++) sc_buffer_destroy(kv->bufs[i]);
    free(kv->bufs);
    sc_ctx_destroy(kv->ctx);
    free(kv->k);
    free(kv->v);
    free(kv->table);
    free(kv->seq_len);
    free(kv->seq_blocks);
    free(kv->seq_hashed);
    free(kv->seq_tokens);
    free(kv->ref);
    free(kv->hash);
    free(kv->parent_hash);
    free(kv->hashed);
    free(kv->blk_tokens);
    free(kv->fprev);
    free(kv->fnext);
    free(kv->in_free);
    free(kv->bucket);
    free(kv->hnext);
    memset(kv, 0, sizeof *kv);
}

/* ---- free list (LRU order: head is evicted first) ------------------------ */
static void free_unlink(sc_kv_cache *kv, int b) {
    int p = kv->fprev[b], n = kv->fnext[b];
    if (p >= 0) kv->fnext[p] = n; else kv->free_head = n;
    if (n >= 0) kv->fprev[n] = p; else kv->free_tail = p;
    kv->fprev[b] = kv->fnext[b] = -1;
    kv->in_free[b] = 0;
    kv->n_free--;
}

static void free_push(sc_kv_cache *kv, int b, bool at_tail) {
    if (at_tail) {
        kv->fprev[b] = kv->free_tail;
        kv->fnext[b] = -1;
        if (kv->free_tail >= 0) kv->fnext[kv->free_tail] = b; else kv->free_head = b;
        kv->free_tail = b;
    } else {
        kv->fnext[b] = kv->free_head;
        kv->fprev[b] = -1;
        if (kv->free_head >= 0) kv->fprev[kv->free_head] = b; else kv->free_tail = b;
        kv->free_head = b;
    }
    kv->in_free[b] = 1;
    kv->n_free++;
}

/* ---- hash table ------------------------------------------------------------ */
/* FNV-1a over the parent's hash and the block's token ids, then a final mix;
 * never 0 so "no parent" (0) cannot collide with a real chain. */
static uint64_t block_hash(uint64_t parent, const int32_t *t, int n) {
    uint64_t h = 0xcbf29ce484222325ull ^ parent;
    for (int i = 0; i < n; i++) {
        uint32_t v = (uint32_t)t[i];
        for (int k = 0; k < 4; k++) {
            h ^= (v >> (8 * k)) & 0xffu;
            h *= 0x100000001b3ull;
        }
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h ? h : 1;
}

static void hash_remove(sc_kv_cache *kv, int b) {
    if (!kv->hashed[b]) return;
    int32_t *pp = &kv->bucket[kv->hash[b] & (uint64_t)(kv->n_buckets - 1)];
    while (*pp >= 0 && *pp != b) pp = &kv->hnext[*pp];
    if (*pp == b) *pp = kv->hnext[b];
    kv->hnext[b] = -1;
    kv->hashed[b] = 0;
}

/* The block holding exactly these tokens after a prefix with hash parent. */
static int hash_find(const sc_kv_cache *kv, uint64_t h, uint64_t parent, const int32_t *t) {
    for (int b = kv->bucket[h & (uint64_t)(kv->n_buckets - 1)]; b >= 0; b = kv->hnext[b])
        if (kv->hash[b] == h && kv->parent_hash[b] == parent &&
            memcmp(&kv->blk_tokens[(size_t)b * (size_t)kv->block_size], t, (size_t)kv->block_size * sizeof *t) == 0)
            return b;
    return -1;
}

static void hash_insert(sc_kv_cache *kv, int b, uint64_t h, uint64_t parent, const int32_t *t) {
    size_t i = h & (uint64_t)(kv->n_buckets - 1);
    kv->hash[b] = h;
    kv->parent_hash[b] = parent;
    memcpy(&kv->blk_tokens[(size_t)b * (size_t)kv->block_size], t, (size_t)kv->block_size * sizeof *t);
    kv->hnext[b] = kv->bucket[i];
    kv->bucket[i] = b;
    kv->hashed[b] = 1;
}

/* ---- setup ----------------------------------------------------------------- */
int sc__kv_init(sc_kv_cache *kv, sc_device_t *dev, sc_type type, int64_t n_layers, int64_t head_dim,
                int64_t n_kv_heads, int64_t max_len, int n_seqs, int block_size, int64_t n_blocks) {
    memset(kv, 0, sizeof *kv);
    if (!dev || n_layers <= 0 || head_dim <= 0 || n_kv_heads <= 0 || max_len <= 0 || n_seqs <= 0 ||
        block_size <= 0 || n_blocks < 0)
        return SC_EINVAL;
    if (type != SC_TYPE_F32 && type != SC_TYPE_F16 && type != SC_TYPE_BF16) return SC_EINVAL;
    int64_t max_blocks = (max_len + block_size - 1) / block_size;
    if (max_blocks > INT32_MAX / n_seqs || max_len > INT32_MAX || (uint64_t)max_len * (uint64_t)n_seqs > INT32_MAX)
        return SC_ERANGE;
    if (n_blocks == 0) n_blocks = max_blocks * n_seqs;
    if (n_blocks < max_blocks) return SC_EINVAL; /* one full-length sequence must fit */
    if (n_blocks > INT32_MAX / block_size) return SC_ERANGE;

    kv->n_layers = n_layers;
    kv->head_dim = head_dim;
    kv->n_kv_heads = n_kv_heads;
    kv->max_len = max_len;
    kv->block_size = block_size;
    kv->max_blocks = (int)max_blocks;
    kv->n_seqs = n_seqs;
    kv->n_blocks = (int)n_blocks;
    kv->type = type;
    kv->n_buckets = 64;
    while (kv->n_buckets < kv->n_blocks && kv->n_buckets < (1 << 30)) kv->n_buckets *= 2;

    int rc = SC_ENOMEM;
    int n_t = (int)(2 * n_layers + 1);
    const size_t nb = (size_t)kv->n_blocks;
    sc_tensor **all = calloc((size_t)n_t, sizeof *all);
    kv->ctx = sc_ctx_create((size_t)n_t);
    kv->k = calloc((size_t)n_layers, sizeof *kv->k);
    kv->v = calloc((size_t)n_layers, sizeof *kv->v);
    kv->table = malloc((size_t)kv->max_blocks * (size_t)n_seqs * sizeof *kv->table);
    kv->seq_len = calloc((size_t)n_seqs, sizeof *kv->seq_len);
    kv->seq_blocks = calloc((size_t)n_seqs, sizeof *kv->seq_blocks);
    kv->seq_hashed = calloc((size_t)n_seqs, sizeof *kv->seq_hashed);
    kv->seq_tokens = malloc((size_t)max_len * (size_t)n_seqs * sizeof *kv->seq_tokens);
    kv->ref = calloc(nb, sizeof *kv->ref);
    kv->hash = calloc(nb, sizeof *kv->hash);
    kv->parent_hash = calloc(nb, sizeof *kv->parent_hash);
    kv->hashed = calloc(nb, 1);
    kv->blk_tokens = malloc(nb * (size_t)block_size * sizeof *kv->blk_tokens);
    kv->fprev = malloc(nb * sizeof *kv->fprev);
    kv->fnext = malloc(nb * sizeof *kv->fnext);
    kv->in_free = calloc(nb, 1);
    kv->bucket = malloc((size_t)kv->n_buckets * sizeof *kv->bucket);
    kv->hnext = malloc(nb * sizeof *kv->hnext);
    if (!all || !kv->ctx || !kv->k || !kv->v || !kv->table || !kv->seq_len || !kv->seq_blocks || !kv->seq_hashed ||
        !kv->seq_tokens || !kv->ref || !kv->hash || !kv->parent_hash || !kv->hashed || !kv->blk_tokens ||
        !kv->fprev || !kv->fnext || !kv->in_free || !kv->bucket || !kv->hnext)
        goto fail;

    for (int64_t l = 0; l < n_layers; l++) {
        /* [n_blocks, block_size, n_kv_heads, head_dim] */
        kv->k[l] = sc_new_tensor_4d(kv->ctx, type, head_dim, n_kv_heads, block_size, kv->n_blocks);
        kv->v[l] = sc_new_tensor_4d(kv->ctx, type, head_dim, n_kv_heads, block_size, kv->n_blocks);
        if (!kv->k[l] || !kv->v[l]) break;
        sc_tensor_set_name(kv->k[l], "cache_k.%lld", (long long)l);
        sc_tensor_set_name(kv->v[l], "cache_v.%lld", (long long)l);
        all[2 * l] = kv->k[l];
        all[2 * l + 1] = kv->v[l];
    }
    kv->block_table = sc_new_tensor_2d(kv->ctx, SC_TYPE_I32, kv->max_blocks, n_seqs); /* [n_seqs, max_blocks] */
    if (sc_ctx_error(kv->ctx) != SC_OK || !kv->block_table) {
        rc = sc_ctx_error(kv->ctx) != SC_OK ? sc_ctx_error(kv->ctx) : SC_ENOMEM;
        goto fail;
    }
    sc_tensor_set_name(kv->block_table, "block_table");
    all[n_t - 1] = kv->block_table;
    rc = sc_alloc_tensors(dev, all, n_t, &kv->buf);
    if (rc == SC_ENOMEM) {
        /* a device whose single allocations are capped below the whole
         * cache: a buffer per tensor (the kernels take any address) */
        sc_log(SC_LOG_INFO, "kv", "the KV cache does not fit one buffer of %s: one buffer per layer",
               sc_device_name(dev));
        kv->bufs = calloc((size_t)n_t, sizeof *kv->bufs);
        rc = kv->bufs ? SC_OK : SC_ENOMEM;
        for (int i = 0; i < n_t && rc == SC_OK; i++) {
            rc = sc_alloc_tensors(dev, &all[i], 1, &kv->bufs[i]);
            if (rc == SC_OK) kv->n_bufs++;
        }
    }
    if (rc != SC_OK) goto fail;
    free(all);

    for (size_t i = 0; i < (size_t)kv->max_blocks * (size_t)n_seqs; i++) kv->table[i] = -1;
    for (int i = 0; i < kv->n_buckets; i++) kv->bucket[i] = -1;
    kv->free_head = kv->free_tail = -1;
    for (int b = 0; b < kv->n_blocks; b++) {
        kv->hnext[b] = -1;
        free_push(kv, b, true); /* block 0 is handed out first */
    }
    kv->dirty = true;
    return SC_OK;
fail:
    free(all);
    sc__kv_free(kv);
    return rc;
}

/* ---- sequences ------------------------------------------------------------- */
int sc__kv_blocks_needed(const sc_kv_cache *kv, int seq, int64_t new_len) {
    if (!kv || seq < 0 || seq >= kv->n_seqs || new_len < 0) return SC_EINVAL;
    if (new_len > kv->max_len) return SC_ERANGE;
    int need = (int)((new_len + kv->block_size - 1) / kv->block_size);
    return need > kv->seq_blocks[seq] ? need - kv->seq_blocks[seq] : 0;
}

int sc__kv_reserve(sc_kv_cache *kv, int seq, int64_t new_len) {
    int more = sc__kv_blocks_needed(kv, seq, new_len);
    if (more < 0) return more;
    if (more > kv->n_free) return SC_ENOMEM;
    int32_t *row = &kv->table[(size_t)seq * (size_t)kv->max_blocks];
    while (more-- > 0) {
        int b = kv->free_head;
        free_unlink(kv, b);
        hash_remove(kv, b); /* evicted: its cached content is gone */
        kv->ref[b] = 1;
        row[kv->seq_blocks[seq]++] = b;
        kv->dirty = true;
    }
    return SC_OK;
}

void sc__kv_seq_reset(sc_kv_cache *kv, int seq) {
    if (!kv || seq < 0 || seq >= kv->n_seqs) return;
    int32_t *row = &kv->table[(size_t)seq * (size_t)kv->max_blocks];
    /* last block first: at the tail, a sequence's deepest blocks are evicted
     * before the prefix other requests are likelier to share */
    for (int i = kv->seq_blocks[seq] - 1; i >= 0; i--) {
        int b = row[i];
        row[i] = -1;
        if (--kv->ref[b] == 0) free_push(kv, b, kv->hashed[b] != 0);
    }
    if (kv->seq_blocks[seq]) kv->dirty = true;
    kv->seq_blocks[seq] = 0;
    kv->seq_hashed[seq] = 0;
    kv->seq_len[seq] = 0;
}

void sc__kv_commit(sc_kv_cache *kv, int seq, int64_t n) {
    if (!kv || seq < 0 || seq >= kv->n_seqs || n <= 0) return;
    kv->seq_len[seq] += n;
    const int bs = kv->block_size;
    const int full = (int)(kv->seq_len[seq] / bs);
    const int32_t *row = &kv->table[(size_t)seq * (size_t)kv->max_blocks];
    const int32_t *toks = &kv->seq_tokens[(size_t)seq * (size_t)kv->max_len];
    for (int i = kv->seq_hashed[seq]; i < full; i++) {
        int b = row[i];
        uint64_t parent = i > 0 ? kv->hash[row[i - 1]] : 0;
        const int32_t *t = toks + (size_t)i * (size_t)bs;
        uint64_t h = block_hash(parent, t, bs);
        /* a block of another sequence may already hold this content (both
         * computed it at once): keep that one, leave this one unhashed. The
         * chain hash of this position is still needed by the next block, so
         * store it without entering the table. */
        if (!kv->hashed[b] && hash_find(kv, h, parent, t) < 0) {
            hash_insert(kv, b, h, parent, t);
        } else if (!kv->hashed[b]) {
            kv->hash[b] = h;
            kv->parent_hash[b] = parent;
        }
    }
    if (full > kv->seq_hashed[seq]) kv->seq_hashed[seq] = full;
}

int64_t sc__kv_attach_prefix(sc_kv_cache *kv, int seq, const int32_t *tokens, int64_t n) {
    if (!kv || seq < 0 || seq >= kv->n_seqs || !tokens || n <= 0 || kv->seq_blocks[seq] != 0) return SC_EINVAL;
    const int bs = kv->block_size;
    int64_t max_full = (n - 1) / bs; /* the last token is always computed */
    if (max_full > kv->max_blocks) max_full = kv->max_blocks;
    int32_t *row = &kv->table[(size_t)seq * (size_t)kv->max_blocks];
    int32_t *toks = &kv->seq_tokens[(size_t)seq * (size_t)kv->max_len];
    uint64_t parent = 0;
    int i = 0;
    for (; i < max_full; i++) {
        const int32_t *t = tokens + (size_t)i * (size_t)bs;
        uint64_t h = block_hash(parent, t, bs);
        int b = hash_find(kv, h, parent, t);
        if (b < 0) break;
        if (kv->ref[b]++ == 0) free_unlink(kv, b);
        row[i] = b;
        memcpy(toks + (size_t)i * (size_t)bs, t, (size_t)bs * sizeof *t);
        parent = h;
    }
    if (i) kv->dirty = true;
    kv->seq_blocks[seq] = i;
    kv->seq_hashed[seq] = i;
    kv->seq_len[seq] = (int64_t)i * bs;
    return kv->seq_len[seq];
}

int sc__kv_sync(sc_kv_cache *kv) {
    if (!kv->dirty) return SC_OK;
    int rc = sc_tensor_set(kv->block_table, kv->table, 0,
                           (size_t)kv->max_blocks * (size_t)kv->n_seqs * sizeof *kv->table);
    if (rc == SC_OK) kv->dirty = false;
    return rc;
}

uint64_t sc__kv_bytes_per_token(const sc_kv_cache *kv) {
    return 2ull * (uint64_t)kv->n_layers * (uint64_t)kv->n_kv_heads * (uint64_t)kv->head_dim *
           (uint64_t)sc_type_size(kv->type);
}

uint64_t sc__kv_total_bytes(const sc_kv_cache *kv) {
    return sc__kv_bytes_per_token(kv) * (uint64_t)kv->n_blocks * (uint64_t)kv->block_size;
}
