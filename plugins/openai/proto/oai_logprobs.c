#include "oai_logprobs.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

double oai_logprob_value(float lp)
{
    double v = (double)lp;
    return (isnan(v) || v < -9999.0) ? -9999.0 : v;
}

/* Length of the valid UTF-8 sequence at s (1..4), 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t k;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) { k = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { k = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { k = 4; cp = c & 0x07; }
    else return 0;
    if (n < k) return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    /* overlong forms, surrogates and values past U+10FFFF */
    if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return k;
}

char *oai_utf8_lossy(const char *s, size_t n, size_t *n_chars)
{
    /* Each invalid byte becomes 3 bytes at most. */
    char *out = malloc(n * 3 + 1);
    size_t o = 0, chars = 0;
    if (!out) return NULL;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(u + i, n - i);
        if (k) { memcpy(out + o, s + i, k); o += k; i += k; }
        else { memcpy(out + o, "\xEF\xBF\xBD", 3); o += 3; i++; }
        chars++;
    }
    out[o] = '\0';
    if (n_chars) *n_chars = chars;
    return out;
}

/* Decodes one id: the raw bytes in *raw (reset first), the text as a JSON string. */
static json_t *token_string(int32_t id, oai_token_bytes_fn fn, void *user, oai_buf_t *raw,
                            size_t *n_chars)
{
    oai_buf_reset(raw);
    if (fn(user, id, raw) < 0) oai_buf_reset(raw);
    char *t = oai_utf8_lossy(raw->data ? raw->data : "", raw->len, n_chars);
    json_t *j = t ? json_string(t) : NULL;
    free(t);
    return j;
}

static json_t *byte_list(const oai_buf_t *raw)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < raw->len; i++)
        if (json_array_append_new(a, json_integer((unsigned char)raw->data[i])) < 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* {"token","logprob","bytes"} */
static json_t *token_entry(int32_t id, float lp, oai_token_bytes_fn fn, void *user, oai_buf_t *raw)
{
    json_t *tok = token_string(id, fn, user, raw, NULL);
    json_t *bytes = tok ? byte_list(raw) : NULL;
    if (!tok || !bytes) { json_decref(tok); json_decref(bytes); return NULL; }
    return json_pack("{s:o, s:f, s:o}", "token", tok, "logprob", oai_logprob_value(lp), "bytes", bytes);
}

json_t *oai_logprobs_chat_content(const oai_lp_step_t *steps, size_t n, int top_k,
                                  oai_token_bytes_fn fn, void *user)
{
    oai_buf_t raw;
    oai_buf_init(&raw);
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        const oai_lp_step_t *st = &steps[i];
        json_t *e = token_entry(st->token, st->logprob, fn, user, &raw);
        json_t *tops = json_array();
        int k = st->n_top < top_k ? st->n_top : top_k;
        bool ok = e && tops;
        for (int t = 0; ok && t < k && t < OAI_MAX_LOGPROBS; t++)
            ok = json_array_append_new(tops, token_entry(st->top_ids[t], st->top_logprobs[t], fn, user,
                                                         &raw)) == 0;
        /* the _new calls steal their argument even when they fail */
        if (ok) ok = json_object_set_new(e, "top_logprobs", json_incref(tops)) == 0;
        if (ok) ok = json_array_append_new(arr, json_incref(e)) == 0;
        json_decref(tops);
        json_decref(e);
        if (!ok) { json_decref(arr); arr = NULL; }
    }
    oai_buf_free(&raw);
    return arr;
}

json_t *oai_logprobs_chat(json_t *entries)
{
    if (!entries) return NULL;
    return json_pack("{s:o}", "content", entries);
}

json_t *oai_logprobs_completion(const oai_lp_step_t *steps, size_t n, int top_k, int64_t *offset,
                                oai_token_bytes_fn fn, void *user)
{
    oai_buf_t raw;
    oai_buf_init(&raw);
    json_t *tokens = json_array(), *lps = json_array(), *tops = json_array(), *offs = json_array();
    int64_t off = offset ? *offset : 0;
    bool ok = tokens && lps && tops && offs;
    for (size_t i = 0; ok && i < n; i++) {
        const oai_lp_step_t *st = &steps[i];
        size_t chars = 0;
        json_t *tok = token_string(st->token, fn, user, &raw, &chars);
        json_t *d = json_object();
        ok = tok && d;
        /* The sampled token first, then the alternatives: vLLM's dict order. */
        if (ok) ok = json_object_set_new(d, json_string_value(tok),
                                         json_real(oai_logprob_value(st->logprob))) == 0;
        int k = st->n_top < top_k ? st->n_top : top_k;
        for (int t = 0; ok && t < k && t < OAI_MAX_LOGPROBS; t++) {
            json_t *alt = token_string(st->top_ids[t], fn, user, &raw, NULL);
            /* Two ids can decode to the same text (partial UTF-8 both read
             * U+FFFD): the first keeps the key, so the sampled token's own
             * logprob is never overwritten by an alternative's. */
            ok = alt != NULL;
            if (ok && !json_object_get(d, json_string_value(alt)))
                ok = json_object_set_new(d, json_string_value(alt),
                                         json_real(oai_logprob_value(st->top_logprobs[t]))) == 0;
            json_decref(alt);
        }
        ok = ok && json_array_append(tokens, tok) == 0 &&
             json_array_append_new(lps, json_real(oai_logprob_value(st->logprob))) == 0 &&
             json_array_append(tops, d) == 0 && json_array_append_new(offs, json_integer(off)) == 0;
        json_decref(tok);
        json_decref(d);
        off += (int64_t)chars;
    }
    oai_buf_free(&raw);
    if (offset) *offset = off;
    if (!ok) {
        json_decref(tokens); json_decref(lps); json_decref(tops); json_decref(offs);
        return NULL;
    }
    return json_pack("{s:o, s:o, s:o, s:o}", "tokens", tokens, "token_logprobs", lps,
                     "top_logprobs", tops, "text_offset", offs);
}
