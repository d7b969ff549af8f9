/*
 * core/src/jinja_filters.c - Jinja's built-in filters (as in
 * jinja2/filters.py) plus transformers' tojson; tests are in jinja_tests.c.
 *
 * Filters that return generators in Jinja (map, select, reject,
 * selectattr, rejectattr, unique, items) return single-pass JL_GEN lists
 * here so the odd Python behaviours carry over: always truthy, no len(),
 * consumed by the first loop over them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "jinja.h"

typedef int (*jfilter_fn)(jrender *r, const jnode *at, jv val, jv *args, int nargs, const char **kwn, jv *kwv,
                          int nkw, jv *out);

#define FILTER(name) \
    static int name(jrender *r, const jnode *at, jv val, jv *args, int nargs, const char **kwn, jv *kwv, int nkw, jv *out)
#define BIND(fname, ...)                                                                               \
    static const char *const params_[] = {__VA_ARGS__};                                                \
    jv p[SC_ARRAY_LEN(params_)];                                                                       \
    if (sc__j_bind(r, at, fname, params_, (int)SC_ARRAY_LEN(params_), args, nargs, kwn, kwv, nkw, p)) \
        return r->err
#define NOARGS(fname) \
    if (nargs || nkw) return sc__j_fail(r, at, SC_EINVAL, "TypeError: %s() takes no arguments", fname)
#define OOM() return sc__j_oom(r, at)

static jv dflt(jv v, jv d) { return sc__j_missing(v) ? d : v; }

/* soft_str(): str(value), keeping Markup as Markup. */
static int to_str(jrender *r, const jnode *at, jv v, jv *out) {
    if (v.t == JT_STR) {
        *out = v;
        return SC_OK;
    }
    jsb b;
    sc__j_sb_init(&b, SC_J_MAX_MEMORY);
    sc__j_str_of(&b, v);
    return sc__j_str_sb(r->ar, &b, out) ? SC_OK : sc__j_oom(r, at);
}

static int want_int(jrender *r, const jnode *at, jv v, const char *what, int64_t *out) {
    if (v.t == JT_INT) *out = v.u.i;
    else if (v.t == JT_BOOL) *out = v.u.b;
    else return sc__j_fail(r, at, SC_EINVAL, "TypeError: %s must be an integer, not '%s'", what, sc__j_type_name(v));
    return SC_OK;
}

static int iterate(jrender *r, const jnode *at, jv v, jlist **out) {
    char msg[128] = "";
    if (sc__j_iterate(r->ar, v, out, msg, sizeof msg)) return SC_OK;
    if (r->err) return r->err;
    return msg[0] ? sc__j_fail(r, at, SC_EINVAL, "TypeError: %s", msg) : sc__j_oom(r, at);
}

static jv gen_of(jlist *l, const char *tname) {
    l->kind = JL_GEN;
    l->tname = tname;
    return sc__j_listv(l);
}

/* make_attrgetter: "a.b.0" looked up with environment.getitem */
static int attr_path(jrender *r, const jnode *at, jv item, jv attr, jv *out) {
    if (attr.t != JT_STR) return sc__j_getitem(r, at, item, attr, out);
    const char *s = attr.u.s->s;
    for (;;) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        bool digits = n > 0;
        for (size_t i = 0; i < n; i++) digits = digits && s[i] >= '0' && s[i] <= '9';
        jv key;
        if (digits && n < 19) key = sc__j_int(strtoll(s, NULL, 10));
        else if (!sc__j_str(r->ar, s, n, &key)) OOM();
        if (sc__j_getitem(r, at, item, key, &item)) return r->err;
        if (!dot) break;
        s = dot + 1;
    }
    *out = item;
    return SC_OK;
}

static int lower_if_str(jrender *r, const jnode *at, jv v, jv *out) {
    if (v.t != JT_STR) {
        *out = v;
        return SC_OK;
    }
    jsb b;
    sc__j_sb_init(&b, SC_J_MAX_MEMORY);
    for (size_t i = 0; i < v.u.s->len;) {
        uint32_t cp;
        i += sc__j_utf8_dec(v.u.s->s + i, v.u.s->len - i, &cp);
        sc__j_utf8_put(&b, sc__j_cp_lower(cp));
    }
    return sc__j_str_sb(r->ar, &b, out) ? SC_OK : sc__j_oom(r, at);
}

/* ------------------------------------------------------------------------ */
/* string filters                                                            */
/* ------------------------------------------------------------------------ */
typedef enum { CASE_UPPER, CASE_LOWER, CASE_CAPITALIZE, CASE_JTITLE } casemode;

static int case_map(jrender *r, const jnode *at, jv v, casemode mode, jv *out) {
    jv s;
    if (to_str(r, at, v, &s)) return r->err;
    jsb b;
    sc__j_sb_init(&b, SC_J_MAX_MEMORY);
    bool word_start = true;
    for (size_t i = 0, k = 0; i < s.u.s->len; k++) {
        uint32_t cp;
        i += sc__j_utf8_dec(s.u.s->s + i, s.u.s->len - i, &cp);
        uint32_t o;
        switch (mode) {
        case CASE_UPPER: o = sc__j_cp_upper(cp); break;
        case CASE_LOWER: o = sc__j_cp_lower(cp); break;
        case CASE_CAPITALIZE: o = k == 0 ? sc__j_cp_title(cp) : sc__j_cp_lower(cp); break;
        default: {
            /* jinja's do_title: words start after runs of [-\s({\[<] */
            bool sep = cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || sc__j_py_isspace(cp);
            o = sep ? cp : word_start ? sc__j_cp_upper(cp) : sc__j_cp_lower(cp);
            word_start = sep;
        }
        }
        sc__j_utf8_put(&b, o);
    }
    if (!sc__j_str_sb(r->ar, &b, out)) OOM();
    out->markup = s.markup;
    return SC_OK;
}

