/*
 * tests/unit/test_tokenizer.c - the byte-level BPE tokenizer on a tiny
 * synthetic tokenizer.json: merge order, added and special tokens, the
 * pre-tokenizer, NFC, invalid UTF-8, U+FFFD rules, streaming detok, and the
 * errors for tokenizer.json files we refuse. Parity with HF tokenizers on
 * the real Qwen3 vocabulary is tests/tokenizer/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "tokenizer_internal.h"

#define QWEN_PATTERN                                                                                       \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|" \
    "\\s+(?!\\S)|\\s+"

/* Ids: byte b is id b (its byte-level char), then merged tokens from 256. */
enum { ID_AB = 256, ID_BC, ID_AA, ID_AAAA, ID_SP_A, ID_SP_AB, ID_IM_START, ID_THINK, ID_LS, ID_EOT };

static char *bl(const char *raw) {
    static char buf[8][64];
    static int k;
    char *o = buf[k++ % 8];
    size_t n = sc__bytelevel_from_bytes(raw, strlen(raw), o);
    o[n] = '\0';
    return o;
}

/* Build a tokenizer.json; merges_pairs picks the [["a","b"]] spelling.
 * `tweak` may edit the document before it is serialised. */
static char *make_json(bool ab_first, bool merges_pairs, void (*tweak)(json_t *root)) {
    json_t *vocab = json_object();
    for (int b = 0; b < 256; b++) {
        char raw[2] = {(char)b, 0};
        char s[8];
        size_t n = sc__bytelevel_from_bytes(raw, 1, s);
        s[n] = '\0';
        json_object_set_new(vocab, s, json_integer(b));
    }
    const char *merged[][3] = {
        {"a", "b", "ab"}, {"b", "c", "bc"}, {"a", "a", "aa"}, {"aa", "aa", "aaaa"}, {" ", "a", " a"}, {" ", "ab", " ab"},
    };
    for (int i = 0; i < 6; i++)
        json_object_set_new(vocab, bl(merged[i][2]), json_integer(256 + i));
    json_t *merges = json_array();
    int order[6] = {0, 1, 2, 3, 4, 5};
    if (!ab_first) {
        order[0] = 1;
        order[1] = 0;
    }
    for (int i = 0; i < 6; i++) {
        const char *a = merged[order[i]][0], *b = merged[order[i]][1];
        char as[32], bs[32];
        snprintf(as, sizeof(as), "%s", bl(a));
        snprintf(bs, sizeof(bs), "%s", bl(b));
        if (merges_pairs) {
            json_array_append_new(merges, json_pack("[ss]", as, bs));
        } else {
            char line[64];
            snprintf(line, sizeof(line), "%s %s", as, bs);
            json_array_append_new(merges, json_string(line));
        }
    }
    json_t *added = json_pack(
        "[{s:i,s:s,s:b,s:b,s:b,s:b,s:b}, {s:i,s:s,s:b,s:b,s:b,s:b,s:b}, {s:i,s:s,s:b,s:b,s:b,s:b,s:b},"
        " {s:i,s:s,s:b,s:b,s:b,s:b,s:b}]",
        "id", ID_IM_START, "content", "<|im_start|>", "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", 0,
        "special", 1,
        "id", ID_THINK, "content", "<think>", "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", 0, "special", 0,
        "id", ID_LS, "content", "[LS]", "single_word", 0, "lstrip", 1, "rstrip", 1, "normalized", 0, "special", 0,
        "id", ID_EOT, "content", "<|endoftext|>", "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", 0,
        "special", 1);
    json_t *root = json_pack(
        "{s:s, s:o, s:{s:s}, s:{s:s, s:[{s:s, s:{s:s}, s:s, s:b}, {s:s, s:b, s:b, s:b}]},"
        " s:{s:s}, s:{s:s}, s:{s:s, s:n, s:n, s:s, s:s, s:b, s:b, s:b, s:o, s:o}}",
        "version", "1.0", "added_tokens", added, "normalizer", "type", "NFC", "pre_tokenizer", "type", "Sequence",
        "pretokenizers", "type", "Split", "pattern", "Regex", QWEN_PATTERN, "behavior", "Isolated", "invert", 0,
        "type", "ByteLevel", "add_prefix_space", 0, "trim_offsets", 0, "use_regex", 0, "post_processor", "type",
        "ByteLevel", "decoder", "type", "ByteLevel", "model", "type", "BPE", "dropout", "unk_token",
        "continuing_subword_prefix", "", "end_of_word_suffix", "", "fuse_unk", 0, "byte_fallback", 0,
        "ignore_merges", 0, "vocab", vocab, "merges", merges);
    assert_non_null(root);
    if (tweak)
        tweak(root);
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}

