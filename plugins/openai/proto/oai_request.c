#include "oai_request.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strixcore/plugin.h>

void oai_defaults_init(oai_defaults_t *d)
{
    d->temperature = 1.0;
    d->top_p = 1.0;
    d->top_k = 0;
    d->min_p = 0.0;
    d->repetition_penalty = 1.0;
    d->presence_penalty = 0.0;
    d->frequency_penalty = 0.0;
    d->max_n = 128;
    d->max_top_logprobs = 20;
    d->completion_max_tokens = 16;
}

/* Field getters. JSON null counts as absent, as pydantic's Optional fields do.
 * Return 1 when set, 0 when absent, SC_EINVAL on a type error. */
static int get_number(const json_t *o, const char *k, double *v, oai_err_t *e)
{
    json_t *j = json_object_get(o, k);
    if (!j || json_is_null(j)) return 0;
    if (!json_is_number(j))
        return oai_err_set(e, 400, k, "%s: Input should be a valid number", k);
    *v = json_number_value(j);
    return 1;
}

static int as_int64(const json_t *j, int64_t *v)
{
    if (json_is_integer(j)) { *v = json_integer_value(j); return 1; }
    /* pydantic's lax mode accepts 2.0 for an int field, but not 2.5. */
    if (json_is_real(j)) {
        double d = json_real_value(j);
        if (d == floor(d) && fabs(d) < 9.0e15) { *v = (int64_t)d; return 1; }
    }
    return 0;
}

static int get_int(const json_t *o, const char *k, int64_t *v, oai_err_t *e)
{
    json_t *j = json_object_get(o, k);
    if (!j || json_is_null(j)) return 0;
    if (json_is_boolean(j) || !as_int64(j, v))
        return oai_err_set(e, 400, k, "%s: Input should be a valid integer", k);
    return 1;
}

static int get_bool(const json_t *o, const char *k, bool *v, oai_err_t *e)
{
    json_t *j = json_object_get(o, k);
    if (!j || json_is_null(j)) return 0;
    if (!json_is_boolean(j))
        return oai_err_set(e, 400, k, "%s: Input should be a valid boolean", k);
    *v = json_is_true(j);
    return 1;
}

static int get_string(const json_t *o, const char *k, const char **v, oai_err_t *e)
{
    json_t *j = json_object_get(o, k);
    if (!j || json_is_null(j)) return 0;
    if (!json_is_string(j))
        return oai_err_set(e, 400, k, "%s: Input should be a valid string", k);
    *v = json_string_value(j);
    return 1;
}

#define TRY(x) do { int rc_ = (x); if (rc_ < 0) return rc_; } while (0)

static int parse_stop(oai_request_t *r, const json_t *body, oai_err_t *e)
{
    json_t *j = json_object_get(body, "stop");
    if (!j || json_is_null(j)) return 0;
    size_t n = json_is_string(j) ? 1 : json_is_array(j) ? json_array_size(j) : (size_t)-1;
    if (n == (size_t)-1)
        return oai_err_set(e, 400, "stop", "stop: Input should be a valid string or list of strings");
    if (n == 0) return 0;
    r->stop = calloc(n, sizeof *r->stop);
    if (!r->stop) return SC_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_is_string(j) ? j : json_array_get(j, i);
        if (!json_is_string(s))
            return oai_err_set(e, 400, "stop", "stop.%zu: Input should be a valid string", i);
        r->stop[i] = strdup(json_string_value(s));
        if (!r->stop[i]) return SC_ENOMEM;
        r->n_stop = i + 1;
    }
    return 0;
}

/* A list of non-negative token ids; 'what' names the field in errors. */
static int parse_ids(const json_t *a, int32_t **out, size_t *n_out, const char *what, oai_err_t *e)
{
    size_t n = json_array_size(a);
    *out = NULL;
    *n_out = 0;
    if (n == 0) return 0;
    int32_t *ids = malloc(n * sizeof *ids);
    if (!ids) return SC_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int64_t v;
        json_t *x = json_array_get(a, i);
        if (!json_is_integer(x) || !as_int64(x, &v) || v < 0 || v > INT32_MAX) {
            free(ids);
            return oai_err_set(e, 400, what, "%s.%zu: Input should be a valid token id", what, i);
        }
        ids[i] = (int32_t)v;
    }
    *out = ids;
    *n_out = n;
    return 0;
}

