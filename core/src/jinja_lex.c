/*
 * core/src/jinja_lex.c - Jinja2 lexer with the whitespace rules Hugging Face
 * renders chat templates with (trim_blocks=True, lstrip_blocks=True).
 *
 * It follows jinja2/lexer.py state by state, because whitespace handling is
 * where renderers most often disagree with Python:
 *   - "{%-" / "{{-" / "{#-" strip all whitespace before the tag;
 *     "-%}" / "-}}" / "-#}" strip all whitespace after it.
 *   - trim_blocks: one newline right after "%}" or "#}" is dropped ("+%}"
 *     keeps it).
 *   - lstrip_blocks: spaces and tabs between the start of a line and "{%" or
 *     "{#" are dropped ("{%+" keeps them); never for "{{".
 *   - line endings become "\n" and one trailing newline of the source is
 *     dropped (keep_trailing_newline=False).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jinja.h"

typedef struct lexer {
    jarena *a;
    const char *s; /* normalised source, lives in the template arena */
    size_t n, pos;
    jtoken *toks;
    size_t ntoks, cap;
    bool line_starting; /* the previous match ended with a newline */
    char bal[SC_J_MAX_NESTING]; /* open brackets inside a tag */
    int nbal;
    /* incremental position -> line:col */
    size_t cur_pos;
    int cur_line, cur_col;
    char *err;
    size_t err_len;
    int rc;
} lexer;

/* Positions only move forward, so line and column (in code points) are
 * tracked incrementally: a long single-line template stays linear. */
static void linecol(lexer *lx, size_t pos, int *line, int *col) {
    if (pos < lx->cur_pos) { /* only happens for error reports; rescan */
        lx->cur_pos = 0;
        lx->cur_line = 1;
        lx->cur_col = 0;
    }
    for (; lx->cur_pos < pos; lx->cur_pos++) {
        unsigned char c = (unsigned char)lx->s[lx->cur_pos];
        if (c == '\n') {
            lx->cur_line++;
            lx->cur_col = 0;
        } else if ((c & 0xC0) != 0x80) {
            lx->cur_col++;
        }
    }
    *line = lx->cur_line;
    *col = lx->cur_col + 1;
}