FILTER(f_upper) { NOARGS("upper"); return case_map(r, at, val, CASE_UPPER, out); }
FILTER(f_lower) { NOARGS("lower"); return case_map(r, at, val, CASE_LOWER, out); }
FILTER(f_capitalize) { NOARGS("capitalize"); return case_map(r, at, val, CASE_CAPITALIZE, out); }
FILTER(f_title) { NOARGS("title"); return case_map(r, at, val, CASE_JTITLE, out); }

FILTER(f_trim) {
    BIND("do_trim", "chars");
    jv s;
    if (to_str(r, at, val, &s)) return r->err;
    return sc__j_str_strip(r, at, s, dflt(p[0], sc__j_none()), 3, out);
}

FILTER(f_string) {
    NOARGS("string");
    return to_str(r, at, val, out);
}

FILTER(f_safe) {
    NOARGS("safe");
    if (to_str(r, at, val, out)) return r->err;
    out->markup = 1;
    return SC_OK;
}

FILTER(f_escape) {
    NOARGS("escape");
    if (val.t == JT_STR && val.markup) {
        *out = val;
        return SC_OK;
    }
    jv s;
    if (to_str(r, at, val, &s)) return r->err;
    jsb b;
    sc__j_sb_init(&b, SC_J_MAX_MEMORY);
    sc__j_escape(&b, s.u.s->s, s.u.s->len);
    if (!sc__j_str_sb(r->ar, &b, out)) OOM();
    out->markup = 1;
    return SC_OK;
}

FILTER(f_replace) {
    BIND("do_replace", "old", "new", "count");
    jv s, o, n;
    int64_t count = -1;
    if (sc__j_missing(p[0]) || sc__j_missing(p[1]))
        return sc__j_fail(r, at, SC_EINVAL, "TypeError: do_replace() missing required argument");
    if (to_str(r, at, val, &s) || to_str(r, at, p[0], &o) || to_str(r, at, p[1], &n)) return r->err;
    if (!sc__j_missing(p[2]) && p[2].t != JT_NONE && want_int(r, at, p[2], "count", &count)) return r->err;
    jsb b;
    sc__j_sb_init(&b, SC_J_MAX_MEMORY);
    const char *h = s.u.s->s;
    size_t hl = s.u.s->len, ol = o.u.s->len;
    if (ol == 0) { /* Python inserts `new` around every character */
        size_t i = 0;
        int64_t done = 0;
        for (; i <= hl && (count < 0 || done < count); done++) {
            sc__j_sb_putn(&b, n.u.s->s, n.u.s->len);
            if (i == hl) {
                i++;
                break;
            }
            uint32_t cp;
            size_t k = sc__j_utf8_dec(h + i, hl - i, &cp);
            sc__j_sb_putn(&b, h + i, k);
            i += k;
        }
        if (i < hl) sc__j_sb_putn(&b, h + i, hl - i);
    } else {
        size_t i = 0;
        int64_t done = 0;
        while (i < hl && (count < 0 || done < count)) {
            const char *m = memmem(h + i, hl - i, o.u.s->s, ol);
            if (!m) break;
            sc__j_sb_putn(&b, h + i, (size_t)(m - (h + i)));
            sc__j_sb_putn(&b, n.u.s->s, n.u.s->len);
            i = (size_t)(m - h) + ol;
            done++;
        }
        sc__j_sb_putn(&b, h + i, hl - i);
    }
    return sc__j_str_sb(r->ar, &b, out) ? SC_OK : sc__j_oom(r, at);
}

FILTER(f_center) {
    BIND("do_center", "width");
    int64_t width = 80;
    jv s;
    if ((!sc__j_missing(p[0]) && want_int(r, at, p[0], "width", &width)) || to_str(r, at, val, &s)) return r->err;
    int64_t len = (int64_t)sc__j_utf8_len(s.u.s->s, s.u.s->len);
    if (width <= len) {
        *out = s;
        return SC_OK;
    }
    if (width > (int64_t)SC_J_MAX_OUTPUT) OOM();
    int64_t marg = width - len, left = marg / 2 + (marg & width & 1);
    jsb b;
    sc__j_sb_init(&b, SC_J_MAX_MEMORY);
    for (int64_t i = 0; i < left; i++) sc__j_sb_putc(&b, ' ');
    sc__j_sb_putn(&b, s.u.s->s, s.u.s->len);
    for (int64_t i = 0; i < marg - left; i++) sc__j_sb_putc(&b, ' ');
    return sc__j_str_sb(r->ar, &b, out) ? SC_OK : sc__j_oom(r, at);
}

/* str.splitlines() boundaries */
static size_t line_break(const char *s, size_t n, size_t i, size_t *brk_len) {
    uint32_t cp;
    size_t k = sc__j_utf8_dec(s + i, n - i, &cp);
    *brk_len = 0;
    if (cp == '\r') *brk_len = i + 1 < n && s[i + 1] == '\n' ? 2 : 1;
    else if (cp == '\n' || cp == 0x0B || cp == 0x0C || cp == 0x1C || cp == 0x1D || cp == 0x1E || cp == 0x85 ||
             cp == 0x2028 || cp == 0x2029)
        *brk_len = k;
    return k;
}