/* /v1/completions prompt: string | [string] | [int] | [[int]]. */
static int parse_prompt(oai_request_t *r, const json_t *body, oai_err_t *e)
{
    json_t *p = json_object_get(body, "prompt");
    if (!p || json_is_null(p))
        return oai_err_set(e, 400, "prompt", "prompt: Field required");
    if (json_is_string(p)) {
        r->prompts = calloc(1, sizeof *r->prompts);
        if (!r->prompts) return SC_ENOMEM;
        r->n_prompts = 1;
        r->prompts[0].text = strdup(json_string_value(p));
        return r->prompts[0].text ? 0 : SC_ENOMEM;
    }
    if (!json_is_array(p) || json_array_size(p) == 0)
        return oai_err_set(e, 400, "prompt", "prompt: Prompt should be a non-empty string, "
                           "list of strings, list of token ids or list of token id lists");
    json_t *first = json_array_get(p, 0);
    if (json_is_integer(first)) { /* one tokenized prompt */
        r->prompts = calloc(1, sizeof *r->prompts);
        if (!r->prompts) return SC_ENOMEM;
        r->n_prompts = 1;
        return parse_ids(p, &r->prompts[0].tokens, &r->prompts[0].n_tokens, "prompt", e);
    }
    size_t n = json_array_size(p);
    r->prompts = calloc(n, sizeof *r->prompts);
    if (!r->prompts) return SC_ENOMEM;
    r->n_prompts = n;
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(p, i);
        if (json_is_string(x)) {
            r->prompts[i].text = strdup(json_string_value(x));
            if (!r->prompts[i].text) return SC_ENOMEM;
        } else if (json_is_array(x) && json_array_size(x) > 0) {
            TRY(parse_ids(x, &r->prompts[i].tokens, &r->prompts[i].n_tokens, "prompt", e));
        } else {
            return oai_err_set(e, 400, "prompt", "prompt.%zu: Input should be a valid string "
                               "or a non-empty list of token ids", i);
        }
    }
    return 0;
}

/* Chat messages: a non-empty list of objects with a string role. Input
 * 'reasoning_content' (llama.cpp, older vLLM) is renamed to 'reasoning',
 * as vLLM does since PR #42664. */
static int parse_messages(oai_request_t *r, const json_t *body, oai_err_t *e)
{
    json_t *m = json_object_get(body, "messages");
    if (!m || json_is_null(m))
        return oai_err_set(e, 400, "messages", "messages: Field required");
    if (!json_is_array(m) || json_array_size(m) == 0)
        return oai_err_set(e, 400, "messages", "messages: Input should be a non-empty list");
    r->messages = json_deep_copy(m);
    if (!r->messages) return SC_ENOMEM;
    size_t i;
    json_t *msg;
    json_array_foreach(r->messages, i, msg) {
        if (!json_is_object(msg))
            return oai_err_set(e, 400, "messages", "messages.%zu: Input should be an object", i);
        json_t *role = json_object_get(msg, "role");
        if (!json_is_string(role))
            return oai_err_set(e, 400, "messages", "messages.%zu.role: Field required", i);
        json_t *rc = json_object_get(msg, "reasoning_content");
        if (rc) {
            if (!json_object_get(msg, "reasoning") &&
                json_object_set(msg, "reasoning", rc) < 0)
                return SC_ENOMEM;
            json_object_del(msg, "reasoning_content");
        }
    }
    return 0;
}

static int parse_tools(oai_request_t *r, const json_t *body, oai_err_t *e)
{
    json_t *t = json_object_get(body, "tools");
    if (t && !json_is_null(t)) {
        if (!json_is_array(t))
            return oai_err_set(e, 400, "tools", "tools: Input should be a valid list");
        size_t i;
        json_t *x;
        json_array_foreach(t, i, x) {
            json_t *fn = json_object_get(x, "function");
            if (!json_is_object(x) || !json_is_object(fn) ||
                !json_is_string(json_object_get(fn, "name")))
                return oai_err_set(e, 400, "tools",
                                   "tools.%zu.function.name: Field required", i);
        }
        if (json_array_size(t) > 0) r->tools = json_incref(t);
    }
    json_t *c = json_object_get(body, "tool_choice");
    if (c && !json_is_null(c)) {
        if (json_is_string(c)) {
            const char *s = json_string_value(c);
            if (strcmp(s, "none") && strcmp(s, "auto") && strcmp(s, "required"))
                return oai_err_set(e, 400, "tool_choice", "tool_choice: Input should be "
                                   "'none', 'auto', 'required' or a named function");
        } else if (!json_is_object(c) ||
                   !json_is_string(json_object_get(json_object_get(c, "function"), "name"))) {
            return oai_err_set(e, 400, "tool_choice",
                               "tool_choice: named tool_choice needs function.name");
        }
        if (!r->tools && !(json_is_string(c) && !strcmp(json_string_value(c), "none")))
            return oai_err_set(e, 400, "tool_choice",
                               "When using `tool_choice`, `tools` must be set.");
        r->tool_choice = json_incref(c);
    } else {
        /* OpenAI's default: "auto" when tools are given, else "none". */
        r->tool_choice = json_string(r->tools ? "auto" : "none");
        if (!r->tool_choice) return SC_ENOMEM;
    }
    return 0;
}