static sc_tokenizer_t *load(bool ab_first, bool pairs) {
    char *json = make_json(ab_first, pairs, NULL);
    sc_tokenizer_t *tok = NULL;
    char err[256];
    int rc = sc_tokenizer_load_json(json, strlen(json), &tok, err, sizeof(err));
    if (rc != SC_OK)
        fail_msg("load: %s", err);
    free(json);
    return tok;
}

/* encode must give exactly `want` (terminated by -1) */
static void expect_ids(const sc_tokenizer_t *tok, const char *text, size_t len, bool special, const int32_t *want) {
    int32_t *ids = NULL;
    size_t n = 0;
    assert_int_equal(sc_tokenizer_encode(tok, text, len, special, &ids, &n), SC_OK);
    size_t wn = 0;
    while (want[wn] >= 0)
        wn++;
    bool same = n == wn && memcmp(ids, want, n * sizeof(int32_t)) == 0;
    if (!same) {
        fprintf(stderr, "text \"%.*s\": got", (int)len, text);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, "\n");
    }
    free(ids);
    assert_true(same);
}
#define EXPECT(tok, text, special, ...) \
    expect_ids(tok, text, strlen(text), special, (const int32_t[]){__VA_ARGS__, -1})

static void test_merge_order(void **state) {
    sc_tokenizer_t *t1 = load(true, false), *t2 = load(false, false), *t3 = load(true, true);
    EXPECT(t1, "abc", true, ID_AB, 'c');       /* "a b" ranks first */
    EXPECT(t2, "abc", true, 'a', ID_BC);       /* "b c" ranks first */
    EXPECT(t3, "abc", true, ID_AB, 'c');       /* pairs spelling: same model */
    EXPECT(t1, "aaa", true, ID_AA, 'a');       /* equal ranks: leftmost first */
    EXPECT(t1, "aaaa", true, ID_AAAA);         /* then "aa aa" */
    EXPECT(t1, "aaaaa", true, ID_AAAA, 'a');
    EXPECT(t1, "ab ab", true, ID_AB, ID_SP_AB); /* the space joins the next word */
    EXPECT(t1, "ab\n\n ab", true, ID_AB, '\n', '\n', ID_SP_AB);
    EXPECT(t1, "a1b", true, 'a', '1', 'b');    /* digits split off one by one */
    sc_tokenizer_free(t1);
    sc_tokenizer_free(t2);
    sc_tokenizer_free(t3);
}

static void test_long_word(void **state) {
    /* 50k letters in one pre-token: must finish quickly (heap, not rescans) */
    sc_tokenizer_t *tok = load(true, false);
    size_t n = 50000;
    char *s = malloc(n);
    memset(s, 'a', n);
    int32_t *ids;
    size_t n_ids;
    assert_int_equal(sc_tokenizer_encode(tok, s, n, true, &ids, &n_ids), SC_OK);
    assert_int_equal(n_ids, n / 4);
    for (size_t i = 0; i < n_ids; i++)
        assert_int_equal(ids[i], ID_AAAA);
    free(ids);
    free(s);
    sc_tokenizer_free(tok);
}

static void test_added_tokens(void **state) {
    sc_tokenizer_t *tok = load(true, false);
    EXPECT(tok, "<|im_start|>ab", true, ID_IM_START, ID_AB);
    EXPECT(tok, "ab<think>ab", true, ID_AB, ID_THINK, ID_AB);
    /* parse_special off: special tokens are text, other added tokens still match */
    EXPECT(tok, "<|im_start|><think>", false, '<', '|', 'i', 'm', '_', 's', 't', 'a', 'r', 't', '|', '>', ID_THINK);
    /* lstrip/rstrip swallow the whitespace around the token */
    EXPECT(tok, "ab  [LS]  ab", true, ID_AB, ID_LS, ID_AB);
    EXPECT(tok, "<|im_start|><|endoftext|>", true, ID_IM_START, ID_EOT);
    /* a partial special token is plain text */
    EXPECT(tok, "<|im_start", true, '<', '|', 'i', 'm', '_', 's', 't', 'a', 'r', 't');
    sc_tokenizer_free(tok);
}

