/*
 * core/src/tokenizer_pretok.c - pre-tokenizer steps: Split (a regex or a
 * literal, with HF's five delimiter behaviours) and ByteLevel, then BPE.
 *
 * HF runs Split patterns with Oniguruma; we run them with PCRE2, the pattern
 * adjusted to Oniguruma's Unicode tables (tokenizer_regex.c). The match loop
 * copies the onig crate's find_iter, including how it steps over an empty
 * match that directly follows the previous match.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

/* One piece of a split: [start, end) and whether the pattern matched it. */
typedef struct piece {
    size_t start, end;
    bool match;
} piece;

typedef struct pieces {
    piece *v;
    size_t n, cap;
} pieces;

static int pieces_push(pieces *p, size_t start, size_t end, bool match) {
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 32;
        piece *v = realloc(p->v, cap * sizeof(piece));
        if (!v)
            return SC_ENOMEM;
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = (piece){start, end, match};
    return SC_OK;
}

/* State for matching one subject: match data, and a bigger JIT stack made
 * only if the default 32 KiB one runs out (long runs of whitespace can). */
typedef struct matcher {
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jstack;
} matcher;

static void matcher_free(matcher *m) {
    pcre2_match_data_free(m->md);
    pcre2_match_context_free(m->mctx);
    pcre2_jit_stack_free(m->jstack);
}

static int run_match(matcher *m, const pcre2_code *re, const char *s, size_t len, size_t from) {
    int rc = pcre2_match(re, (PCRE2_SPTR)s, len, from, PCRE2_NO_UTF_CHECK, m->md, m->mctx);
    if ((rc == PCRE2_ERROR_JIT_STACKLIMIT || rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_MATCHLIMIT ||
         rc == PCRE2_ERROR_DEPTHLIMIT) && !m->mctx) {
        m->mctx = pcre2_match_context_create(NULL);
        m->jstack = pcre2_jit_stack_create(64 * 1024, 256u * 1024 * 1024, NULL);
        if (!m->mctx || !m->jstack)
            return PCRE2_ERROR_NOMEMORY;
        pcre2_jit_stack_assign(m->mctx, NULL, m->jstack);
        pcre2_set_heap_limit(m->mctx, 1024u * 1024); /* KiB: 1 GiB */
        pcre2_set_match_limit(m->mctx, UINT32_MAX);
        pcre2_set_depth_limit(m->mctx, UINT32_MAX);
        rc = pcre2_match(re, (PCRE2_SPTR)s, len, from, PCRE2_NO_UTF_CHECK, m->md, m->mctx);
    }
    return rc;
}

/* HF's Pattern::find_matches: matches and the gaps between them, covering
 * the whole subject in order. */
static int find_matches(const pcre2_code *re, bool invert, const char *s, size_t len, pieces *out) {
    matcher m = {0};
    m.md = pcre2_match_data_create_from_pattern(re, NULL);
    if (!m.md)
        return SC_ENOMEM;
    int rc = SC_OK;
    size_t prev = 0, last_end = 0;
    bool have_last = false;
    size_t last_match_end = 0;
    while (rc == SC_OK && last_end <= len) {
        int mr = run_match(&m, re, s, len, last_end);
        if (mr == PCRE2_ERROR_NOMATCH)
            break;
        if (mr < 0) {
            rc = mr == PCRE2_ERROR_NOMEMORY ? SC_ENOMEM : SC_ERANGE;
            sc_log(SC_LOG_ERROR, "tokenizer", "pre_tokenizer regex failed (PCRE2 error %d)", mr);
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m.md);
        size_t st = ov[0], en = ov[1];
        if (st == en && have_last && last_match_end == en) {
            /* an empty match right after the previous one: step one char */
            size_t step = 1;
            if (last_end < len) {
                uint32_t cp;
                step = sc__utf8_decode(s + last_end, len - last_end, &cp);
            }
            last_end += step;
            continue;
        }
        last_end = en;
        last_match_end = en;
        have_last = true;
        if (prev != st)
            rc = pieces_push(out, prev, st, invert);
        if (rc == SC_OK)
            rc = pieces_push(out, st, en, !invert);
        prev = en;
    }
    if (rc == SC_OK && prev != len)
        rc = pieces_push(out, prev, len, invert);
    matcher_free(&m);
    return rc;
}

