/* Incremental tool-call extraction for streamed chat output (vLLM's
 * streaming tool parsers, one complete call at a time).
 *
 * Content flows through as it arrives, except bytes that might still begin
 * "<tool_call>" (held until they cannot) and whitespace (held until more text
 * follows, dropped at the start and the end: the same trimming the
 * non-streamed content gets). Inside a block nothing is released; at
 * "</tool_call>" the block is parsed and becomes one call, or, if it does not
 * parse, goes out verbatim as content. An unterminated block (max_tokens cut
 * it) is content at the end. Pieces may split tags anywhere. */
#ifndef OAI_TOOL_STREAM_H
#define OAI_TOOL_STREAM_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "oai_buf.h"
#include "oai_tools.h"

typedef struct {
    oai_tool_style_t style;
    const json_t *tools;   /* borrowed: the request's tools */
    oai_idgen_t *ids;      /* borrowed: call_ id source */
    bool in_call;          /* between <tool_call> and </tool_call> */
    oai_buf_t buf;         /* undecided bytes: a tag prefix, or the block so far */
    size_t scanned;        /* in a block: bytes of buf known not to start the close tag */
    oai_buf_t ws;          /* whitespace held back since the last content */
    bool any_content;      /* content released: later whitespace is interior */
    int n_calls;           /* calls produced so far (their stream indices) */
} oai_tool_stream_t;

void oai_tool_stream_init(oai_tool_stream_t *s, oai_tool_style_t style, const json_t *tools,
                          oai_idgen_t *ids);
void oai_tool_stream_free(oai_tool_stream_t *s);
/* Appends released content to *content and each completed call to calls (a
 * JSON array). 0 or SC_ENOMEM. */
int oai_tool_stream_feed(oai_tool_stream_t *s, const char *piece, size_t len, oai_buf_t *content,
                         json_t *calls);
/* End of output: releases what is held (a tag prefix or an unterminated
 * block, as content; trailing whitespace is dropped). 0 or SC_ENOMEM. */
int oai_tool_stream_flush(oai_tool_stream_t *s, oai_buf_t *content, json_t *calls);
#endif
