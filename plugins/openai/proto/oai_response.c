#include "oai_response.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void oai_id_make(oai_idgen_t *g, const char *prefix, char *out, size_t cap)
{
    /* vLLM uses random_uuid().hex: 32 hex digits after the prefix. */
    uint64_t a = splitmix64(&g->state), b = splitmix64(&g->state);
    snprintf(out, cap, "%s%016llx%016llx", prefix, (unsigned long long)a,
             (unsigned long long)b);
}

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }
static json_t *ref_or_null(json_t *j) { return j ? json_incref(j) : json_null(); }

static void set_reasoning(const oai_resp_ctx_t *c, json_t *obj, const char *reasoning)
{
    if (!reasoning) return;
    oai_reasoning_field_t f = c->reasoning_field;
    if (f == OAI_REASONING_FIELD_AUTO)
        f = c->flavor == OAI_FLAVOR_LLAMA ? OAI_REASONING_FIELD_CONTENT
                                          : OAI_REASONING_FIELD_REASONING;
    if (f != OAI_REASONING_FIELD_CONTENT)
        json_object_set_new(obj, "reasoning", json_string(reasoning));
    if (f != OAI_REASONING_FIELD_REASONING)
        json_object_set_new(obj, "reasoning_content", json_string(reasoning));
}

json_t *oai_usage_json(const oai_resp_ctx_t *c, const oai_usage_t *u)
{
    json_t *j = json_pack("{s:I, s:I, s:I}", "prompt_tokens", (json_int_t)u->prompt_tokens,
                          "total_tokens", (json_int_t)(u->prompt_tokens + u->completion_tokens),
                          "completion_tokens", (json_int_t)u->completion_tokens);
    if (j && c->prompt_tokens_details)
        json_object_set_new(j, "prompt_tokens_details",
                            json_pack("{s:I}", "cached_tokens", (json_int_t)u->cached_tokens));
    return j;
}

static json_t *envelope(const oai_resp_ctx_t *c, const char *object, json_t *choices)
{
    if (!choices) return NULL;
    return json_pack("{s:s, s:s, s:I, s:s, s:o}", "id", c->id ? c->id : "", "object", object,
                     "created", (json_int_t)c->created, "model", c->model ? c->model : "",
                     "choices", choices);
}

json_t *oai_chat_completion(const oai_resp_ctx_t *c, const oai_choice_t *ch, size_t n,
                            const oai_usage_t *usage)
{
    json_t *choices = json_array();
    for (size_t i = 0; choices && i < n; i++) {
        json_t *msg = json_pack("{s:s, s:o}", "role", "assistant",
                                "content", str_or_null(ch[i].content));
        set_reasoning(c, msg, ch[i].reasoning);
        /* vLLM drops tool_calls when empty. */
        if (msg && ch[i].tool_calls && json_array_size(ch[i].tool_calls) > 0)
            json_object_set(msg, "tool_calls", ch[i].tool_calls);
        json_array_append_new(choices,
            json_pack("{s:i, s:o, s:o, s:o, s:o}", "index", (int)i, "message", msg,
                      "logprobs", ref_or_null(ch[i].logprobs),
                      "finish_reason", str_or_null(ch[i].finish_reason),
                      "stop_reason", ref_or_null(ch[i].stop_reason)));
    }
    json_t *r = envelope(c, "chat.completion", choices);
    if (r && usage) json_object_set_new(r, "usage", oai_usage_json(c, usage));
    return r;
}

json_t *oai_text_completion(const oai_resp_ctx_t *c, const oai_choice_t *ch, size_t n,
                            const oai_usage_t *usage)
{
    json_t *choices = json_array();
    for (size_t i = 0; choices && i < n; i++)
        json_array_append_new(choices,
            json_pack("{s:i, s:s, s:o, s:o, s:o}", "index", (int)i,
                      "text", ch[i].content ? ch[i].content : "",
                      "logprobs", ref_or_null(ch[i].logprobs),
                      "finish_reason", str_or_null(ch[i].finish_reason),
                      "stop_reason", ref_or_null(ch[i].stop_reason)));
    json_t *r = envelope(c, "text_completion", choices);
    if (r && usage) json_object_set_new(r, "usage", oai_usage_json(c, usage));
    return r;
}

static json_t *chunk(const oai_resp_ctx_t *c, int index, json_t *delta, const char *finish,
                     json_t *stop_reason, bool with_stop_reason)
{
    if (!delta) return NULL;
    json_t *choice = json_pack("{s:i, s:o, s:n, s:o}", "index", index, "delta", delta,
                               "logprobs", "finish_reason", str_or_null(finish));
    if (choice && with_stop_reason)
        json_object_set_new(choice, "stop_reason", ref_or_null(stop_reason));
    return envelope(c, "chat.completion.chunk", json_pack("[o]", choice));
}