FILTER(f_indent) {
    BIND("do_indent", "width", "first", "blank");
    jv ind, s;
    if (sc__j_missing(p[0])) p[0] = sc__j_int(4);
    if (p[0].t == JT_STR) {
        ind = p[0];
    } else {
        int64_t w = 0;
        if (want_int(r, at, p[0], "width", &w)) return r->err;
        jsb b;
        sc__j_sb_init(&b, SC_J_MAX_MEMORY);
        for (int64_t i = 0; i < w; i++) sc__j_sb_putc(&b, ' ');
        if (!sc__j_str_sb(r->ar, &b, &ind)) OOM();
    }
    bool first = sc__j_truthy(dflt(p[1], sc__j_bool(false))), blank = sc__j_truthy(dflt(p[2], sc__j_bool(false)));
    /* do_indent starts with `s += "\n"`: only strings get through */
    if (val.t == JT_UNDEF) return sc__j_fail(r, at, SC_EINVAL, "UndefinedError: %s", sc__j_undef_msg(val));
    if (val.t != JT_STR)
        return sc__j_fail(r, at, SC_EINVAL, "TypeError: indent expects a string, not '%s'", sc__j_type_name(val));
    s = val;
    /* s += "\n"; lines = s.splitlines(); join with "\n" (+ indent) */
    jsb b;
    sc__j_sb_init(&b, SC_J_MAX_MEMORY);
    if (first) sc__j_sb_putn(&b, ind.u.s->s, ind.u.s->len);
    const char *t = s.u.s->s;
    size_t n = s.u.s->len, start = 0, line_no = 0;
    for (size_t i = 0; i <= n;) {
        size_t brk = 0, k = 1;
        if (i < n) k = line_break(t, n, i, &brk);
        if (i == n || brk) {
            size_t len = i - start;
            if (line_no > 0) {
                sc__j_sb_putc(&b, '\n');
                if (blank || len > 0) sc__j_sb_putn(&b, ind.u.s->s, ind.u.s->len);
            }
            sc__j_sb_putn(&b, t + start, len);
            line_no++;
            if (i == n) break; /* the appended "\n" ends the last line */
            i += brk;
            start = i;
            continue;
        }
        i += k;
    }
    if (!sc__j_str_sb(r->ar, &b, out)) OOM();
    out->markup = s.markup;
    return SC_OK;
}

FILTER(f_truncate) {
    BIND("do_truncate", "length", "killwords", "end", "leeway");
    int64_t length = 255, leeway = 5;
    jv s, end;
    if (!sc__j_missing(p[0]) && want_int(r, at, p[0], "length", &length)) return r->err;
    if (!sc__j_missing(p[3]) && p[3].t != JT_NONE && want_int(r, at, p[3], "leeway", &leeway)) return r->err;
    if (sc__j_missing(p[2])) {
        if (!sc__j_str(r->ar, "...", 3, &end)) OOM();
    } else if (to_str(r, at, p[2], &end)) {
        return r->err;
    }
    if (val.t != JT_STR) { /* do_truncate works on len(s) and s[:n]: other sizes pass through when short */
        bool has_len;
        size_t n = sc__j_len_or(val, &has_len);
        if (!has_len) return sc__j_fail(r, at, SC_EINVAL, "TypeError: object of type '%s' has no len()", sc__j_type_name(val));
        if ((int64_t)n <= length + leeway) {
            *out = val;
            return SC_OK;
        }
        return sc__j_fail(r, at, SC_ENOTSUP, "truncate of a %s is not supported", sc__j_type_name(val));
    }
    s = val;
    int64_t len = (int64_t)sc__j_utf8_len(s.u.s->s, s.u.s->len), elen = (int64_t)sc__j_utf8_len(end.u.s->s, end.u.s->len);
    if (length < elen) return sc__j_fail(r, at, SC_EINVAL, "AssertionError: expected length >= %lld, got %lld", (long long)elen, (long long)length);
    if (len <= length + leeway) {
        *out = s;
        return SC_OK;
    }
    size_t cut = 0;
    uint32_t cp;
    for (int64_t k = 0; k < length - elen; k++) cut += sc__j_utf8_dec(s.u.s->s + cut, s.u.s->len - cut, &cp);
    if (!sc__j_truthy(dflt(p[1], sc__j_bool(false)))) {
        /* s[:length - len(end)].rsplit(" ", 1)[0] */
        size_t sp = cut;
        while (sp > 0 && s.u.s->s[sp - 1] != ' ') sp--;
        if (sp > 0) cut = sp - 1;
    }
    jsb b;
    sc__j_sb_init(&b, SC_J_MAX_MEMORY);
    sc__j_sb_putn(&b, s.u.s->s, cut);
    sc__j_sb_putn(&b, end.u.s->s, end.u.s->len);
    return sc__j_str_sb(r->ar, &b, out) ? SC_OK : sc__j_oom(r, at);
}

