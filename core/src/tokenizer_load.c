/*
 * core/src/tokenizer_load.c - read a Hugging Face tokenizer.json into the
 * tables the encoder and decoder use.
 *
 * What is understood (anything else is refused with SC_ENOTSUP and a message
 * naming it, so a new tokenizer never silently encodes wrongly):
 *   model          BPE: vocab, merges as "a b" strings or ["a", "b"] pairs,
 *                  unk_token, fuse_unk, byte_fallback, ignore_merges; dropout
 *                  must be null/0, continuing_subword_prefix and
 *                  end_of_word_suffix null/"" (byte-level models have none)
 *   normalizer     null, NFC, NFD, NFKC, NFKD, or a Sequence of those
 *   pre_tokenizer  Split (Regex or String pattern, any behaviour, invert) and
 *                  ByteLevel, alone or in a Sequence ending with ByteLevel
 *   decoder        ByteLevel (alone or as the only step of a Sequence)
 *   post_processor ignored: encode() never adds BOS/EOS (Qwen's ByteLevel
 *                  post-processor adds none; chat templates carry their own)
 * sc_tokenizer_vocab_size() is max id + 1, the bound callers check ids with.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "tokenizer_internal.h"

#define SC_TOK_MAX_IDS (1 << 24)              /* a sanity bound, 100x any real vocabulary */
#define SC_TOK_MAX_FILE ((size_t)1 << 30)

const char *sc__tok_str_key(const void *owner, int32_t id, size_t *len) {
    const sc_tokenizer_t *tok = owner;
    *len = tok->str_len[id];
    return tok->str_blob + tok->str_off[id];
}

/* The added-token map is keyed by the content as written in the file (what
 * HF's token_to_id looks up). A linear scan: there are a few dozen. */
const char *sc__tok_added_key(const void *owner, int32_t id, size_t *len) {
    const sc_tokenizer_t *tok = owner;
    for (int i = 0; i < tok->n_added; i++) {
        if (tok->added[i].id == id) {
            *len = tok->added[i].orig_len;
            return tok->added[i].orig;
        }
    }
    *len = 0;
    return "";
}

/* A growable byte blob for the per-id strings. */
typedef struct blob {
    char *p;
    size_t n, cap;
} blob;

static int blob_add(blob *b, const char *s, size_t len, uint32_t *off) {
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 16;
        while (cap < b->n + len + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return SC_ENOMEM;
        b->p = p;
        b->cap = cap;
    }
    if (b->n > UINT32_MAX - len - 1)
        return SC_EOVERFLOW;
    *off = (uint32_t)b->n;
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n++] = '\0';
    return SC_OK;
}

void sc_tokenizer_free(sc_tokenizer_t *tok) {
    if (!tok)
        return;
    free(tok->flags);
    free(tok->str_blob);
    free(tok->str_off);
    free(tok->str_len);
    free(tok->raw_blob);
    free(tok->raw_off);
    free(tok->raw_len);
    sc__tok_strmap_free(&tok->model_map);
    sc__tok_strmap_free(&tok->added_map);
    sc__tok_merges_free(&tok->merges);
    for (int i = 0; i < tok->n_steps; i++)
        pcre2_code_free(tok->steps[i].re);
    free(tok->steps);
    for (int i = 0; i < tok->n_added; i++) {
        free(tok->added[i].content);
        free(tok->added[i].orig);
    }
    free(tok->added);
    if (tok->cache) {
        pthread_mutex_destroy(&tok->cache_lock);
        free(tok->cache);
    }
    free(tok);
}

