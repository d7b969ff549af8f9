/* Tool-call extraction from generated text, for Qwen3's JSON style
 *   <tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>
 * and Qwen3-Coder's XML style
 *   <tool_call>\n<function=NAME>\n<parameter=P>\nVALUE\n</parameter>\n</function>\n</tool_call>
 * producing OpenAI tool_calls. A call that does not parse stays in the
 * content verbatim: bad model output is never an error. */
#ifndef OAI_TOOLS_H
#define OAI_TOOLS_H
#include <jansson.h>
#include <stddef.h>

#include "oai_response.h"

typedef enum { OAI_TOOLS_QWEN3_JSON = 0, OAI_TOOLS_QWEN3_XML = 1 } oai_tool_style_t;

/* tools: the request's tools array (may be NULL); XML parameter values are
 * typed by function.parameters.properties[P].type. ids: source of call_ ids.
 * On success returns the number of calls, *tool_calls (new array, possibly
 * empty) and *content (malloc'd text outside the calls, whitespace-trimmed,
 * NULL when empty). Returns SC_ENOMEM on allocation failure. */
int oai_tools_parse(oai_tool_style_t style, const char *text, size_t len,
                    const json_t *tools, oai_idgen_t *ids,
                    json_t **tool_calls, char **content);
#endif
