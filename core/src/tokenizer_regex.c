/*
 * core/src/tokenizer_regex.c - compile tokenizer.json's Split patterns
 * (written for Oniguruma, which HF tokenizers uses) for PCRE2.
 *
 * PCRE2 in UTF + UCP mode reads the same syntax and agrees with Oniguruma on
 * \s, \p{L} and \p{N} except where the Unicode tables differ. An exhaustive
 * comparison with HF tokenizers 0.23 (every code point, by the pre-token
 * boundaries HF reports) against Debian 12's PCRE2 10.42 (Unicode 14) found:
 *   - \s: PCRE2 also matches U+180E MONGOLIAN VOWEL SEPARATOR, which left
 *     White_Space in Unicode 6.3; Oniguruma matches exactly White_Space;
 *   - \p{L}, \p{N}: Oniguruma knows the letters and digits added in Unicode
 *     15.0-16.0 (Kawi, Kaktovik numerals, CJK extension H and I, Garay, ...),
 *     PCRE2 10.42 sees them as unassigned.
 * So before compiling, \s and \S become explicit White_Space classes, and
 * \p{L} / \p{N} gain the newer ranges. The additions only widen a class, so
 * a PCRE2 with newer tables gives the same answer. Other properties (\p{Lu},
 * \p{M}, ...) are passed through unchanged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

/* Unicode White_Space (what Oniguruma's \s is), written for inside a class */
static const char WS_CLASS[] =
    "\\x{9}-\\x{D}\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";

/* letters and digits assigned after Unicode 14.0, up to 16.0 */
static const char L_EXTRA[] =
    "\\x{1C89}-\\x{1C8A}\\x{A7CB}-\\x{A7CD}\\x{A7DA}-\\x{A7DC}\\x{105C0}-\\x{105F3}\\x{10D4A}-\\x{10D65}"
    "\\x{10D6F}-\\x{10D85}\\x{10EC2}-\\x{10EC4}\\x{1123F}-\\x{11240}\\x{11380}-\\x{11389}\\x{1138B}"
    "\\x{1138E}\\x{11390}-\\x{113B5}\\x{113B7}\\x{113D1}\\x{113D3}\\x{11BC0}-\\x{11BE0}\\x{11F02}"
    "\\x{11F04}-\\x{11F10}\\x{11F12}-\\x{11F33}\\x{1342F}\\x{13441}-\\x{13446}\\x{13460}-\\x{143FA}"
    "\\x{16100}-\\x{1611D}\\x{16D40}-\\x{16D6C}\\x{18CFF}\\x{1B132}\\x{1B155}\\x{1DF25}-\\x{1DF2A}"
    "\\x{1E030}-\\x{1E06D}\\x{1E4D0}-\\x{1E4EB}\\x{1E5D0}-\\x{1E5ED}\\x{1E5F0}\\x{2B739}"
    "\\x{2EBF0}-\\x{2EE5D}\\x{31350}-\\x{323AF}";
static const char N_EXTRA[] =
    "\\x{10D40}-\\x{10D49}\\x{116D0}-\\x{116E3}\\x{11BF0}-\\x{11BF9}\\x{11F50}-\\x{11F59}"
    "\\x{16130}-\\x{16139}\\x{16D70}-\\x{16D79}\\x{1CCF0}-\\x{1CCF9}\\x{1D2C0}-\\x{1D2D3}"
    "\\x{1E4F0}-\\x{1E4F9}\\x{1E5F1}-\\x{1E5FA}";

typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void put(sbuf *b, const char *s, size_t len) {
    if (b->oom)
        return;
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + len + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = '\0';
}

static void puts_(sbuf *b, const char *s) {
    put(b, s, strlen(s));
}

/* Is s (at a backslash) \p{L}/\pL or \p{N}/\pN? Returns the escape length. */
static size_t prop_escape(const char *s, size_t len, char *which) {
    if (len >= 3 && s[1] == 'p' && (s[2] == 'L' || s[2] == 'N')) {
        *which = s[2];
        return 3;
    }
    if (len >= 5 && s[1] == 'p' && s[2] == '{' && (s[3] == 'L' || s[3] == 'N') && s[4] == '}') {
        *which = s[3];
        return 5;
    }
    return 0;
}

