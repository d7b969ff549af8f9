/* Tests for the OpenAI / vLLM protocol layer (plugins/openai/proto). Bodies
 * are compared as exact compact JSON (jansson keeps insertion order), so a
 * change in field order or naming shows up here before a client sees it. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <strixcore/plugin.h>

#include "oai_buf.h"
#include "oai_cors.h"
#include "oai_errors.h"
#include "oai_llama.h"
#include "oai_logprobs.h"
#include "oai_metrics.h"
#include "oai_reasoning.h"
#include "oai_request.h"
#include "oai_response.h"
#include "oai_settings.h"
#include "oai_tool_stream.h"
#include "oai_tools.h"

/* Compares (and consumes) obj against the expected compact JSON text. */
static void check_json(json_t *obj, const char *expected)
{
    assert_non_null(obj);
    char *s = json_dumps(obj, JSON_COMPACT | JSON_ENCODE_ANY);
    assert_non_null(s);
    assert_string_equal(s, expected);
    free(s);
    json_decref(obj);
}

/* ---------------------------------------------------------------- errors */

static void test_errors(void **st)
{
    (void)st;
    check_json(oai_error_body(OAI_FLAVOR_VLLM, 400, NULL, "bad", "n"),
               "{\"error\":{\"message\":\"bad\",\"type\":\"BadRequestError\",\"param\":\"n\",\"code\":400}}");
    check_json(oai_error_unauthorized(OAI_FLAVOR_VLLM), "{\"error\":\"Unauthorized\"}");
    check_json(oai_error_unauthorized(OAI_FLAVOR_LLAMA),
               "{\"error\":{\"code\":401,\"message\":\"Invalid API Key\",\"type\":\"authentication_error\"}}");
    check_json(oai_error_model_not_found(OAI_FLAVOR_VLLM, "gpt-4"),
               "{\"error\":{\"message\":\"The model `gpt-4` does not exist.\",\"type\":\"NotFoundError\",\"param\":\"model\",\"code\":404}}");
    check_json(oai_error_context_prompt(OAI_FLAVOR_VLLM, 4096, 5000),
               "{\"error\":{\"message\":\"This model's maximum context length is 4096 tokens. However, your request has 5000 input tokens. Please reduce the length of the input messages.\",\"type\":\"BadRequestError\",\"param\":null,\"code\":400}}");
    check_json(oai_error_context_max_tokens(OAI_FLAVOR_VLLM, 1000, 4096, 3500),
               "{\"error\":{\"message\":\"'max_tokens' or 'max_completion_tokens' is too large: 1000. This model's maximum context length is 4096 tokens and your request has 3500 input tokens (1000 > 4096 - 3500).\",\"type\":\"BadRequestError\",\"param\":\"max_tokens\",\"code\":400}}");
    check_json(oai_error_context_prompt(OAI_FLAVOR_LLAMA, 4096, 5000),
               "{\"error\":{\"code\":400,\"message\":\"request (5000 tokens) exceeds the available context size (4096 tokens), try increasing it\",\"type\":\"exceed_context_size_error\",\"n_prompt_tokens\":5000,\"n_ctx\":4096}}");
    check_json(oai_error_too_large(OAI_FLAVOR_VLLM, 1024),
               "{\"error\":{\"message\":\"Request body exceeds the limit of 1024 bytes.\",\"type\":\"Request Entity Too Large\",\"param\":null,\"code\":413}}");
    check_json(oai_error_unavailable(OAI_FLAVOR_LLAMA, "Loading model"),
               "{\"error\":{\"code\":503,\"message\":\"Loading model\",\"type\":\"unavailable_error\"}}");
    check_json(oai_error_unavailable(OAI_FLAVOR_VLLM, NULL),
               "{\"error\":{\"message\":\"Service Unavailable\",\"type\":\"Service Unavailable\",\"param\":null,\"code\":503}}");
}

/* --------------------------------------------------------------- request */

static int parse(oai_request_t *r, oai_req_kind_t kind, const char *body, oai_err_t *e)
{
    return oai_request_parse_bytes(r, kind, body, strlen(body), NULL, e);
}

static void expect_400(oai_req_kind_t kind, const char *body, const char *param,
                       const char *message)
{
    oai_request_t r;
    oai_err_t e;
    assert_int_equal(parse(&r, kind, body, &e), SC_EINVAL);
    assert_int_equal(e.status, 400);
    assert_string_equal(e.param, param);
    if (message) assert_string_equal(e.message, message);
    oai_request_free(&r);
}

static void test_request_chat_full(void **st)
{
    (void)st;
    const char *body =
        "{\"model\":\"qwen3\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
        "{\"role\":\"assistant\",\"content\":\"x\",\"reasoning_content\":\"think\"}],"
        "\"temperature\":0.5,\"top_p\":0.9,\"top_k\":20,\"min_p\":0.05,"
        "\"repetition_penalty\":1.1,\"presence_penalty\":0.5,\"frequency_penalty\":-0.5,"
        "\"seed\":42,\"n\":2,\"stop\":[\"END\",\"STOP\"],\"stop_token_ids\":[7,8],"
        "\"max_tokens\":100,\"max_completion_tokens\":50,\"min_tokens\":3,\"ignore_eos\":true,"
        "\"include_stop_str_in_output\":true,\"skip_special_tokens\":false,"
        "\"logprobs\":true,\"top_logprobs\":5,\"stream\":true,"
        "\"stream_options\":{\"include_usage\":true},"
        "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
        "\"chat_template_kwargs\":{\"foo\":1},\"reasoning_effort\":\"none\","
        "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"s\",\"schema\":{\"type\":\"object\"}}},"
        "\"some_unknown_field\":{\"x\":1}}";
    oai_request_t r;
    oai_err_t e;
    assert_int_equal(parse(&r, OAI_REQ_CHAT, body, &e), 0);
    assert_string_equal(r.model, "qwen3");
    assert_true(r.temperature == 0.5 && r.top_p == 0.9 && r.min_p == 0.05);
    assert_int_equal(r.top_k, 20);
    assert_true(r.repetition_penalty == 1.1 && r.presence_penalty == 0.5 &&
                r.frequency_penalty == -0.5);
    assert_true(r.has_seed);
    assert_int_equal(r.seed, 42);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.n_stop, 2);
    assert_string_equal(r.stop[1], "STOP");
    assert_int_equal(r.n_stop_token_ids, 2);
    assert_int_equal(r.stop_token_ids[1], 8);
    assert_int_equal(r.max_tokens, 50); /* max_completion_tokens wins */
    assert_int_equal(r.min_tokens, 3);
    assert_true(r.ignore_eos && r.include_stop_str_in_output && !r.skip_special_tokens);
    assert_true(r.logprobs);
    assert_int_equal(r.top_logprobs, 5);
    assert_true(r.stream && r.include_usage && !r.continuous_usage_stats);
    assert_int_equal(r.response_format, OAI_FORMAT_JSON_SCHEMA);
    check_json(json_incref(r.json_schema), "{\"type\":\"object\"}");
    check_json(json_incref(r.tool_choice), "\"auto\"");
    check_json(json_incref(r.template_kwargs), "{\"foo\":1,\"enable_thinking\":false}");
    check_json(json_incref(r.messages),
               "[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"x\",\"reasoning\":\"think\"}]");
    assert_true(r.add_generation_prompt && !r.continue_final_message && !r.echo);
    oai_request_free(&r);
}

static void test_request_chat_defaults(void **st)
{
    (void)st;
    oai_defaults_t d;
    oai_defaults_init(&d);
    d.temperature = 0.7; /* as if from generation_config.json */
    d.top_k = 20;
    const char *body = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                       "\"reasoning_effort\":\"high\","
                       "\"chat_template_kwargs\":{\"enable_thinking\":false}}";
    oai_request_t r;
    oai_err_t e;
    assert_int_equal(oai_request_parse_bytes(&r, OAI_REQ_CHAT, body, strlen(body), &d, &e), 0);
    assert_null(r.model);
    assert_true(r.temperature == 0.7 && r.top_p == 1.0 && r.min_p == 0.0);
    assert_int_equal(r.top_k, 20);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.max_tokens, -1); /* caller caps at max_model_len - prompt_len */
    assert_false(r.has_seed);
    assert_true(r.skip_special_tokens);
    assert_false(r.stream);
    assert_null(r.tools);
    check_json(json_incref(r.tool_choice), "\"none\"");
    /* The user's enable_thinking beats the one reasoning_effort implies. */
    check_json(json_incref(r.template_kwargs), "{\"enable_thinking\":false}");
    oai_request_free(&r);

    body = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"reasoning_effort\":\"low\"}";
    assert_int_equal(parse(&r, OAI_REQ_CHAT, body, &e), 0);
    check_json(json_incref(r.template_kwargs), "{\"enable_thinking\":true}");
    oai_request_free(&r);
}

