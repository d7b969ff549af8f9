/*
 * core/src/kv_cache.h - the paged KV cache (internal).
 *
 * Per layer, one key and one value cache tensor
 *   [n_blocks, block_size, n_kv_heads, head_dim]  (ne = {hd, Hkv, bs, n_blocks})
 * in one buffer of the model's device (or, where the device cannot make
 * one buffer that large, e.g. Vulkan's maxMemoryAllocationSize of 4 GiB on
 * NVIDIA, one buffer per tensor), and one block table
 *   i32 [n_seqs, max_blocks]  (ne = {max_blocks, n_seqs}; row s is sequence s)
 * mapping (sequence, position / block_size) to a block id, or -1 while the
 * sequence has not reached that block. The table lives on the device too and
 * is re-uploaded only after it changed.
 *
 * Blocks are reference-counted and shared by every sequence. By default the
 * pool holds ceil(max_len / block_size) * n_seqs blocks (every sequence can
 * reach max_len at once); a smaller pool (a memory budget) needs a scheduler
 * that handles SC_ENOMEM from sc__kv_reserve by preempting.
 *
 * Prefix caching: once a block is full and its tokens are known (recorded by
 * sc__kv_commit after a forward pass wrote them), it gets a hash of its
 * tokens chained with its predecessor's hash, and is entered in a hash table.
 * A block nobody owns any more goes to the free list but keeps its hash, so a
 * later sequence with the same prefix can pick it up again
 * (sc__kv_attach_prefix) until the allocator reuses it. The free list is kept
 * in LRU order: allocation takes the head; released hashed blocks are
 * appended at the tail (a sequence's last block first, so its deepest blocks
 * go before its shared prefix), unhashed ones at the head.
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
    sc_buffer_t **bufs;     /* [2 * n_layers + 1] instead, when one buffer could not be had */
    int n_bufs;
    sc_tensor **k, **v;     /* [n_layers] each [hd, Hkv, bs, n_blocks] */
    sc_tensor *block_table; /* i32 [max_blocks, n_seqs] */

    int32_t *table;         /* host copy, [n_seqs][max_blocks], -1 = none */
    int64_t *seq_len;       /* [n_seqs] tokens held */
    int *seq_blocks;        /* [n_seqs] blocks held (a prefix of its table row) */
    int *seq_hashed;        /* [n_seqs] leading blocks already entered in the hash table */
    int32_t *seq_tokens;    /* [n_seqs][max_len] token ids written so far */
    bool dirty;             /* table changed since the last upload */

    /* blocks */
    int32_t *ref;           /* [n_blocks] owning sequences */
    uint64_t *hash;         /* [n_blocks] chained content hash, valid when hashed[b] */
    uint64_t *parent_hash;  /* [n_blocks] the predecessor's hash (0 for a first block) */
    uint8_t *hashed;        /* [n_blocks] in the hash table */
    int32_t *blk_tokens;    /* [n_blocks][block_size] tokens of hashed blocks (exact match check) */
    int32_t *fprev, *fnext; /* [n_blocks] free list links (-1 ends) */
    uint8_t *in_free;       /* [n_blocks] */
    int free_head, free_tail, n_free;
    int32_t *bucket;        /* [n_buckets] hash table heads (-1 empty), chained through hnext */
    int32_t *hnext;         /* [n_blocks] */
    int n_buckets;          /* a power of two */
} sc_kv_cache;

/* Allocate the caches on dev. n_blocks 0: ceil(max_len/block_size) * n_seqs;
 * otherwise at least ceil(max_len/block_size) (SC_EINVAL below that). On
 * failure everything is released. */
int sc__kv_init(sc_kv_cache *kv, sc_device_t *dev, sc_type type, int64_t n_layers, int64_t head_dim,
                int64_t n_kv_heads, int64_t max_len, int n_seqs, int block_size, int64_t n_blocks);
void sc__kv_free(sc_kv_cache *kv);
/* New blocks seq needs to hold new_len tokens. */
int sc__kv_blocks_needed(const sc_kv_cache *kv, int seq, int64_t new_len);
/* Make sure sequence seq owns blocks for positions 0..new_len-1.
 * SC_ERANGE past max_len, SC_ENOMEM when the pool has too few free blocks;
 * in both cases nothing changes. */
int sc__kv_reserve(sc_kv_cache *kv, int seq, int64_t new_len);
/* Give every block of seq back and set its length to 0. */
void sc__kv_seq_reset(sc_kv_cache *kv, int seq);
/* After a forward pass wrote positions [seq_len, seq_len + n) of seq, whose
 * token ids the caller stored in seq_tokens: advance seq_len and enter the
 * blocks that became full in the hash table. */
void sc__kv_commit(sc_kv_cache *kv, int seq, int64_t n);
/* Attach the longest run of cached full blocks matching tokens[0..n) to the
 * empty sequence seq, never covering token n-1. Returns tokens attached. */
int64_t sc__kv_attach_prefix(sc_kv_cache *kv, int seq, const int32_t *tokens, int64_t n);
/* Upload the block table if it changed. */
int sc__kv_sync(sc_kv_cache *kv);
/* Bytes of K and V one token occupies over all layers. */
uint64_t sc__kv_bytes_per_token(const sc_kv_cache *kv);
/* Bytes of the whole cache (both tensors, every layer). */
uint64_t sc__kv_total_bytes(const sc_kv_cache *kv);

#endif