static int lfail(lexer *lx, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int lfail(lexer *lx, size_t pos, const char *fmt, ...) {
    if (lx->rc) return lx->rc;
    int line, col;
    linecol(lx, pos, &line, &col);
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(lx->err, lx->err_len, "%d:%d: %s", line, col, msg);
    lx->rc = SC_EFORMAT;
    return lx->rc;
}

static jtoken *emit(lexer *lx, jtok type, size_t pos) {
    if (lx->ntoks == lx->cap) {
        size_t cap = lx->cap ? lx->cap * 2 : 256;
        jtoken *t = realloc(lx->toks, cap * sizeof(jtoken));
        if (!t) {
            snprintf(lx->err, lx->err_len, "out of memory");
            lx->rc = SC_ENOMEM;
            return NULL;
        }
        lx->toks = t;
        lx->cap = cap;
    }
    jtoken *t = &lx->toks[lx->ntoks++];
    memset(t, 0, sizeof(*t));
    t->type = (uint8_t)type;
    linecol(lx, pos, &t->line, &t->col);
    return t;
}

static bool starts(const lexer *lx, size_t pos, const char *lit) {
    size_t k = strlen(lit);
    return pos + k <= lx->n && memcmp(lx->s + pos, lit, k) == 0;
}

/* Python's \s (str.isspace) at pos: its byte length, 0 if not whitespace. */
static size_t space_at(const lexer *lx, size_t pos) {
    if (pos >= lx->n) return 0;
    uint32_t cp;
    size_t k = sc__j_utf8_dec(lx->s + pos, lx->n - pos, &cp);
    return sc__j_py_isspace(cp) ? k : 0;
}

static size_t skip_space(const lexer *lx, size_t pos) {
    size_t k;
    while ((k = space_at(lx, pos)) > 0) pos += k;
    return pos;
}

/* Length of text[0..len) without its trailing whitespace (str.rstrip()). */
static size_t rstrip_len(const char *t, size_t len) {
    while (len > 0) {
        size_t start = len - 1;
        while (start > 0 && ((unsigned char)t[start] & 0xC0) == 0x80) start--;
        uint32_t cp;
        sc__j_utf8_dec(t + start, len - start, &cp);
        if (!sc__j_py_isspace(cp)) break;
        len = start;
    }
    return len;
}

/* The text before a tag, after the tag's whitespace control. sign is '-',
 * '+' or 0; lstrip applies to block and comment tags only. */
static size_t data_before_tag(lexer *lx, size_t from, size_t to, char sign, bool lstrip_ok) {
    const char *t = lx->s + from;
    size_t len = to - from;
    if (sign == '-') return rstrip_len(t, len);
    if (sign != '+' && lstrip_ok) {
        size_t l_pos = len;
        while (l_pos > 0 && t[l_pos - 1] != '\n') l_pos--;
        if ((l_pos > 0 || lx->line_starting) && l_pos < len) {
            bool all_ws = true;
            for (size_t i = l_pos; i < len;) {
                uint32_t cp;
                size_t k = sc__j_utf8_dec(t + i, len - i, &cp);
                if (!sc__j_py_isspace(cp)) {
                    all_ws = false;
                    break;
                }
                i += k;
            }
            if (all_ws) return l_pos;
        }
    }
    return len;
}

static void emit_data(lexer *lx, size_t from, size_t len) {
    if (len == 0) return;
    jtoken *t = emit(lx, TK_DATA, from);
    if (!t) return;
    t->s = lx->s + from;
    t->len = len;
}

/* "(\d+_)*\d+" at pos: end position, or pos when there is no digit. */
static size_t digits(const lexer *lx, size_t pos) {
    size_t p = pos;
    while (p < lx->n && lx->s[p] >= '0' && lx->s[p] <= '9') {
        while (p < lx->n && lx->s[p] >= '0' && lx->s[p] <= '9') p++;
        if (p + 1 < lx->n && lx->s[p] == '_' && lx->s[p + 1] >= '0' && lx->s[p + 1] <= '9') p++;
        else break;
    }
    return p;
}

static size_t exponent(const lexer *lx, size_t p) {
    if (p >= lx->n || (lx->s[p] != 'e' && lx->s[p] != 'E')) return 0;
    size_t q = p + 1;
    if (q < lx->n && (lx->s[q] == '+' || lx->s[q] == '-')) q++;
    size_t e = digits(lx, q);
    return e > q ? e : 0;
}

/* jinja's float_re; 0 if no float starts at pos. */
static size_t match_float(const lexer *lx, size_t pos) {
    if (pos > 0 && lx->s[pos - 1] == '.') return 0;
    size_t j = digits(lx, pos);
    if (j == pos) return 0;
    size_t e;
    if (j < lx->n && lx->s[j] == '.') {
        size_t k = digits(lx, j + 1);
        if (k > j + 1) {
            if ((e = exponent(lx, k)) > 0) return e;
            return k;
        }
    }
    if ((e = exponent(lx, j)) > 0) return e;
    return 0;
}

static bool is_digit_base(char c, int base) {
    if (base == 2) return c == '0' || c == '1';
    if (base == 8) return c >= '0' && c <= '7';
    if (base == 16) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    return c >= '0' && c <= '9';
}

/* jinja's integer_re; 0 if none. Sets *base. */
static size_t match_int(const lexer *lx, size_t pos, int *base) {
    const char *s = lx->s;
    if (s[pos] == '0' && pos + 1 < lx->n) {
        char x = s[pos + 1] | 0x20;
        int b = x == 'b' ? 2 : x == 'o' ? 8 : x == 'x' ? 16 : 0;
        if (b) {
            size_t p = pos + 2, end = 0;
            for (;;) {
                size_t q = p < lx->n && s[p] == '_' ? p + 1 : p;
                if (q < lx->n && is_digit_base(s[q], b)) {
                    p = end = q + 1;
                } else {
                    break;
                }
            }
            if (end) {
                *base = b;
                return end;
            }
        }
    }
    *base = 10;
    if (s[pos] < '0' || s[pos] > '9') return 0;
    /* [1-9](_?\d)* or 0(_?0)* */
    char lead = s[pos];
    size_t p = pos + 1;
    for (;;) {
        size_t q = p < lx->n && s[p] == '_' ? p + 1 : p;
        if (q < lx->n && (lead == '0' ? s[q] == '0' : (s[q] >= '0' && s[q] <= '9'))) p = q + 1;
        else break;
    }
    return p;
}

static bool name_char(unsigned char c, bool first) {
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80 ||
           (!first && c >= '0' && c <= '9');
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* The body of a string literal through Python's
 * .encode("ascii", "backslashreplace").decode("unicode-escape"). */
static int decode_string(lexer *lx, size_t pos, const char *t, size_t len, jsb *b) {
    for (size_t i = 0; i < len;) {
        if (t[i] != '\\') {
            size_t j = i;
            while (j < len && t[j] != '\\') j++;
            sc__j_sb_putn(b, t + i, j - i);
            i = j;
            continue;
        }
        if (i + 1 >= len) return lfail(lx, pos, "\\ at end of string");
        char c = t[i + 1];
        i += 2;
        switch (c) {
        case '\n': break; /* line continuation */
        case '\\': sc__j_sb_putc(b, '\\'); break;
        case '\'': sc__j_sb_putc(b, '\''); break;
        case '"': sc__j_sb_putc(b, '"'); break;
        case 'a': sc__j_sb_putc(b, '\a'); break;
        case 'b': sc__j_sb_putc(b, '\b'); break;
        case 'f': sc__j_sb_putc(b, '\f'); break;
        case 'n': sc__j_sb_putc(b, '\n'); break;
        case 'r': sc__j_sb_putc(b, '\r'); break;
        case 't': sc__j_sb_putc(b, '\t'); break;
        case 'v': sc__j_sb_putc(b, '\v'); break;
        case 'x': case 'u': case 'U': {
            int nd = c == 'x' ? 2 : c == 'u' ? 4 : 8;
            uint32_t v = 0;
            for (int k = 0; k < nd; k++) {
                int h = i + (size_t)k < len ? hexval(t[i + k]) : -1;
                if (h < 0) return lfail(lx, pos, "truncated \\%c%s escape", c, c == 'x' ? "XX" : c == 'u' ? "XXXX" : "XXXXXXXX");
                v = v * 16 + (uint32_t)h;
            }
            if (v > 0x10FFFF) return lfail(lx, pos, "illegal Unicode character");
            sc__j_utf8_put(b, v);
            i += (size_t)nd;
            break;
        }
        case 'N': /* would need the Unicode name database */
            lfail(lx, pos, "\\N{...} escapes in string literals are not supported");
            lx->rc = SC_ENOTSUP;
            return lx->rc;
        default:
            if (c >= '0' && c <= '7') {
                uint32_t v = (uint32_t)(c - '0');
                for (int k = 0; k < 2 && i < len && t[i] >= '0' && t[i] <= '7'; k++) v = v * 8 + (uint32_t)(t[i++] - '0');
                sc__j_utf8_put(b, v);
            } else if ((unsigned char)c >= 0x80) {
                /* backslashreplace turned the character into \xNN, \uNNNN or
                 * \UNNNNNNNN after a literal backslash: it stays as text */
                uint32_t cp;
                size_t k = sc__j_utf8_dec(t + i - 1, len - (i - 1), &cp);
                sc__j_sb_putc(b, '\\');
                if (cp <= 0xFF) sc__j_sb_printf(b, "x%02x", cp);
                else if (cp <= 0xFFFF) sc__j_sb_printf(b, "u%04x", cp);
                else sc__j_sb_printf(b, "U%08x", cp);
                i += k - 1;
            } else {
                sc__j_sb_putc(b, '\\'); /* unknown escapes stay as they are */
                sc__j_sb_putc(b, c);
            }
        }
    }
    return SC_OK;
}

static const struct { const char *text; jop op; } k_ops[] = {
    {"//", OP_FLOORDIV}, {"**", OP_POW}, {"==", OP_EQ}, {"!=", OP_NE}, {">=", OP_GTEQ}, {"<=", OP_LTEQ},
    {"+", OP_ADD}, {"-", OP_SUB}, {"/", OP_DIV}, {"*", OP_MUL}, {"%", OP_MOD}, {"~", OP_TILDE},
    {"[", OP_LBRACKET}, {"]", OP_RBRACKET}, {"(", OP_LPAREN}, {")", OP_RPAREN}, {"{", OP_LBRACE},
    {"}", OP_RBRACE}, {">", OP_GT}, {"<", OP_LT}, {"=", OP_ASSIGN}, {".", OP_DOT}, {":", OP_COLON},
    {"|", OP_PIPE}, {",", OP_COMMA}, {";", OP_SEMICOLON},
};

const char *sc__j_op_text(int op) {
    if (op == OP_IN) return "in";
    if (op == OP_NOTIN) return "not in";
    for (size_t i = 0; i < SC_ARRAY_LEN(k_ops); i++)
        if ((int)k_ops[i].op == op) return k_ops[i].text;
    return "?";
}

/* Tokens inside {{ }} or {% %} up to and including the end tag. */
static void lex_tag(lexer *lx, bool block) {
    const char *s = lx->s;
    while (!lx->rc) {
        size_t pos = lx->pos;
        if (pos >= lx->n) return; /* the parser reports the missing end tag */
        if (lx->nbal == 0) {
            size_t end = 0;
            if (block) {
                if (starts(lx, pos, "+%}")) end = pos + 3;
                else if (starts(lx, pos, "-%}")) end = skip_space(lx, pos + 3);
                else if (starts(lx, pos, "%}")) end = pos + 2 + (pos + 2 < lx->n && s[pos + 2] == '\n');
            } else {
                if (starts(lx, pos, "-}}")) end = skip_space(lx, pos + 3);
                else if (starts(lx, pos, "}}")) end = pos + 2;
            }
            if (end) {
                emit(lx, block ? TK_BLOCK_END : TK_VAR_END, pos);
                lx->line_starting = s[end - 1] == '\n';
                lx->pos = end;
                return;
            }
        }
        size_t k = space_at(lx, pos);
        if (k) {
            lx->pos = skip_space(lx, pos);
            continue;
        }
        size_t end;
        int base;
        unsigned char c = (unsigned char)s[pos];
        if ((end = match_float(lx, pos)) > 0) {
            char buf[128];
            size_t bl = 0;
            for (size_t i = pos; i < end && bl < sizeof buf - 1; i++)
                if (s[i] != '_') buf[bl++] = s[i];
            buf[bl] = 0;
            jtoken *t = emit(lx, TK_FLOAT, pos);
            if (!t) return;
            t->f = strtod(buf, NULL);
        } else if ((end = match_int(lx, pos, &base)) > 0) {
            char buf[128];
            size_t bl = 0;
            for (size_t i = pos + (base == 10 ? 0 : 2); i < end && bl < sizeof buf - 1; i++)
                if (s[i] != '_') buf[bl++] = s[i];
            buf[bl] = 0;
            errno = 0;
            unsigned long long v = strtoull(buf, NULL, base);
            if (errno || v > INT64_MAX) {
                lfail(lx, pos, "integer literal too large (limit is 64 bits)");
                lx->rc = SC_ENOTSUP;
                return;
            }
            jtoken *t = emit(lx, TK_INT, pos);
            if (!t) return;
            t->i = (int64_t)v;
        } else if (name_char(c, true)) {
            end = pos + 1;
            while (end < lx->n && name_char((unsigned char)s[end], false)) end++;
            jtoken *t = emit(lx, TK_NAME, pos);
            if (!t) return;
            t->s = s + pos; /* not NUL-terminated: the parser copies names */
            t->len = end - pos;
        } else if (c == '\'' || c == '"') {
            end = pos + 1;
            while (end < lx->n && s[end] != (char)c) end += s[end] == '\\' ? 2 : 1;
            if (end >= lx->n) {
                lfail(lx, pos, "unexpected char %s at %zu", c == '\'' ? "\"'\"" : "'\"'", pos);
                return;
            }
            jsb b;
            sc__j_sb_init(&b, (size_t)1 << 30);
            if (decode_string(lx, pos, s + pos + 1, end - pos - 1, &b) != SC_OK) {
                sc__j_sb_free(&b);
                return;
            }
            char *copy = sc__j_alloc(lx->a, b.len + 1);
            jtoken *t = copy && !b.fail ? emit(lx, TK_STRING, pos) : NULL;
            if (t) {
                if (b.len) memcpy(copy, b.p, b.len);
                copy[b.len] = 0;
                t->s = copy;
                t->len = b.len;
            } else if (!lx->rc) {
                snprintf(lx->err, lx->err_len, "out of memory");
                lx->rc = SC_ENOMEM;
            }
            sc__j_sb_free(&b);
            end++;
        } else {
            size_t i = 0;
            for (; i < SC_ARRAY_LEN(k_ops); i++)
                if (starts(lx, pos, k_ops[i].text)) break;
            if (i == SC_ARRAY_LEN(k_ops)) {
                if (c >= 0x20 && c < 0x7F) lfail(lx, pos, "unexpected char '%c' at %zu", c, pos);
                else lfail(lx, pos, "unexpected char at %zu", pos);
                return;
            }
            jop op = k_ops[i].op;
            end = pos + strlen(k_ops[i].text);
            /* brackets must balance; end tags only count outside them */
            if (op == OP_LBRACE || op == OP_LPAREN || op == OP_LBRACKET) {
                if (lx->nbal == SC_J_MAX_NESTING) {
                    lfail(lx, pos, "brackets nested too deeply");
                    return;
                }
                lx->bal[lx->nbal++] = op == OP_LBRACE ? '}' : op == OP_LPAREN ? ')' : ']';
            } else if (op == OP_RBRACE || op == OP_RPAREN || op == OP_RBRACKET) {
                if (lx->nbal == 0) {
                    lfail(lx, pos, "unexpected '%c'", c);
                    return;
                }
                char want = lx->bal[--lx->nbal];
                if (want != (char)c) {
                    lfail(lx, pos, "unexpected '%c', expected '%c'", c, want);
                    return;
                }
            }
            jtoken *t = emit(lx, TK_OP, pos);
            if (!t) return;
            t->op = (uint8_t)op;
        }
        lx->line_starting = s[end - 1] == '\n';
        lx->pos = end;
    }
}

/* Find the first "{{", "{%" or "{#" at or after pos. */
static size_t find_tag(const lexer *lx, size_t pos) {
    for (;;) {
        const char *p = memchr(lx->s + pos, '{', lx->n - pos);
        if (!p) return lx->n;
        size_t i = (size_t)(p - lx->s);
        if (i + 1 < lx->n && (p[1] == '{' || p[1] == '%' || p[1] == '#')) return i;
        pos = i + 1;
    }
}

/* "{%" sign? \s* "raw" \s* ("-%}" \s* | "%}") at pos: end, or 0. */
static size_t match_raw_begin(const lexer *lx, size_t pos, char *sign) {
    size_t p = pos + 2;
    *sign = p < lx->n && (lx->s[p] == '-' || lx->s[p] == '+') ? lx->s[p] : 0;
    if (*sign) p++;
    p = skip_space(lx, p);
    if (!starts(lx, p, "raw")) return 0;
    p = skip_space(lx, p + 3);
    if (starts(lx, p, "-%}")) return skip_space(lx, p + 3);
    if (starts(lx, p, "%}")) return p + 2;
    return 0;
}

static void lex_raw(lexer *lx) {
    /* "(.*?)({%(-|+|)\s*endraw\s*(+%}|-%}\s*|%}\n?))" */
    for (size_t p = lx->pos; p + 1 < lx->n; p++) {
        if (lx->s[p] != '{' || lx->s[p + 1] != '%') continue;
        size_t q = p + 2;
        char sign = q < lx->n && (lx->s[q] == '-' || lx->s[q] == '+') ? lx->s[q] : 0;
        if (sign) q++;
        q = skip_space(lx, q);
        if (!starts(lx, q, "endraw")) continue;
        q = skip_space(lx, q + 6);
        size_t end = 0;
        if (starts(lx, q, "+%}")) end = q + 3;
        else if (starts(lx, q, "-%}")) end = skip_space(lx, q + 3);
        else if (starts(lx, q, "%}")) end = q + 2 + (q + 2 < lx->n && lx->s[q + 2] == '\n');
        if (!end) continue;
        emit_data(lx, lx->pos, data_before_tag(lx, lx->pos, p, sign, true));
        lx->line_starting = lx->s[end - 1] == '\n';
        lx->pos = end;
        return;
    }
    lfail(lx, lx->pos, "Missing end of raw directive");
}

static void lex_root(lexer *lx) {
    while (!lx->rc && lx->pos < lx->n) {
        size_t tag = find_tag(lx, lx->pos);
        if (tag >= lx->n) {
            emit_data(lx, lx->pos, lx->n - lx->pos);
            lx->pos = lx->n;
            return;
        }
        char kind = lx->s[tag + 1];
        char sign;
        size_t raw_end = kind == '%' ? match_raw_begin(lx, tag, &sign) : 0;
        if (!raw_end) sign = tag + 2 < lx->n && (lx->s[tag + 2] == '-' || lx->s[tag + 2] == '+') ? lx->s[tag + 2] : 0;
        emit_data(lx, lx->pos, data_before_tag(lx, lx->pos, tag, sign, kind != '{'));
        if (raw_end) {
            lx->line_starting = lx->s[raw_end - 1] == '\n';
            lx->pos = raw_end;
            lex_raw(lx);
            continue;
        }
        size_t after = tag + 2 + (sign ? 1 : 0);
        lx->line_starting = false; /* the match ended with the tag opener */
        if (kind == '#') {
            /* "(.*?)((?:+#}|-#}\s*|#}\n?))" */
            size_t p = after, end = 0;
            for (; p + 1 < lx->n; p++) {
                if (lx->s[p] == '+' && starts(lx, p + 1, "#}")) { end = p + 3; break; }
                if (lx->s[p] == '-' && starts(lx, p + 1, "#}")) { end = skip_space(lx, p + 3); break; }
                if (starts(lx, p, "#}")) { end = p + 2 + (p + 2 < lx->n && lx->s[p + 2] == '\n'); break; }
            }
            if (!end) {
                lfail(lx, tag, "Missing end of comment tag");
                return;
            }
            lx->line_starting = lx->s[end - 1] == '\n';
            lx->pos = end;
            continue;
        }
        bool block = kind == '%';
        emit(lx, block ? TK_BLOCK_BEGIN : TK_VAR_BEGIN, tag);
        lx->pos = after;
        lx->nbal = 0;
        lex_tag(lx, block);
    }
}

int sc__j_lex(jarena *a, const char *src, size_t len, jtoken **toks, size_t *ntoks, char *err, size_t err_len) {
    lexer lx = {.a = a, .err = err, .err_len = err_len, .line_starting = true, .cur_line = 1};
    *toks = NULL;
    *ntoks = 0;
    /* newline_re.split(source): \r\n and \r become \n */
    char *norm = sc__j_alloc(a, len + 1);
    if (!norm) {
        snprintf(err, err_len, "out of memory");
        return SC_ENOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            norm[n++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n') i++;
        } else {
            norm[n++] = src[i];
        }
    }
    if (n > 0 && norm[n - 1] == '\n') n--; /* keep_trailing_newline=False */
    norm[n] = 0;
    lx.s = norm;
    lx.n = n;
    lex_root(&lx);
    if (!lx.rc) emit(&lx, TK_EOF, lx.n);
    if (lx.rc) {
        free(lx.toks);
        return lx.rc;
    }
    *toks = lx.toks;
    *ntoks = lx.ntoks;
    return SC_OK;
}