#define MSG "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"

static void test_request_bad(void **st)
{
    (void)st;
    expect_400(OAI_REQ_CHAT, "{" MSG ",\"temperature\":\"hot\"}", "temperature",
               "temperature: Input should be a valid number");
    expect_400(OAI_REQ_CHAT, "{" MSG ",\"temperature\":-1}", "temperature",
               "temperature must be non-negative, got -1.");
    expect_400(OAI_REQ_CHAT, "{" MSG ",\"top_p\":0}", "top_p", "top_p must be in (0, 1], got 0.");
    expect_400(OAI_REQ_CHAT, "{" MSG ",\"top_k\":-2}", "top_k",
               "top_k must be 0 (disable), or at least 1, got -2.");
    expect_400(OAI_REQ_CHAT, "{" MSG ",\"n\":1000000}", "n", "n must be at most 128, got 1000000.");
    expect_400(OAI_REQ_CHAT, "{" MSG ",\"n\":0}", "n", "n must be at least 1, got 0.");
    expect_400(OAI_REQ_CHAT, "{" MSG ",\"n\":1.5}", "n", "n: Input should be a valid integer");
    expect_400(OAI_REQ_CHAT, "{" MSG ",\"max_tokens\":-5}", "max_tokens",
               "max_tokens must be at least 1, got -5.");
    expect_400(OAI_REQ_CHAT, "{" MSG ",\"max_completion_tokens\":0}", "max_completion_tokens",
               "max_tokens must be at least 1, got 0.");
    expect_400(OAI_REQ_CHAT, "{" MSG ",\"max_tokens\":\"10\"}", "max_tokens",
               "max_tokens: Input should be a valid integer");
    expect_400(OAI_REQ_CHAT, "{" MSG ",\"min_tokens\":20,\"max_tokens\":10}", "min_tokens",
               "min_tokens must be less than or equal to max_tokens=10, got 20.");
    expect_400(OAI_REQ_CHAT, "{" MSG ",\"stream\":\"yes\"}", "stream",
               "stream: Input should be a valid boolean");
    expect_400(OAI_REQ_CHAT, "{" MSG ",\"stream_options\":{\"include_usage\":true}}",
               "stream_options", "Stream options can only be defined when `stream=True`.");
    expect_400(OAI_REQ_CHAT, "{" MSG ",\"stop\":[\"a\",3]}", "stop",
               "stop.1: Input should be a valid string");
    expect_400(OAI_REQ_CHAT, "{" MSG ",\"stop\":5}", "stop", NULL);
    expect_400(OAI_REQ_CHAT, "{" MSG ",\"stop_token_ids\":[-1]}", "stop_token_ids", NULL);
    expect_400(OAI_REQ_CHAT, "{" MSG ",\"model\":7}", "model", "model: Input should be a valid string");
    expect_400(OAI_REQ_CHAT, "{\"messages\":\"hi\"}", "messages", NULL);
    expect_400(OAI_REQ_CHAT, "{\"messages\":[]}", "messages", NULL);
    expect_400(OAI_REQ_CHAT, "{\"messages\":[{\"content\":\"x\"}]}", "messages",
               "messages.0.role: Field required");
    expect_400(OAI_REQ_CHAT, "{}", "messages", "messages: Field required");
    expect_400(OAI_REQ_CHAT, "{" MSG ",\"response_format\":{\"type\":\"json_schema\"}}",
               "response_format",
               "response_format: json_schema must be provided when type is 'json_schema'");
    expect_400(OAI_REQ_CHAT, "{" MSG ",\"response_format\":{\"type\":\"yaml\"}}", "response_format", NULL);
    expect_400(OAI_REQ_CHAT, "{" MSG ",\"tool_choice\":\"required\"}", "tool_choice",
               "When using `tool_choice`, `tools` must be set.");
    expect_400(OAI_REQ_CHAT, "{" MSG ",\"tools\":[{\"type\":\"function\"}]}", "tools", NULL);
    expect_400(OAI_REQ_CHAT, "{" MSG ",\"chat_template_kwargs\":[1]}", "chat_template_kwargs", NULL);
    expect_400(OAI_REQ_CHAT, "{" MSG ",\"continue_final_message\":true}", "continue_final_message",
               "Cannot set both `continue_final_message` and `add_generation_prompt` to True.");
    expect_400(OAI_REQ_CHAT, "{" MSG ",\"top_logprobs\":3}", "top_logprobs",
               "when using `top_logprobs`, `logprobs` must be set to true.");
    expect_400(OAI_REQ_CHAT, "{" MSG ",\"logprobs\":true,\"top_logprobs\":50}", "top_logprobs", NULL);
    expect_400(OAI_REQ_CHAT, "[1,2]", "", "Request body must be a JSON object");
    expect_400(OAI_REQ_CHAT, "{\"messages\":", "", NULL); /* truncated JSON */

    /* Invalid UTF-8 (a lone continuation byte) is rejected at load: a 400. */
    oai_request_t r;
    oai_err_t e;
    const char bad[] = "{\"messages\":[{\"role\":\"user\",\"content\":\"\x80\"}]}";
    assert_int_equal(parse(&r, OAI_REQ_CHAT, bad, &e), SC_EINVAL);
    assert_int_equal(e.status, 400);
    assert_non_null(strstr(e.message, "Invalid JSON body"));
    json_t *b = oai_error_from(OAI_FLAVOR_VLLM, &e);
    json_t *in = json_object_get(b, "error");
    assert_string_equal(json_string_value(json_object_get(in, "type")), "BadRequestError");
    assert_int_equal(json_integer_value(json_object_get(in, "code")), 400);
    assert_true(json_is_null(json_object_get(in, "param")));
    json_decref(b);
}

static void test_request_completion(void **st)
{
    (void)st;
    oai_request_t r;
    oai_err_t e;
    assert_int_equal(parse(&r, OAI_REQ_COMPLETION, "{\"model\":\"m\",\"prompt\":\"hello\",\"stop\":\"x\"}", &e), 0);
    assert_int_equal(r.n_prompts, 1);
    assert_string_equal(r.prompts[0].text, "hello");
    assert_int_equal(r.max_tokens, 16); /* CompletionRequest's default */
    assert_int_equal(r.n_stop, 1);
    assert_string_equal(r.stop[0], "x");
    assert_null(r.messages);
    oai_request_free(&r);

    assert_int_equal(parse(&r, OAI_REQ_COMPLETION, "{\"prompt\":[\"a\",\"b\"],\"logprobs\":3,\"echo\":true,\"max_tokens\":5,\"max_completion_tokens\":99}", &e), 0);
    assert_int_equal(r.n_prompts, 2);
    assert_string_equal(r.prompts[1].text, "b");
    assert_true(r.logprobs);
    assert_int_equal(r.top_logprobs, 3);
    assert_true(r.echo);
    assert_int_equal(r.max_tokens, 5); /* max_completion_tokens is chat-only */
    oai_request_free(&r);

    assert_int_equal(parse(&r, OAI_REQ_COMPLETION, "{\"prompt\":[1,2,3]}", &e), 0);
    assert_int_equal(r.n_prompts, 1);
    assert_null(r.prompts[0].text);
    assert_int_equal(r.prompts[0].n_tokens, 3);
    assert_int_equal(r.prompts[0].tokens[2], 3);
    oai_request_free(&r);

    assert_int_equal(parse(&r, OAI_REQ_COMPLETION, "{\"prompt\":[[1,2],[3]]}", &e), 0);
    assert_int_equal(r.n_prompts, 2);
    assert_int_equal(r.prompts[1].n_tokens, 1);
    assert_int_equal(r.prompts[1].tokens[0], 3);
    oai_request_free(&r);

    expect_400(OAI_REQ_COMPLETION, "{}", "prompt", "prompt: Field required");
    expect_400(OAI_REQ_COMPLETION, "{\"prompt\":[]}", "prompt", NULL);
    expect_400(OAI_REQ_COMPLETION, "{\"prompt\":5}", "prompt", NULL);
    expect_400(OAI_REQ_COMPLETION, "{\"prompt\":[1,\"a\"]}", "prompt", "prompt.1: Input should be a valid token id");
    expect_400(OAI_REQ_COMPLETION, "{\"prompt\":[[1],[]]}", "prompt", NULL);
    expect_400(OAI_REQ_COMPLETION, "{\"prompt\":[[1],[-4]]}", "prompt", NULL);
    expect_400(OAI_REQ_COMPLETION, "{\"prompt\":\"a\",\"logprobs\":true}", "logprobs", NULL);
    expect_400(OAI_REQ_COMPLETION, "{\"prompt\":\"a\",\"max_tokens\":-1}", "max_tokens",
               "max_tokens must be at least 1, got -1.");
}