static int parse_template_kwargs(oai_request_t *r, const json_t *body, oai_err_t *e)
{
    json_t *k = json_object_get(body, "chat_template_kwargs");
    if (k && !json_is_null(k) && !json_is_object(k))
        return oai_err_set(e, 400, "chat_template_kwargs",
                           "chat_template_kwargs: Input should be a valid dictionary");
    r->template_kwargs = (k && json_is_object(k)) ? json_deep_copy(k) : json_object();
    if (!r->template_kwargs) return SC_ENOMEM;
    const char *effort = NULL;
    TRY(get_string(body, "reasoning_effort", &effort, e));
    /* reasoning_effort implies enable_thinking unless the user set it. */
    if (effort && !json_object_get(r->template_kwargs, "enable_thinking"))
        if (json_object_set_new(r->template_kwargs, "enable_thinking",
                                json_boolean(strcmp(effort, "none") != 0)) < 0)
            return SC_ENOMEM;
    return 0;
}

static int parse_response_format(oai_request_t *r, const json_t *body, oai_err_t *e)
{
    json_t *f = json_object_get(body, "response_format");
    if (!f || json_is_null(f)) return 0;
    const char *type = NULL;
    if (!json_is_object(f) || get_string(f, "type", &type, NULL) != 1)
        return oai_err_set(e, 400, "response_format", "response_format.type: Field required");
    if (!strcmp(type, "text")) { r->response_format = OAI_FORMAT_TEXT; return 0; }
    if (!strcmp(type, "json_object")) { r->response_format = OAI_FORMAT_JSON_OBJECT; return 0; }
    if (!strcmp(type, "json_schema")) {
        json_t *js = json_object_get(f, "json_schema");
        json_t *schema = json_object_get(js, "schema");
        if (!json_is_object(js) || !json_is_object(schema))
            return oai_err_set(e, 400, "response_format",
                               "response_format: json_schema must be provided when type is "
                               "'json_schema'");
        r->response_format = OAI_FORMAT_JSON_SCHEMA;
        r->json_schema = json_incref(schema);
        return 0;
    }
    return oai_err_set(e, 400, "response_format", "response_format.type: Input should be "
                       "'text', 'json_object' or 'json_schema'");
}

/* logprobs is a bool + top_logprobs int in chat, a single int in completions. */
static int parse_logprobs(oai_request_t *r, const json_t *body, const oai_defaults_t *d,
                          oai_err_t *e)
{
    int64_t v = 0;
    int rc;
    if (r->kind == OAI_REQ_COMPLETION) {
        TRY(rc = get_int(body, "logprobs", &v, e));
        if (rc == 1) {
            if (v < 0 || v > d->max_top_logprobs)
                return oai_err_set(e, 400, "logprobs", "logprobs must be between 0 and %d, "
                                   "got %lld.", (int)d->max_top_logprobs, (long long)v);
            r->logprobs = true;
            r->top_logprobs = (int32_t)v;
        }
        return 0;
    }
    TRY(get_bool(body, "logprobs", &r->logprobs, e));
    TRY(rc = get_int(body, "top_logprobs", &v, e));
    if (rc == 1) {
        if (v < 0 || v > d->max_top_logprobs)
            return oai_err_set(e, 400, "top_logprobs", "top_logprobs must be between 0 and "
                               "%d, got %lld.", (int)d->max_top_logprobs, (long long)v);
        if (v > 0 && !r->logprobs)
            return oai_err_set(e, 400, "top_logprobs",
                               "when using `top_logprobs`, `logprobs` must be set to true.");
        r->top_logprobs = (int32_t)v;
    }
    return 0;
}

