/*
 * core/src/tokenizer_encode.c - text -> ids: added tokens, normalisation,
 * then the pre-tokenizer and BPE (tokenizer_pretok.c, tokenizer_bpe.c).
 *
 * Follows HF's AddedVocabulary::extract_and_normalize:
 *   1. cut the raw text at added tokens with normalized=false;
 *   2. normalise each remaining piece on its own (NFC never reaches across
 *      an added token);
 *   3. cut those pieces at added tokens with normalized=true;
 *   4. pre-tokenize and BPE what is left.
 * Matching is leftmost-longest (HF's Aho-Corasick, MatchKind::LeftmostLongest),
 * resuming after each match even when the match is then discarded (a
 * single_word miss, or a special token with parse_special off).
 */
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "tokenizer_internal.h"

/* Unicode White_Space: what Rust's regex \s (HF's lstrip/rstrip) matches. */
static bool is_white_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

/* Rust regex's Unicode \w (HF's single_word test): Alphabetic, marks,
 * decimal digits, connector punctuation, joiners. Alphabetic is approximated
 * by letters and letter numbers (utf8proc has no Alphabetic property). */
static bool is_word_char(uint32_t c) {
    if (c == 0x200C || c == 0x200D)
        return true;
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_PC:
        return true;
    default:
        return false;
    }
}

/* The char that ends s[0, pos) (valid UTF-8, pos > 0). */
static uint32_t char_before(const char *s, size_t pos, size_t *start) {
    size_t i = pos - 1;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--;
    uint32_t cp;
    sc__utf8_decode(s + i, pos - i, &cp);
    if (start)
        *start = i;
    return cp;
}

/* HF normalises with the unicode-normalization-alignments crate, whose
 * tables are Unicode 9.0; utf8proc 2.8 has Unicode 15. By the normalisation
 * stability policy the two agree on text made of characters both know, so
 * only characters added since 9.0 that take part in normalisation (nonzero
 * combining class, decompositions, compositions) can differ. To HF they are
 * unassigned: starters that never reorder or compose. These are they, found
 * by comparing HF's NFC with utf8proc's on every such code point (utf8proc
 * knows no Unicode 16 marks yet, so neither side reorders those). */
static const uint32_t NFC_UNKNOWN_TO_HF[][2] = {
    {0x7FD, 0x7FD}, {0x898, 0x89F}, {0x8CA, 0x8D3}, {0x9FE, 0x9FE}, {0xC3C, 0xC3C}, {0xD3B, 0xD3C},
    {0xEBA, 0xEBA}, {0x1715, 0x1715}, {0x1ABF, 0x1ACE}, {0x1DF6, 0x1DFA}, {0xA82C, 0xA82C},
    {0x10D24, 0x10D27}, {0x10EAB, 0x10EAC}, {0x10EFD, 0x10EFF}, {0x10F46, 0x10F50}, {0x10F82, 0x10F85},
    {0x11070, 0x11070}, {0x1133B, 0x1133B}, {0x1145E, 0x1145E}, {0x11839, 0x1183A}, {0x11930, 0x11930},
    {0x11935, 0x11935}, {0x11938, 0x11938}, {0x1193D, 0x1193E}, {0x11943, 0x11943}, {0x119E0, 0x119E0},
    {0x11A34, 0x11A34}, {0x11A47, 0x11A47}, {0x11A99, 0x11A99}, {0x11D42, 0x11D42}, {0x11D44, 0x11D45},
    {0x11D97, 0x11D97}, {0x11F41, 0x11F42}, {0x16FF0, 0x16FF1}, {0x1E08F, 0x1E08F}, {0x1E130, 0x1E136},
    {0x1E2AE, 0x1E2AE}, {0x1E2EC, 0x1E2EF}, {0x1E4EC, 0x1E4EF},
};