/* -------------------------------------------------------------- response */

static oai_resp_ctx_t ctx(oai_flavor_t fl, const char *id)
{
    oai_resp_ctx_t c = {.id = id, .model = "qwen3", .created = 1700000000, .flavor = fl};
    return c;
}

static void test_response_bodies(void **st)
{
    (void)st;
    oai_idgen_t g = {.state = 1};
    char id[64];
    oai_id_make(&g, "chatcmpl-", id, sizeof id);
    assert_int_equal(strlen(id), 9 + 32);
    assert_int_equal(strncmp(id, "chatcmpl-", 9), 0);
    char id2[64];
    oai_id_make(&g, "chatcmpl-", id2, sizeof id2);
    assert_string_not_equal(id, id2);

    oai_resp_ctx_t c = ctx(OAI_FLAVOR_VLLM, "chatcmpl-1");
    json_t *tc = json_loads("[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]", 0, NULL);
    json_t *sr = json_string("END");
    oai_choice_t ch[2] = {
        {.content = "Hello", .reasoning = "because", .finish_reason = "stop", .stop_reason = sr},
        {.content = NULL, .tool_calls = tc, .finish_reason = "tool_calls"},
    };
    oai_usage_t u = {.prompt_tokens = 10, .completion_tokens = 5, .cached_tokens = 4};
    check_json(oai_chat_completion(&c, ch, 2, &u),
        "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":\"qwen3\","
        "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hello\",\"reasoning\":\"because\"},"
        "\"logprobs\":null,\"finish_reason\":\"stop\",\"stop_reason\":\"END\"},"
        "{\"index\":1,\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
        "\"logprobs\":null,\"finish_reason\":\"tool_calls\",\"stop_reason\":null}],"
        "\"usage\":{\"prompt_tokens\":10,\"total_tokens\":15,\"completion_tokens\":5}}");

    /* llama flavour names reasoning reasoning_content; cached tokens when enabled. */
    c = ctx(OAI_FLAVOR_LLAMA, "chatcmpl-2");
    c.prompt_tokens_details = true;
    check_json(oai_chat_completion(&c, ch, 1, &u),
        "{\"id\":\"chatcmpl-2\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":\"qwen3\","
        "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hello\",\"reasoning_content\":\"because\"},"
        "\"logprobs\":null,\"finish_reason\":\"stop\",\"stop_reason\":\"END\"}],"
        "\"usage\":{\"prompt_tokens\":10,\"total_tokens\":15,\"completion_tokens\":5,\"prompt_tokens_details\":{\"cached_tokens\":4}}}");
    c.reasoning_field = OAI_REASONING_FIELD_BOTH;
    check_json(oai_chunk_delta(&c, 0, NULL, "r", NULL),
        "{\"id\":\"chatcmpl-2\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"qwen3\","
        "\"choices\":[{\"index\":0,\"delta\":{\"reasoning\":\"r\",\"reasoning_content\":\"r\"},\"logprobs\":null,\"finish_reason\":null}]}");

    c = ctx(OAI_FLAVOR_VLLM, "cmpl-1");
    json_t *tok = json_integer(151645);
    oai_choice_t tch = {.content = "world", .finish_reason = "stop", .stop_reason = tok};
    check_json(oai_text_completion(&c, &tch, 1, &u),
        "{\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":1700000000,\"model\":\"qwen3\","
        "\"choices\":[{\"index\":0,\"text\":\"world\",\"logprobs\":null,\"finish_reason\":\"stop\",\"stop_reason\":151645}],"
        "\"usage\":{\"prompt_tokens\":10,\"total_tokens\":15,\"completion_tokens\":5}}");
    check_json(oai_text_chunk(&c, 0, "wor", NULL, NULL),
        "{\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":1700000000,\"model\":\"qwen3\","
        "\"choices\":[{\"index\":0,\"text\":\"wor\",\"logprobs\":null,\"finish_reason\":null,\"stop_reason\":null}]}");
    json_decref(tok);
    json_decref(sr);
    json_decref(tc);
}

static void test_response_stream(void **st)
{
    (void)st;
    oai_resp_ctx_t c = ctx(OAI_FLAVOR_VLLM, "chatcmpl-9");
    json_t *j = oai_chunk_role(&c, 0);
    char *f = oai_sse_frame(j);
    assert_string_equal(f,
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"qwen3\","
        "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n");
    free(f);
    json_decref(j);
    check_json(oai_chunk_delta(&c, 1, "Hel", NULL, NULL),
        "{\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"qwen3\","
        "\"choices\":[{\"index\":1,\"delta\":{\"content\":\"Hel\"},\"logprobs\":null,\"finish_reason\":null}]}");
    json_t *tc = json_loads("[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]", 0, NULL);
    json_t *d = oai_tool_call_deltas(tc);
    check_json(oai_chunk_delta(&c, 0, NULL, NULL, d),
        "{\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"qwen3\","
        "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"},\"index\":0}]},\"logprobs\":null,\"finish_reason\":null}]}");
    json_decref(d);
    json_decref(tc);
    check_json(oai_chunk_finish(&c, 0, "length", NULL),
        "{\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"qwen3\","
        "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"length\",\"stop_reason\":null}]}");
    oai_usage_t u = {.prompt_tokens = 3, .completion_tokens = 2};
    check_json(oai_chunk_usage(&c, &u),
        "{\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"qwen3\","
        "\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"total_tokens\":5,\"completion_tokens\":2}}");
    assert_string_equal(OAI_SSE_DONE, "data: [DONE]\n\n");
    f = oai_sse_error_frame(OAI_FLAVOR_VLLM, 500, "engine died");
    assert_string_equal(f, "data: {\"error\":{\"message\":\"engine died\",\"type\":\"InternalServerError\",\"param\":null,\"code\":500}}\n\n");
    free(f);

    check_json(oai_model_list(json_pack("[o]", oai_model_card("qwen3", "/models/qwen3", 1700000000, 32768, NULL))),
        "{\"object\":\"list\",\"data\":[{\"id\":\"qwen3\",\"object\":\"model\",\"created\":1700000000,\"owned_by\":\"vllm\","
        "\"root\":\"/models/qwen3\",\"parent\":null,\"max_model_len\":32768,\"context_length\":32768,\"permission\":[]}]}");
}

/* ------------------------------------------------------------- reasoning */

/* Feeds text in pieces of `step` bytes and checks the final split. */
static void split(const char *text, size_t step, bool in_reasoning, const char *want_content,
                  const char *want_reasoning)
{
    oai_reasoning_t r;
    oai_buf_t c, rs;
    oai_buf_init(&c);
    oai_buf_init(&rs);
    oai_reasoning_init(&r, in_reasoning);
    size_t n = strlen(text);
    for (size_t i = 0; i < n; i += step)
        assert_int_equal(oai_reasoning_feed(&r, text + i, n - i < step ? n - i : step, &c, &rs), 0);
    assert_int_equal(oai_reasoning_flush(&r, &c, &rs), 0);
    assert_string_equal(c.data ? c.data : "", want_content);
    assert_string_equal(rs.data ? rs.data : "", want_reasoning);
    oai_buf_free(&c);
    oai_buf_free(&rs);
}

static void test_reasoning(void **st)
{
    (void)st;
    for (size_t step = 1; step <= 9; step++) {
        split("<think>\nI think</think>\n\nAnswer", step, false, "\n\nAnswer", "\nI think");
        split("plan</think>done", step, true, "done", "plan");
        split("no tags <b>here</b> <thin", step, false, "no tags <b>here</b> <thin", "");
        split("<think>still thinking </thi", step, false, "", "still thinking </thi");
        split("a</think>b<think>c", step, true, "b<think>c", "a"); /* one block only */
        split("<<think>x<</think>>", step, false, "<>", "x<");
    }
    /* Bytes that might start a tag are held back, then released. */
    oai_reasoning_t r;
    oai_buf_t c, rs;
    oai_buf_init(&c);
    oai_buf_init(&rs);
    oai_reasoning_init(&r, false);
    assert_int_equal(oai_reasoning_feed(&r, "Hi <th", 6, &c, &rs), 0);
    assert_string_equal(c.data, "Hi ");
    assert_int_equal(oai_reasoning_feed(&r, "e", 1, &c, &rs), 0);
    assert_string_equal(c.data, "Hi <the"); /* no longer a tag prefix */
    oai_buf_free(&c);
    oai_buf_free(&rs);
}

