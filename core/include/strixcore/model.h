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
    sc_type kv_type;            /* SC_TYPE_F32 (default when 0 is passed... F32 is 0), F16 or BF16 */
    sc_type weight_type;        /* synthetic models only: F32, F16, BF16 */
    uint64_t seed;              /* synthetic models only */
    sc_progress_fn progress;    /* called while loading; may be NULL */
    void *progress_user;
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

#ifdef __cplusplus
}
#endif
#endif
