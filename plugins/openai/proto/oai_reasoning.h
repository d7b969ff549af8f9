/* Incremental split of generated text into reasoning and content around
 * <think>...</think> (Qwen3, DeepSeek-R1 style). Pieces may cut a tag
 * anywhere; the splitter holds back only the bytes that could still start a
 * tag, so streamed deltas stay as early as possible. */
#ifndef OAI_REASONING_H
#define OAI_REASONING_H
#include <stdbool.h>
#include <stddef.h>

#include "oai_buf.h"

typedef enum {
    OAI_RS_BEFORE = 0, /* content so far; "<think>" switches to reasoning */
    OAI_RS_REASONING,  /* until "</think>" */
    OAI_RS_CONTENT,    /* after "</think>": everything is content */
} oai_rs_state_t;

typedef struct {
    oai_rs_state_t state;
    char   held[16];   /* possible tag prefix carried to the next piece */
    size_t n_held;
} oai_reasoning_t;

/* in_reasoning: the prompt already opened <think> (the template ended with
 * it), so output is reasoning until </think>. */
void oai_reasoning_init(oai_reasoning_t *r, bool in_reasoning);
/* Appends the newly decided bytes to content / reasoning. 0 or SC_ENOMEM. */
int  oai_reasoning_feed(oai_reasoning_t *r, const char *piece, size_t len,
                        oai_buf_t *content, oai_buf_t *reasoning);
/* End of generation: releases held bytes to the current channel. */
int  oai_reasoning_flush(oai_reasoning_t *r, oai_buf_t *content, oai_buf_t *reasoning);
#endif