/* ----------------------------------------------------------------- tools */

static void tools_case(oai_tool_style_t style, const char *text, const json_t *tools,
                       int want_n, const char *want_calls, const char *want_content)
{
    oai_idgen_t g = {.state = 7};
    json_t *calls;
    char *content;
    int n = oai_tools_parse(style, text, strlen(text), tools, &g, &calls, &content);
    assert_int_equal(n, want_n);
    /* ids are random: check their shape, then blank them for comparison. */
    size_t i;
    json_t *c;
    json_array_foreach(calls, i, c) {
        const char *id = json_string_value(json_object_get(c, "id"));
        assert_non_null(id);
        assert_int_equal(strlen(id), 29);
        assert_int_equal(strncmp(id, "call_", 5), 0);
        json_object_set_new(c, "id", json_string("X"));
    }
    check_json(calls, want_calls);
    if (want_content) assert_string_equal(content, want_content);
    else assert_null(content);
    free(content);
}

static void test_tools_json(void **st)
{
    (void)st;
    tools_case(OAI_TOOLS_QWEN3_JSON,
               "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2}}\n</tool_call>\n"
               "<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call>",
               NULL, 2,
               "[{\"id\":\"X\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\": \\\"Paris\\\", \\\"days\\\": 2}\"}},"
               "{\"id\":\"X\",\"type\":\"function\",\"function\":{\"name\":\"now\",\"arguments\":\"{}\"}}]",
               "Let me check.");
    /* No calls: all content. */
    tools_case(OAI_TOOLS_QWEN3_JSON, "just text", NULL, 0, "[]", "just text");
    /* Malformed JSON, missing name, and an unterminated call stay as content. */
    tools_case(OAI_TOOLS_QWEN3_JSON, "<tool_call>{bad json</tool_call>", NULL, 0, "[]",
               "<tool_call>{bad json</tool_call>");
    tools_case(OAI_TOOLS_QWEN3_JSON, "<tool_call>{\"arguments\":{}}</tool_call>", NULL, 0, "[]",
               "<tool_call>{\"arguments\":{}}</tool_call>");
    tools_case(OAI_TOOLS_QWEN3_JSON,
               "<tool_call>{\"name\":\"a\"}</tool_call> mid <tool_call>{\"name\":\"b\"", NULL, 1,
               "[{\"id\":\"X\",\"type\":\"function\",\"function\":{\"name\":\"a\",\"arguments\":\"{}\"}}]",
               "mid <tool_call>{\"name\":\"b\"");
    tools_case(OAI_TOOLS_QWEN3_JSON, "<tool_call>\n</tool_call>", NULL, 0, "[]",
               "<tool_call>\n</tool_call>");
    tools_case(OAI_TOOLS_QWEN3_JSON, "", NULL, 0, "[]", NULL);
}

static void test_tools_xml(void **st)
{
    (void)st;
    json_t *tools = json_loads(
        "[{\"type\":\"function\",\"function\":{\"name\":\"run\",\"parameters\":{\"type\":\"object\",\"properties\":{"
        "\"count\":{\"type\":\"integer\"},\"ratio\":{\"type\":\"number\"},\"force\":{\"type\":\"boolean\"},"
        "\"opts\":{\"type\":\"object\"},\"cmd\":{\"type\":\"string\"},\"bad\":{\"type\":\"integer\"}}}}}]", 0, NULL);
    assert_non_null(tools);
    tools_case(OAI_TOOLS_QWEN3_XML,
               "Running it.\n<tool_call>\n<function=run>\n"
               "<parameter=count>\n3\n</parameter>\n"
               "<parameter=ratio>\n0.5\n</parameter>\n"
               "<parameter=force>\ntrue\n</parameter>\n"
               "<parameter=opts>\n{\"a\": [1]}\n</parameter>\n"
               "<parameter=cmd>\n42\n</parameter>\n"
               "<parameter=bad>\nmany\n</parameter>\n"
               "<parameter=extra>\nline1\nline2\n</parameter>\n"
               "</function>\n</tool_call>",
               tools, 1,
               "[{\"id\":\"X\",\"type\":\"function\",\"function\":{\"name\":\"run\",\"arguments\":"
               "\"{\\\"count\\\": 3, \\\"ratio\\\": 0.5, \\\"force\\\": true, \\\"opts\\\": {\\\"a\\\": [1]}, "
               "\\\"cmd\\\": \\\"42\\\", \\\"bad\\\": \\\"many\\\", \\\"extra\\\": \\\"line1\\\\nline2\\\"}\"}}]",
               "Running it.");
    /* Without a schema every value is a string. */
    tools_case(OAI_TOOLS_QWEN3_XML,
               "<tool_call>\n<function=f>\n<parameter=x>\n1\n</parameter>\n</function>\n</tool_call>"
               "<tool_call><function=g></function></tool_call>",
               NULL, 2,
               "[{\"id\":\"X\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"x\\\": \\\"1\\\"}\"}},"
               "{\"id\":\"X\",\"type\":\"function\",\"function\":{\"name\":\"g\",\"arguments\":\"{}\"}}]",
               NULL);
    /* Malformed: no </function>, no </parameter>, empty name, junk after. */
    const char *bad[] = {
        "<tool_call>\n<function=f>\n<parameter=x>\n1\n</parameter>\n</tool_call>",
        "<tool_call>\n<function=f>\n<parameter=x>\n1\n</function>\n</tool_call>",
        "<tool_call>\n<function=>\n</function>\n</tool_call>",
        "<tool_call>\n<function=f>\n</function>junk</tool_call>",
        "<tool_call>\n<function=f\n</tool_call>",
        "<tool_call><parameter=x>1</parameter></tool_call>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        tools_case(OAI_TOOLS_QWEN3_XML, bad[i], tools, 0, "[]", bad[i]);
    json_decref(tools);
}

/* Every prefix of well-formed output (as when max_tokens cuts a call) must
 * parse without crashing; the sanitizer build catches over-reads. */
static void test_tools_prefixes(void **st)
{
    (void)st;
    const char *texts[] = {
        "a<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": 1}}\n</tool_call>b",
        "a<tool_call>\n<function=f>\n<parameter=x>\n1\n</parameter>\n</function>\n</tool_call>b",
    };
    for (int style = 0; style < 2; style++) {
        size_t n = strlen(texts[style]);
        for (size_t k = 0; k <= n; k++) {
            /* Exact-size heap copy so ASan sees any read past the prefix. */
            char *p = malloc(k ? k : 1);
            assert_non_null(p);
            memcpy(p, texts[style], k);
            oai_idgen_t g = {.state = 1};
            json_t *calls;
            char *content;
            int rc = oai_tools_parse((oai_tool_style_t)style, p, k, NULL, &g, &calls, &content);
            assert_true(rc == 0 || rc == 1);
            assert_int_equal(rc, k >= n - 1 ? 1 : 0);
            json_decref(calls);
            free(content);
            free(p);
        }
    }
}

/* --------------------------------------------------------------- metrics */