/* Rewrite the pattern (see the top of the file). Escapes other than the
 * ones rewritten are copied whole, \Q..\E and [:posix:] untouched. */
static char *rewrite(const char *s, size_t len, bool *oom) {
    sbuf b = {0};
    bool in_class = false;
    size_t class_start = 0; /* index just after '[' or '[^' */
    for (size_t i = 0; i < len;) {
        char c = s[i];
        if (c == '\\' && i + 1 < len) {
            char which;
            size_t pl = prop_escape(s + i, len - i, &which);
            if (pl) {
                const char *extra = which == 'L' ? L_EXTRA : N_EXTRA;
                if (!in_class)
                    puts_(&b, "[");
                put(&b, s + i, pl);
                puts_(&b, extra);
                if (!in_class)
                    puts_(&b, "]");
                i += pl;
                continue;
            }
            if (s[i + 1] == 's') {
                if (!in_class)
                    puts_(&b, "[");
                puts_(&b, WS_CLASS);
                if (!in_class)
                    puts_(&b, "]");
                i += 2;
                continue;
            }
            if (s[i + 1] == 'S' && !in_class) {
                /* inside a class a negated set cannot be spelled out; \S
                 * there stays PCRE2's (it differs only at U+180E) */
                puts_(&b, "[^");
                puts_(&b, WS_CLASS);
                puts_(&b, "]");
                i += 2;
                continue;
            }
            if (s[i + 1] == 'Q') {
                const char *e = NULL;
                for (size_t k = i + 2; k + 1 < len && !e; k++)
                    if (s[k] == '\\' && s[k + 1] == 'E')
                        e = s + k + 2;
                size_t n = e ? (size_t)(e - (s + i)) : len - i;
                put(&b, s + i, n);
                i += n;
                continue;
            }
            put(&b, s + i, 2); /* any other escape, kept whole */
            i += 2;
            continue;
        }
        if (!in_class && c == '[') {
            in_class = true;
            put(&b, s + i, 1);
            i++;
            if (i < len && s[i] == '^') {
                put(&b, s + i, 1);
                i++;
            }
            class_start = i;
            continue;
        }
        if (in_class && c == '[' && i + 1 < len && s[i + 1] == ':') {
            const char *e = NULL;
            for (size_t k = i + 2; k + 1 < len && !e; k++)
                if (s[k] == ':' && s[k + 1] == ']')
                    e = s + k + 2;
            size_t n = e ? (size_t)(e - (s + i)) : 1;
            put(&b, s + i, n);
            i += n;
            continue;
        }
        if (in_class && c == ']' && i != class_start)
            in_class = false; /* a ']' first in a class is a literal */
        put(&b, s + i, 1);
        i++;
    }
    if (!b.p && !b.oom)
        put(&b, "", 0);
    *oom = b.oom;
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

int sc__tok_regex_compile(const char *pattern, size_t len, bool literal, pcre2_code **out, char *err,
                          size_t err_len) {
    char *fixed = NULL;
    size_t flen = len;
    if (!literal) {
        bool oom;
        fixed = rewrite(pattern, len, &oom);
        if (!fixed)
            return SC_ENOMEM;
        flen = strlen(fixed);
    }
    int ec;
    PCRE2_SIZE eoff;
    uint32_t opts = PCRE2_UTF | PCRE2_UCP | (literal ? PCRE2_LITERAL : 0);
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)(fixed ? fixed : pattern), flen, opts, &ec, &eoff, NULL);
    free(fixed);
    if (!re) {
        char msg[256];
        pcre2_get_error_message(ec, (PCRE2_UCHAR *)msg, sizeof(msg));
        if (err && err_len)
            snprintf(err, err_len, "pre_tokenizer regex /%.*s/ does not compile: %s", (int)SC_MIN(len, 120),
                     pattern, msg);
        return SC_EFORMAT;
    }
    /* JIT is only a speed-up; the interpreter gives the same matches. */
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    *out = re;
    return SC_OK;
}
