/*
 * tests/tokenizer/test_tokenizer_parity.c - our tokenizer against Hugging
 * Face tokenizers on the real Qwen3 tokenizer.json.
 *
 *   test_tokenizer_parity TOKENIZER CORPUS REFERENCE
 *       CORPUS: one JSON string per line; REFERENCE: {"i": n, "ids": [...]}
 *       per line, HF's ids for corpus line n (tests/tokenizer/make_reference.py).
 *       Every line must encode to exactly HF's ids, and decode(encode(s))
 *       must give back s (or its NFC form: the normaliser is lossy).
 *   test_tokenizer_parity --dump TOKENIZER CORPUS
 *       print {"i": n, "ids": [...]} for each line (to diff against another
 *       implementation while debugging).
 *   test_tokenizer_parity --decode TOKENIZER IDS SKIP
 *       IDS: a JSON array of ids per line; print decode(ids) as a JSON string
 *       per line (SKIP 1: skip special tokens), checking on the way that
 *       streaming detokenization gives the same text.
 *   test_tokenizer_parity --bench TOKENIZER [KB]
 *       load time, and encode speed on a mixed text of KB kilobytes.
 * Exit status 0 only if nothing failed; the last line is "N passed, M failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "tokenizer_internal.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct line {
    char *text;               /* NULL if the corpus line did not parse */
    size_t len;
    int32_t *ref;
    size_t n_ref;
    bool has_ref;
} line;

static char *read_line(FILE *f, size_t *len) {
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n = getline(&buf, &cap, f);
    if (n < 0) {
        free(buf);
        return NULL;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    *len = (size_t)n;
    return buf;
}

static int load_corpus(const char *path, line **out, size_t *n_out) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return -1;
    }
    line *v = NULL;
    size_t n = 0, cap = 0, len;
    char *buf;
    while ((buf = read_line(f, &len))) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            v = realloc(v, cap * sizeof(line));
        }
        memset(&v[n], 0, sizeof(line));
        json_error_t e;
        json_t *j = json_loadb(buf, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
        if (json_is_string(j)) {
            v[n].len = json_string_length(j);
            v[n].text = malloc(v[n].len + 1);
            memcpy(v[n].text, json_string_value(j), v[n].len + 1);
        } else {
            fprintf(stderr, "%s:%zu: not a JSON string: %s\n", path, n + 1, e.text);
        }
        json_decref(j);
        free(buf);
        n++;
    }
    fclose(f);
    *out = v;
    *n_out = n;
    return 0;
}

static int load_reference(const char *path, line *lines, size_t n) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return -1;
    }
    size_t len, lineno = 0;
    char *buf;
    while ((buf = read_line(f, &len))) {
        lineno++;
        json_error_t e;
        json_t *j = json_loadb(buf, len, 0, &e);
        json_t *ji = json_object_get(j, "i"), *ids = json_object_get(j, "ids");
        if (!json_is_integer(ji) || !json_is_array(ids) || json_integer_value(ji) < 0 ||
            (size_t)json_integer_value(ji) >= n) {
            if (len)
                fprintf(stderr, "%s:%zu: bad reference line\n", path, lineno);
        } else {
            line *l = &lines[json_integer_value(ji)];
            l->n_ref = json_array_size(ids);
            l->ref = malloc((l->n_ref + 1) * sizeof(int32_t));
            for (size_t k = 0; k < l->n_ref; k++)
                l->ref[k] = (int32_t)json_integer_value(json_array_get(ids, k));
            l->has_ref = true;
        }
        json_decref(j);
        free(buf);
    }
    fclose(f);
    return 0;
}

static void print_ids(const char *label, const int32_t *ids, size_t n) {
    printf("  %s (%zu): [", label, n);
    for (size_t i = 0; i < n; i++)
        printf("%s%d", i ? ", " : "", ids[i]);
    printf("]\n");
}