/* HF numbers added tokens itself: a vocab entry keeps its vocab id, the
 * others count up from the vocab size; the ids in the file are only checked. */
static void renumber_added(json_t *root) {
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(root, "added_tokens"), i, a)
        json_object_set_new(a, "id", json_integer(500 + (json_int_t)i));
    json_array_insert_new(json_object_get(root, "added_tokens"), 0,
                          json_pack("{s:i,s:s,s:b}", "id", 7, "content", "ab", "special", 1));
}

static void test_added_ids(void **state) {
    char *json = make_json(true, false, renumber_added);
    sc_tokenizer_t *tok = NULL;
    char err[256];
    assert_int_equal(sc_tokenizer_load_json(json, strlen(json), &tok, err, sizeof(err)), SC_OK);
    free(json);
    assert_int_equal(sc_tokenizer_token_id(tok, "ab"), ID_AB);
    assert_true(sc_tokenizer_is_special(tok, ID_AB));
    assert_int_equal(sc_tokenizer_token_id(tok, "<|im_start|>"), ID_IM_START);
    assert_int_equal(sc_tokenizer_token_id(tok, "<|endoftext|>"), ID_EOT);
    assert_int_equal(sc_tokenizer_vocab_size(tok), ID_EOT + 1);
    EXPECT(tok, "xab<think>", true, 'x', ID_AB, ID_THINK);
    sc_tokenizer_free(tok);
}

