/* Tool-call extraction from generated text, for Qwen3's JSON style
 *   <tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>
 * and Qwen3-Coder's XML style
 *   <tool_call>\n<function=NAME>\n<parameter=P>\nVALUE\n</parameter>\n</function>\n</tool_call>
 * producing OpenAI tool_calls. A call that does not parse stays in the
 * content verbatim: bad model output is never an error.
 *
 * oai_tools_parse() works on a whole text; it is the streaming parser
 * (oai_tool_stream.h) fed everything at once, so streamed and non-streamed
 * responses split text and calls identically. */
#ifndef OAI_TOOLS_H
#define OAI_TOOLS_H
#include <jansson.h>
#include <stddef.h>

#include "oai_response.h"

typedef enum {
    OAI_TOOLS_QWEN3_JSON = 0, /* vLLM's "hermes" parser */
    OAI_TOOLS_QWEN3_XML = 1,  /* vLLM's "qwen3_coder" parser */
    OAI_TOOLS_AUTO = 2,       /* per block: "<function=" inside means XML, else JSON */
} oai_tool_style_t;

/* Maps a settings name ("auto", "hermes", "qwen3_coder", "qwen3_xml") to a
 * style; -1 when unknown. */
int oai_tool_style_from_name(const char *name);

/* One block: the text between <tool_call> and </tool_call>. Returns a new
 * {"id","type":"function","function":{"name","arguments"}} or NULL when the
 * block does not parse (or on allocation failure). */
json_t *oai_tools_parse_block(oai_tool_style_t style, const char *body, size_t len,
                              const json_t *tools, oai_idgen_t *ids);

/* tools: the request's tools array (may be NULL); XML parameter values are
 * typed by function.parameters.properties[P].type. ids: source of call_ ids.
 * On success returns the number of calls, *tool_calls (new array, possibly
 * empty) and *content (malloc'd text outside the calls, whitespace-trimmed,
 * NULL when empty). Returns SC_ENOMEM on allocation failure. */
int oai_tools_parse(oai_tool_style_t style, const char *text, size_t len,
                    const json_t *tools, oai_idgen_t *ids,
                    json_t **tool_calls, char **content);
#endif
