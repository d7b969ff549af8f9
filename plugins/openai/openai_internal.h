/*
 * plugins/openai/openai_internal.h - what openai_plugin.c (entry points,
 * settings, routing, the small routes) and openai_generate.c (chat and text
 * completions: requests with n choices, engine output delivered to the loop,
 * streaming) share. Everything here lives on the loop thread unless noted.
 */
#ifndef OPENAI_INTERNAL_H
#define OPENAI_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "strixcore/plugin.h"
#include "http_server.h"
#include "oai_buf.h"
#include "oai_errors.h"
#include "oai_metrics.h"
#include "oai_request.h"
#include "oai_response.h"
#include "oai_settings.h"

#define OAI_PLUGIN_VERSION "0.2.0"

extern const sc_host_api *oai_host;

#define OAI_LOG(lvl, ...) \
    do { if (oai_host && oai_host->log) oai_host->log(lvl, "openai", __VA_ARGS__); } while (0)

typedef struct job job_t;

/* Single-id detokenizations for logprobs, direct-mapped (loop thread only):
 * every step asks for the sampled token and up to 20 alternatives, mostly
 * the same few thousand ids. */
#define OAI_TOKCACHE 4096
typedef struct {
    int32_t id;  /* -1: empty */
    uint32_t len;
    char *text;
} oai_tokcache_ent_t;

typedef struct plugin {
    /* fixed after run() has parsed the settings */
    const sc_serve_api *api;
    oai_settings_t set;
    oai_flavor_t flavor;   /* set.flavor */
    char *model;           /* served model name */
    oai_defaults_t defaults;
    int64_t created;
    oai_idgen_t ids;

    /* srv is published under mu so engine threads and stop() never touch a
     * server that run() is tearing down. */
    pthread_mutex_t mu;
    sc_http_server_t *srv;
    bool stop_requested;   /* stop() before the server existed */
    bool stopping;         /* loop thread only */

    job_t *jobs;           /* open requests (loop thread only) */
    oai_tokcache_ent_t *tokcache;

    /* metrics (loop thread only) */
    uint64_t success[OAI_FINISH_COUNT];
    uint64_t *ttft_counts, *e2e_counts;
    double ttft_sum, e2e_sum;
} plugin_t;

/* Responses (the request is finished by them). body is consumed. */
void oai_respond_json(sc_http_req_t *req, int status, json_t *body);
void oai_respond_err(plugin_t *p, sc_http_req_t *req, int status, const char *msg, const char *param);

/* Renders the chat template for r's messages and tokenizes the prompt
 * (*ids freed with oai_host->free). *in_reasoning: the prompt ends inside
 * <think>. */
int oai_chat_prompt(plugin_t *p, oai_request_t *r, int32_t **ids, size_t *n, bool *in_reasoning,
                    char *err, size_t err_len);

/* POST /v1/chat/completions and /v1/completions. */
void oai_handle_generate(plugin_t *p, sc_http_req_t *req, bool chat);
/* Server stopping: cancel every generation and end every open response. */
void oai_jobs_stop(plugin_t *p);

/* oai_token_bytes_fn over api->detokenize with the cache above. */
int oai_token_bytes(void *plugin, int32_t id, oai_buf_t *out);
void oai_tokcache_free(plugin_t *p);

#endif