json_t *oai_chunk_role(const oai_resp_ctx_t *c, int index)
{
    return chunk(c, index, json_pack("{s:s, s:s}", "role", "assistant", "content", ""), NULL,
                 NULL, false);
}

json_t *oai_chunk_delta(const oai_resp_ctx_t *c, int index, const char *content,
                        const char *reasoning, json_t *tool_call_deltas)
{
    json_t *d = json_object();
    if (d && content) json_object_set_new(d, "content", json_string(content));
    if (d) set_reasoning(c, d, reasoning);
    if (d && tool_call_deltas) json_object_set(d, "tool_calls", tool_call_deltas);
    return chunk(c, index, d, NULL, NULL, false);
}

json_t *oai_chunk_finish(const oai_resp_ctx_t *c, int index, const char *finish_reason,
                         json_t *stop_reason)
{
    return chunk(c, index, json_object(), finish_reason, stop_reason, true);
}

json_t *oai_chunk_usage(const oai_resp_ctx_t *c, const oai_usage_t *u)
{
    json_t *r = envelope(c, "chat.completion.chunk", json_array());
    if (r) json_object_set_new(r, "usage", oai_usage_json(c, u));
    return r;
}

json_t *oai_text_chunk(const oai_resp_ctx_t *c, int index, const char *text,
                       const char *finish_reason, json_t *stop_reason)
{
    json_t *choice = json_pack("{s:i, s:s, s:n, s:o, s:o}", "index", index,
                               "text", text ? text : "", "logprobs",
                               "finish_reason", str_or_null(finish_reason),
                               "stop_reason", ref_or_null(stop_reason));
    return envelope(c, "text_completion", json_pack("[o]", choice));
}

json_t *oai_text_chunk_usage(const oai_resp_ctx_t *c, const oai_usage_t *u)
{
    json_t *r = envelope(c, "text_completion", json_array());
    if (r) json_object_set_new(r, "usage", oai_usage_json(c, u));
    return r;
}

json_t *oai_chunk_set_logprobs(json_t *chunk, json_t *lp)
{
    json_t *c0 = json_array_get(json_object_get(chunk, "choices"), 0);
    if (c0 && lp) json_object_set(c0, "logprobs", lp);
    json_decref(lp);
    return chunk;
}

json_t *oai_tool_call_deltas(const json_t *tool_calls)
{
    return oai_tool_call_deltas_at(tool_calls, 0);
}

json_t *oai_tool_call_deltas_at(const json_t *tool_calls, int first)
{
    json_t *out = json_array();
    size_t i;
    json_t *tc;
    json_array_foreach(tool_calls, i, tc) {
        json_t *d = json_deep_copy(tc);
        if (!d) { json_decref(out); return NULL; }
        json_object_set_new(d, "index", json_integer((json_int_t)first + (json_int_t)i));
        json_array_append_new(out, d);
    }
    return out;
}

char *oai_sse_frame(const json_t *obj)
{
    char *js = json_dumps(obj, JSON_COMPACT);
    if (!js) return NULL;
    size_t n = strlen(js);
    char *out = malloc(n + 9);
    if (out) {
        memcpy(out, "data: ", 6);
        memcpy(out + 6, js, n);
        memcpy(out + 6 + n, "\n\n", 3);
    }
    free(js);
    return out;
}

char *oai_sse_error_frame(oai_flavor_t fl, int status, const char *message)
{
    json_t *b = oai_error_body(fl, status, NULL, message, NULL);
    char *f = b ? oai_sse_frame(b) : NULL;
    json_decref(b);
    return f;
}

json_t *oai_model_card(const char *id, const char *root, int64_t created,
                       int64_t max_model_len, const char *owned_by)
{
    /* context_length too: OpenRouter-style clients read that name (spec §5.6). */
    return json_pack("{s:s, s:s, s:I, s:s, s:s, s:n, s:I, s:I, s:[]}", "id", id, "object",
                     "model", "created", (json_int_t)created, "owned_by",
                     owned_by ? owned_by : "vllm", "root", root ? root : id, "parent",
                     "max_model_len", (json_int_t)max_model_len, "context_length",
                     (json_int_t)max_model_len, "permission");
}

json_t *oai_model_list(json_t *cards)
{
    return json_pack("{s:s, s:o}", "object", "list", "data", cards ? cards : json_array());
}
