/*
 * strixcore/model.h - a loaded model: weights in device buffers, a paged KV
 * cache, and a forward pass built as a graph each step.
 */
#ifndef STRIXCORE_MODEL_H
#define STRIXCORE_MODEL_H

#include "strixcore/model_config.h"
#include "strixcore/strixcore.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sc_model sc_model_t;

typedef void (*sc_progress_fn)(double fraction, void *user);

typedef struct sc_model_opts {
    size_t struct_size;
    sc_device_t *device;        /* where weights and KV cache live; NULL = CPU */
    sc_device_t *fallback;      /* scheduler fallback device; NULL = CPU */
    int64_t max_model_len;      /* tokens of context per sequence; 0 = min(max_position_embeddings, 4096) */
    int max_seqs;               /* sequences sharing the KV cache; 0 = 1 */
    int block_size;             /* KV block size in tokens; 0 = 16 */
    sc_type kv_type;            /* SC_TYPE_F32 (0, the default), SC_TYPE_F16 or SC_TYPE_BF16 */
    sc_type weight_type;        /* synthetic models only: F32, F16, BF16 */
    uint64_t seed;              /* synthetic models only */
    sc_progress_fn progress;    /* called while loading; may be NULL */
    void *progress_user;
    /* appended: format plugins for quantized checkpoints (GPTQ, AWQ,
     * compressed-tensors) come from this registry; NULL: a default registry
     * (install, build-tree and STRIXCORE_PLUGIN_PATH plugins) is created for
     * the load when the checkpoint is quantized, and destroyed after it. */
    sc_registry_t *registry;
    /* appended: bytes of KV cache (the block pool, shared by every
     * sequence); 0 = room for max_seqs sequences at max_model_len each.
     * A smaller pool must hold at least one full-length sequence; a
     * continuous-batching engine preempts requests when it runs dry. */
    uint64_t kv_cache_bytes;
} sc_model_opts;

/* Load a Hugging Face checkpoint directory (config.json + safetensors). */
SC_API int sc_model_load(const char *dir, const sc_model_opts *opts, sc_model_t **out, char *err, size_t err_len);
/* Random weights with the exact shapes of a known model:
 * "qwen3-0.6b", "qwen3-14b", "qwen3-30b-a3b" (and tiny test shapes). */
SC_API int sc_model_synthetic(const char *name, const sc_model_opts *opts, sc_model_t **out, char *err,
                              size_t err_len);
SC_API void sc_model_free(sc_model_t *m);
SC_API const sc_model_config *sc_model_config_of(const sc_model_t *m);
SC_API uint64_t sc_model_weight_bytes(const sc_model_t *m);        /* bytes of weights resident */
/* Bytes read from memory by one decode step at context length n_ctx
 * (weights touched + KV read): the numerator of achieved bandwidth. */
SC_API uint64_t sc_model_decode_bytes(const sc_model_t *m, int64_t n_ctx);
SC_API int64_t sc_model_max_len(const sc_model_t *m);

/* Sequences: 0 .. max_seqs-1. Forget a sequence's cache. */
SC_API int sc_model_seq_reset(sc_model_t *m, int seq);
SC_API int64_t sc_model_seq_len(const sc_model_t *m, int seq);
/* Run n tokens of one sequence at positions seq_len .. seq_len+n-1 and
 * append them to its cache. logits: [n, vocab] when all_logits, else
 * [vocab] for the last token. Past max_model_len is SC_ERANGE (nothing written). */
SC_API int sc_model_forward(sc_model_t *m, int seq, const int32_t *tokens, int n, float *logits, bool all_logits);

/* ---- appended: batches of several sequences (continuous batching) ---------
 *
 * Token i of the batch goes to sequence seq[i] at that sequence's next
 * position (a sequence's tokens in batch order). `logits` flags the tokens
 * whose logits are returned (NULL: the last token of each sequence in the
 * batch); the output holds one row of vocab floats per flagged token, in
 * token order. Token ids and lengths (SC_ERANGE past max_model_len) are
 * checked for the whole batch before anything is written. In both forward
 * calls the logits pointer may be NULL: the tokens only fill the cache (the
 * last layer stops after its cache writes). Options with struct_size 0 are
 * read whole, so a zero-initialised sc_model_opts works. */
typedef struct sc_model_batch {
    int n_tokens;
    const int32_t *tokens;      /* [n_tokens] */
    const int32_t *seq;         /* [n_tokens] sequence of each token */
    const uint8_t *logits;      /* [n_tokens] nonzero: return this token's logits; may be NULL */
} sc_model_batch;
SC_API int sc_model_forward_batch(sc_model_t *m, const sc_model_batch *b, float *logits);

/* appended: KV blocks of the shared pool, free and in all (read-only; for
 * schedulers and stats). Either pointer may be NULL. */
SC_API int sc_model_kv_blocks(const sc_model_t *m, int *n_free, int *n_total);

/* ---- appended: block-level control for schedulers (the engine) -----------
 *
 * Blocks are reference-counted. A full block whose tokens are known gets a
 * content hash (its tokens and its whole prefix), and when its last owner
 * lets go it stays in the pool as a cached block: free for reuse (counted in
 * n_free, evicted least recently used first) but findable by a later
 * sequence with the same prefix, which then skips computing it. */
SC_API int sc_model_block_size(const sc_model_t *m);
/* New blocks sequence seq needs to hold new_len tokens (0 if it has them). */
SC_API int sc_model_seq_blocks_needed(const sc_model_t *m, int seq, int64_t new_len);
/* Take the blocks for new_len tokens now. SC_ENOMEM when the pool has too
 * few (nothing taken), SC_ERANGE past max_model_len. */
SC_API int sc_model_seq_reserve(sc_model_t *m, int seq, int64_t new_len);
/* Attach the longest cached prefix of tokens[0..n) to the empty sequence
 * seq: whole blocks only, and never all n tokens (the last one must be
 * computed to get logits). Returns the number of tokens attached (a
 * multiple of the block size, possibly 0; the sequence's length becomes
 * that) or an error. */
SC_API int64_t sc_model_seq_attach_prefix(sc_model_t *m, int seq, const int32_t *tokens, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