static bool get_bool(json_t *obj, const char *key, bool dflt) {
    json_t *v = json_object_get(obj, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

/* null or "" is fine; anything else is an option byte-level models never use. */
static bool empty_or_null(json_t *v) {
    return !v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0);
}

/* ------------------------------------------------------------------------ */
/* normalizer                                                                */
/* ------------------------------------------------------------------------ */
/* A chain of Unicode normal forms collapses to one: the last form's
 * composition, with compatibility mapping if any step had it (NFKC then NFD
 * is NFKD; NFD then NFC is NFC). */
static int parse_norm_one(json_t *n, bool *compose, bool *compat, bool *any, char *err, size_t err_len) {
    const char *type = json_string_value(json_object_get(n, "type"));
    if (!type)
        return sc__errf(err, err_len, SC_EFORMAT, "normalizer has no \"type\"");
    if (strcmp(type, "Sequence") == 0) {
        json_t *list = json_object_get(n, "normalizers");
        if (!json_is_array(list))
            return sc__errf(err, err_len, SC_EFORMAT, "normalizer Sequence has no \"normalizers\" array");
        size_t i;
        json_t *it;
        json_array_foreach(list, i, it) {
            int rc = parse_norm_one(it, compose, compat, any, err, err_len);
            if (rc != SC_OK)
                return rc;
        }
        return SC_OK;
    }
    bool k = false, c;
    if (strcmp(type, "NFC") == 0)
        c = true;
    else if (strcmp(type, "NFD") == 0)
        c = false;
    else if (strcmp(type, "NFKC") == 0)
        c = true, k = true;
    else if (strcmp(type, "NFKD") == 0)
        c = false, k = true;
    else
        return sc__errf(err, err_len, SC_ENOTSUP, "normalizer \"%s\" is not supported (NFC/NFD/NFKC/NFKD only)",
                       type);
    *compose = c;
    *compat = *compat || k;
    *any = true;
    return SC_OK;
}

static int parse_normalizer(sc_tokenizer_t *tok, json_t *n, char *err, size_t err_len) {
    tok->norm = SC_TOK_NORM_NONE;
    if (!n || json_is_null(n))
        return SC_OK;
    bool compose = true, compat = false, any = false;
    int rc = parse_norm_one(n, &compose, &compat, &any, err, err_len);
    if (rc != SC_OK || !any)
        return rc;
    tok->norm = compose ? (compat ? SC_TOK_NORM_NFKC : SC_TOK_NORM_NFC)
                        : (compat ? SC_TOK_NORM_NFKD : SC_TOK_NORM_NFD);
    return SC_OK;
}

/* ------------------------------------------------------------------------ */
/* pre-tokenizer and decoder                                                 */
/* ------------------------------------------------------------------------ */
/* GPT-2's pattern, used by ByteLevel when use_regex is true. */
static const char GPT2_PATTERN[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static int add_step(sc_tokenizer_t *tok, json_t *p, char *err, size_t err_len) {
    const char *type = json_string_value(json_object_get(p, "type"));
    if (!type)
        return sc__errf(err, err_len, SC_EFORMAT, "pre_tokenizer has no \"type\"");
    if (strcmp(type, "Sequence") == 0) {
        json_t *list = json_object_get(p, "pretokenizers");
        if (!json_is_array(list))
            return sc__errf(err, err_len, SC_EFORMAT, "pre_tokenizer Sequence has no \"pretokenizers\" array");
        size_t i;
        json_t *it;
        json_array_foreach(list, i, it) {
            int rc = add_step(tok, it, err, err_len);
            if (rc != SC_OK)
                return rc;
        }
        return SC_OK;
    }
    if (tok->n_steps > 0 && tok->steps[tok->n_steps - 1].kind == SC_TOK_STEP_BYTELEVEL)
        return sc__errf(err, err_len, SC_ENOTSUP, "pre_tokenizer \"%s\" after ByteLevel is not supported", type);
    sc_tok_step st;
    memset(&st, 0, sizeof(st));
    if (strcmp(type, "Split") == 0) {
        json_t *pat = json_object_get(p, "pattern");
        json_t *re = json_object_get(pat, "Regex");
        json_t *lit = json_object_get(pat, "String");
        json_t *src = json_is_string(re) ? re : lit;
        if (!json_is_string(src))
            return sc__errf(err, err_len, SC_EFORMAT, "Split pre_tokenizer needs pattern {\"Regex\": ...} or {\"String\": ...}");
        const char *beh = json_string_value(json_object_get(p, "behavior"));
        static const struct { const char *name; sc_tok_split_behavior b; } behs[] = {
            {"Removed", SC_TOK_SPLIT_REMOVED},          {"Isolated", SC_TOK_SPLIT_ISOLATED},
            {"MergedWithPrevious", SC_TOK_SPLIT_MERGED_PREV}, {"MergedWithNext", SC_TOK_SPLIT_MERGED_NEXT},
            {"Contiguous", SC_TOK_SPLIT_CONTIGUOUS},
        };
        bool found = false;
        for (size_t i = 0; beh && i < SC_ARRAY_LEN(behs); i++) {
            if (strcmp(beh, behs[i].name) == 0) {
                st.behavior = behs[i].b;
                found = true;
            }
        }
        if (!found)
            return sc__errf(err, err_len, SC_EFORMAT, "Split pre_tokenizer: unknown behavior \"%s\"", beh ? beh : "(none)");
        st.kind = SC_TOK_STEP_SPLIT;
        st.invert = get_bool(p, "invert", false);
        int rc = sc__tok_regex_compile(json_string_value(src), json_string_length(src), src == lit, &st.re, err,
                                       err_len);
        if (rc != SC_OK)
            return rc;
    } else if (strcmp(type, "ByteLevel") == 0) {
        st.kind = SC_TOK_STEP_BYTELEVEL;
        /* ByteLevel::default() in HF: add_prefix_space and use_regex on */
        st.add_prefix_space = get_bool(p, "add_prefix_space", true);
        if (get_bool(p, "use_regex", true)) {
            int rc = sc__tok_regex_compile(GPT2_PATTERN, sizeof(GPT2_PATTERN) - 1, false, &st.re, err, err_len);
            if (rc != SC_OK)
                return rc;
        }
    } else {
        return sc__errf(err, err_len, SC_ENOTSUP,
                       "pre_tokenizer \"%s\" is not supported (Split and ByteLevel only)", type);
    }
    sc_tok_step *steps = realloc(tok->steps, sizeof(*steps) * (size_t)(tok->n_steps + 1));
    if (!steps) {
        pcre2_code_free(st.re);
        return SC_ENOMEM;
    }
    tok->steps = steps;
    tok->steps[tok->n_steps++] = st;
    return SC_OK;
}

static int parse_pretok_decoder(sc_tokenizer_t *tok, json_t *root, char *err, size_t err_len) {
    json_t *p = json_object_get(root, "pre_tokenizer");
    if (!p || json_is_null(p))
        return sc__errf(err, err_len, SC_ENOTSUP, "tokenizer.json has no pre_tokenizer: only byte-level BPE is supported");
    int rc = add_step(tok, p, err, err_len);
    if (rc != SC_OK)
        return rc;
    if (tok->n_steps == 0 || tok->steps[tok->n_steps - 1].kind != SC_TOK_STEP_BYTELEVEL)
        return sc__errf(err, err_len, SC_ENOTSUP, "pre_tokenizer has no ByteLevel step: only byte-level BPE is supported");

    json_t *d = json_object_get(root, "decoder");
    const char *dtype = json_string_value(json_object_get(d, "type"));
    if (dtype && strcmp(dtype, "Sequence") == 0) {
        json_t *list = json_object_get(d, "decoders");
        if (json_array_size(list) == 1)
            dtype = json_string_value(json_object_get(json_array_get(list, 0), "type"));
    }
    if (!dtype || strcmp(dtype, "ByteLevel") != 0)
        return sc__errf(err, err_len, SC_ENOTSUP, "decoder \"%s\" is not supported (ByteLevel only)",
                       dtype ? dtype : "null");
    return SC_OK;
}

/* ------------------------------------------------------------------------ */
/* model                                                                     */
/* ------------------------------------------------------------------------ */
/* Give every id its JSON string and its decoded bytes. The ByteLevel
 * decoder maps a token char by char through the alphabet, and a token with
 * any char outside it is emitted as its own UTF-8 bytes (HF does the same). */
static int set_id_strings(sc_tokenizer_t *tok, blob *sb, blob *rb, int32_t id, const char *s, size_t len,
                          char *scratch) {
    uint32_t off;
    int rc;
    /* The JSON string keys the model map: an added token that reuses a
     * vocab id keeps the vocab's string there (its normalised form may
     * differ), and only its decoded bytes are replaced. */
    if (!(tok->flags[id] & SC_TOK_ID_MODEL)) {
        rc = blob_add(sb, s, len, &off);
        if (rc != SC_OK)
            return rc;
        tok->str_off[id] = off;
        tok->str_len[id] = (uint32_t)len;
    }
    size_t rlen;
    if (!sc__bytelevel_to_bytes(s, len, scratch, &rlen)) {
        memcpy(scratch, s, len);
        rlen = len;
    }
    rc = blob_add(rb, scratch, rlen, &off);
    if (rc != SC_OK)
        return rc;
    tok->raw_off[id] = off;
    tok->raw_len[id] = (uint32_t)rlen;
    return SC_OK;
}

/* Split one merges entry into its two sides. */
static int merge_sides(json_t *m, size_t rank, const char **a, size_t *alen, const char **b, size_t *blen,
                       char *err, size_t err_len) {
    if (json_is_array(m)) {
        json_t *x = json_array_get(m, 0), *y = json_array_get(m, 1);
        if (json_array_size(m) != 2 || !json_is_string(x) || !json_is_string(y))
            return sc__errf(err, err_len, SC_EFORMAT, "merges[%zu]: expected a pair of strings", rank);
        *a = json_string_value(x);
        *alen = json_string_length(x);
        *b = json_string_value(y);
        *blen = json_string_length(y);
        return SC_OK;
    }
    if (!json_is_string(m))
        return sc__errf(err, err_len, SC_EFORMAT, "merges[%zu]: expected \"a b\" or [\"a\", \"b\"]", rank);
    const char *s = json_string_value(m);
    size_t len = json_string_length(m);
    const char *sp = memchr(s, ' ', len);
    /* exactly one space, as HF's convert_merges_to_hashmap demands */
    if (!sp || memchr(sp + 1, ' ', len - (size_t)(sp + 1 - s)))
        return sc__errf(err, err_len, SC_EFORMAT, "merges[%zu]: \"%.60s\" is not two tokens separated by one space", rank, s);
    *a = s;
    *alen = (size_t)(sp - s);
    *b = sp + 1;
    *blen = len - *alen - 1;
    return SC_OK;
}

static int parse_merges(sc_tokenizer_t *tok, json_t *merges, char *err, size_t err_len) {
    size_t n = json_array_size(merges);
    int rc = sc__tok_merges_init(&tok->merges, (uint32_t)(n ? n : 1));
    if (rc != SC_OK)
        return rc;
    char stackbuf[512];
    uint32_t rank = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(merges, i);
        /* legacy merges.txt header lines, skipped without taking a rank */
        if (json_is_string(m) && strncmp(json_string_value(m), "#version", 8) == 0)
            continue;
        const char *a = NULL, *b = NULL;
        size_t alen = 0, blen = 0;
        rc = merge_sides(m, i, &a, &alen, &b, &blen, err, err_len);
        if (rc != SC_OK)
            return rc;
        int32_t ia = sc__tok_strmap_get(&tok->model_map, tok, sc__tok_str_key, a, alen);
        int32_t ib = sc__tok_strmap_get(&tok->model_map, tok, sc__tok_str_key, b, blen);
        if (ia < 0 || ib < 0)
            return sc__errf(err, err_len, SC_EFORMAT, "merges[%zu]: token \"%.60s\" is not in the vocab", i,
                           ia < 0 ? a : b);
        char *cat = alen + blen <= sizeof(stackbuf) ? stackbuf : malloc(alen + blen);
        if (!cat)
            return SC_ENOMEM;
        memcpy(cat, a, alen);
        memcpy(cat + alen, b, blen);
        int32_t id = sc__tok_strmap_get(&tok->model_map, tok, sc__tok_str_key, cat, alen + blen);
        if (cat != stackbuf)
            free(cat);
        if (id < 0)
            return sc__errf(err, err_len, SC_EFORMAT, "merges[%zu]: merged token \"%.40s%.40s\" is not in the vocab", i,
                           a, b);
        sc__tok_merges_put(&tok->merges, ia, ib, rank++, id);
    }
    return SC_OK;
}

static int parse_model(sc_tokenizer_t *tok, json_t *model, json_t *added, blob *sb, blob *rb, char *err,
                       size_t err_len) {
    if (!json_is_object(model))
        return sc__errf(err, err_len, SC_EFORMAT, "tokenizer.json has no \"model\" object");
    const char *type = json_string_value(json_object_get(model, "type"));
    if (type && strcmp(type, "BPE") != 0)
        return sc__errf(err, err_len, SC_ENOTSUP, "model type \"%s\" is not supported (only BPE)", type);
    json_t *vocab = json_object_get(model, "vocab");
    json_t *merges = json_object_get(model, "merges");
    if (!json_is_object(vocab))
        return sc__errf(err, err_len, SC_EFORMAT, "model has no \"vocab\" object");
    if (!json_is_array(merges))
        return sc__errf(err, err_len, SC_EFORMAT, "model has no \"merges\" array");
    json_t *dropout = json_object_get(model, "dropout");
    if (dropout && !json_is_null(dropout) && json_number_value(dropout) != 0.0)
        return sc__errf(err, err_len, SC_ENOTSUP, "BPE dropout is not supported (it makes encoding random)");
    if (!empty_or_null(json_object_get(model, "continuing_subword_prefix")))
        return sc__errf(err, err_len, SC_ENOTSUP, "BPE continuing_subword_prefix is not supported");
    if (!empty_or_null(json_object_get(model, "end_of_word_suffix")))
        return sc__errf(err, err_len, SC_ENOTSUP, "BPE end_of_word_suffix is not supported");
    tok->byte_fallback = get_bool(model, "byte_fallback", false);
    tok->fuse_unk = get_bool(model, "fuse_unk", false);
    tok->ignore_merges = get_bool(model, "ignore_merges", false);

    /* Size the per-id tables: model ids, then added tokens that HF numbers
     * from the vocab size up (see parse_added). */
    int64_t max_id = -1;
    const char *key;
    size_t klen;
    json_t *val;
    json_object_keylen_foreach(vocab, key, klen, val) {
        if (!json_is_integer(val) || json_integer_value(val) < 0 || json_integer_value(val) >= SC_TOK_MAX_IDS)
            return sc__errf(err, err_len, SC_EFORMAT, "vocab entry \"%.60s\": id must be an integer in [0, %d)", key,
                           SC_TOK_MAX_IDS);
        max_id = SC_MAX(max_id, json_integer_value(val));
    }
    if (max_id < 0)
        return sc__errf(err, err_len, SC_EFORMAT, "the vocab is empty");
    size_t n = (size_t)SC_MAX(max_id + 1, (int64_t)json_object_size(vocab) + (int64_t)json_array_size(added));
    if (n > SC_TOK_MAX_IDS)
        return sc__errf(err, err_len, SC_EFORMAT, "too many tokens (%zu)", n);
    tok->n_ids = (int32_t)(max_id + 1);
    tok->flags = calloc(n, 1);
    tok->str_off = calloc(n, sizeof(uint32_t));
    tok->str_len = calloc(n, sizeof(uint32_t));
    tok->raw_off = calloc(n, sizeof(uint32_t));
    tok->raw_len = calloc(n, sizeof(uint32_t));
    if (!tok->flags || !tok->str_off || !tok->str_len || !tok->raw_off || !tok->raw_len)
        return SC_ENOMEM;
    int rc = sc__tok_strmap_init(&tok->model_map, (uint32_t)json_object_size(vocab));
    if (rc != SC_OK)
        return rc;

    char scratch_stack[1024];
    json_object_keylen_foreach(vocab, key, klen, val) {
        int32_t id = (int32_t)json_integer_value(val);
        size_t len = klen;
        if (tok->flags[id] & SC_TOK_ID_MODEL) {
            /* Two strings with one id (HF would map both): only the first is kept. */
            sc_log(SC_LOG_WARN, "tokenizer", "vocab id %d appears twice (\"%.40s\")", id, key);
            continue;
        }
        char *scratch = len <= sizeof(scratch_stack) ? scratch_stack : malloc(len);
        if (!scratch)
            return SC_ENOMEM;
        rc = set_id_strings(tok, sb, rb, id, key, len, scratch);
        if (scratch != scratch_stack)
            free(scratch);
        if (rc != SC_OK)
            return rc;
        tok->flags[id] |= SC_TOK_ID_MODEL;
        tok->str_blob = sb->p; /* the map reads keys through tok while we insert */
        rc = sc__tok_strmap_put(&tok->model_map, tok, sc__tok_str_key, id);
        if (rc != SC_OK)
            return rc;
    }
    /* Keys with two strings for one id must resolve to a string that exists. */
    tok->str_blob = sb->p;

    /* BPE's starting symbols: the token for each single byte. */
    for (int b = 0; b < 256; b++) {
        char s[8];
        size_t len = sc__bytelevel_from_bytes((const char *)&(unsigned char){(unsigned char)b}, 1, s);
        tok->byte_id[b] = sc__tok_strmap_get(&tok->model_map, tok, sc__tok_str_key, s, len);
        snprintf(s, sizeof(s), "<0x%02X>", b);
        tok->fallback_id[b] = sc__tok_strmap_get(&tok->model_map, tok, sc__tok_str_key, s, strlen(s));
    }
    tok->unk_id = -1;
    json_t *unk = json_object_get(model, "unk_token");
    if (json_is_string(unk)) {
        tok->unk_id = sc__tok_strmap_get(&tok->model_map, tok, sc__tok_str_key, json_string_value(unk),
                                         json_string_length(unk));
        if (tok->unk_id < 0)
            return sc__errf(err, err_len, SC_EFORMAT, "unk_token \"%.60s\" is not in the vocab", json_string_value(unk));
    }
    return parse_merges(tok, merges, err, err_len);
}

/* ------------------------------------------------------------------------ */
/* added tokens                                                              */
/* ------------------------------------------------------------------------ */
static int cmp_added_len(const void *a, const void *b) {
    const sc_tok_added *x = a, *y = b;
    if (x->len != y->len)
        return x->len > y->len ? -1 : 1; /* longest first: the first hit is the longest */
    return x->id < y->id ? -1 : x->id > y->id;
}

/* HF's AddedVocabulary::add_tokens, as run when a tokenizer.json is read:
 * the "id" in the file is only checked (HF warns on a mismatch); the id is
 * the model's when the content is a vocab entry, the earlier one when the
 * content was already added (its flags are replaced), and otherwise the next
 * free id counting up from the model vocab's size. */
static int parse_added(sc_tokenizer_t *tok, json_t *vocab, json_t *added, blob *sb, blob *rb, char *err,
                       size_t err_len) {
    size_t n = json_array_size(added);
    tok->added = calloc(n ? n : 1, sizeof(sc_tok_added));
    if (!tok->added)
        return SC_ENOMEM;
    int32_t next_id = (int32_t)json_object_size(vocab);
    size_t i;
    json_t *a;
    json_array_foreach(added, i, a) {
        json_t *c = json_object_get(a, "content");
        json_t *want = json_object_get(a, "id");
        if (!json_is_string(c))
            return sc__errf(err, err_len, SC_EFORMAT, "added_tokens[%zu]: needs a string \"content\"", i);
        const char *content = json_string_value(c);
        size_t clen = json_string_length(c);
        if (clen == 0)
            continue; /* HF ignores empty added tokens */
        if (sc__utf8_valid_prefix(content, clen) != clen)
            return sc__errf(err, err_len, SC_EFORMAT, "added_tokens[%zu]: content is not valid UTF-8", i);
        sc_tok_added t = {0};
        t.special = get_bool(a, "special", false);
        t.normalized = get_bool(a, "normalized", !t.special);
        t.lstrip = get_bool(a, "lstrip", false);
        t.rstrip = get_bool(a, "rstrip", false);
        t.single_word = get_bool(a, "single_word", false);

        sc_tok_added *slot = NULL;
        for (int k = 0; k < tok->n_added; k++)
            if (tok->added[k].orig_len == clen && memcmp(tok->added[k].orig, content, clen) == 0)
                slot = &tok->added[k];
        int32_t id = slot ? slot->id : sc__tok_strmap_get(&tok->model_map, tok, sc__tok_str_key, content, clen);
        if (id < 0)
            id = next_id++;
        if (json_is_integer(want) && json_integer_value(want) != id)
            sc_log(SC_LOG_WARN, "tokenizer", "added token \"%.40s\" was expected to have id %lld but gets id %d",
                   content, (long long)json_integer_value(want), id);
        t.id = id;
        char *norm = NULL;
        size_t nlen = clen;
        if (t.normalized && tok->norm != SC_TOK_NORM_NONE) {
            int rc = sc__tok_normalize(tok, content, clen, &norm, &nlen);
            if (rc != SC_OK)
                return rc;
        }
        t.content = malloc(nlen + 1);
        t.orig = malloc(clen + 1);
        if (!t.content || !t.orig) {
            free(norm);
            free(t.content);
            free(t.orig);
            return SC_ENOMEM;
        }
        memcpy(t.content, norm ? norm : content, nlen);
        t.content[nlen] = '\0';
        t.len = nlen;
        memcpy(t.orig, content, clen);
        t.orig[clen] = '\0';
        t.orig_len = clen;
        free(norm);
        if (slot) {
            free(slot->content);
            free(slot->orig);
            *slot = t;
        } else {
            tok->added[tok->n_added++] = t;
        }
        if (id >= tok->n_ids)
            tok->n_ids = id + 1;

        /* Decoding an added token goes through the ByteLevel decoder too
         * (HF decodes its normalised form). */
        char *scratch = malloc(nlen + 1);
        if (!scratch)
            return SC_ENOMEM;
        int rc = set_id_strings(tok, sb, rb, id, t.content, nlen, scratch);
        free(scratch);
        tok->str_blob = sb->p;
        if (rc != SC_OK)
            return rc;
        tok->flags[id] = (uint8_t)((tok->flags[id] & ~SC_TOK_ID_SPECIAL) | SC_TOK_ID_ADDED |
                                   (t.special ? SC_TOK_ID_SPECIAL : 0));
    }
    for (int k = 0; k < tok->n_added; k++) {
        const sc_tok_added *t = &tok->added[k];
        if (t->normalized) {
            tok->added_first_norm[(unsigned char)t->content[0]] = true;
            tok->has_added_norm = true;
        } else {
            tok->added_first[(unsigned char)t->content[0]] = true;
            tok->has_added_raw = true;
        }
    }
    qsort(tok->added, (size_t)tok->n_added, sizeof(sc_tok_added), cmp_added_len);
    int rc = sc__tok_strmap_init(&tok->added_map, (uint32_t)(tok->n_added + 1));
    for (int k = 0; k < tok->n_added && rc == SC_OK; k++)
        rc = sc__tok_strmap_put(&tok->added_map, tok, sc__tok_added_key, tok->added[k].id);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* entry points                                                              */
/* ------------------------------------------------------------------------ */
int sc_tokenizer_load_json(const char *json, size_t len, sc_tokenizer_t **out, char *err, size_t err_len) {
    if (err && err_len)
        err[0] = '\0';
    if (!out || (!json && len))
        return sc__errf(err, err_len, SC_EINVAL, "sc_tokenizer_load_json: NULL argument");
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_ALLOW_NUL, &jerr);
    if (!root)
        return sc__errf(err, err_len, SC_EFORMAT, "tokenizer.json:%d:%d: %s", jerr.line, jerr.column, jerr.text);
    sc_tokenizer_t *tok = calloc(1, sizeof(*tok));
    blob sb = {0}, rb = {0};
    int rc = SC_ENOMEM;
    if (!tok)
        goto done;
    if (!json_is_object(root)) {
        rc = sc__errf(err, err_len, SC_EFORMAT, "tokenizer.json is not a JSON object");
        goto done;
    }
    json_t *added = json_object_get(root, "added_tokens");
    if (added && !json_is_array(added) && !json_is_null(added)) {
        rc = sc__errf(err, err_len, SC_EFORMAT, "\"added_tokens\" is not an array");
        goto done;
    }
    rc = parse_normalizer(tok, json_object_get(root, "normalizer"), err, err_len);
    if (rc == SC_OK)
        rc = parse_model(tok, json_object_get(root, "model"), added, &sb, &rb, err, err_len);
    if (rc == SC_OK)
        rc = parse_pretok_decoder(tok, root, err, err_len);
    tok->str_blob = sb.p;
    if (rc == SC_OK)
        rc = parse_added(tok, json_object_get(json_object_get(root, "model"), "vocab"), added, &sb, &rb, err,
                         err_len);
    tok->str_blob = sb.p;
    tok->raw_blob = rb.p;
    sb.p = rb.p = NULL;
    if (rc == SC_OK) {
        tok->cache = calloc(SC_TOK_CACHE_SLOTS, sizeof(sc_tok_cache_entry));
        if (!tok->cache || pthread_mutex_init(&tok->cache_lock, NULL) != 0) {
            free(tok->cache);
            tok->cache = NULL; /* encoding works without it, just slower */
        }
    }
done:
    free(sb.p);
    free(rb.p);
    json_decref(root);
    if (rc != SC_OK) {
        if (rc == SC_ENOMEM && err && err_len && !err[0])
            sc__errf(err, err_len, rc, "out of memory loading tokenizer.json");
        sc_tokenizer_free(tok);
        return rc;
    }
    *out = tok;
    return SC_OK;
}

int sc_tokenizer_load(const char *path, sc_tokenizer_t **out, char *err, size_t err_len) {
    if (!path || !out)
        return sc__errf(err, err_len, SC_EINVAL, "sc_tokenizer_load: NULL argument");
    *out = NULL;
    char full[4096];
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        if ((size_t)snprintf(full, sizeof(full), "%s/tokenizer.json", path) >= sizeof(full))
            return sc__errf(err, err_len, SC_EINVAL, "%s: path too long", path);
        path = full;
    }
    char *buf = NULL;
    size_t n = 0;
    int rc = sc__read_file(path, SC_TOK_MAX_FILE, &buf, &n, err, err_len);
    if (rc == SC_OK) {
        rc = sc_tokenizer_load_json(buf, n, out, err, err_len);
        if (rc != SC_OK && err && err_len) {
            /* prefix the file name so the message says which file */
            char tmp[512];
            snprintf(tmp, sizeof(tmp), "%s", err);
            snprintf(err, err_len, "%s: %s", path, tmp);
        }
    }
    free(buf);
    return rc;
}

int32_t sc_tokenizer_vocab_size(const sc_tokenizer_t *tok) {
    return tok ? tok->n_ids : 0;
}

int32_t sc_tokenizer_token_id(const sc_tokenizer_t *tok, const char *token) {
    if (!tok || !token)
        return -1;
    size_t len = strlen(token);
    /* added tokens first, as HF's token_to_id does */
    int32_t id = sc__tok_strmap_get(&tok->added_map, tok, sc__tok_added_key, token, len);
    if (id < 0)
        id = sc__tok_strmap_get(&tok->model_map, tok, sc__tok_str_key, token, len);
    return id;
}

bool sc_tokenizer_is_special(const sc_tokenizer_t *tok, int32_t id) {
    return tok && id >= 0 && id < tok->n_ids && (tok->flags[id] & SC_TOK_ID_SPECIAL);
}

const char *sc_tokenizer_token_bytes(const sc_tokenizer_t *tok, int32_t id, size_t *len) {
    if (!tok || id < 0 || id >= tok->n_ids || !tok->flags[id]) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = tok->raw_len[id];
    return tok->raw_blob + tok->raw_off[id];
}
