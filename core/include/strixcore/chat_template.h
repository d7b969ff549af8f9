/*
 * strixcore/chat_template.h - Jinja chat templates (tokenizer_config.json's
 * chat_template), rendered byte-identically to Python's Jinja2 for the
 * templates of the Qwen3 family.
 */
#ifndef STRIXCORE_CHAT_TEMPLATE_H
#define STRIXCORE_CHAT_TEMPLATE_H

#include "strixcore/strixcore.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sc_chat_template sc_chat_template_t;

/* Parse a template. A syntax error or a construct the interpreter does not
 * support is SC_EFORMAT / SC_ENOTSUP with "line:col: message" in err. */
SC_API int sc_chat_template_parse(const char *src, size_t len, sc_chat_template_t **out, char *err, size_t err_len);
SC_API void sc_chat_template_free(sc_chat_template_t *t);
/* Render with the variables in a JSON object, e.g.
 *   {"messages":[{"role":"user","content":"hi"}], "tools":[...],
 *    "add_generation_prompt":true, "enable_thinking":false,
 *    "bos_token":"", "eos_token":"<|im_end|>"}
 * *out is malloc'd and NUL-terminated. A runtime error (undefined filter,
 * raise_exception, type error) is reported in err, never as garbage output. */
SC_API int sc_chat_template_render(const sc_chat_template_t *t, const char *vars_json, char **out, size_t *out_len,
                                   char *err, size_t err_len);
/* Load chat_template from a tokenizer_config.json (string or the
 * [{"name":"default","template":...}] list form) or a .jinja file. */
SC_API int sc_chat_template_load(const char *path, sc_chat_template_t **out, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif
#endif
