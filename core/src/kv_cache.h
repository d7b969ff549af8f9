/*
 * core/src/kv_cache.h - the paged KV cache (internal).
 *
 * Per layer, one key and one value cache tensor
 *   [n_blocks, block_size, n_kv_heads, head_dim]  (ne = {hd, Hkv, bs, n_blocks})
 * in one buffer of the model's device, and one block table
 *   i32 [n_seqs, max_blocks]  (ne = {max_blocks, n_seqs}; row s is sequence s)
 * mapping (sequence, position / block_size) to a block id, or -1 while the
 * sequence has not reached that block. The table lives on the device too and
 * is re-uploaded only after it changed.
 *
 * Blocks come from one free list shared by every sequence: a sequence takes
 * blocks as it grows (sc__kv_reserve) and gives them all back when reset.
 * The pool holds ceil(max_len / block_size) * n_seqs blocks, so every sequence
 * can always reach max_len at once; a server doing continuous batching can
 * shrink the pool and handle SC_ENOMEM from sc__kv_reserve as "preempt".
 */
#ifndef STRIXCORE_KV_CACHE_H
#define STRIXCORE_KV_CACHE_H

#include "strixcore/strixcore.h"

typedef struct sc_kv_cache {
    int64_t n_layers, head_dim, n_kv_heads;
    int64_t max_len;        /* tokens per sequence */
    int block_size;
    int max_blocks;         /* per sequence: ceil(max_len / block_size) */
    int n_seqs;
    int n_blocks;           /* in the pool */
    sc_type type;           /* f32, f16 or bf16 */

    sc_ctx_t *ctx;          /* owns the descriptors below */
    sc_buffer_t *buf;       /* caches and block table */
    sc_tensor **k, **v;     /* [n_layers] each [hd, Hkv, bs, n_blocks] */
    sc_tensor *block_table; /* i32 [max_blocks, n_seqs] */

    int32_t *table;         /* host copy, [n_seqs][max_blocks], -1 = none */
    int64_t *seq_len;       /* [n_seqs] tokens held */
    int *seq_blocks;        /* [n_seqs] blocks held (a prefix of its table row) */
    int32_t *free_ids;      /* stack of free block ids */
    int n_free;
    bool dirty;             /* table changed since the last upload */
} sc_kv_cache;

/* Allocate the caches on dev. On failure everything is released. */
int sc__kv_init(sc_kv_cache *kv, sc_device_t *dev, sc_type type, int64_t n_layers, int64_t head_dim,
                int64_t n_kv_heads, int64_t max_len, int n_seqs, int block_size);
void sc__kv_free(sc_kv_cache *kv);
/* Make sure sequence seq owns blocks for positions 0..new_len-1.
 * SC_ERANGE past max_len (nothing changes), SC_ENOMEM when the pool is dry
 * (blocks taken so far stay with the sequence; they are used when it grows). */
int sc__kv_reserve(sc_kv_cache *kv, int seq, int64_t new_len);
/* Give every block of seq back and set its length to 0. */
void sc__kv_seq_reset(sc_kv_cache *kv, int seq);
/* Upload the block table if it changed. */
int sc__kv_sync(sc_kv_cache *kv);
/* Bytes of K and V one token occupies over all layers. */
uint64_t sc__kv_bytes_per_token(const sc_kv_cache *kv);
/* Bytes of the whole cache (both tensors, every layer). */
uint64_t sc__kv_total_bytes(const sc_kv_cache *kv);

#endif