static void test_lookups(void **state) {
    sc_tokenizer_t *tok = load(true, false);
    assert_int_equal(sc_tokenizer_vocab_size(tok), ID_EOT + 1);
    assert_int_equal(sc_tokenizer_token_id(tok, "<|im_start|>"), ID_IM_START);
    assert_int_equal(sc_tokenizer_token_id(tok, bl(" ab")), ID_SP_AB);
    assert_int_equal(sc_tokenizer_token_id(tok, "no such token"), -1);
    assert_true(sc_tokenizer_is_special(tok, ID_IM_START));
    assert_false(sc_tokenizer_is_special(tok, ID_THINK));
    assert_false(sc_tokenizer_is_special(tok, ID_AB));
    assert_false(sc_tokenizer_is_special(tok, 100000));
    size_t len;
    const char *b = sc_tokenizer_token_bytes(tok, ID_SP_AB, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(b, " ab", 3);
    b = sc_tokenizer_token_bytes(tok, 0xE2, &len);
    assert_int_equal(len, 1);
    assert_int_equal((unsigned char)b[0], 0xE2);
    assert_null(sc_tokenizer_token_bytes(tok, ID_EOT + 1, &len));
    assert_null(sc_tokenizer_token_bytes(tok, -1, &len));
    sc_tokenizer_free(tok);
}

static void test_nfc_and_empty(void **state) {
    sc_tokenizer_t *tok = load(true, false);
    /* e + COMBINING ACUTE composes to U+00E9 (C3 A9) before BPE */
    EXPECT(tok, "e\xCC\x81", true, 0xC3, 0xA9);
    int32_t *ids = NULL;
    size_t n = 99;
    assert_int_equal(sc_tokenizer_encode(tok, "", 0, true, &ids, &n), SC_OK);
    assert_non_null(ids);
    assert_int_equal(n, 0);
    free(ids);
    sc_tokenizer_free(tok);
}

static void test_invalid_utf8(void **state) {
    sc_tokenizer_t *tok = load(true, false);
    static const char *bad[] = {
        "\xC0\x80", "\xED\xA0\x80", "\xE2\x82", "a\x80", "\xF5\x80\x80\x80", "\xF4\x90\x80\x80", "\xFF",
    };
    for (size_t i = 0; i < SC_ARRAY_LEN(bad); i++) {
        int32_t *ids = (int32_t *)(uintptr_t)1;
        size_t n = 7;
        assert_int_equal(sc_tokenizer_encode(tok, bad[i], strlen(bad[i]), true, &ids, &n), SC_EINVAL);
        assert_null(ids);
        assert_int_equal(n, 0);
    }
    /* embedded NUL is valid UTF-8 */
    EXPECT(tok, "a", true, 'a');
    expect_ids(tok, "a\0b", 3, true, (const int32_t[]){'a', 0, 'b', -1});
    sc_tokenizer_free(tok);
}

static void expect_decode(const sc_tokenizer_t *tok, const int32_t *ids, size_t n, bool skip, const char *want) {
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(sc_tokenizer_decode(tok, ids, n, skip, &out, &len), SC_OK);
    assert_int_equal(len, strlen(want));
    assert_string_equal(out, want);
    free(out);
}
#define DECODE(tok, skip, want, ...)                                                  \
    expect_decode(tok, (const int32_t[]){__VA_ARGS__},                                \
                  sizeof((const int32_t[]){__VA_ARGS__}) / sizeof(int32_t), skip, want)

#define FFFD "\xEF\xBF\xBD"

static void test_decode_replacement(void **state) {
    sc_tokenizer_t *tok = load(true, false);
    DECODE(tok, false, "ab ab", ID_AB, ID_SP_AB);
    /* one U+FFFD per maximal subpart of an ill-formed sequence */
    DECODE(tok, false, FFFD "a", 0xE2, 0x82, 'a');              /* truncated 3-byte */
    DECODE(tok, false, FFFD, 0xF0, 0x9F, 0x98);                 /* truncated at the end */
    DECODE(tok, false, FFFD FFFD, 0xC0, 0x80);                  /* C0 is never valid */
    DECODE(tok, false, FFFD FFFD FFFD, 0xED, 0xA0, 0x80);       /* surrogate */
    DECODE(tok, false, FFFD FFFD FFFD, 0xE0, 0x80, 0x80);       /* overlong */
    DECODE(tok, false, FFFD FFFD FFFD FFFD, 0xF4, 0x90, 0x80, 0x80); /* > U+10FFFF */
    DECODE(tok, false, FFFD FFFD "a", 0xF0, 0x9F, 0xF0, 0x9F, 'a');
    DECODE(tok, false, "\xF0\x9F\x98\x80", 0xF0, 0x9F, 0x98, 0x80);
    /* specials kept or skipped; ids with no token are dropped, as in HF */
    DECODE(tok, false, "<|im_start|>ab<think>", ID_IM_START, ID_AB, ID_THINK);
    DECODE(tok, true, "ab<think>", ID_IM_START, ID_AB, ID_THINK);
    DECODE(tok, false, "ab", ID_EOT + 1, ID_AB, 100000, -5);
    sc_tokenizer_free(tok);
}

/* Push ids one by one; the pieces must never end inside a character and
 * must add up to decode(ids). */
static void stream_check(const sc_tokenizer_t *tok, const int32_t *ids, size_t n, bool skip,
                         const char *const *pieces) {
    sc_detok_t *d = sc_detok_create(tok, skip);
    assert_non_null(d);
    char all[256];
    size_t all_len = 0;
    for (size_t i = 0; i <= n; i++) {
        char *out = NULL;
        size_t len = 0;
        if (i < n)
            assert_int_equal(sc_detok_push(d, ids[i], &out, &len), SC_OK);
        else
            assert_int_equal(sc_detok_flush(d, &out, &len), SC_OK);
        assert_non_null(out);
        assert_int_equal(out[len], '\0');
        if (pieces) {
            assert_int_equal(len, strlen(pieces[i]));
            assert_memory_equal(out, pieces[i], len);
        }
        assert_int_equal(sc__utf8_valid_prefix(out, len), len);
        assert_true(all_len + len <= sizeof(all));
        memcpy(all + all_len, out, len);
        all_len += len;
        free(out);
    }
    char *whole;
    size_t wlen;
    assert_int_equal(sc_tokenizer_decode(tok, ids, n, skip, &whole, &wlen), SC_OK);
    assert_int_equal(all_len, wlen);
    assert_memory_equal(all, whole, wlen);
    free(whole);
    sc_detok_free(d);
}

static void test_streaming(void **state) {
    sc_tokenizer_t *tok = load(true, false);
    /* U+1F600 split over four byte tokens, then text */
    const int32_t emoji[] = {ID_AB, 0xF0, 0x9F, 0x98, 0x80, ID_SP_AB};
    const char *const emoji_pieces[] = {"ab", "", "", "", "\xF0\x9F\x98\x80", " ab", ""};
    stream_check(tok, emoji, 6, false, emoji_pieces);
    /* an unfinished character at the end comes out of flush as U+FFFD */
    const int32_t cut[] = {'a', 0xE2, 0x82};
    const char *const cut_pieces[] = {"a", "", "", FFFD};
    stream_check(tok, cut, 3, false, cut_pieces);
    /* a sequence that can no longer complete is replaced at once */
    const int32_t broken[] = {0xE2, 'a', 0xC0, 0x80};
    const char *const broken_pieces[] = {"", FFFD "a", FFFD, FFFD, ""};
    stream_check(tok, broken, 4, false, broken_pieces);
    /* specials skipped in the stream as in decode */
    const int32_t sp[] = {ID_IM_START, ID_AB, ID_EOT};
    const char *const sp_pieces[] = {"", "ab", "", ""};
    stream_check(tok, sp, 3, true, sp_pieces);
    stream_check(tok, sp, 3, false, NULL);
    /* pseudo-random byte soup: the invariant pushes + flush == decode */
    uint32_t x = 12345;
    for (int round = 0; round < 200; round++) {
        int32_t ids[24];
        for (int i = 0; i < 24; i++) {
            x = x * 1664525u + 1013904223u;
            ids[i] = (int32_t)((x >> 8) % 262); /* bytes and a few merged tokens */
        }
        stream_check(tok, ids, 24, false, NULL);
    }
    sc_tokenizer_free(tok);
}

/* Encoding is const and thread-safe (the pre-token cache is locked): four
 * threads hammering one tokenizer get the single-threaded answers. */
typedef struct thread_job {
    const sc_tokenizer_t *tok;
    int seed;
    int bad;
} thread_job;

static const char *const THREAD_TEXTS[] = {"ab ab abc", "aaaa aaa aa", "<|im_start|>bc\n\n ab", "cab bca aab"};

static void *encode_worker(void *arg) {
    thread_job *job = arg;
    int32_t *want[4];
    size_t want_n[4];
    for (int i = 0; i < 4; i++)
        sc_tokenizer_encode(job->tok, THREAD_TEXTS[i], strlen(THREAD_TEXTS[i]), true, &want[i], &want_n[i]);
    for (int r = 0; r < 2000; r++) {
        int i = (r + job->seed) % 4;
        int32_t *ids;
        size_t n;
        if (sc_tokenizer_encode(job->tok, THREAD_TEXTS[i], strlen(THREAD_TEXTS[i]), true, &ids, &n) != SC_OK ||
            n != want_n[i] || memcmp(ids, want[i], n * sizeof(int32_t)) != 0)
            job->bad++;
        free(ids);
    }
    for (int i = 0; i < 4; i++)
        free(want[i]);
    return NULL;
}

static void test_threads(void **state) {
    sc_tokenizer_t *tok = load(true, false);
    pthread_t th[4];
    thread_job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (thread_job){tok, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, encode_worker, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(jobs[i].bad, 0);
    }
    EXPECT(tok, "ab ab abc", true, ID_AB, ID_SP_AB, ID_SP_AB, 'c');
    sc_tokenizer_free(tok);
}

/* ---- tokenizer.json files we must refuse, with a message */
static void set_model_type(json_t *root) {
    json_object_set_new(json_object_get(root, "model"), "type", json_string("WordPiece"));
}
static void drop_model(json_t *root) {
    json_object_del(root, "model");
}
static void merge_no_space(json_t *root) {
    json_array_append_new(json_object_get(json_object_get(root, "model"), "merges"), json_string("abc"));
}
static void merge_unknown(json_t *root) {
    json_array_append_new(json_object_get(json_object_get(root, "model"), "merges"), json_string("zz q"));
}
static void merge_not_in_vocab(json_t *root) {
    json_array_append_new(json_object_get(json_object_get(root, "model"), "merges"), json_string("c d"));
}
static void merge_number(json_t *root) {
    json_array_append_new(json_object_get(json_object_get(root, "model"), "merges"), json_integer(3));
}
static void lowercase_norm(json_t *root) {
    json_object_set_new(root, "normalizer", json_pack("{s:s}", "type", "Lowercase"));
}
static void no_pretok(json_t *root) {
    json_object_set_new(root, "pre_tokenizer", json_null());
}
static void bad_regex(json_t *root) {
    json_t *split = json_array_get(json_object_get(json_object_get(root, "pre_tokenizer"), "pretokenizers"), 0);
    json_object_set_new(split, "pattern", json_pack("{s:s}", "Regex", "(unclosed"));
}
static void metaspace_decoder(json_t *root) {
    json_object_set_new(root, "decoder", json_pack("{s:s}", "type", "Metaspace"));
}
static void dropout(json_t *root) {
    json_object_set_new(json_object_get(root, "model"), "dropout", json_real(0.1));
}
static void prefix(json_t *root) {
    json_object_set_new(json_object_get(root, "model"), "continuing_subword_prefix", json_string("##"));
}
static void bad_vocab_id(json_t *root) {
    json_object_set_new(json_object_get(json_object_get(root, "model"), "vocab"), "zz", json_string("x"));
}

static void expect_refused(void (*tweak)(json_t *), int code, const char *msg) {
    char *json = make_json(true, false, tweak);
    sc_tokenizer_t *tok = (sc_tokenizer_t *)(uintptr_t)1;
    char err[256] = "";
    assert_int_equal(sc_tokenizer_load_json(json, strlen(json), &tok, err, sizeof(err)), code);
    assert_null(tok);
    if (!strstr(err, msg))
        fail_msg("error \"%s\" does not contain \"%s\"", err, msg);
    free(json);
}

static void test_malformed(void **state) {
    expect_refused(set_model_type, SC_ENOTSUP, "WordPiece");
    expect_refused(drop_model, SC_EFORMAT, "model");
    expect_refused(merge_no_space, SC_EFORMAT, "merges[6]");
    expect_refused(merge_unknown, SC_EFORMAT, "not in the vocab");
    expect_refused(merge_not_in_vocab, SC_EFORMAT, "merged token");
    expect_refused(merge_number, SC_EFORMAT, "merges[6]");
    expect_refused(lowercase_norm, SC_ENOTSUP, "Lowercase");
    expect_refused(no_pretok, SC_ENOTSUP, "pre_tokenizer");
    expect_refused(bad_regex, SC_EFORMAT, "regex");
    expect_refused(metaspace_decoder, SC_ENOTSUP, "Metaspace");
    expect_refused(dropout, SC_ENOTSUP, "dropout");
    expect_refused(prefix, SC_ENOTSUP, "continuing_subword_prefix");
    expect_refused(bad_vocab_id, SC_EFORMAT, "zz");

    sc_tokenizer_t *tok = NULL;
    char err[256];
    assert_int_equal(sc_tokenizer_load_json("{not json", 9, &tok, err, sizeof(err)), SC_EFORMAT);
    assert_null(tok);
    assert_int_equal(sc_tokenizer_load_json("[]", 2, &tok, err, sizeof(err)), SC_EFORMAT);
    assert_int_equal(sc_tokenizer_load("/nonexistent/tokenizer.json", &tok, err, sizeof(err)), SC_ENOENT);
    assert_non_null(strstr(err, "/nonexistent/tokenizer.json"));
}

static void test_load_path(void **state) {
    char dir[] = "/tmp/sc_tok_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/tokenizer.json", dir);
    char *json = make_json(true, true, NULL);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(json, f);
    fclose(f);
    free(json);
    sc_tokenizer_t *tok = NULL;
    char err[256];
    assert_int_equal(sc_tokenizer_load(dir, &tok, err, sizeof(err)), SC_OK); /* a directory */
    EXPECT(tok, "abc", true, ID_AB, 'c');
    sc_tokenizer_free(tok);
    assert_int_equal(sc_tokenizer_load(path, &tok, err, sizeof(err)), SC_OK); /* the file */
    sc_tokenizer_free(tok);
    unlink(path);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_order),       cmocka_unit_test(test_long_word),
        cmocka_unit_test(test_added_tokens),      cmocka_unit_test(test_added_ids),
        cmocka_unit_test(test_lookups),
        cmocka_unit_test(test_nfc_and_empty),     cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_decode_replacement), cmocka_unit_test(test_streaming),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_malformed),         cmocka_unit_test(test_load_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
