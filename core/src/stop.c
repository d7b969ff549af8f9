/*
 * core/src/stop.c - stop strings over a streamed text.
 *
 * Tokens do not line up with stop strings: "<|end|>" may arrive as "<|", "end"
 * and "|>", and a client must never see the "<|" that later turns out to be
 * part of a stop string. So the matcher keeps a small buffer of text not yet
 * output: after each piece it outputs everything except the longest tail
 * that is still a proper prefix of some stop string (at most max_len - 1
 * bytes), and a tail that would cut a UTF-8 character in two.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "strixcore/sampler.h"

struct sc_stop {
    char **stops;        /* the non-empty stop strings */
    size_t *lens;
    int *index;          /* their index in the caller's array */
    int n;
    size_t max_len;
    bool include;        /* output the stop string itself */
    char *buf;           /* text received but not output yet */
    size_t len, cap;
    char *out;           /* what the last call returned */
    size_t out_cap;
    int matched;         /* caller's index of the stop string that matched, or -1 */
};

sc_stop_t *sc_stop_create(const char *const *stops, int n_stops, bool include_stop) {
    sc_stop_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->include = include_stop;
    s->matched = -1;
    if (n_stops > 0) {
        s->stops = calloc((size_t)n_stops, sizeof(*s->stops));
        s->lens = calloc((size_t)n_stops, sizeof(*s->lens));
        s->index = calloc((size_t)n_stops, sizeof(*s->index));
        if (!s->stops || !s->lens || !s->index)
            goto oom;
    }
    for (int i = 0; i < n_stops; i++) {
        size_t l = stops[i] ? strlen(stops[i]) : 0;
        if (l == 0)
            continue;
        if (!(s->stops[s->n] = strdup(stops[i])))
            goto oom;
        s->lens[s->n] = l;
        s->index[s->n] = i;
        s->max_len = SC_MAX(s->max_len, l);
        s->n++;
    }
    return s;
oom:
    sc_stop_free(s);
    return NULL;
}

void sc_stop_free(sc_stop_t *s) {
    if (!s)
        return;
    for (int i = 0; i < s->n; i++)
        free(s->stops[i]);
    free(s->stops);
    free(s->lens);
    free(s->index);
    free(s->buf);
    free(s->out);
    free(s);
}

void sc_stop_reset(sc_stop_t *s) {
    s->len = 0;
    s->matched = -1;
}

int sc_stop_matched(const sc_stop_t *s) { return s->matched; }
size_t sc_stop_max_len(const sc_stop_t *s) { return s->max_len; }

static int reserve(char **p, size_t *cap, size_t need) {
    char *q;
    size_t c;
    if (need <= *cap)
        return SC_OK;
    c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    if (!(q = realloc(*p, c)))
        return SC_ENOMEM;
    *p = q;
    *cap = c;
    return SC_OK;
}

/* Move the first n bytes of buf to the output and drop them from buf. */
static int emit(sc_stop_t *s, size_t n, const char **out, size_t *out_len) {
    int rc = reserve(&s->out, &s->out_cap, n + 1);
    if (rc < 0)
        return rc;
    if (n > 0) /* buf is NULL before the first feed */
        memcpy(s->out, s->buf, n);
    s->out[n] = '\0';
    if (s->len > n)
        memmove(s->buf, s->buf + n, s->len - n);
    s->len -= n;
    *out = s->out;
    *out_len = n;
    return SC_OK;
}

/* Bytes at the end of b[0..n) that start a UTF-8 sequence without finishing
 * it (0 when the text ends on a character boundary or is not UTF-8 there). */
static size_t incomplete_utf8_tail(const char *b, size_t n) {
    for (size_t back = 1; back <= 4 && back <= n; back++) {
        unsigned char c = (unsigned char)b[n - back];
        size_t need;
        if ((c & 0xc0) == 0x80)
            continue; /* continuation: look further back for the lead byte */
        need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
        return need > back ? back : 0;
    }
    return 0;
}

/* Length of the longest tail of buf that is a proper prefix of a stop string. */
static size_t partial_tail(const sc_stop_t *s) {
    size_t k = SC_MIN(s->len, s->max_len ? s->max_len - 1 : 0);
    for (; k > 0; k--) {
        const char *tail = s->buf + s->len - k;
        for (int i = 0; i < s->n; i++)
            if (s->lens[i] > k && memcmp(s->stops[i], tail, k) == 0)
                return k;
    }
    return 0;
}

int sc_stop_feed(sc_stop_t *s, const char *text, size_t len, const char **out, size_t *out_len) {
    size_t hold, n, best_pos = SIZE_MAX, best_len = 0;
    int best = -1, rc;

    *out = "";
    *out_len = 0;
    if (s->matched >= 0)
        return 1;
    if ((rc = reserve(&s->buf, &s->cap, s->len + len + 1)) < 0)
        return rc;
    if (len > 0)
        memcpy(s->buf + s->len, text, len);
    s->len += len;

    /* A complete stop string. buf holds no complete one from earlier pieces,
     * so every match found here ends in the new text. */
    for (int i = 0; i < s->n; i++) {
        const char *hit = s->lens[i] <= s->len ? memmem(s->buf, s->len, s->stops[i], s->lens[i]) : NULL;
        size_t pos = hit ? (size_t)(hit - s->buf) : SIZE_MAX;
        if (hit && (pos < best_pos || (pos == best_pos && s->lens[i] < best_len))) {
            best = i;
            best_pos = pos;
            best_len = s->lens[i];
        }
    }
    if (best >= 0) {
        s->matched = s->index[best];
        if ((rc = emit(s, best_pos + (s->include ? best_len : 0), out, out_len)) < 0)
            return rc;
        s->len = 0; /* the text after the stop string is dropped */
        return 1;
    }

    /* Hold back a possible start of a stop string and a cut character. */
    hold = SC_MAX(partial_tail(s), incomplete_utf8_tail(s->buf, s->len));
    n = s->len - hold;
    /* A stop string that itself starts mid-character (not valid UTF-8 on its
     * own) could leave the cut inside a character: move it to the lead byte. */
    for (int back = 0; back < 3 && n > 0 && n < s->len && ((unsigned char)s->buf[n] & 0xc0) == 0x80; back++)
        n--;
    if ((rc = emit(s, n, out, out_len)) < 0)
        return rc;
    return 0;
}

int sc_stop_flush(sc_stop_t *s, const char **out, size_t *out_len) {
    *out = "";
    *out_len = 0;
    if (s->matched >= 0)
        return 1;
    return emit(s, s->len, out, out_len);
}
