/*
 * strixcore/tokenizer.h - byte-level BPE tokenizers from a Hugging Face
 * tokenizer.json (the Qwen family's format), matching HF tokenizers exactly.
 */
#ifndef STRIXCORE_TOKENIZER_H
#define STRIXCORE_TOKENIZER_H

#include "strixcore/strixcore.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sc_tokenizer sc_tokenizer_t;

/* Load from a tokenizer.json path (or a directory holding one). */
SC_API int sc_tokenizer_load(const char *path, sc_tokenizer_t **out, char *err, size_t err_len);
SC_API int sc_tokenizer_load_json(const char *json, size_t len, sc_tokenizer_t **out, char *err, size_t err_len);
SC_API void sc_tokenizer_free(sc_tokenizer_t *tok);

/* Encode UTF-8 text. parse_special: added/special tokens in the text are
 * matched as tokens (what HF does by default). *ids is malloc'd; free() it.
 * Invalid UTF-8 input is SC_EINVAL. */
SC_API int sc_tokenizer_encode(const sc_tokenizer_t *tok, const char *text, size_t len, bool parse_special,
                               int32_t **ids, size_t *n_ids);
/* Decode ids to UTF-8 (invalid byte sequences become U+FFFD, as HF does).
 * *out is malloc'd and NUL-terminated. */
SC_API int sc_tokenizer_decode(const sc_tokenizer_t *tok, const int32_t *ids, size_t n, bool skip_special,
                               char **out, size_t *out_len);
SC_API int32_t sc_tokenizer_vocab_size(const sc_tokenizer_t *tok);      /* incl. added tokens */
SC_API int32_t sc_tokenizer_token_id(const sc_tokenizer_t *tok, const char *token); /* -1 if none */
SC_API bool sc_tokenizer_is_special(const sc_tokenizer_t *tok, int32_t id);
/* Raw bytes of a token (after byte-level decoding); NULL for unknown ids. */
SC_API const char *sc_tokenizer_token_bytes(const sc_tokenizer_t *tok, int32_t id, size_t *len);

/* Streaming detokenizer: push ids one at a time, get text that never ends
 * in the middle of a UTF-8 character. */
typedef struct sc_detok sc_detok_t;
SC_API sc_detok_t *sc_detok_create(const sc_tokenizer_t *tok, bool skip_special);
SC_API void sc_detok_free(sc_detok_t *d);
/* Appends complete characters to *out (malloc'd, NUL-terminated; free()). */
SC_API int sc_detok_push(sc_detok_t *d, int32_t id, char **out, size_t *out_len);
/* Whatever is held back at the end (an incomplete sequence becomes U+FFFD). */
SC_API int sc_detok_flush(sc_detok_t *d, char **out, size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif
