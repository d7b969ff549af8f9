/*
 * cli/serve_config.h - `strixcore serve` settings: vLLM's flag names, the
 * same settings as keys of a JSON deployment file (--config), CLI over file.
 * Kept apart from cmd_serve.c so the unit tests (tests/unit/test_serve.c,
 * tests/unit/test_serve_config.c) can check parsing without a model.
 *
 * One table in serve_config.c lists every setting once (key, flag, kind,
 * default, help), so the file, the flags, --help, --print-config and the
 * frontend's settings object cannot drift apart.
 */
#ifndef STRIXCORE_SERVE_CONFIG_H
#define STRIXCORE_SERVE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct serve_cfg {
    /* strings: NULL = unset */
    char *model, *host, *api_key_file, *served_model_name, *frontend, *compat, *tokenizer, *chat_template;
    char *kv_cache_dtype;      /* auto | float32 | float16 | bfloat16 */
    char *generation_config;   /* auto | vllm | a directory holding generation_config.json */
    char *tool_call_parser;    /* auto | hermes | qwen3_coder | qwen3_xml (the frontend's) */
    /* string lists */
    char **api_keys;
    int n_api_keys;
    char **allowed_origins;
    int n_allowed_origins;
    char **allowed_methods;
    int n_allowed_methods;
    char **allowed_headers;
    int n_allowed_headers;
    /* 0 = auto where the help says so */
    int port, max_model_len, max_num_seqs, max_num_batched_tokens, max_waiting_requests, block_size;
    int64_t kv_cache_memory_bytes;
    bool enable_prefix_caching, allow_credentials, enable_prompt_tokens_details, enable_auto_tool_choice;
    bool tune;                 /* pre-tune kernels at start-up (cli/cmd_tune.c) */
} serve_cfg;

/* serve_cfg_parse_args's results: the exit statuses of cli.h */
enum { SERVE_CFG_OK = 0, SERVE_CFG_FAIL = 1, SERVE_CFG_USAGE = 2 };
/* what the command line asks for besides serving */
enum { SERVE_ACT_HELP = 1, SERVE_ACT_PRINT_CONFIG = 2 };

void serve_cfg_init(serve_cfg *c);   /* every key's default (0.0.0.0:8000, frontend openai, compat vllm, ...) */
void serve_cfg_free(serve_cfg *c);
/* Apply a JSON object's keys (vLLM's dashed spellings are accepted too).
 * Unknown keys, keys given twice and wrong types are errors naming the key
 * (0 ok, -1 error with err filled); null sets a key back to its default. */
int serve_cfg_apply_json(serve_cfg *c, const char *json, char *err, size_t err_len);
/* Apply one command-line flag `name` (without "--") with value v (NULL for
 * a boolean flag given bare; "no-NAME" clears a boolean). 1: not a known
 * flag; -1: bad value (err filled); 0: ok. `first_key` says the first
 * --api-key of the command line (it replaces the file's list). */
int serve_cfg_apply_flag(serve_cfg *c, const char *name, const char *v, int *first_key, char *err, size_t err_len);
/* The whole command line after `serve` (argv[0] = "serve"): --config FILE
 * first, then the flags over it, then --api-key-file and the environment
 * (STRIXCORE_API_KEY, else VLLM_API_KEY) when no key was given. *actions
 * gets SERVE_ACT_* bits. Returns SERVE_CFG_*; on failure err says why
 * (naming the flag or key). The model is required unless only help is asked. */
int serve_cfg_parse_args(serve_cfg *c, int argc, char **argv, unsigned *actions, char *err, size_t err_len);
/* The frontend's settings object (host, port, api_keys, CORS, tools, ...) as JSON; malloc'd. */
char *serve_cfg_settings_json(const serve_cfg *c);
/* Every setting, resolved, as a JSON object in table order (the format of
 * --config; API keys redacted); malloc'd. */
char *serve_cfg_resolved_json(const serve_cfg *c);
/* The flag list for --help. */
void serve_cfg_usage(FILE *f);

#endif
