/*
 * strixcore/serve.h - the core side of a frontend plugin: an sc_server_t
 * owns a continuous-batching engine over a loaded model (and a worker thread
 * that steps it) and implements the sc_serve_api table (plugin.h) that a
 * frontend (the OpenAI HTTP server) calls from its own threads.
 *
 * The model, tokenizer, chat template and generation config are borrowed:
 * they must outlive the server.
 */
#ifndef STRIXCORE_SERVE_H
#define STRIXCORE_SERVE_H

#include "strixcore/chat_template.h"
#include "strixcore/engine.h"
#include "strixcore/model_config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sc_server sc_server_t;

typedef struct sc_server_opts {
    size_t struct_size;           /* sizeof(sc_server_opts); 0 = read whole */
    const char *model_name;       /* served model name (copied); NULL = "model" */
    const char *model_dir;        /* for tokenizer_config.json's bos/eos_token; may be NULL */
    int max_num_seqs;             /* engine options (engine.h); 0 = defaults */
    int max_num_batched_tokens;
    int prefix_caching;           /* 0/1 on (default), -1 off */
    int max_waiting;              /* queued requests before submit answers SC_ESTATE (503); 0 = 1024 */
} sc_server_opts;

/* tmpl may be NULL (apply_chat_template then fails with SC_ENOTSUP). gen
 * may be NULL (no default eos ids, HF default sampling). */
SC_API int sc_server_create(sc_model_t *m, const sc_tokenizer_t *tok, const sc_chat_template_t *tmpl,
                            const sc_generation_config *gen, const sc_server_opts *opts, sc_server_t **out,
                            char *err, size_t err_len);
/* The table to hand to a frontend's run(); lives as long as the server. */
SC_API const sc_serve_api *sc_server_api(sc_server_t *s);
/* Stop and join the engine thread; requests still in flight get their
 * SC_SERVE_ABORT output here. NULL is a no-op. */
SC_API void sc_server_destroy(sc_server_t *s);

#ifdef __cplusplus
}
#endif
#endif