FILTER(f_wordcount) {
    NOARGS("wordcount");
    jv s;
    if (to_str(r, at, val, &s)) return r->err;
    int64_t words = 0;
    bool in_word = false;
    for (size_t i = 0; i < s.u.s->len;) {
        uint32_t cp;
        i += sc__j_utf8_dec(s.u.s->s + i, s.u.s->len - i, &cp);
        int cat = cp < 0x80 ? 0 : utf8proc_category((utf8proc_int32_t)cp);
        bool w = cp < 0x80 ? (cp == '_' || (cp >= '0' && cp <= '9') || ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z'))
                           : (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
                                 (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO);
        if (w && !in_word) words++;
        in_word = w;
    }
    *out = sc__j_int(words);
    return SC_OK;
}

FILTER(f_format) {
    if (nargs && nkw)
        return sc__j_fail(r, at, SC_EINVAL, "FilterArgumentError: can't handle positional and keyword arguments at the same time");
    if (nkw) return sc__j_fail(r, at, SC_ENOTSUP, "format() with keyword arguments is not supported");
    jv s;
    if (to_str(r, at, val, &s)) return r->err;
    jlist *t = sc__j_list_new(r->ar, JL_TUPLE, (size_t)nargs);
    if (!t) OOM();
    for (int i = 0; i < nargs; i++) t->v[t->n++] = args[i];
    return sc__j_percent(r, at, s, sc__j_listv(t), out);
}

/* transformers' tojson: json.dumps(x, ensure_ascii=False, indent=indent,
 * separators=separators, sort_keys=sort_keys) */
FILTER(f_tojson) {
    BIND("tojson", "ensure_ascii", "indent", "separators", "sort_keys");
    const char *indent = NULL, *isep = NULL, *ksep = NULL;
    char ind_buf[256];
    jv iv = dflt(p[1], sc__j_none());
    if (iv.t == JT_STR) {
        indent = iv.u.s->s;
    } else if (iv.t == JT_INT || iv.t == JT_BOOL) {
        int64_t w = iv.t == JT_BOOL ? iv.u.b : iv.u.i;
        if (w >= (int64_t)sizeof ind_buf) return sc__j_fail(r, at, SC_ENOTSUP, "tojson indent too large");
        for (int64_t i = 0; i < w; i++) ind_buf[i] = ' ';
        ind_buf[w > 0 ? w : 0] = 0;
        indent = ind_buf;
    } else if (iv.t != JT_NONE) {
        return sc__j_fail(r, at, SC_EINVAL, "TypeError: tojson indent must be an int or a string");
    }
    jv sv = dflt(p[2], sc__j_none());
    if (sv.t != JT_NONE) {
        if (sv.t != JT_LIST || sv.u.l->n != 2 || sv.u.l->v[0].t != JT_STR || sv.u.l->v[1].t != JT_STR)
            return sc__j_fail(r, at, SC_EINVAL, "TypeError: tojson separators must be a pair of strings");
        isep = sv.u.l->v[0].u.s->s;
        ksep = sv.u.l->v[1].u.s->s;
    }
    jsb b;
    char msg[160];
    sc__j_sb_init(&b, SC_J_MAX_MEMORY);
    if (!sc__j_json_dump(&b, val, sc__j_truthy(dflt(p[0], sc__j_bool(false))), indent, isep, ksep,
                         sc__j_truthy(dflt(p[3], sc__j_bool(false))), msg, sizeof msg)) {
        sc__j_sb_free(&b);
        return sc__j_fail(r, at, SC_EINVAL, "TypeError: %s", msg);
    }
    return sc__j_str_sb(r->ar, &b, out) ? SC_OK : sc__j_oom(r, at);
}

/* ------------------------------------------------------------------------ */
/* number filters                                                            */
/* ------------------------------------------------------------------------ */
/* Python's float(str): whitespace, sign, digits with '_', inf/nan. */
static bool parse_py_float(const char *s, size_t n, double *out) {
    char buf[128];
    size_t i = 0, j = 0;
    while (i < n && sc__j_py_isspace((unsigned char)s[i])) i++;
    while (n > i && sc__j_py_isspace((unsigned char)s[n - 1])) n--;
    if (i == n || n - i >= sizeof buf) return false;
    for (; i < n; i++) {
        char c = s[i];
        if (c == '_') {
            /* underscores only between digits */
            if (j == 0 || !(buf[j - 1] >= '0' && buf[j - 1] <= '9') || i + 1 >= n || !(s[i + 1] >= '0' && s[i + 1] <= '9'))
                return false;
            continue;
        }
        if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-' || (c | 0x20) == 'i' ||
              (c | 0x20) == 'n' || (c | 0x20) == 'f' || (c | 0x20) == 't' || (c | 0x20) == 'y' || (c | 0x20) == 'a'))
            return false;
        buf[j++] = c;
    }
    buf[j] = 0;
    char *end;
    *out = strtod(buf, &end);
    if (*end) return false;
    /* strtod accepts hex floats and "infinity"/"nan(...)" spellings Python also takes, except hex */
    return strchr(buf, 'x') == NULL && strchr(buf, 'X') == NULL;
}

/* Python's int(str, base) */
static bool parse_py_int(const char *s, size_t n, int base, int64_t *out) {
    size_t i = 0;
    while (i < n && sc__j_py_isspace((unsigned char)s[i])) i++;
    while (n > i && sc__j_py_isspace((unsigned char)s[n - 1])) n--;
    bool neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    if (i + 1 < n && s[i] == '0') {
        char x = s[i + 1] | 0x20;
        int pb = x == 'x' ? 16 : x == 'o' ? 8 : x == 'b' ? 2 : 0;
        if (pb && (base == pb || base == 0)) {
            base = pb;
            i += 2;
            if (i < n && s[i] == '_') i++;
        }
    }
    if (base == 0) base = 10;
    if (i == n) return false;
    uint64_t v = 0;
    bool prev_digit = false;
    for (; i < n; i++) {
        char c = s[i];
        if (c == '_' && prev_digit && i + 1 < n && s[i + 1] != '_') {
            prev_digit = false;
            continue;
        }
        int d = c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'z' ? (c | 0x20) - 'a' + 10 : 99;
        if (d >= base) return false;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) return false;
        v = v * (uint64_t)base + (uint64_t)d;
        prev_digit = true;
    }
    if (!prev_digit || v > (uint64_t)INT64_MAX + neg) return false;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

FILTER(f_int) {
    BIND("do_int", "default", "base");
    jv def = dflt(p[0], sc__j_int(0));
    int64_t base = 10;
    if (!sc__j_missing(p[1]) && want_int(r, at, p[1], "base", &base)) return r->err;
    int64_t i;
    double d;
    switch (val.t) {
    case JT_UNDEF: return sc__j_fail(r, at, SC_EINVAL, "UndefinedError: %s", sc__j_undef_msg(val)); /* __int__ raises */
    case JT_INT: *out = val; return SC_OK;
    case JT_BOOL: *out = sc__j_int(val.u.b); return SC_OK;
    case JT_FLOAT:
        if (isnan(val.u.f)) break;
        if (isinf(val.u.f)) return sc__j_fail(r, at, SC_EINVAL, "OverflowError: cannot convert float infinity to integer");
        if (fabs(val.u.f) >= 9.2e18) return sc__j_fail(r, at, SC_ERANGE, "integer overflow (values are limited to 64 bits)");
        *out = sc__j_int((int64_t)val.u.f);
        return SC_OK;
    case JT_STR:
        if (parse_py_int(val.u.s->s, val.u.s->len, (int)base, &i)) {
            *out = sc__j_int(i);
            return SC_OK;
        }
        /* "42.23"|int gives 42 */
        if (parse_py_float(val.u.s->s, val.u.s->len, &d) && !isnan(d)) {
            if (isinf(d)) return sc__j_fail(r, at, SC_EINVAL, "OverflowError: cannot convert float infinity to integer");
            if (fabs(d) >= 9.2e18) return sc__j_fail(r, at, SC_ERANGE, "integer overflow (values are limited to 64 bits)");
            *out = sc__j_int((int64_t)d);
            return SC_OK;
        }
        break;
    default:
        break;
    }
    *out = def;
    return SC_OK;
}

