#include "oai_llama.h"

json_t *oai_llama_params(const oai_defaults_t *d)
{
    oai_defaults_t dd;
    if (!d) { oai_defaults_init(&dd); d = &dd; }
    /* llama-server's names; LLAMA_DEFAULT_SEED is 0xFFFFFFFF (random). */
    return json_pack("{s:I, s:f, s:i, s:f, s:f, s:f, s:i, s:f, s:f, s:f, s:i, s:f, s:f, s:[], s:i, s:i,"
                     " s:i, s:i, s:b, s:b, s:i, s:i, s:[sssss]}",
                     "seed", (json_int_t)4294967295LL, "temperature", d->temperature,
                     "top_k", (int)d->top_k, "top_p", d->top_p, "min_p", d->min_p,
                     "typical_p", 1.0, "repeat_last_n", 64, "repeat_penalty", d->repetition_penalty,
                     "presence_penalty", d->presence_penalty, "frequency_penalty", d->frequency_penalty,
                     "mirostat", 0, "mirostat_tau", 5.0, "mirostat_eta", 0.1, "stop",
                     "max_tokens", -1, "n_predict", -1, "n_keep", 0, "n_discard", 0,
                     "ignore_eos", 0, "stream", 1, "n_probs", 0, "min_keep", 0,
                     "samplers", "penalties", "top_k", "top_p", "min_p", "temperature");
}

json_t *oai_llama_props(const oai_llama_info_t *in)
{
    json_t *params = oai_llama_params(in->defaults);
    if (!params) return NULL;
    return json_pack("{s:{s:I, s:o}, s:i, s:s, s:s, s:{s:b, s:b}, s:b, s:b, s:b, s:b, s:s, s:s}",
                     "default_generation_settings", "n_ctx", (json_int_t)in->n_ctx, "params", params,
                     "total_slots", (int)in->total_slots,
                     "model_alias", in->model_alias ? in->model_alias : "",
                     "model_path", in->model_path ? in->model_path : "",
                     "modalities", "vision", 0, "audio", 0,
                     "endpoint_slots", (int)in->slots_endpoint, "endpoint_props", 0, "endpoint_metrics", 1, "webui", 0,
                     "chat_template", in->chat_template ? in->chat_template : "",
                     "build_info", in->build_info ? in->build_info : "");
}

json_t *oai_llama_slots(const oai_llama_info_t *in)
{
    json_t *arr = json_array();
    for (int32_t i = 0; arr && i < in->total_slots; i++) {
        bool busy = i < in->busy_slots;
        json_t *params = oai_llama_params(in->defaults);
        json_t *s = params ? json_pack("{s:i, s:i, s:I, s:b, s:b, s:o, s:{s:b, s:b, s:i, s:i, s:s}}",
                                       "id", (int)i, "id_task", -1, "n_ctx", (json_int_t)in->n_ctx,
                                       "speculative", 0, "is_processing", busy, "params", params,
                                       "next_token", "has_next_token", busy, "has_new_line", 0,
                                       "n_remain", -1, "n_decoded", 0, "stopping_word", "")
                           : NULL;
        if (!s || json_array_append_new(arr, s) < 0) { json_decref(arr); arr = NULL; }
    }
    return arr;
}
