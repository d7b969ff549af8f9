/*
 * tests/fuzz/fuzz_jinja.c - libFuzzer target for the chat-template
 * interpreter: the input is a template; whatever parses is rendered with a
 * small conversation. Parse and render must fail cleanly (an error code and
 * message), never crash, leak or overrun.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "strixcore/chat_template.h"

static const char k_vars[] =
    "{\"messages\": [{\"role\": \"system\", \"content\": \"sys\"},"
    " {\"role\": \"user\", \"content\": \"hi {{ x }}\"},"
    " {\"role\": \"assistant\", \"content\": \"<think>r</think>a\", \"tool_calls\": [{\"type\": \"function\","
    " \"function\": {\"name\": \"f\", \"arguments\": {\"a\": 1, \"b\": [true, null, 2.5]}}}]},"
    " {\"role\": \"tool\", \"content\": \"ok\"}],"
    " \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\", \"description\": \"d\","
    " \"parameters\": {\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"integer\"}}, \"required\": [\"a\"]}}}],"
    " \"add_generation_prompt\": true, \"enable_thinking\": false, \"bos_token\": \"\", \"eos_token\": \"<|im_end|>\"}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sc_chat_template_t *t = NULL;
    char err[256];
    if (sc_chat_template_parse((const char *)data, size, &t, err, sizeof err) != SC_OK) return 0;
    char *out = NULL;
    size_t len = 0;
    if (sc_chat_template_render(t, k_vars, &out, &len, err, sizeof err) == SC_OK) free(out);
    sc_chat_template_free(t);
    return 0;
}