FILTER(f_float) {
    BIND("do_float", "default");
    double d;
    if (val.t == JT_UNDEF) return sc__j_fail(r, at, SC_EINVAL, "UndefinedError: %s", sc__j_undef_msg(val));
    if (sc__j_is_number(val)) *out = sc__j_float(sc__j_num(val));
    else if (val.t == JT_STR && parse_py_float(val.u.s->s, val.u.s->len, &d)) *out = sc__j_float(d);
    else *out = dflt(p[0], sc__j_float(0.0));
    return SC_OK;
}

FILTER(f_abs) {
    NOARGS("abs");
    if (val.t == JT_FLOAT) *out = sc__j_float(fabs(val.u.f));
    else if (val.t == JT_INT && val.u.i != INT64_MIN) *out = sc__j_int(val.u.i < 0 ? -val.u.i : val.u.i);
    else if (val.t == JT_BOOL) *out = sc__j_int(val.u.b);
    else return sc__j_fail(r, at, SC_EINVAL, "TypeError: bad operand type for abs(): '%s'", sc__j_type_name(val));
    return SC_OK;
}

FILTER(f_round) {
    BIND("do_round", "precision", "method");
    int64_t prec = 0;
    if (!sc__j_missing(p[0]) && want_int(r, at, p[0], "precision", &prec)) return r->err;
    const char *method = sc__j_missing(p[1]) ? "common" : p[1].t == JT_STR ? p[1].u.s->s : "";
    if (strcmp(method, "common") && strcmp(method, "ceil") && strcmp(method, "floor"))
        return sc__j_fail(r, at, SC_EINVAL, "FilterArgumentError: method must be common, ceil or floor");
    if (!sc__j_is_number(val))
        return sc__j_fail(r, at, SC_EINVAL, "TypeError: type %s doesn't define __round__ method", sc__j_type_name(val));
    if (prec < -300 || prec > 300) return sc__j_fail(r, at, SC_ENOTSUP, "round() precision out of range");
    double x = sc__j_num(val);
    if (!strcmp(method, "common")) {
        if (val.t != JT_FLOAT && prec >= 0) { /* round(int, n) stays an int */
            *out = sc__j_int(val.t == JT_BOOL ? val.u.b : val.u.i);
            return SC_OK;
        }
        if (prec >= 0 && isfinite(x)) {
            /* printf rounds the exact binary value half-even, like Python */
            char buf[512];
            snprintf(buf, sizeof buf, "%.*f", (int)prec, x);
            *out = sc__j_float(strtod(buf, NULL));
        } else {
            double m = pow(10.0, (double)-prec);
            *out = sc__j_float(isfinite(x) ? nearbyint(x / m) * m : x);
        }
        return SC_OK;
    }
    double m = pow(10.0, (double)prec);
    *out = sc__j_float((method[0] == 'c' ? ceil(x * m) : floor(x * m)) / m);
    return SC_OK;
}

/* ------------------------------------------------------------------------ */
/* sequence filters                                                          */
/* ------------------------------------------------------------------------ */
FILTER(f_length) {
    NOARGS("length");
    bool ok;
    size_t n = sc__j_len_or(val, &ok);
    if (!ok) return sc__j_fail(r, at, SC_EINVAL, "TypeError: object of type '%s' has no len()", sc__j_type_name(val));
    *out = sc__j_int((int64_t)n);
    return SC_OK;
}

FILTER(f_list) {
    NOARGS("list");
    jlist *l;
    if (iterate(r, at, val, &l)) return r->err;
    *out = sc__j_listv(l);
    return SC_OK;
}

FILTER(f_first) {
    NOARGS("first");
    if (val.t == JT_LIST && val.u.l->kind == JL_GEN) { /* next(iter(gen)) consumes one item */
        jlist *g = val.u.l;
        *out = g->pos < g->n ? g->v[g->pos++] : sc__j_undef("No first item, sequence was empty.");
        return SC_OK;
    }
    jlist *l;
    if (iterate(r, at, val, &l)) return r->err;
    *out = l->n ? l->v[0] : sc__j_undef("No first item, sequence was empty.");
    return SC_OK;
}

FILTER(f_last) {
    NOARGS("last");
    if (val.t == JT_LIST && val.u.l->kind == JL_GEN)
        return sc__j_fail(r, at, SC_EINVAL, "TypeError: '%s' object is not reversible", sc__j_type_name(val));
    jlist *l;
    if (iterate(r, at, val, &l)) return r->err;
    *out = l->n ? l->v[l->n - 1] : sc__j_undef("No last item, sequence was empty.");
    return SC_OK;
}

FILTER(f_reverse) {
    NOARGS("reverse");
    jlist *l;
    if (val.t == JT_STR) {
        jsb b;
        sc__j_sb_init(&b, SC_J_MAX_MEMORY);
        const char *s = val.u.s->s;
        for (size_t end = val.u.s->len; end > 0;) {
            size_t start = end - 1;
            while (start > 0 && ((unsigned char)s[start] & 0xC0) == 0x80) start--;
            sc__j_sb_putn(&b, s + start, end - start);
            end = start;
        }
        if (!sc__j_str_sb(r->ar, &b, out)) OOM();
        out->markup = val.markup;
        return SC_OK;
    }
    bool was_gen = val.t == JT_LIST && val.u.l->kind == JL_GEN;
    if (iterate(r, at, val, &l)) return r->err;
    for (size_t i = 0; i < l->n / 2; i++) {
        jv t = l->v[i];
        l->v[i] = l->v[l->n - 1 - i];
        l->v[l->n - 1 - i] = t;
    }
    /* reversed() gives an iterator; a generator goes through list() */
    if (was_gen) *out = sc__j_listv(l);
    else *out = gen_of(l, val.t == JT_DICT ? "dict_reversekeyiterator" : "list_reverseiterator");
    return SC_OK;
}