static int parse_sampling(oai_request_t *r, const json_t *body, const oai_defaults_t *d,
                          oai_err_t *e)
{
    int64_t v;
    int rc;
    r->temperature = d->temperature;
    r->top_p = d->top_p;
    r->top_k = d->top_k;
    r->min_p = d->min_p;
    r->repetition_penalty = d->repetition_penalty;
    r->presence_penalty = d->presence_penalty;
    r->frequency_penalty = d->frequency_penalty;

    /* Messages below are SamplingParams._verify_args's, so clients see vLLM's text. */
    TRY(get_number(body, "temperature", &r->temperature, e));
    if (!(r->temperature >= 0.0))
        return oai_err_set(e, 400, "temperature", "temperature must be non-negative, got %g.",
                           r->temperature);
    TRY(get_number(body, "top_p", &r->top_p, e));
    if (!(r->top_p > 0.0 && r->top_p <= 1.0))
        return oai_err_set(e, 400, "top_p", "top_p must be in (0, 1], got %g.", r->top_p);
    TRY(rc = get_int(body, "top_k", &v, e));
    if (rc == 1) {
        /* -1 is vLLM's older spelling of "disabled". */
        if (v < -1 || v > INT32_MAX)
            return oai_err_set(e, 400, "top_k", "top_k must be 0 (disable), or at least 1, "
                               "got %lld.", (long long)v);
        r->top_k = v == -1 ? 0 : (int32_t)v;
    }
    TRY(get_number(body, "min_p", &r->min_p, e));
    if (!(r->min_p >= 0.0 && r->min_p <= 1.0))
        return oai_err_set(e, 400, "min_p", "min_p must be in [0, 1], got %g.", r->min_p);
    TRY(get_number(body, "repetition_penalty", &r->repetition_penalty, e));
    if (!(r->repetition_penalty > 0.0))
        return oai_err_set(e, 400, "repetition_penalty",
                           "repetition_penalty must be greater than zero, got %g.",
                           r->repetition_penalty);
    TRY(get_number(body, "presence_penalty", &r->presence_penalty, e));
    if (!(r->presence_penalty >= -2.0 && r->presence_penalty <= 2.0))
        return oai_err_set(e, 400, "presence_penalty",
                           "presence_penalty must be in [-2, 2], got %g.", r->presence_penalty);
    TRY(get_number(body, "frequency_penalty", &r->frequency_penalty, e));
    if (!(r->frequency_penalty >= -2.0 && r->frequency_penalty <= 2.0))
        return oai_err_set(e, 400, "frequency_penalty",
                           "frequency_penalty must be in [-2, 2], got %g.", r->frequency_penalty);

    TRY(rc = get_int(body, "seed", &r->seed, e));
    r->has_seed = rc == 1;

    r->n = 1;
    TRY(rc = get_int(body, "n", &v, e));
    if (rc == 1) {
        if (v < 1)
            return oai_err_set(e, 400, "n", "n must be at least 1, got %lld.", (long long)v);
        if (v > d->max_n)
            return oai_err_set(e, 400, "n", "n must be at most %d, got %lld.",
                               (int)d->max_n, (long long)v);
        r->n = (int32_t)v;
    }

    /* max_completion_tokens (chat) wins over the deprecated max_tokens. */
    r->max_tokens = r->kind == OAI_REQ_COMPLETION ? d->completion_max_tokens : -1;
    const char *mt_name = "max_tokens";
    TRY(rc = get_int(body, "max_tokens", &v, e));
    bool mt_set = rc == 1;
    if (mt_set) r->max_tokens = v;
    if (r->kind == OAI_REQ_CHAT) {
        TRY(rc = get_int(body, "max_completion_tokens", &v, e));
        if (rc == 1) { r->max_tokens = v; mt_set = true; mt_name = "max_completion_tokens"; }
    }
    if (mt_set && r->max_tokens < 1)
        return oai_err_set(e, 400, mt_name, "max_tokens must be at least 1, got %lld.",
                           (long long)r->max_tokens);

    r->min_tokens = 0;
    TRY(get_int(body, "min_tokens", &r->min_tokens, e));
    if (r->min_tokens < 0)
        return oai_err_set(e, 400, "min_tokens", "min_tokens must be greater than or equal "
                           "to 0, got %lld.", (long long)r->min_tokens);
    if (r->max_tokens > 0 && r->min_tokens > r->max_tokens)
        return oai_err_set(e, 400, "min_tokens", "min_tokens must be less than or equal to "
                           "max_tokens=%lld, got %lld.", (long long)r->max_tokens,
                           (long long)r->min_tokens);

    TRY(parse_stop(r, body, e));
    json_t *sti = json_object_get(body, "stop_token_ids");
    if (sti && !json_is_null(sti)) {
        if (!json_is_array(sti))
            return oai_err_set(e, 400, "stop_token_ids",
                               "stop_token_ids: Input should be a valid list");
        TRY(parse_ids(sti, &r->stop_token_ids, &r->n_stop_token_ids, "stop_token_ids", e));
    }
    TRY(get_bool(body, "ignore_eos", &r->ignore_eos, e));
    TRY(get_bool(body, "include_stop_str_in_output", &r->include_stop_str_in_output, e));
    r->skip_special_tokens = true;
    TRY(get_bool(body, "skip_special_tokens", &r->skip_special_tokens, e));
    return parse_logprobs(r, body, d, e);
}