static void test_metrics(void **st)
{
    (void)st;
    static const double b[] = {0.1, 1.0};
    uint64_t tc[3] = {0}, ec[3] = {0};
    oai_metrics_t m = {
        .model_name = "qw\"en", .engine = "0",
        .num_requests_running = 2, .num_requests_waiting = 1, .kv_cache_usage_perc = 0.25,
        .prompt_tokens_total = 100, .generation_tokens_total = 50,
        .request_success = {3, 1, 0},
        .ttft = {.bounds = b, .n_bounds = 2, .counts = tc},
        .e2e = {.bounds = b, .n_bounds = 2, .counts = ec},
        .num_preemptions_total = 2, .prefix_cache_queries_total = 64, .prefix_cache_hits_total = 16,
    };
    oai_histogram_observe(&m.ttft, 0.05);
    oai_histogram_observe(&m.ttft, 0.1);  /* le is inclusive */
    oai_histogram_observe(&m.ttft, 0.5);
    oai_histogram_observe(&m.e2e, 3.0);
    char *s = oai_metrics_render(&m);
    assert_non_null(s);
#define L "engine=\"0\",model_name=\"qw\\\"en\""
    assert_string_equal(s,
        "# HELP vllm:num_requests_running Number of requests in model execution batches.\n"
        "# TYPE vllm:num_requests_running gauge\n"
        "vllm:num_requests_running{" L "} 2.0\n"
        "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.\n"
        "# TYPE vllm:num_requests_waiting gauge\n"
        "vllm:num_requests_waiting{" L "} 1.0\n"
        "# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.\n"
        "# TYPE vllm:kv_cache_usage_perc gauge\n"
        "vllm:kv_cache_usage_perc{" L "} 0.25\n"
        "# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.\n"
        "# TYPE vllm:gpu_cache_usage_perc gauge\n"
        "vllm:gpu_cache_usage_perc{" L "} 0.25\n"
        "# HELP vllm:prompt_tokens_total Number of prefill tokens processed.\n"
        "# TYPE vllm:prompt_tokens_total counter\n"
        "vllm:prompt_tokens_total{" L "} 100.0\n"
        "# HELP vllm:generation_tokens_total Number of generation tokens processed.\n"
        "# TYPE vllm:generation_tokens_total counter\n"
        "vllm:generation_tokens_total{" L "} 50.0\n"
        "# HELP vllm:num_preemptions_total Cumulative number of preemption from the engine.\n"
        "# TYPE vllm:num_preemptions_total counter\n"
        "vllm:num_preemptions_total{" L "} 2.0\n"
        "# HELP vllm:prefix_cache_queries_total Prefix cache queries, in terms of number of queried tokens.\n"
        "# TYPE vllm:prefix_cache_queries_total counter\n"
        "vllm:prefix_cache_queries_total{" L "} 64.0\n"
        "# HELP vllm:prefix_cache_hits_total Prefix cache hits, in terms of number of cached tokens.\n"
        "# TYPE vllm:prefix_cache_hits_total counter\n"
        "vllm:prefix_cache_hits_total{" L "} 16.0\n"
        "# HELP vllm:request_success_total Count of successfully processed requests.\n"
        "# TYPE vllm:request_success_total counter\n"
        "vllm:request_success_total{engine=\"0\",finished_reason=\"stop\",model_name=\"qw\\\"en\"} 3.0\n"
        "vllm:request_success_total{engine=\"0\",finished_reason=\"length\",model_name=\"qw\\\"en\"} 1.0\n"
        "vllm:request_success_total{engine=\"0\",finished_reason=\"abort\",model_name=\"qw\\\"en\"} 0.0\n"
        "# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.\n"
        "# TYPE vllm:time_to_first_token_seconds histogram\n"
        "vllm:time_to_first_token_seconds_bucket{engine=\"0\",le=\"0.1\",model_name=\"qw\\\"en\"} 2.0\n"
        "vllm:time_to_first_token_seconds_bucket{engine=\"0\",le=\"1.0\",model_name=\"qw\\\"en\"} 3.0\n"
        "vllm:time_to_first_token_seconds_bucket{engine=\"0\",le=\"+Inf\",model_name=\"qw\\\"en\"} 3.0\n"
        "vllm:time_to_first_token_seconds_count{" L "} 3.0\n"
        "vllm:time_to_first_token_seconds_sum{" L "} 0.65\n"
        "# HELP vllm:e2e_request_latency_seconds Histogram of e2e request latency in seconds.\n"
        "# TYPE vllm:e2e_request_latency_seconds histogram\n"
        "vllm:e2e_request_latency_seconds_bucket{engine=\"0\",le=\"0.1\",model_name=\"qw\\\"en\"} 0.0\n"
        "vllm:e2e_request_latency_seconds_bucket{engine=\"0\",le=\"1.0\",model_name=\"qw\\\"en\"} 0.0\n"
        "vllm:e2e_request_latency_seconds_bucket{engine=\"0\",le=\"+Inf\",model_name=\"qw\\\"en\"} 1.0\n"
        "vllm:e2e_request_latency_seconds_count{" L "} 1.0\n"
        "vllm:e2e_request_latency_seconds_sum{" L "} 3.0\n");
    free(s);
    /* llama mode appends llama-server's unlabelled names. */
    m.llama = true;
    s = oai_metrics_render(&m);
    assert_non_null(s);
    assert_non_null(strstr(s, "vllm:num_requests_running{"));
    assert_non_null(strstr(s,
        "# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed.\n"
        "# TYPE llamacpp:prompt_tokens_total counter\nllamacpp:prompt_tokens_total 100\n"
        "# HELP llamacpp:tokens_predicted_total Number of generation tokens processed.\n"
        "# TYPE llamacpp:tokens_predicted_total counter\nllamacpp:tokens_predicted_total 50\n"
        "# HELP llamacpp:requests_processing Number of requests processing.\n"
        "# TYPE llamacpp:requests_processing gauge\nllamacpp:requests_processing 2\n"
        "# HELP llamacpp:requests_deferred Number of requests deferred.\n"
        "# TYPE llamacpp:requests_deferred gauge\nllamacpp:requests_deferred 1\n"));
    free(s);
    assert_int_equal(oai_ttft_n_buckets, 22);
    assert_int_equal(oai_e2e_n_buckets, 21);
}

/* ----------------------------------------------------- streamed tool calls */

/* Feeds text to the streaming parser in pieces of `step` bytes (0: one piece
 * per byte boundary chosen by a simple LCG from `seed`), then checks the
 * concatenated content and the calls (ids blanked). */
static void tool_stream_case(oai_tool_style_t style, const char *text, size_t step, unsigned seed,
                             const json_t *tools, const char *want_calls, const char *want_content)
{
    oai_idgen_t g = {.state = 3};
    oai_tool_stream_t ts;
    oai_tool_stream_init(&ts, style, tools, &g);
    oai_buf_t content;
    oai_buf_init(&content);
    json_t *calls = json_array();
    size_t n = strlen(text), i = 0;
    while (i < n) {
        size_t k = step;
        if (!k) { seed = seed * 1103515245u + 12345u; k = 1 + (seed >> 16) % 7; }
        if (k > n - i) k = n - i;
        assert_int_equal(oai_tool_stream_feed(&ts, text + i, k, &content, calls), 0);
        i += k;
    }
    assert_int_equal(oai_tool_stream_flush(&ts, &content, calls), 0);
    assert_int_equal(ts.n_calls, (int)json_array_size(calls));
    size_t x;
    json_t *c;
    json_array_foreach(calls, x, c) json_object_set_new(c, "id", json_string("X"));
    check_json(calls, want_calls);
    assert_string_equal(content.data ? content.data : "", want_content);
    oai_buf_free(&content);
    oai_tool_stream_free(&ts);
}

