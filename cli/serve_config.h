/*
 * cli/serve_config.h - `strixcore serve` settings: vLLM's flag names, the
 * same settings as keys of a JSON deployment file (--config), CLI over file.
 * Kept apart from cmd_serve.c so tests/unit/test_serve.c can check parsing.
 */
#ifndef STRIXCORE_SERVE_CONFIG_H
#define STRIXCORE_SERVE_CONFIG_H

#include <stddef.h>

typedef struct serve_cfg {
    char *model, *host, *api_key_file, *served_model_name, *frontend, *compat, *tokenizer, *chat_template;
    char **api_keys;
    int n_api_keys;
    int port, max_model_len, max_num_seqs, max_num_batched_tokens;
} serve_cfg;

void serve_cfg_init(serve_cfg *c);   /* defaults: 0.0.0.0:8000, frontend openai, compat vllm */
void serve_cfg_free(serve_cfg *c);
/* Apply a JSON object's keys. Unknown keys and wrong types are errors
 * naming the key (0 ok, -1 error with err filled). */
int serve_cfg_apply_json(serve_cfg *c, const char *json, char *err, size_t err_len);
/* Apply one command-line flag `name` (without "--") with value v. 1: not a
 * known flag; -1: bad value (err filled); 0: ok. `first_key` says the first
 * --api-key of the command line (it replaces the file's list). */
int serve_cfg_apply_flag(serve_cfg *c, const char *name, const char *v, int *first_key, char *err, size_t err_len);
/* The frontend's settings object (host, port, api_keys, ...) as JSON; malloc'd. */
char *serve_cfg_settings_json(const serve_cfg *c);

#endif
