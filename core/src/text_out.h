/*
 * core/src/text_out.h - the one path from sampled token ids to output text:
 * the streaming detokenizer, then the stop-string matcher, then the caller's
 * emit function. sc_generate (generate.c) and the engine (engine.c) share it.
 */
#ifndef STRIXCORE_TEXT_OUT_H
#define STRIXCORE_TEXT_OUT_H

#include "strixcore/sampler.h"
#include "strixcore/tokenizer.h"

/* Receives text released by the matcher; a negative return is an error. */
typedef int (*sc__emit_fn)(void *user, const char *text, size_t len);

/* One token (detok may be NULL: no text). Returns 1 once a stop string
 * completed, 0 otherwise, or a negative error. */
int sc__text_token(sc_detok_t *detok, sc_stop_t *stop, int32_t id, sc__emit_fn emit, void *user);
/* End of the stream: the detokenizer's and the matcher's held-back text. */
int sc__text_end(sc_detok_t *detok, sc_stop_t *stop, sc__emit_fn emit, void *user);

#endif
