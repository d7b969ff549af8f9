/* The frontend's settings object (the "openai" object of the serve
 * configuration; cli/serve_config.c writes it) parsed into a struct. Every
 * key is optional; a key with the wrong type or value is an error naming it,
 * so a typo in a deployment fails at start-up rather than serving with a
 * surprising default. Unknown keys are ignored (other frontends' keys). */
#ifndef OAI_SETTINGS_H
#define OAI_SETTINGS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oai_cors.h"
#include "oai_errors.h"
#include "oai_tools.h"

typedef struct {
    char host[256];              /* "host" ["0.0.0.0"] */
    int port;                    /* "port" [8000] */
    oai_flavor_t flavor;         /* "compat": "vllm" | "llama" ["vllm"] */
    char *served_model_name;     /* "served_model_name"; NULL: the core's name */
    char *model_path;            /* "model": what llama's /props reports as model_path */
    char **keys;                 /* "api_keys": string or list */
    size_t n_keys;
    bool prompt_tokens_details;  /* "enable_prompt_tokens_details" [false] */
    bool auto_tool_choice;       /* "enable_auto_tool_choice" [true] */
    oai_tool_style_t tool_parser;/* "tool_call_parser": auto | hermes | qwen3_coder ["auto"] */
    bool slots_endpoint;         /* "slots" [true]: llama's GET /slots (--no-slots) */
    int32_t max_n;               /* "max_n" [128]: largest n per request */
    int32_t max_num_seqs;        /* "max_num_seqs" [0]: slots when the core does not say */
    oai_cors_t cors;             /* allowed_origins, allowed_methods, allowed_headers, allow_credentials */
} oai_settings_t;

/* json NULL or "" is {}. 0, SC_EINVAL (err says which key) or SC_ENOMEM.
 * On failure nothing needs freeing (oai_settings_free is still safe). */
int  oai_settings_parse(oai_settings_t *s, const char *json, char *err, size_t err_len);
void oai_settings_free(oai_settings_t *s);
#endif