FILTER(f_join) {
    BIND("do_join", "d", "attribute");
    jlist *l;
    jv sep;
    if (sc__j_missing(p[0])) {
        if (!sc__j_str(r->ar, "", 0, &sep)) OOM();
    } else if (to_str(r, at, p[0], &sep)) {
        return r->err;
    }
    if (iterate(r, at, val, &l)) return r->err;
    jsb b;
    sc__j_sb_init(&b, SC_J_MAX_MEMORY);
    for (size_t i = 0; i < l->n; i++) {
        jv item = l->v[i];
        if (!sc__j_missing(p[1]) && p[1].t != JT_NONE && attr_path(r, at, item, p[1], &item)) {
            sc__j_sb_free(&b);
            return r->err;
        }
        if (i) sc__j_sb_putn(&b, sep.u.s->s, sep.u.s->len);
        sc__j_str_of(&b, item);
    }
    return sc__j_str_sb(r->ar, &b, out) ? SC_OK : sc__j_oom(r, at);
}

FILTER(f_default) {
    BIND("do_default", "default_value", "boolean");
    bool boolean = sc__j_truthy(dflt(p[1], sc__j_bool(false)));
    if (val.t == JT_UNDEF || (boolean && !sc__j_truthy(val))) {
        if (sc__j_missing(p[0])) return sc__j_str(r->ar, "", 0, out) ? SC_OK : sc__j_oom(r, at);
        *out = p[0];
    } else {
        *out = val;
    }
    return SC_OK;
}

FILTER(f_items) {
    NOARGS("items");
    jlist *l = sc__j_list_new(r->ar, JL_GEN, val.t == JT_DICT ? val.u.d->n : 0);
    if (!l) OOM();
    if (val.t != JT_UNDEF) {
        if (val.t != JT_DICT || val.u.d->ns)
            return sc__j_fail(r, at, SC_EINVAL, "TypeError: Can only get item pairs from a mapping.");
        for (size_t i = 0; i < val.u.d->n; i++) {
            jlist *pair = sc__j_list_new(r->ar, JL_TUPLE, 2);
            if (!pair) OOM();
            pair->v[0] = val.u.d->k[i];
            pair->v[1] = val.u.d->v[i];
            pair->n = 2;
            l->v[l->n++] = sc__j_listv(pair);
        }
    }
    *out = gen_of(l, "generator");
    return SC_OK;
}

/* Stable merge sort of vals by keys with Python's <. */
static int sort_by(jrender *r, const jnode *at, jv *vals, jv *keys, size_t n, bool reverse) {
    if (n < 2) return SC_OK;
    jv *tv = sc__j_alloc(r->ar, n * sizeof(jv)), *tk = sc__j_alloc(r->ar, n * sizeof(jv));
    if (!tv || !tk) OOM();
    char msg[160];
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = SC_MIN(lo + w, n), hi = SC_MIN(lo + 2 * w, n), i = lo, j = mid, o = lo;
            while (i < mid && j < hi) {
                /* take from the right only when strictly before: keeps stability;
                 * reverse=True keeps equal items in order too, as sorted() does */
                int lt = reverse ? sc__j_lt(keys[i], keys[j], msg, sizeof msg) : sc__j_lt(keys[j], keys[i], msg, sizeof msg);
                if (lt < 0) return sc__j_fail(r, at, SC_EINVAL, "TypeError: %s", msg);
                if (lt) tv[o] = vals[j], tk[o++] = keys[j++];
                else tv[o] = vals[i], tk[o++] = keys[i++];
            }
            while (i < mid) tv[o] = vals[i], tk[o++] = keys[i++];
            while (j < hi) tv[o] = vals[j], tk[o++] = keys[j++];
        }
        memcpy(vals, tv, n * sizeof(jv));
        memcpy(keys, tk, n * sizeof(jv));
    }
    return SC_OK;
}

/* key for sort/unique/min/max: attribute path(s), lowercased strings */
static int sort_key(jrender *r, const jnode *at, jv item, jv attr, bool case_sensitive, bool multi, jv *out) {
    if (multi && attr.t == JT_STR && strchr(attr.u.s->s, ',')) {
        jlist *parts = sc__j_list_new(r->ar, JL_LIST, 4);
        if (!parts) OOM();
        const char *s = attr.u.s->s;
        for (;;) {
            const char *c = strchr(s, ',');
            size_t n = c ? (size_t)(c - s) : strlen(s);
            jv a, v;
            if (!sc__j_str(r->ar, s, n, &a)) OOM();
            if (attr_path(r, at, item, a, &v) || (!case_sensitive && lower_if_str(r, at, v, &v))) return r->err;
            if (!sc__j_list_push(r->ar, parts, v)) OOM();
            if (!c) break;
            s = c + 1;
        }
        *out = sc__j_listv(parts);
        return SC_OK;
    }
    if (attr.t != JT_NONE && !sc__j_missing(attr) && attr_path(r, at, item, attr, &item)) return r->err;
    return case_sensitive ? (*out = item, SC_OK) : lower_if_str(r, at, item, out);
}

FILTER(f_sort) {
    BIND("do_sort", "reverse", "case_sensitive", "attribute");
    jlist *l;
    if (iterate(r, at, val, &l)) return r->err;
    jv *keys = sc__j_alloc(r->ar, (l->n + 1) * sizeof(jv));
    if (!keys) OOM();
    bool cs = sc__j_truthy(dflt(p[1], sc__j_bool(false)));
    for (size_t i = 0; i < l->n; i++)
        if (sort_key(r, at, l->v[i], dflt(p[2], sc__j_none()), cs, true, &keys[i])) return r->err;
    if (sort_by(r, at, l->v, keys, l->n, sc__j_truthy(dflt(p[0], sc__j_bool(false))))) return r->err;
    *out = sc__j_listv(l);
    return SC_OK;
}