/* Apply a delimiter behaviour in place (NormalizedString::split in HF);
 * pieces to drop are marked by start == SIZE_MAX. */
static void apply_behavior(sc_tok_split_behavior b, pieces *p) {
    size_t n = 0;
    bool prev_match = false;
    switch (b) {
    case SC_TOK_SPLIT_ISOLATED:
        return;
    case SC_TOK_SPLIT_REMOVED:
        for (size_t i = 0; i < p->n; i++)
            if (!p->v[i].match)
                p->v[n++] = p->v[i];
        p->n = n;
        return;
    case SC_TOK_SPLIT_CONTIGUOUS:
        for (size_t i = 0; i < p->n; i++) {
            if (p->v[i].match == prev_match && n > 0)
                p->v[n - 1].end = p->v[i].end;
            else
                p->v[n++] = p->v[i];
            prev_match = p->v[i].match;
        }
        p->n = n;
        return;
    case SC_TOK_SPLIT_MERGED_PREV:
        for (size_t i = 0; i < p->n; i++) {
            if (p->v[i].match && !prev_match && n > 0)
                p->v[n - 1].end = p->v[i].end;
            else
                p->v[n++] = p->v[i];
            prev_match = p->v[i].match;
        }
        p->n = n;
        return;
    case SC_TOK_SPLIT_MERGED_NEXT: {
        /* the same fold run from the right, then put back in order */
        size_t w = p->n;
        for (size_t i = p->n; i-- > 0;) {
            if (p->v[i].match && !prev_match && w < p->n)
                p->v[w].start = p->v[i].start;
            else
                p->v[--w] = p->v[i];
            prev_match = p->v[i].match;
        }
        memmove(p->v, p->v + w, (p->n - w) * sizeof(piece));
        p->n -= w;
        return;
    }
    }
}

static int run_steps(const sc_tokenizer_t *tok, int k, const char *s, size_t len, sc_tok_ids *ids);

/* Split s with re under a behaviour and feed each non-empty piece onward. */
static int split_and_continue(const sc_tokenizer_t *tok, int k, const pcre2_code *re,
                              sc_tok_split_behavior behavior, bool invert, const char *s, size_t len,
                              sc_tok_ids *ids) {
    pieces p = {0};
    int rc = find_matches(re, invert, s, len, &p);
    if (rc == SC_OK) {
        apply_behavior(behavior, &p);
        for (size_t i = 0; i < p.n && rc == SC_OK; i++)
            rc = run_steps(tok, k + 1, s + p.v[i].start, p.v[i].end - p.v[i].start, ids);
    }
    free(p.v);
    return rc;
}

static int run_steps(const sc_tokenizer_t *tok, int k, const char *s, size_t len, sc_tok_ids *ids) {
    if (len == 0)
        return SC_OK; /* HF drops empty splits */
    if (k == tok->n_steps)
        return sc__tok_bpe(tok, s, len, ids);
    const sc_tok_step *st = &tok->steps[k];
    if (st->kind == SC_TOK_STEP_SPLIT)
        return split_and_continue(tok, k, st->re, st->behavior, st->invert, s, len, ids);

    /* ByteLevel: the byte -> char mapping itself is implicit (BPE works on
     * raw bytes); what is left is the optional prefix space and regex. */
    char *tmp = NULL;
    if (st->add_prefix_space && s[0] != ' ') {
        tmp = malloc(len + 1);
        if (!tmp)
            return SC_ENOMEM;
        tmp[0] = ' ';
        memcpy(tmp + 1, s, len);
        s = tmp;
        len++;
    }
    int rc = st->re ? split_and_continue(tok, k, st->re, SC_TOK_SPLIT_ISOLATED, false, s, len, ids)
                    : run_steps(tok, k + 1, s, len, ids);
    free(tmp);
    return rc;
}

int sc__tok_pretok_encode(const sc_tokenizer_t *tok, const char *s, size_t len, sc_tok_ids *ids) {
    return run_steps(tok, 0, s, len, ids);
}