static void print_text(const char *label, const char *s, size_t len) {
    json_t *j = json_stringn_nocheck(s, len);
    char *d = json_dumps(j, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
    if (label[0])
        printf("  %s: %s\n", label, d ? d : "(unprintable)");
    else
        printf("%s\n", d ? d : "null");
    free(d);
    json_decref(j);
}

static sc_tokenizer_t *load_tok(const char *path, double *secs) {
    char err[512];
    sc_tokenizer_t *tok = NULL;
    double t0 = now_s();
    int rc = sc_tokenizer_load(path, &tok, err, sizeof(err));
    if (secs)
        *secs = now_s() - t0;
    if (rc != SC_OK) {
        fprintf(stderr, "load %s: %s (%s)\n", path, err, sc_strerror(rc));
        return NULL;
    }
    return tok;
}

static int dump(const char *tok_path, const char *corpus) {
    sc_tokenizer_t *tok = load_tok(tok_path, NULL);
    line *lines;
    size_t n;
    if (!tok || load_corpus(corpus, &lines, &n) != 0)
        return 1;
    for (size_t i = 0; i < n; i++) {
        int32_t *ids = NULL;
        size_t n_ids = 0;
        int rc = lines[i].text ? sc_tokenizer_encode(tok, lines[i].text, lines[i].len, true, &ids, &n_ids)
                               : SC_EINVAL;
        printf("{\"i\": %zu, \"ids\": [", i);
        for (size_t k = 0; rc == SC_OK && k < n_ids; k++)
            printf("%s%d", k ? ", " : "", ids[k]);
        printf("]%s}\n", rc == SC_OK ? "" : ", \"error\": true");
        free(ids);
        free(lines[i].text);
    }
    free(lines);
    sc_tokenizer_free(tok);
    return 0;
}

static int decode_lines(const char *tok_path, const char *path, bool skip) {
    sc_tokenizer_t *tok = load_tok(tok_path, NULL);
    FILE *f = fopen(path, "r");
    if (!tok || !f)
        return 1;
    size_t len, lineno = 0;
    char *buf;
    int bad = 0;
    while ((buf = read_line(f, &len))) {
        lineno++;
        json_error_t e;
        json_t *j = json_loadb(buf, len, 0, &e);
        size_t n = json_array_size(j);
        int32_t *ids = malloc((n + 1) * sizeof(int32_t));
        for (size_t k = 0; k < n; k++)
            ids[k] = (int32_t)json_integer_value(json_array_get(j, k));
        char *dec = NULL;
        size_t dec_len = 0;
        sc_tokenizer_decode(tok, ids, n, skip, &dec, &dec_len);
        print_text("", dec, dec_len);
        /* streaming must add up to the same text */
        sc_detok_t *d = sc_detok_create(tok, skip);
        char *acc = malloc(dec_len * 2 + 16), *piece;
        size_t acc_len = 0, plen;
        for (size_t k = 0; k <= n; k++) {
            if (k < n)
                sc_detok_push(d, ids[k], &piece, &plen);
            else
                sc_detok_flush(d, &piece, &plen);
            if (acc_len + plen <= dec_len * 2 + 16)
                memcpy(acc + acc_len, piece, plen);
            acc_len += plen;
            free(piece);
        }
        if (acc_len != dec_len || memcmp(acc, dec, dec_len) != 0) {
            fprintf(stderr, "line %zu: streamed text differs from decode\n", lineno);
            bad = 1;
        }
        sc_detok_free(d);
        free(acc);
        free(dec);
        free(ids);
        json_decref(j);
        free(buf);
    }
    fclose(f);
    sc_tokenizer_free(tok);
    return bad;
}

static int bench(const char *tok_path, size_t kb) {
    double load_s;
    sc_tokenizer_t *tok = load_tok(tok_path, &load_s);
    if (!tok)
        return 1;
    printf("load: %.3f s\n", load_s);
    static const char *parts[] = {
        "The quick brown fox jumps over the lazy dog. ", "def f(x):\n    return x ** 2  # square\n",
        "Grüße aus Köln — naïve café. ", "日本語のテキストと中文文本。", "🙂🚀 emoji ",
        "<|im_start|>user\nHi<|im_end|>\n", "1234567890 ", "\t\t  \n\n",
    };
    size_t cap = kb * 1024, len = 0;
    char *text = malloc(cap + 64);
    for (size_t i = 0; len < cap; i++) {
        const char *p = parts[i % SC_ARRAY_LEN(parts)];
        memcpy(text + len, p, strlen(p));
        len += strlen(p);
    }
    int32_t *ids;
    size_t n_ids;
    double t0 = now_s();
    int rc = sc_tokenizer_encode(tok, text, len, true, &ids, &n_ids);
    double t1 = now_s();
    printf("encode %zu KB mixed text: %.3f s, %zu ids (%.1f MB/s)\n", len / 1024, t1 - t0, n_ids,
           (double)len / (t1 - t0) / 1e6);
    free(ids);
    /* one 50k-letter pre-token: the merge loop must not be quadratic */
    size_t nl = 50000;
    char *letters = malloc(nl);
    for (size_t i = 0; i < nl; i++)
        letters[i] = "abcab"[i % 5];
    t0 = now_s();
    rc |= sc_tokenizer_encode(tok, letters, nl, true, &ids, &n_ids);
    printf("encode one 50000-letter word: %.3f s, %zu ids\n", now_s() - t0, n_ids);
    free(ids);
    memset(letters, ' ', nl);
    t0 = now_s();
    rc |= sc_tokenizer_encode(tok, letters, nl, true, &ids, &n_ids);
    printf("encode 50000 spaces: %.3f s, %zu ids\n", now_s() - t0, n_ids);
    free(ids);
    free(letters);
    free(text);
    sc_tokenizer_free(tok);
    return rc != SC_OK;
}

int main(int argc, char **argv) {
    if (argc >= 4 && strcmp(argv[1], "--dump") == 0)
        return dump(argv[2], argv[3]);
    if (argc >= 5 && strcmp(argv[1], "--decode") == 0)
        return decode_lines(argv[2], argv[3], atoi(argv[4]) != 0);
    if (argc >= 3 && strcmp(argv[1], "--bench") == 0)
        return bench(argv[2], argc >= 4 ? (size_t)atol(argv[3]) : 100);
    if (argc != 4) {
        fprintf(stderr, "usage: %s TOKENIZER CORPUS REFERENCE | --dump TOKENIZER CORPUS | --bench TOKENIZER [KB]\n",
                argv[0]);
        return 2;
    }
    double load_s;
    sc_tokenizer_t *tok = load_tok(argv[1], &load_s);
    line *lines;
    size_t n;
    if (!tok || load_corpus(argv[2], &lines, &n) != 0 || load_reference(argv[3], lines, n) != 0) {
        printf("0 passed, 1 failed\n");
        return 1;
    }
    printf("loaded %s in %.3f s; %zu corpus lines\n", argv[1], load_s, n);

    size_t passed = 0, failed = 0, shown = 0, bytes = 0, rt_failed = 0;
    double enc_s = 0;
    for (size_t i = 0; i < n; i++) {
        line *l = &lines[i];
        const char *why = NULL;
        int32_t *ids = NULL;
        size_t n_ids = 0;
        char *dec = NULL;
        size_t dec_len = 0;
        if (!l->text) {
            why = "corpus line is not a JSON string";
        } else if (!l->has_ref) {
            why = "no reference ids";
        } else {
            double t0 = now_s();
            int rc = sc_tokenizer_encode(tok, l->text, l->len, true, &ids, &n_ids);
            enc_s += now_s() - t0;
            bytes += l->len;
            if (rc != SC_OK)
                why = "encode failed";
            else if (n_ids != l->n_ref || memcmp(ids, l->ref, n_ids * sizeof(int32_t)) != 0)
                why = "ids differ";
            else if (sc_tokenizer_decode(tok, ids, n_ids, false, &dec, &dec_len) != SC_OK)
                why = "decode failed";
            else if (dec_len != l->len || memcmp(dec, l->text, dec_len) != 0) {
                /* NFC is not reversible: accept the normalised text back */
                char *norm;
                size_t nlen;
                sc__tok_normalize(tok, l->text, l->len, &norm, &nlen);
                const char *want = norm ? norm : l->text;
                if (dec_len != nlen || memcmp(dec, want, nlen) != 0) {
                    why = "decode(encode(s)) != s";
                    rt_failed++;
                }
                free(norm);
            }
        }
        if (why) {
            failed++;
            if (shown++ < 5) {
                printf("FAIL line %zu: %s\n", i, why);
                if (l->text)
                    print_text("text", l->text, l->len);
                if (l->has_ref)
                    print_ids("hf  ", l->ref, l->n_ref);
                if (ids)
                    print_ids("ours", ids, n_ids);
                if (dec)
                    print_text("decoded", dec, dec_len);
            } else if (shown <= 50) {
                printf("FAIL line %zu: %s\n", i, why);
            }
        } else {
            passed++;
        }
        free(ids);
        free(dec);
        free(l->text);
        free(l->ref);
    }
    free(lines);
    sc_tokenizer_free(tok);
    printf("encode: %zu bytes in %.3f s (%.1f MB/s); round-trip failures: %zu\n", bytes, enc_s,
           enc_s > 0 ? (double)bytes / enc_s / 1e6 : 0.0, rt_failed);
    printf("%zu passed, %zu failed\n", passed, failed);
    return failed ? 1 : 0;
}