static bool unknown_to_hf(uint32_t c) {
    size_t lo = 0, hi = SC_ARRAY_LEN(NFC_UNKNOWN_TO_HF);
    if (c < NFC_UNKNOWN_TO_HF[0][0])
        return false;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < NFC_UNKNOWN_TO_HF[mid][0])
            hi = mid;
        else if (c > NFC_UNKNOWN_TO_HF[mid][1])
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

/* utf8proc's normal form of s[0, len), appended to *out */
static int map_append(const char *s, size_t len, int opts, char **out, size_t *n, size_t *cap) {
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t m = len ? utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &dst,
                                            (utf8proc_option_t)opts)
                             : 0;
    if (m < 0)
        return m == UTF8PROC_ERROR_NOMEM ? SC_ENOMEM : SC_EINVAL;
    if (*n + (size_t)m + 1 > *cap) {
        size_t c = SC_MAX(*cap * 2, *n + (size_t)m + 1);
        char *p = realloc(*out, c);
        if (!p) {
            free(dst);
            return SC_ENOMEM;
        }
        *out = p;
        *cap = c;
    }
    if (m)
        memcpy(*out + *n, dst, (size_t)m);
    *n += (size_t)m;
    free(dst);
    return SC_OK;
}

int sc__tok_normalize(const sc_tokenizer_t *tok, const char *s, size_t len, char **out, size_t *out_len) {
    *out = NULL;
    *out_len = len;
    if (tok->norm == SC_TOK_NORM_NONE)
        return SC_OK;
    size_t i = 0;
    while (i < len && (unsigned char)s[i] < 0x80)
        i++;
    if (i == len)
        return SC_OK; /* ASCII is the same in every normal form */
    int opts = UTF8PROC_STABLE;
    switch (tok->norm) {
    case SC_TOK_NORM_NFC: opts |= UTF8PROC_COMPOSE; break;
    case SC_TOK_NORM_NFD: opts |= UTF8PROC_DECOMPOSE; break;
    case SC_TOK_NORM_NFKC: opts |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
    case SC_TOK_NORM_NFKD: opts |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
    default: break;
    }
    /* Normalise the runs between characters HF does not know; those are
     * copied as they are (to HF they are plain starters). */
    char *buf = NULL;
    size_t n = 0, cap = 0, seg = 0;
    int rc = SC_OK;
    for (size_t k = i; k < len && rc == SC_OK;) {
        uint32_t cp;
        size_t cl = sc__utf8_decode(s + k, len - k, &cp);
        if (cp >= 0x80 && unknown_to_hf(cp)) {
            rc = map_append(s + seg, k - seg, opts, &buf, &n, &cap);
            if (rc == SC_OK && n + cl + 1 > cap) {
                cap = SC_MAX(cap * 2, n + cl + 1);
                char *p = realloc(buf, cap);
                if (!p)
                    rc = SC_ENOMEM;
                else
                    buf = p;
            }
            if (rc == SC_OK) {
                memcpy(buf + n, s + k, cl);
                n += cl;
            }
            seg = k + cl;
        }
        k += cl;
    }
    if (rc == SC_OK)
        rc = map_append(s + seg, len - seg, opts, &buf, &n, &cap);
    if (rc != SC_OK) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return SC_OK;
}

typedef struct enc {
    const sc_tokenizer_t *tok;
    bool parse_special;
    sc_tok_ids *ids;
} enc;

typedef int (*gap_fn)(enc *e, const char *s, size_t len);

/* HF's AddedVocabulary::find_matches over one sentence, with the gaps
 * between kept tokens handed to `gap`. */