FILTER(f_dictsort) {
    BIND("do_dictsort", "case_sensitive", "by", "reverse");
    if (val.t != JT_DICT || val.u.d->ns)
        return sc__j_fail(r, at, SC_EINVAL, "AttributeError: '%s' object has no attribute 'items'", sc__j_type_name(val));
    int pos = 0;
    if (!sc__j_missing(p[1])) {
        if (p[1].t == JT_STR && !strcmp(p[1].u.s->s, "value")) pos = 1;
        else if (!(p[1].t == JT_STR && !strcmp(p[1].u.s->s, "key")))
            return sc__j_fail(r, at, SC_EINVAL, "FilterArgumentError: You can only sort by either \"key\" or \"value\"");
    }
    const jdict *d = val.u.d;
    jlist *l = sc__j_list_new(r->ar, JL_LIST, d->n);
    jv *keys = sc__j_alloc(r->ar, (d->n + 1) * sizeof(jv));
    if (!l || !keys) OOM();
    bool cs = sc__j_truthy(dflt(p[0], sc__j_bool(false)));
    for (size_t i = 0; i < d->n; i++) {
        jlist *pair = sc__j_list_new(r->ar, JL_TUPLE, 2);
        if (!pair) OOM();
        pair->v[0] = d->k[i];
        pair->v[1] = d->v[i];
        pair->n = 2;
        l->v[l->n++] = sc__j_listv(pair);
        jv k = pos ? d->v[i] : d->k[i];
        if (!cs && lower_if_str(r, at, k, &k)) return r->err;
        keys[i] = k;
    }
    if (sort_by(r, at, l->v, keys, l->n, sc__j_truthy(dflt(p[2], sc__j_bool(false))))) return r->err;
    *out = sc__j_listv(l);
    return SC_OK;
}

FILTER(f_unique) {
    BIND("do_unique", "case_sensitive", "attribute");
    jlist *l, *res;
    if (iterate(r, at, val, &l)) return r->err;
    jv *seen = sc__j_alloc(r->ar, (l->n + 1) * sizeof(jv));
    if (!seen || !(res = sc__j_list_new(r->ar, JL_GEN, l->n))) OOM();
    size_t ns = 0;
    bool cs = sc__j_truthy(dflt(p[0], sc__j_bool(false)));
    for (size_t i = 0; i < l->n; i++) {
        jv k;
        if (sort_key(r, at, l->v[i], dflt(p[1], sc__j_none()), cs, false, &k)) return r->err;
        if (k.t == JT_LIST || k.t == JT_DICT)
            return sc__j_fail(r, at, SC_EINVAL, "TypeError: unhashable type: '%s'", sc__j_type_name(k));
        size_t j = 0;
        while (j < ns && !sc__j_eq(seen[j], k)) j++;
        if (j < ns) continue;
        seen[ns++] = k;
        res->v[res->n++] = l->v[i];
    }
    *out = gen_of(res, "generator");
    return SC_OK;
}

static int min_max(jrender *r, const jnode *at, jv val, jv *args, int nargs, const char **kwn, jv *kwv, int nkw,
                   jv *out, bool want_max) {
    BIND(want_max ? "do_max" : "do_min", "case_sensitive", "attribute");
    jlist *l;
    if (iterate(r, at, val, &l)) return r->err;
    if (l->n == 0) {
        *out = sc__j_undef("No aggregated item, sequence was empty.");
        return SC_OK;
    }
    bool cs = sc__j_truthy(dflt(p[0], sc__j_bool(false)));
    jv best = l->v[0], bk;
    char msg[160];
    if (sort_key(r, at, best, dflt(p[1], sc__j_none()), cs, false, &bk)) return r->err;
    for (size_t i = 1; i < l->n; i++) {
        jv k;
        if (sort_key(r, at, l->v[i], dflt(p[1], sc__j_none()), cs, false, &k)) return r->err;
        int lt = want_max ? sc__j_lt(bk, k, msg, sizeof msg) : sc__j_lt(k, bk, msg, sizeof msg);
        if (lt < 0) return sc__j_fail(r, at, SC_EINVAL, "TypeError: %s", msg);
        if (lt) best = l->v[i], bk = k;
    }
    *out = best;
    return SC_OK;
}
FILTER(f_max) { return min_max(r, at, val, args, nargs, kwn, kwv, nkw, out, true); }
FILTER(f_min) { return min_max(r, at, val, args, nargs, kwn, kwv, nkw, out, false); }

FILTER(f_sum) {
    BIND("do_sum", "attribute", "start");
    jlist *l;
    if (iterate(r, at, val, &l)) return r->err;
    jv acc = dflt(p[1], sc__j_int(0));
    for (size_t i = 0; i < l->n; i++) {
        jv item = l->v[i];
        if (!sc__j_missing(p[0]) && p[0].t != JT_NONE && attr_path(r, at, item, p[0], &item)) return r->err;
        jv sum = {0};
        /* Python's sum() refuses strings; everything else goes through + */
        if (item.t == JT_STR || acc.t == JT_STR)
            return sc__j_fail(r, at, SC_EINVAL, "TypeError: unsupported operand type(s) for +: '%s' and '%s'",
                              sc__j_type_name(acc), sc__j_type_name(item));
        if (!sc__j_is_number(acc) || !sc__j_is_number(item))
            return sc__j_fail(r, at, SC_ENOTSUP, "sum() supports numbers only");
        if (acc.t == JT_FLOAT || item.t == JT_FLOAT) sum = sc__j_float(sc__j_num(acc) + sc__j_num(item));
        else if (__builtin_add_overflow(acc.t == JT_BOOL ? acc.u.b : acc.u.i, item.t == JT_BOOL ? item.u.b : item.u.i, &sum.u.i))
            return sc__j_fail(r, at, SC_ERANGE, "integer overflow in sum()");
        else sum.t = JT_INT;
        acc = sum;
    }
    *out = acc;
    return SC_OK;
}

/* map / select / reject / selectattr / rejectattr */
static int apply_test_or_filter(jrender *r, const jnode *at, bool is_filter, jv name, jv item, jv *args, int nargs,
                                const char **kwn, jv *kwv, int nkw, jv *res) {
    if (name.t != JT_STR) return sc__j_fail(r, at, SC_EINVAL, "TypeError: filter or test name must be a string");
    if (is_filter) return sc__j_filter(r, at, name.u.s->s, item, args, nargs, kwn, kwv, nkw, res);
    bool b;
    if (sc__j_test(r, at, name.u.s->s, item, args, nargs, kwn, kwv, nkw, &b)) return r->err;
    *res = sc__j_bool(b);
    return SC_OK;
}