static void test_tool_stream(void **st)
{
    (void)st;
    json_t *tools = json_loads(
        "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\",\"properties\":{"
        "\"city\":{\"type\":\"string\"},\"days\":{\"type\":\"integer\"},\"metric\":{\"type\":\"boolean\"},"
        "\"hours\":{\"type\":\"array\"}}}}}]", 0, NULL);
    assert_non_null(tools);
    const char *json_text =
        "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2}}\n</tool_call>\n"
        "<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call>";
    const char *json_calls =
        "[{\"id\":\"X\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\": \\\"Paris\\\", \\\"days\\\": 2}\"}},"
        "{\"id\":\"X\",\"type\":\"function\",\"function\":{\"name\":\"now\",\"arguments\":\"{}\"}}]";
    const char *xml_text =
        "I will call it.\n\n<tool_call>\n<function=get_weather>\n<parameter=city>\nSan Francisco\n</parameter>\n"
        "<parameter=days>\n3\n</parameter>\n<parameter=metric>\nfalse\n</parameter>\n"
        "<parameter=hours>\n[1, 2]\n</parameter>\n</function>\n</tool_call>";
    const char *xml_calls =
        "[{\"id\":\"X\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":"
        "\"{\\\"city\\\": \\\"San Francisco\\\", \\\"days\\\": 3, \\\"metric\\\": false, \\\"hours\\\": [1, 2]}\"}}]";
    for (size_t step = 0; step <= 13; step++) {
        for (unsigned seed = 1; seed <= (step ? 1u : 20u); seed++) {
            tool_stream_case(OAI_TOOLS_QWEN3_JSON, json_text, step, seed, tools, json_calls, "Let me check.");
            tool_stream_case(OAI_TOOLS_AUTO, json_text, step, seed, tools, json_calls, "Let me check.");
            tool_stream_case(OAI_TOOLS_QWEN3_XML, xml_text, step, seed, tools, xml_calls, "I will call it.");
            tool_stream_case(OAI_TOOLS_AUTO, xml_text, step, seed, tools, xml_calls, "I will call it.");
            /* Text around and between calls keeps its interior whitespace. */
            tool_stream_case(OAI_TOOLS_AUTO,
                             "\n\nA <tool_call>{\"name\":\"a\"}</tool_call>\n mid \n<tool_call>bad</tool_call> end\n",
                             step, seed, NULL,
                             "[{\"id\":\"X\",\"type\":\"function\",\"function\":{\"name\":\"a\",\"arguments\":\"{}\"}}]",
                             "A \n mid \n<tool_call>bad</tool_call> end");
            /* Near-tags are text; an unterminated block is text at the end. */
            tool_stream_case(OAI_TOOLS_AUTO, "x <tool_cal y </tool_call> <tool_call>{\"name\":", step, seed, NULL,
                             "[]", "x <tool_cal y </tool_call> <tool_call>{\"name\":");
            tool_stream_case(OAI_TOOLS_AUTO, "<<tool_call>{\"name\":\"b\",\"arguments\":{\"q\":[1]}}</tool_call><", step,
                             seed, NULL,
                             "[{\"id\":\"X\",\"type\":\"function\",\"function\":{\"name\":\"b\",\"arguments\":\"{\\\"q\\\": [1]}\"}}]",
                             "<<");
            /* The JSON parser does not take XML bodies, nor XML JSON ones. */
            tool_stream_case(OAI_TOOLS_QWEN3_JSON, "<tool_call><function=f></function></tool_call>", step, seed, NULL,
                             "[]", "<tool_call><function=f></function></tool_call>");
            tool_stream_case(OAI_TOOLS_QWEN3_XML, "<tool_call>{\"name\":\"f\"}</tool_call>", step, seed, NULL, "[]",
                             "<tool_call>{\"name\":\"f\"}</tool_call>");
        }
    }

    /* Content streams as it comes: only a possible tag start or trailing
     * whitespace is held back. */
    oai_idgen_t g = {.state = 1};
    oai_tool_stream_t ts;
    oai_tool_stream_init(&ts, OAI_TOOLS_AUTO, NULL, &g);
    oai_buf_t out;
    oai_buf_init(&out);
    json_t *calls = json_array();
    assert_int_equal(oai_tool_stream_feed(&ts, "Hello <b>wor", 12, &out, calls), 0);
    assert_string_equal(out.data, "Hello <b>wor");
    assert_int_equal(oai_tool_stream_feed(&ts, "ld <tool", 8, &out, calls), 0);
    assert_string_equal(out.data, "Hello <b>world"); /* " <tool" held */
    assert_int_equal(oai_tool_stream_feed(&ts, "_call>\n{\"name\": \"f\", ", 21, &out, calls), 0);
    assert_string_equal(out.data, "Hello <b>world");
    assert_int_equal(json_array_size(calls), 0);
    assert_int_equal(oai_tool_stream_feed(&ts, "\"arguments\": {}}\n</tool_c", 25, &out, calls), 0);
    assert_int_equal(json_array_size(calls), 0);
    assert_int_equal(oai_tool_stream_feed(&ts, "all>", 4, &out, calls), 0);
    assert_int_equal(json_array_size(calls), 1); /* complete: out at once */
    assert_int_equal(oai_tool_stream_flush(&ts, &out, calls), 0);
    assert_string_equal(out.data, "Hello <b>world");
    json_decref(calls);
    oai_buf_free(&out);
    oai_tool_stream_free(&ts);

    assert_int_equal(oai_tool_style_from_name("auto"), OAI_TOOLS_AUTO);
    assert_int_equal(oai_tool_style_from_name("hermes"), OAI_TOOLS_QWEN3_JSON);
    assert_int_equal(oai_tool_style_from_name("qwen3_coder"), OAI_TOOLS_QWEN3_XML);
    assert_int_equal(oai_tool_style_from_name("pythonic"), -1);
    json_decref(tools);
}

/* -------------------------------------------------------------- logprobs */

/* A fake vocabulary: id 1 "Hello", 2 " wor", 3 "ld", 4 "\xE4" and 6 "\xE5"
 * (first bytes of three-byte characters), 5 "é", anything else fails. */
static int fake_bytes(void *user, int32_t id, oai_buf_t *out)
{
    (void)user;
    static const char *const vocab[] = {NULL, "Hello", " wor", "ld", "\xE4", "\xC3\xA9", "\xE5"};
    if (id < 1 || id > 6) return SC_EINVAL;
    return oai_buf_append(out, vocab[id], strlen(vocab[id]));
}

static void test_logprobs(void **st)
{
    (void)st;
    oai_lp_step_t s[3];
    memset(s, 0, sizeof s);
    s[0].token = 1; s[0].logprob = -0.5f; s[0].n_top = 2;
    s[0].top_ids[0] = 1; s[0].top_logprobs[0] = -0.5f;
    s[0].top_ids[1] = 5; s[0].top_logprobs[1] = -1.0f;
    s[1].token = 4; s[1].logprob = -2.0f; s[1].n_top = 1;
    s[1].top_ids[0] = 99; s[1].top_logprobs[0] = -INFINITY; /* undecodable id, -inf */
    s[2].token = 5; s[2].logprob = NAN; s[2].n_top = 0;
    check_json(oai_logprobs_chat(oai_logprobs_chat_content(s, 3, 2, fake_bytes, NULL)),
        "{\"content\":["
        "{\"token\":\"Hello\",\"logprob\":-0.5,\"bytes\":[72,101,108,108,111],\"top_logprobs\":["
        "{\"token\":\"Hello\",\"logprob\":-0.5,\"bytes\":[72,101,108,108,111]},"
        "{\"token\":\"\xC3\xA9\",\"logprob\":-1.0,\"bytes\":[195,169]}]},"
        "{\"token\":\"\xEF\xBF\xBD\",\"logprob\":-2.0,\"bytes\":[228],\"top_logprobs\":["
        "{\"token\":\"\",\"logprob\":-9999.0,\"bytes\":[]}]},"
        "{\"token\":\"\xC3\xA9\",\"logprob\":-9999.0,\"bytes\":[195,169],\"top_logprobs\":[]}]}");
    /* top_logprobs 0: the sampled token's entry, no alternatives. */
    check_json(oai_logprobs_chat(oai_logprobs_chat_content(s, 1, 0, fake_bytes, NULL)),
        "{\"content\":[{\"token\":\"Hello\",\"logprob\":-0.5,\"bytes\":[72,101,108,108,111],\"top_logprobs\":[]}]}");

    /* Completions: sampled token first in each dict; offsets in code points. */
    oai_lp_step_t c[3];
    memset(c, 0, sizeof c);
    c[0].token = 1; c[0].logprob = -0.25f; c[0].n_top = 2;
    c[0].top_ids[0] = 2; c[0].top_logprobs[0] = -0.125f;
    c[0].top_ids[1] = 1; c[0].top_logprobs[1] = -0.25f;
    c[1].token = 5; c[1].logprob = -1.5f;
    c[2].token = 3; c[2].logprob = -3.0f; c[2].n_top = 1;
    c[2].top_ids[0] = 3; c[2].top_logprobs[0] = -3.0f;
    int64_t off = 10;
    check_json(oai_logprobs_completion(c, 3, 1, &off, fake_bytes, NULL),
        "{\"tokens\":[\"Hello\",\"\xC3\xA9\",\"ld\"],\"token_logprobs\":[-0.25,-1.5,-3.0],"
        "\"top_logprobs\":[{\"Hello\":-0.25,\" wor\":-0.125},{\"\xC3\xA9\":-1.5},{\"ld\":-3.0}],"
        "\"text_offset\":[10,15,16]}");
    assert_int_equal(off, 18);
    /* Texts that collide: the sampled token keeps its own logprob. */
    oai_lp_step_t col = {.token = 4, .logprob = -1.5f, .n_top = 2, .top_ids = {6, 4}, .top_logprobs = {-0.5f, -1.5f}};
    off = 0;
    check_json(oai_logprobs_completion(&col, 1, 2, &off, fake_bytes, NULL),
        "{\"tokens\":[\"\xEF\xBF\xBD\"],\"token_logprobs\":[-1.5],\"top_logprobs\":[{\"\xEF\xBF\xBD\":-1.5}],"
        "\"text_offset\":[0]}");

    size_t chars = 0;
    char *u = oai_utf8_lossy("a\xC3\xA9\xFF\xE2\x82", 6, &chars);
    assert_string_equal(u, "a\xC3\xA9\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    assert_int_equal(chars, 5);
    free(u);
    assert_true(oai_logprob_value(-INFINITY) == -9999.0);
    assert_true(oai_logprob_value(-0.5f) == -0.5);
}

/* ------------------------------------------------- response additions */

static void test_response_choices(void **st)
{
    (void)st;
    oai_resp_ctx_t c = ctx(OAI_FLAVOR_VLLM, "chatcmpl-3");
    c.prompt_tokens_details = true;
    json_t *lp = json_loads("{\"content\":[]}", 0, NULL);
    oai_choice_t ch[2] = {
        {.content = "a", .finish_reason = "stop", .logprobs = lp},
        {.content = "b", .finish_reason = "length"},
    };
    oai_usage_t u = {.prompt_tokens = 7, .completion_tokens = 4, .cached_tokens = 0};
    check_json(oai_chat_completion(&c, ch, 2, &u),
        "{\"id\":\"chatcmpl-3\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":\"qwen3\","
        "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"a\"},\"logprobs\":{\"content\":[]},"
        "\"finish_reason\":\"stop\",\"stop_reason\":null},"
        "{\"index\":1,\"message\":{\"role\":\"assistant\",\"content\":\"b\"},\"logprobs\":null,"
        "\"finish_reason\":\"length\",\"stop_reason\":null}],"
        "\"usage\":{\"prompt_tokens\":7,\"total_tokens\":11,\"completion_tokens\":4,\"prompt_tokens_details\":{\"cached_tokens\":0}}}");
    json_decref(lp);

    c = ctx(OAI_FLAVOR_VLLM, "cmpl-2");
    check_json(oai_chunk_set_logprobs(oai_text_chunk(&c, 3, "x", NULL, NULL), json_pack("{s:[]}", "tokens")),
        "{\"id\":\"cmpl-2\",\"object\":\"text_completion\",\"created\":1700000000,\"model\":\"qwen3\","
        "\"choices\":[{\"index\":3,\"text\":\"x\",\"logprobs\":{\"tokens\":[]},\"finish_reason\":null,\"stop_reason\":null}]}");
    check_json(oai_chunk_set_logprobs(oai_chunk_finish(&c, 1, "stop", NULL), NULL),
        "{\"id\":\"cmpl-2\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"qwen3\","
        "\"choices\":[{\"index\":1,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\",\"stop_reason\":null}]}");
    c.prompt_tokens_details = true;
    u.cached_tokens = 3;
    check_json(oai_text_chunk_usage(&c, &u),
        "{\"id\":\"cmpl-2\",\"object\":\"text_completion\",\"created\":1700000000,\"model\":\"qwen3\",\"choices\":[],"
        "\"usage\":{\"prompt_tokens\":7,\"total_tokens\":11,\"completion_tokens\":4,\"prompt_tokens_details\":{\"cached_tokens\":3}}}");
    json_t *tc = json_loads("[{\"id\":\"call_9\",\"type\":\"function\",\"function\":{\"name\":\"g\",\"arguments\":\"{}\"}}]", 0, NULL);
    check_json(oai_tool_call_deltas_at(tc, 2),
        "[{\"id\":\"call_9\",\"type\":\"function\",\"function\":{\"name\":\"g\",\"arguments\":\"{}\"},\"index\":2}]");
    json_decref(tc);
}

/* ------------------------------------------------------------------ CORS */

static const char *hval(const oai_cors_result_t *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->h[i].name, name)) return r->h[i].value;
    return NULL;
}

