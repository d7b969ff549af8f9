/*
 * core/src/tokenizer_decode.c - ids -> text, whole or streamed.
 *
 * HF's decode: each id becomes its token string (added tokens first, then
 * the model vocab; ids with neither are dropped, and special tokens are
 * dropped when asked), the ByteLevel decoder turns the strings into bytes,
 * and String::from_utf8_lossy turns the bytes into text. The per-id bytes
 * were computed at load time (sc_tokenizer_token_bytes).
 *
 * Streaming keeps back only a trailing sequence that later bytes could still
 * complete. Such a sequence starts at a lead byte, where the lossy decoder
 * of the whole text also starts a new sequence, so the text emitted so far
 * is exactly a prefix of decode(all ids): pushes + flush == decode.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

/* The bytes id stands for, or NULL when it is dropped. */
static const char *id_bytes(const sc_tokenizer_t *tok, int32_t id, bool skip_special, size_t *len) {
    if (id < 0 || id >= tok->n_ids || !tok->flags[id])
        return NULL;
    if (skip_special && (tok->flags[id] & SC_TOK_ID_SPECIAL))
        return NULL;
    *len = tok->raw_len[id];
    return tok->raw_blob + tok->raw_off[id];
}

/* lossy-convert s into a fresh malloc'd string */
static int lossy_dup(const char *s, size_t len, char **out, size_t *out_len) {
    if (len > (SIZE_MAX - 1) / 3)
        return SC_EOVERFLOW;
    char *buf = malloc(3 * len + 1);
    if (!buf)
        return SC_ENOMEM;
    size_t n = sc__utf8_lossy(s, len, buf);
    char *shrunk = realloc(buf, n + 1);
    *out = shrunk ? shrunk : buf;
    if (out_len)
        *out_len = n;
    return SC_OK;
}

int sc_tokenizer_decode(const sc_tokenizer_t *tok, const int32_t *ids, size_t n, bool skip_special, char **out,
                        size_t *out_len) {
    if (!out)
        return SC_EINVAL;
    *out = NULL;
    if (out_len)
        *out_len = 0;
    if (!tok || (!ids && n))
        return SC_EINVAL;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        if (id_bytes(tok, ids[i], skip_special, &len))
            total += len;
    }
    char *bytes = malloc(total ? total : 1);
    if (!bytes)
        return SC_ENOMEM;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *b = id_bytes(tok, ids[i], skip_special, &len);
        if (b) {
            memcpy(bytes + o, b, len);
            o += len;
        }
    }
    int rc = lossy_dup(bytes, o, out, out_len);
    free(bytes);
    return rc;
}

struct sc_detok {
    const sc_tokenizer_t *tok;
    bool skip_special;
    char *pending;            /* bytes of an unfinished character (at most 3) and new token bytes */
    size_t n, cap;
};

sc_detok_t *sc_detok_create(const sc_tokenizer_t *tok, bool skip_special) {
    if (!tok)
        return NULL;
    sc_detok_t *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->tok = tok;
    d->skip_special = skip_special;
    return d;
}

void sc_detok_free(sc_detok_t *d) {
    if (!d)
        return;
    free(d->pending);
    free(d);
}

int sc_detok_push(sc_detok_t *d, int32_t id, char **out, size_t *out_len) {
    if (!out)
        return SC_EINVAL;
    *out = NULL;
    if (out_len)
        *out_len = 0;
    if (!d)
        return SC_EINVAL;
    size_t len = 0;
    const char *b = id_bytes(d->tok, id, d->skip_special, &len);
    if (b && len) {
        if (d->n + len > d->cap) {
            size_t cap = SC_MAX(d->n + len, 2 * d->cap);
            char *p = realloc(d->pending, cap);
            if (!p)
                return SC_ENOMEM;
            d->pending = p;
            d->cap = cap;
        }
        memcpy(d->pending + d->n, b, len);
        d->n += len;
    }
    size_t cut = sc__utf8_incomplete_tail(d->pending, d->n);
    int rc = lossy_dup(d->pending, cut, out, out_len);
    if (rc != SC_OK)
        return rc;
    if (cut > 0 && cut < d->n)
        memmove(d->pending, d->pending + cut, d->n - cut);
    d->n -= cut;
    return SC_OK;
}

int sc_detok_flush(sc_detok_t *d, char **out, size_t *out_len) {
    if (!out)
        return SC_EINVAL;
    *out = NULL;
    if (out_len)
        *out_len = 0;
    if (!d)
        return SC_EINVAL;
    int rc = lossy_dup(d->pending, d->n, out, out_len);
    if (rc == SC_OK)
        d->n = 0;
    return rc;
}
