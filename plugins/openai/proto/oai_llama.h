/* llama-server's own endpoints for --compat llama: GET /props and GET /slots
 * (tools/server/server.cpp). strixcore has no fixed slots: a "slot" is one of
 * the engine's max_num_seqs sequences, and the first `busy` of them are
 * reported as processing. */
#ifndef OAI_LLAMA_H
#define OAI_LLAMA_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "oai_request.h"

typedef struct {
    int64_t n_ctx;              /* max_model_len */
    int32_t total_slots;        /* max_num_seqs */
    int32_t busy_slots;         /* running requests */
    const char *model_path;     /* the served checkpoint's path */
    const char *model_alias;    /* served model name */
    const char *chat_template;  /* "" when unknown */
    const char *build_info;
    bool slots_endpoint;        /* GET /slots is served */
    const oai_defaults_t *defaults; /* the generation defaults requests start from */
} oai_llama_info_t;

/* slot_params.to_json(): the sampling settings a request starts with. */
json_t *oai_llama_params(const oai_defaults_t *d);
json_t *oai_llama_props(const oai_llama_info_t *in);
json_t *oai_llama_slots(const oai_llama_info_t *in);
#endif