static int parse_stream(oai_request_t *r, const json_t *body, oai_err_t *e)
{
    TRY(get_bool(body, "stream", &r->stream, e));
    json_t *so = json_object_get(body, "stream_options");
    if (!so || json_is_null(so)) return 0;
    if (!json_is_object(so))
        return oai_err_set(e, 400, "stream_options",
                           "stream_options: Input should be a valid dictionary");
    if (!r->stream)
        return oai_err_set(e, 400, "stream_options",
                           "Stream options can only be defined when `stream=True`.");
    TRY(get_bool(so, "include_usage", &r->include_usage, e));
    TRY(get_bool(so, "continuous_usage_stats", &r->continuous_usage_stats, e));
    return 0;
}

static int parse_body(oai_request_t *r, const json_t *body, const oai_defaults_t *d,
                      oai_err_t *e)
{
    if (!json_is_object(body))
        return oai_err_set(e, 400, NULL, "Request body must be a JSON object");
    const char *model = NULL;
    TRY(get_string(body, "model", &model, e));
    if (model && !(r->model = strdup(model))) return SC_ENOMEM;

    if (r->kind == OAI_REQ_CHAT) {
        TRY(parse_messages(r, body, e));
        TRY(parse_tools(r, body, e));
        TRY(parse_template_kwargs(r, body, e));
        r->add_generation_prompt = true;
        TRY(get_bool(body, "add_generation_prompt", &r->add_generation_prompt, e));
        TRY(get_bool(body, "continue_final_message", &r->continue_final_message, e));
        if (r->add_generation_prompt && r->continue_final_message)
            return oai_err_set(e, 400, "continue_final_message", "Cannot set both "
                               "`continue_final_message` and `add_generation_prompt` to True.");
    } else {
        TRY(parse_prompt(r, body, e));
    }
    TRY(get_bool(body, "echo", &r->echo, e));
    TRY(parse_sampling(r, body, d, e));
    TRY(parse_stream(r, body, e));
    return parse_response_format(r, body, e);
}

int oai_request_parse(oai_request_t *out, oai_req_kind_t kind, const json_t *body,
                      const oai_defaults_t *d, oai_err_t *err)
{
    oai_defaults_t dd;
    if (!d) { oai_defaults_init(&dd); d = &dd; }
    memset(out, 0, sizeof *out);
    out->kind = kind;
    if (err) { err->status = 0; err->message[0] = '\0'; err->param[0] = '\0'; }
    int rc = parse_body(out, body, d, err);
    if (rc < 0) {
        oai_request_free(out);
        out->kind = kind;
        if (rc == SC_ENOMEM) oai_err_set(err, 500, NULL, "Out of memory");
    }
    return rc;
}

int oai_request_parse_bytes(oai_request_t *out, oai_req_kind_t kind, const char *buf,
                            size_t len, const oai_defaults_t *d, oai_err_t *err)
{
    json_error_t je;
    memset(out, 0, sizeof *out);
    out->kind = kind;
    /* JSON_REJECT_DUPLICATES is not used: Python's json keeps the last key. */
    json_t *body = json_loadb(buf, len, 0, &je);
    if (!body) {
        oai_err_from_json_load(err, &je);
        return SC_EINVAL;
    }
    int rc = oai_request_parse(out, kind, body, d, err);
    json_decref(body);
    return rc;
}

void oai_request_free(oai_request_t *r)
{
    if (!r) return;
    free(r->model);
    json_decref(r->messages);
    for (size_t i = 0; i < r->n_prompts; i++) {
        free(r->prompts[i].text);
        free(r->prompts[i].tokens);
    }
    free(r->prompts);
    for (size_t i = 0; i < r->n_stop; i++) free(r->stop[i]);
    free(r->stop);
    free(r->stop_token_ids);
    json_decref(r->tools);
    json_decref(r->tool_choice);
    json_decref(r->template_kwargs);
    json_decref(r->json_schema);
    memset(r, 0, sizeof *r);
}