static int split_added(enc *e, const char *s, size_t len, bool normalized, gap_fn gap) {
    const sc_tokenizer_t *tok = e->tok;
    const bool *first = normalized ? tok->added_first_norm : tok->added_first;
    size_t start_offset = 0, pos = 0;
    int rc = SC_OK;
    while (pos < len && rc == SC_OK) {
        /* leftmost start, then the longest token there (sorted longest first) */
        const sc_tok_added *t = NULL;
        size_t at;
        for (at = pos; at < len; at++) {
            if (!first[(unsigned char)s[at]])
                continue;
            for (int k = 0; k < tok->n_added && !t; k++) {
                const sc_tok_added *c = &tok->added[k];
                if (c->normalized == normalized && c->len <= len - at && memcmp(c->content, s + at, c->len) == 0)
                    t = c;
            }
            if (t)
                break;
        }
        if (!t)
            break;
        size_t start = at, stop = at + t->len;
        pos = stop;
        if (!e->parse_special && t->special)
            continue; /* HF's split_special_tokens: the text stays text */
        if (t->single_word) {
            bool start_ok = start == 0 || !is_word_char(char_before(s, start, NULL));
            uint32_t next = 0;
            if (stop < len)
                sc__utf8_decode(s + stop, len - stop, &next);
            bool stop_ok = stop == len || !is_word_char(next);
            if (!start_ok || !stop_ok)
                continue;
        }
        if (t->lstrip) {
            size_t ns = start;
            while (ns > 0) {
                size_t cs;
                if (!is_white_space(char_before(s, ns, &cs)))
                    break;
                ns = cs;
            }
            /* spaces an earlier match already took stay with it */
            start = SC_MAX(ns, start_offset);
        }
        if (t->rstrip) {
            while (stop < len) {
                uint32_t cp;
                size_t n = sc__utf8_decode(s + stop, len - stop, &cp);
                if (!is_white_space(cp))
                    break;
                stop += n;
            }
        }
        if (start_offset < start)
            rc = gap(e, s + start_offset, start - start_offset);
        if (rc == SC_OK)
            rc = sc__tok_ids_push(e->ids, t->id);
        start_offset = stop;
    }
    if (rc == SC_OK && start_offset < len)
        rc = gap(e, s + start_offset, len - start_offset);
    return rc;
}

static int pretok_gap(enc *e, const char *s, size_t len) {
    return sc__tok_pretok_encode(e->tok, s, len, e->ids);
}

/* A piece between raw-matched added tokens: normalise, then look for the
 * normalized=true added tokens in it. */
static int normalize_gap(enc *e, const char *s, size_t len) {
    char *norm;
    size_t nlen;
    int rc = sc__tok_normalize(e->tok, s, len, &norm, &nlen);
    if (rc != SC_OK)
        return rc;
    const char *p = norm ? norm : s;
    if (e->tok->has_added_norm)
        rc = split_added(e, p, nlen, true, pretok_gap);
    else
        rc = pretok_gap(e, p, nlen);
    free(norm);
    return rc;
}

int sc_tokenizer_encode(const sc_tokenizer_t *tok, const char *text, size_t len, bool parse_special,
                        int32_t **ids, size_t *n_ids) {
    if (!ids || !n_ids)
        return SC_EINVAL;
    *ids = NULL;
    *n_ids = 0;
    if (!tok || (!text && len))
        return SC_EINVAL;
    size_t valid = sc__utf8_valid_prefix(text, len);
    if (valid != len) {
        sc_log(SC_LOG_DEBUG, "tokenizer", "encode: invalid UTF-8 at byte %zu", valid);
        return SC_EINVAL;
    }
    sc_tok_ids out = {0};
    enc e = {tok, parse_special, &out};
    int rc = len == 0 ? SC_OK
         : tok->has_added_raw ? split_added(&e, text, len, false, normalize_gap)
                              : normalize_gap(&e, text, len);
    if (rc == SC_OK && !out.v) {
        out.v = malloc(sizeof(int32_t)); /* a valid pointer to free() even for no ids */
        if (!out.v)
            rc = SC_ENOMEM;
    }
    if (rc != SC_OK) {
        free(out.v);
        return rc;
    }
    *ids = out.v;
    *n_ids = out.n;
    return SC_OK;
}