static void cors_init(oai_cors_t *c, const char *settings, bool llama)
{
    json_t *s = json_loads(settings, 0, NULL);
    char err[128];
    assert_non_null(s);
    assert_int_equal(oai_cors_init(c, s, llama, err, sizeof err), 0);
    json_decref(s);
}

static void test_cors(void **st)
{
    (void)st;
    oai_cors_t c;
    oai_cors_result_t r;

    /* vLLM's defaults: everything allowed, "*" origins, no credentials. */
    cors_init(&c, "{}", false);
    assert_int_equal(oai_cors_apply(&c, "OPTIONS", "http://a.test", "POST", "Authorization, Content-Type", false, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "OK");
    assert_string_equal(hval(&r, "Access-Control-Allow-Origin"), "*");
    assert_string_equal(hval(&r, "Access-Control-Allow-Methods"), "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT");
    assert_string_equal(hval(&r, "Access-Control-Max-Age"), "600");
    assert_string_equal(hval(&r, "Access-Control-Allow-Headers"), "Authorization, Content-Type"); /* mirrored */
    assert_null(hval(&r, "Access-Control-Allow-Credentials"));
    assert_null(hval(&r, "Vary"));
    oai_cors_result_free(&r);
    assert_int_equal(oai_cors_apply(&c, "POST", "http://a.test", NULL, NULL, false, &r), 0);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.n, 1);
    assert_string_equal(hval(&r, "Access-Control-Allow-Origin"), "*");
    oai_cors_result_free(&r);
    /* Under "*", a request with a cookie gets its origin echoed. */
    assert_int_equal(oai_cors_apply(&c, "GET", "http://a.test", NULL, NULL, true, &r), 0);
    assert_string_equal(hval(&r, "Access-Control-Allow-Origin"), "http://a.test");
    assert_string_equal(hval(&r, "Vary"), "Origin");
    oai_cors_result_free(&r);
    /* No Origin: not CORS at all; OPTIONS without the request method: not a preflight. */
    assert_int_equal(oai_cors_apply(&c, "POST", NULL, NULL, NULL, false, &r), 0);
    assert_int_equal(r.n, 0);
    oai_cors_result_free(&r);
    assert_int_equal(oai_cors_apply(&c, "OPTIONS", "http://a.test", NULL, NULL, false, &r), 0);
    assert_int_equal(r.status, 0);
    oai_cors_result_free(&r);
    oai_cors_free(&c);

    /* A list of origins (as vLLM's JSON flag), credentials, some methods and headers. */
    cors_init(&c, "{\"allowed_origins\":\"[\\\"http://ok.test\\\"]\",\"allow_credentials\":true,"
                  "\"allowed_methods\":[\"GET\",\"POST\"],\"allowed_headers\":[\"Authorization\"]}", false);
    assert_int_equal(oai_cors_apply(&c, "OPTIONS", "http://ok.test", "POST", "authorization,content-type", false, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(hval(&r, "Access-Control-Allow-Origin"), "http://ok.test");
    assert_string_equal(hval(&r, "Vary"), "Origin");
    assert_string_equal(hval(&r, "Access-Control-Allow-Methods"), "GET, POST");
    assert_string_equal(hval(&r, "Access-Control-Allow-Headers"),
                        "Accept, Accept-Language, Authorization, Content-Language, Content-Type");
    assert_string_equal(hval(&r, "Access-Control-Allow-Credentials"), "true");
    oai_cors_result_free(&r);
    assert_int_equal(oai_cors_apply(&c, "OPTIONS", "http://evil.test", "POST", NULL, false, &r), 0);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "Disallowed CORS origin");
    assert_null(hval(&r, "Access-Control-Allow-Origin"));
    oai_cors_result_free(&r);
    assert_int_equal(oai_cors_apply(&c, "OPTIONS", "http://ok.test", "DELETE", "X-Custom", false, &r), 0);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "Disallowed CORS method, headers");
    oai_cors_result_free(&r);
    assert_int_equal(oai_cors_apply(&c, "POST", "http://ok.test", NULL, NULL, false, &r), 0);
    assert_string_equal(hval(&r, "Access-Control-Allow-Origin"), "http://ok.test");
    assert_string_equal(hval(&r, "Access-Control-Allow-Credentials"), "true");
    oai_cors_result_free(&r);
    /* A disallowed origin's request gets no Allow-Origin. */
    assert_int_equal(oai_cors_apply(&c, "POST", "http://evil.test", NULL, NULL, false, &r), 0);
    assert_null(hval(&r, "Access-Control-Allow-Origin"));
    oai_cors_result_free(&r);
    oai_cors_free(&c);

    /* llama-server: echo the origin; every OPTIONS answered. */
    cors_init(&c, "{}", true);
    assert_int_equal(oai_cors_apply(&c, "OPTIONS", "http://x.test", NULL, NULL, false, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(hval(&r, "Access-Control-Allow-Origin"), "http://x.test");
    assert_string_equal(hval(&r, "Access-Control-Allow-Credentials"), "true");
    assert_string_equal(hval(&r, "Access-Control-Allow-Methods"), "GET, POST");
    assert_string_equal(hval(&r, "Access-Control-Allow-Headers"), "*");
    oai_cors_result_free(&r);
    assert_int_equal(oai_cors_apply(&c, "GET", "http://x.test", NULL, NULL, false, &r), 0);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.n, 1);
    oai_cors_result_free(&r);
    oai_cors_free(&c);

    json_t *bad = json_loads("{\"allowed_origins\":5}", 0, NULL);
    char err[128];
    assert_int_equal(oai_cors_init(&c, bad, false, err, sizeof err), SC_EINVAL);
    assert_non_null(strstr(err, "allowed_origins"));
    json_decref(bad);
}

/* -------------------------------------------------------------- settings */

static void test_settings(void **st)
{
    (void)st;
    oai_settings_t s;
    char err[256];
    assert_int_equal(oai_settings_parse(&s, NULL, err, sizeof err), 0);
    assert_string_equal(s.host, "0.0.0.0");
    assert_int_equal(s.port, 8000);
    assert_int_equal(s.flavor, OAI_FLAVOR_VLLM);
    assert_false(s.prompt_tokens_details);
    assert_true(s.auto_tool_choice);
    assert_int_equal(s.tool_parser, OAI_TOOLS_AUTO);
    assert_int_equal(s.max_n, 128);
    assert_true(s.cors.all_origins && !s.cors.credentials);
    oai_settings_free(&s);

    assert_int_equal(oai_settings_parse(&s,
        "{\"host\":\"127.0.0.1\",\"port\":0,\"compat\":\"llama\",\"served_model_name\":\"m\",\"model\":\"/models/x\","
        "\"api_keys\":[\"k1\",\"\",\"k2\"],\"enable_prompt_tokens_details\":true,\"enable_auto_tool_choice\":false,"
        "\"tool_call_parser\":\"qwen3_coder\",\"max_n\":4,\"max_num_seqs\":8,\"allowed_origins\":[\"http://a\"],"
        "\"unknown\":1}", err, sizeof err), 0);
    assert_string_equal(s.host, "127.0.0.1");
    assert_int_equal(s.port, 0);
    assert_int_equal(s.flavor, OAI_FLAVOR_LLAMA);
    assert_string_equal(s.served_model_name, "m");
    assert_string_equal(s.model_path, "/models/x");
    assert_int_equal(s.n_keys, 2); /* empty keys are dropped */
    assert_string_equal(s.keys[1], "k2");
    assert_true(s.prompt_tokens_details && !s.auto_tool_choice);
    assert_int_equal(s.tool_parser, OAI_TOOLS_QWEN3_XML);
    assert_int_equal(s.max_n, 4);
    assert_int_equal(s.max_num_seqs, 8);
    assert_true(s.cors.llama && !s.cors.all_origins);
    oai_settings_free(&s);

    const char *bad[][2] = {
        {"[1]", "settings"},
        {"{\"port\":70000}", "port"},
        {"{\"compat\":\"sglang\"}", "compat"},
        {"{\"tool_call_parser\":\"pythonic\"}", "tool_call_parser"},
        {"{\"enable_prompt_tokens_details\":\"yes\"}", "enable_prompt_tokens_details"},
        {"{\"api_keys\":[1]}", "api_keys"},
        {"{\"allow_credentials\":1}", "allow_credentials"},
        {"{\"max_n\":0}", "max_n"},
        {"{", "settings"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_int_equal(oai_settings_parse(&s, bad[i][0], err, sizeof err), SC_EINVAL);
        assert_non_null(strstr(err, bad[i][1]));
        oai_settings_free(&s); /* safe after a failure */
    }
}

/* ----------------------------------------------------------- llama extras */

static void test_llama(void **st)
{
    (void)st;
    oai_defaults_t d;
    oai_defaults_init(&d);
    d.temperature = 0.5;
    oai_llama_info_t in = {.n_ctx = 256, .total_slots = 3, .busy_slots = 1, .model_path = "/m/qwen",
                           .model_alias = "tiny", .chat_template = "", .build_info = "strixcore-1",
                           .defaults = &d, .slots_endpoint = true};
    json_t *p = oai_llama_props(&in);
    assert_non_null(p);
    json_t *dg = json_object_get(p, "default_generation_settings");
    assert_int_equal(json_integer_value(json_object_get(dg, "n_ctx")), 256);
    assert_true(json_real_value(json_object_get(json_object_get(dg, "params"), "temperature")) == 0.5);
    assert_int_equal(json_integer_value(json_object_get(p, "total_slots")), 3);
    assert_string_equal(json_string_value(json_object_get(p, "model_path")), "/m/qwen");
    assert_string_equal(json_string_value(json_object_get(p, "chat_template")), "");
    assert_string_equal(json_string_value(json_object_get(p, "build_info")), "strixcore-1");
    assert_true(json_is_false(json_object_get(json_object_get(p, "modalities"), "vision")));
    json_decref(p);

    json_t *s = oai_llama_slots(&in);
    assert_int_equal(json_array_size(s), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *x = json_array_get(s, i);
        assert_int_equal(json_integer_value(json_object_get(x, "id")), (json_int_t)i);
        assert_int_equal(json_integer_value(json_object_get(x, "n_ctx")), 256);
        assert_true(json_is_boolean(json_object_get(x, "is_processing")));
        assert_int_equal(json_is_true(json_object_get(x, "is_processing")), i == 0);
        assert_true(json_is_object(json_object_get(x, "params")));
    }
    json_decref(s);
}

/* ------------------------------------------------------- n and logprobs */

static void test_request_n_logprobs(void **st)
{
    (void)st;
    oai_request_t r;
    oai_err_t e;
    assert_int_equal(parse(&r, OAI_REQ_CHAT, "{" MSG ",\"n\":3,\"logprobs\":true,\"top_logprobs\":20}", &e), 0);
    assert_int_equal(r.n, 3);
    assert_true(r.logprobs);
    assert_int_equal(r.top_logprobs, 20);
    oai_request_free(&r);
    assert_int_equal(parse(&r, OAI_REQ_CHAT, "{" MSG ",\"logprobs\":true}", &e), 0);
    assert_true(r.logprobs);
    assert_int_equal(r.top_logprobs, 0);
    oai_request_free(&r);
    expect_400(OAI_REQ_CHAT, "{" MSG ",\"logprobs\":true,\"top_logprobs\":21}", "top_logprobs",
               "top_logprobs must be between 0 and 20, got 21.");
    expect_400(OAI_REQ_COMPLETION, "{\"prompt\":\"a\",\"logprobs\":21}", "logprobs",
               "logprobs must be between 0 and 20, got 21.");
    assert_int_equal(parse(&r, OAI_REQ_COMPLETION, "{\"prompt\":[\"a\",\"b\"],\"n\":2,\"logprobs\":0}", &e), 0);
    assert_int_equal(r.n_prompts, 2);
    assert_int_equal(r.n, 2);
    assert_true(r.logprobs);
    assert_int_equal(r.top_logprobs, 0);
    oai_request_free(&r);
    /* The limit comes from the server's defaults. */
    oai_defaults_t d;
    oai_defaults_init(&d);
    d.max_n = 4;
    const char *b = "{" MSG ",\"n\":5}";
    assert_int_equal(oai_request_parse_bytes(&r, OAI_REQ_CHAT, b, strlen(b), &d, &e), SC_EINVAL);
    assert_string_equal(e.param, "n");
    assert_string_equal(e.message, "n must be at most 4, got 5.");
    oai_request_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_request_chat_full),
        cmocka_unit_test(test_request_chat_defaults),
        cmocka_unit_test(test_request_bad),
        cmocka_unit_test(test_request_completion),
        cmocka_unit_test(test_response_bodies),
        cmocka_unit_test(test_response_stream),
        cmocka_unit_test(test_reasoning),
        cmocka_unit_test(test_tools_json),
        cmocka_unit_test(test_tools_xml),
        cmocka_unit_test(test_tools_prefixes),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_tool_stream),
        cmocka_unit_test(test_logprobs),
        cmocka_unit_test(test_response_choices),
        cmocka_unit_test(test_cors),
        cmocka_unit_test(test_settings),
        cmocka_unit_test(test_llama),
        cmocka_unit_test(test_request_n_logprobs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
