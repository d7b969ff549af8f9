/* Tests for the OpenAI / vLLM protocol layer (plugins/openai/proto). Bodies
 * are compared as exact compact JSON (jansson keeps insertion order), so a
 * change in field order or naming shows up here before a client sees it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <strixcore/plugin.h>

#include "oai_buf.h"
#include "oai_errors.h"
#include "oai_metrics.h"
#include "oai_reasoning.h"
#include "oai_request.h"
#include "oai_response.h"
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
        "# HELP vllm:prompt_tokens_total Number of prefill tokens processed.\n"
        "# TYPE vllm:prompt_tokens_total counter\n"
        "vllm:prompt_tokens_total{" L "} 100.0\n"
        "# HELP vllm:generation_tokens_total Number of generation tokens processed.\n"
        "# TYPE vllm:generation_tokens_total counter\n"
        "vllm:generation_tokens_total{" L "} 50.0\n"
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
    assert_int_equal(oai_ttft_n_buckets, 22);
    assert_int_equal(oai_e2e_n_buckets, 21);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
