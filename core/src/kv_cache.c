/*
 * core/src/kv_cache.c - the paged KV cache: cache tensors, block table and
 * the free-list block allocator (see kv_cache.h).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kv_cache.h"

void sc__kv_free(sc_kv_cache *kv) {
    if (!kv) return;
    sc_buffer_destroy(kv->buf);
    sc_ctx_destroy(kv->ctx);
    free(kv->k);
    free(kv->v);
    free(kv->table);
    free(kv->seq_len);
    free(kv->seq_blocks);
    free(kv->free_ids);
    memset(kv, 0, sizeof *kv);
}

int sc__kv_init(sc_kv_cache *kv, sc_device_t *dev, sc_type type, int64_t n_layers, int64_t head_dim,
                int64_t n_kv_heads, int64_t max_len, int n_seqs, int block_size) {
    memset(kv, 0, sizeof *kv);
    if (!dev || n_layers <= 0 || head_dim <= 0 || n_kv_heads <= 0 || max_len <= 0 || n_seqs <= 0 ||
        block_size <= 0)
        return SC_EINVAL;
    if (type != SC_TYPE_F32 && type != SC_TYPE_F16 && type != SC_TYPE_BF16) return SC_EINVAL;
    int64_t max_blocks = (max_len + block_size - 1) / block_size;
    if (max_blocks > INT32_MAX / n_seqs || max_len > INT32_MAX) return SC_ERANGE;

    kv->n_layers = n_layers;
    kv->head_dim = head_dim;
    kv->n_kv_heads = n_kv_heads;
    kv->max_len = max_len;
    kv->block_size = block_size;
    kv->max_blocks = (int)max_blocks;
    kv->n_seqs = n_seqs;
    kv->n_blocks = (int)max_blocks * n_seqs;
    kv->type = type;

    int rc = SC_ENOMEM;
    int n_t = (int)(2 * n_layers + 1);
    sc_tensor **all = calloc((size_t)n_t, sizeof *all);
    kv->ctx = sc_ctx_create((size_t)n_t);
    kv->k = calloc((size_t)n_layers, sizeof *kv->k);
    kv->v = calloc((size_t)n_layers, sizeof *kv->v);
    kv->table = malloc((size_t)kv->n_blocks * sizeof *kv->table);
    kv->seq_len = calloc((size_t)n_seqs, sizeof *kv->seq_len);
    kv->seq_blocks = calloc((size_t)n_seqs, sizeof *kv->seq_blocks);
    kv->free_ids = malloc((size_t)kv->n_blocks * sizeof *kv->free_ids);
    if (!all || !kv->ctx || !kv->k || !kv->v || !kv->table || !kv->seq_len || !kv->seq_blocks || !kv->free_ids)
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
    if (rc != SC_OK) goto fail;
    free(all);

    for (int i = 0; i < kv->n_blocks; i++) kv->table[i] = -1;
    /* a stack popped from the top: hand out block 0 first */
    kv->n_free = kv->n_blocks;
    for (int i = 0; i < kv->n_blocks; i++) kv->free_ids[i] = kv->n_blocks - 1 - i;
    kv->dirty = true;
    return SC_OK;
fail:
    free(all);
    sc__kv_free(kv);
    return rc;
}

int sc__kv_reserve(sc_kv_cache *kv, int seq, int64_t new_len) {
    if (!kv || seq < 0 || seq >= kv->n_seqs || new_len < 0) return SC_EINVAL;
    if (new_len > kv->max_len) return SC_ERANGE;
    int need = (int)((new_len + kv->block_size - 1) / kv->block_size);
    int32_t *row = &kv->table[(size_t)seq * (size_t)kv->max_blocks];
    while (kv->seq_blocks[seq] < need) {
        if (kv->n_free == 0) return SC_ENOMEM;
        row[kv->seq_blocks[seq]++] = kv->free_ids[--kv->n_free];
        kv->dirty = true;
    }
    return SC_OK;
}

void sc__kv_seq_reset(sc_kv_cache *kv, int seq) {
    if (!kv || seq < 0 || seq >= kv->n_seqs) return;
    int32_t *row = &kv->table[(size_t)seq * (size_t)kv->max_blocks];
    /* push in reverse so the sequence gets the same blocks back next time */
    for (int b = kv->seq_blocks[seq] - 1; b >= 0; b--) {
        kv->free_ids[kv->n_free++] = row[b];
        row[b] = -1;
    }
    if (kv->seq_blocks[seq]) kv->dirty = true;
    kv->seq_blocks[seq] = 0;
    kv->seq_len[seq] = 0;
}

int sc__kv_sync(sc_kv_cache *kv) {
    if (!kv->dirty) return SC_OK;
    int rc = sc_tensor_set(kv->block_table, kv->table, 0, (size_t)kv->n_blocks * sizeof *kv->table);
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