FILTER(f_map) {
    jlist *l, *res;
    if (!sc__j_truthy(val)) {
        if (!(res = sc__j_list_new(r->ar, JL_GEN, 0))) OOM();
        *out = gen_of(res, "generator");
        return SC_OK;
    }
    if (iterate(r, at, val, &l) || !(res = sc__j_list_new(r->ar, JL_GEN, l->n))) return r->err ? r->err : sc__j_oom(r, at);
    if (nargs == 0) {
        jv attr = {0}, def = sc__j_none();
        bool has_attr = false;
        for (int k = 0; k < nkw; k++) {
            if (!strcmp(kwn[k], "attribute")) attr = kwv[k], has_attr = true;
            else if (!strcmp(kwn[k], "default")) def = kwv[k];
            else return sc__j_fail(r, at, SC_EINVAL, "FilterArgumentError: Unexpected keyword argument '%s'", kwn[k]);
        }
        if (!has_attr) return sc__j_fail(r, at, SC_EINVAL, "FilterArgumentError: map requires a filter argument");
        for (size_t i = 0; i < l->n; i++) {
            jv v;
            if (attr_path(r, at, l->v[i], attr, &v)) return r->err;
            if (v.t == JT_UNDEF && def.t != JT_NONE) v = def;
            res->v[res->n++] = v;
        }
    } else {
        for (size_t i = 0; i < l->n; i++)
            if (apply_test_or_filter(r, at, true, args[0], l->v[i], args + 1, nargs - 1, kwn, kwv, nkw, &res->v[res->n++]))
                return r->err;
    }
    *out = gen_of(res, "generator");
    return SC_OK;
}

static int select_reject(jrender *r, const jnode *at, jv val, jv *args, int nargs, const char **kwn, jv *kwv, int nkw,
                         jv *out, bool select, bool by_attr) {
    jlist *l, *res;
    if (!(res = sc__j_list_new(r->ar, JL_GEN, 0))) OOM();
    if (sc__j_truthy(val)) {
        if (by_attr && nargs == 0)
            return sc__j_fail(r, at, SC_EINVAL, "FilterArgumentError: Missing parameter for attribute name");
        if (iterate(r, at, val, &l)) return r->err;
        int off = by_attr ? 1 : 0;
        for (size_t i = 0; i < l->n; i++) {
            jv item = l->v[i], t;
            if (by_attr && attr_path(r, at, item, args[0], &item)) return r->err;
            if (nargs > off) {
                if (apply_test_or_filter(r, at, false, args[off], item, args + off + 1, nargs - off - 1, kwn, kwv, nkw, &t))
                    return r->err;
            } else {
                t = sc__j_bool(sc__j_truthy(item));
            }
            if (t.u.b == select && !sc__j_list_push(r->ar, res, l->v[i])) OOM();
        }
    }
    *out = gen_of(res, "generator");
    return SC_OK;
}
FILTER(f_select) { return select_reject(r, at, val, args, nargs, kwn, kwv, nkw, out, true, false); }
FILTER(f_reject) { return select_reject(r, at, val, args, nargs, kwn, kwv, nkw, out, false, false); }
FILTER(f_selectattr) { return select_reject(r, at, val, args, nargs, kwn, kwv, nkw, out, true, true); }
FILTER(f_rejectattr) { return select_reject(r, at, val, args, nargs, kwn, kwv, nkw, out, false, true); }

FILTER(f_attr) {
    BIND("do_attr", "name");
    if (p[0].t != JT_STR) return sc__j_fail(r, at, SC_EINVAL, "TypeError: attribute name must be string");
    bool unsafe;
    /* attr() never falls back to obj[name] */
    if (val.t == JT_DICT && !val.u.d->ns && !sc__j_has_method(val, p[0].u.s->s, &unsafe)) {
        *out = sc__j_undef_attr(r, val, p[0]);
        return SC_OK;
    }
    return sc__j_getattr(r, at, val, p[0].u.s->s, out);
}

static const struct {
    const char *name;
    jfilter_fn fn;
} k_filters[] = {
    {"abs", f_abs}, {"attr", f_attr}, {"capitalize", f_capitalize}, {"center", f_center}, {"count", f_length},
    {"d", f_default}, {"default", f_default}, {"dictsort", f_dictsort}, {"e", f_escape}, {"escape", f_escape},
    {"first", f_first}, {"float", f_float}, {"format", f_format}, {"indent", f_indent}, {"int", f_int},
    {"items", f_items}, {"join", f_join}, {"last", f_last}, {"length", f_length}, {"list", f_list},
    {"lower", f_lower}, {"map", f_map}, {"max", f_max}, {"min", f_min}, {"reject", f_reject},
    {"rejectattr", f_rejectattr}, {"replace", f_replace}, {"reverse", f_reverse}, {"round", f_round},
    {"safe", f_safe}, {"select", f_select}, {"selectattr", f_selectattr}, {"sort", f_sort}, {"string", f_string},
    {"sum", f_sum}, {"title", f_title}, {"tojson", f_tojson}, {"trim", f_trim}, {"truncate", f_truncate},
    {"unique", f_unique}, {"upper", f_upper}, {"wordcount", f_wordcount},
};

bool sc__j_filter_known(const char *name) {
    for (size_t i = 0; i < SC_ARRAY_LEN(k_filters); i++)
        if (!strcmp(k_filters[i].name, name)) return true;
    return false;
}

int sc__j_filter(jrender *r, const jnode *at, const char *name, jv val, jv *args, int nargs, const char **kwn,
                 jv *kwv, int nkw, jv *out) {
    for (size_t i = 0; i < SC_ARRAY_LEN(k_filters); i++)
        if (!strcmp(k_filters[i].name, name)) {
            if (r->err) return r->err;
            return k_filters[i].fn(r, at, val, args, nargs, kwn, kwv, nkw, out);
        }
    return sc__j_fail(r, at, SC_EINVAL, "TemplateRuntimeError: No filter named '%s' found.", name);
}

