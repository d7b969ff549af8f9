/*
 * core/src/jinja_methods.c - the Python methods templates call on values
 * ('s'.startswith(...), d.items(), l.index(x), ...), the loop object's
 * methods and the global functions (range, namespace, dict,
 * raise_exception, strftime_now).
 *
 * What the sandbox allows is mirrored from ImmutableSandboxedEnvironment:
 * every str method is safe; on dicts clear/pop/popitem/setdefault/update
 * and on lists append/extend/insert/remove/reverse/sort are refused (list
 * pop and clear are allowed there, and do mutate).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <utf8proc.h>

#include "jinja.h"

#define OOM() return sc__j_oom(r, at)

static const char *const k_str_methods[] = {
    "capitalize", "casefold", "center", "count", "encode", "endswith", "expandtabs", "find", "format",
    "format_map", "index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier", "islower",
    "isnumeric", "isprintable", "isspace", "istitle", "isupper", "join", "ljust", "lower", "lstrip", "maketrans",
    "partition", "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust", "rpartition", "rsplit",
    "rstrip", "split", "splitlines", "startswith", "strip", "swapcase", "title", "translate", "upper", "zfill",
};
static const char *const k_list_methods[] = {"append", "clear", "copy", "count", "extend", "index",
                                             "insert", "pop", "remove", "reverse", "sort"};
static const char *const k_list_unsafe[] = {"append", "reverse", "insert", "sort", "extend", "remove"};
static const char *const k_dict_methods[] = {"clear", "copy", "fromkeys", "get", "items", "keys",
                                             "pop", "popitem", "setdefault", "update", "values"};
static const char *const k_dict_unsafe[] = {"clear", "pop", "popitem", "setdefault", "update"};

static bool in_list(const char *const *l, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(l[i], name)) return true;
    return false;
}
#define IN(l, name) in_list(l, SC_ARRAY_LEN(l), name)

bool sc__j_has_method(jv self, const char *name, bool *unsafe) {
    *unsafe = false;
    switch (self.t) {
    case JT_STR: return IN(k_str_methods, name);
    case JT_LIST:
        if (self.u.l->kind == JL_LIST) {
            *unsafe = IN(k_list_unsafe, name);
            return IN(k_list_methods, name);
        }
        if (self.u.l->kind == JL_TUPLE || self.u.l->kind == JL_RANGE) return !strcmp(name, "count") || !strcmp(name, "index");
        return false;
    case JT_DICT:
        if (self.u.d->ns) return false;
        *unsafe = IN(k_dict_unsafe, name);
        return IN(k_dict_methods, name);
    default: return false;
    }
}

/* ------------------------------------------------------------------------ */
/* string helpers                                                            */
/* ------------------------------------------------------------------------ */
static bool str_new(jrender *r, const char *s, size_t n, jv *out) { return sc__j_str(r->ar, s, n, out); }

/* byte offset of code point index cp (clamped) */
static size_t cp_off(const jstr *s, int64_t cp) {
    size_t i = 0;
    uint32_t c;
    for (int64_t k = 0; k < cp && i < s->len; k++) i += sc__j_utf8_dec(s->s + i, s->len - i, &c);
    return i;
}

static bool in_chars(const jstr *chars, uint32_t c) {
    for (size_t i = 0; i < chars->len;) {
        uint32_t x;
        i += sc__j_utf8_dec(chars->s + i, chars->len - i, &x);
        if (x == c) return true;
    }
    return false;
}

int sc__j_str_strip(jrender *r, const jnode *at, jv s, jv chars, int which, jv *out) {
    if (chars.t != JT_NONE && chars.t != JT_STR)
        return sc__j_fail(r, at, SC_EINVAL, "TypeError: strip arg must be None or str");
    const jstr *cs = chars.t == JT_STR ? chars.u.s : NULL;
    const char *p = s.u.s->s;
    size_t b = 0, e = s.u.s->len;
    if (which & 1) {
        while (b < e) {
            uint32_t c;
            size_t k = sc__j_utf8_dec(p + b, e - b, &c);
            if (cs ? !in_chars(cs, c) : !sc__j_py_isspace(c)) break;
            b += k;
        }
    }
    if (which & 2) {
        while (e > b) {
            size_t st = e - 1;
            while (st > b && ((unsigned char)p[st] & 0xC0) == 0x80) st--;
            uint32_t c;
            sc__j_utf8_dec(p + st, e - st, &c);
            if (cs ? !in_chars(cs, c) : !sc__j_py_isspace(c)) break;
            e = st;
        }
    }
    if (b == 0 && e == s.u.s->len) {
        *out = s;
        return SC_OK;
    }
    if (!str_new(r, p + b, e - b, out)) OOM();
    out->markup = s.markup;
    return SC_OK;
}

static int split(jrender *r, const jnode *at, jv self, jv sep, int64_t maxsplit, bool right, jv *out) {
    const char *s = self.u.s->s;
    size_t n = self.u.s->len;
    jlist *l = sc__j_list_new(r->ar, JL_LIST, 4);
    if (!l) OOM();
    jv part;
    if (sep.t == JT_NONE) {
        /* runs of whitespace; the unsplit remainder keeps its far side */
        if (!right) {
            size_t i = 0;
            while (i < n) {
                uint32_t c;
                size_t k;
                while (i < n && (k = sc__j_utf8_dec(s + i, n - i, &c)) && sc__j_py_isspace(c)) i += k;
                if (i >= n) break;
                if (maxsplit >= 0 && (int64_t)l->n == maxsplit) {
                    if (!str_new(r, s + i, n - i, &part) || !sc__j_list_push(r->ar, l, part)) OOM();
                    break;
                }
                size_t st = i;
                while (i < n && (k = sc__j_utf8_dec(s + i, n - i, &c)) && !sc__j_py_isspace(c)) i += k;
                if (!str_new(r, s + st, i - st, &part) || !sc__j_list_push(r->ar, l, part)) OOM();
            }
        } else {
            size_t e = n;
            while (e > 0) {
                size_t st;
                uint32_t c;
                for (;;) { /* skip trailing whitespace */
                    if (e == 0) break;
                    st = e - 1;
                    while (st > 0 && ((unsigned char)s[st] & 0xC0) == 0x80) st--;
                    sc__j_utf8_dec(s + st, e - st, &c);
                    if (!sc__j_py_isspace(c)) break;
                    e = st;
                }
                if (e == 0) break;
                if (maxsplit >= 0 && (int64_t)l->n == maxsplit) {
                    if (!str_new(r, s, e, &part) || !sc__j_list_push(r->ar, l, part)) OOM();
                    break;
                }
                size_t b = e;
                for (;;) {
                    if (b == 0) break;
                    st = b - 1;
                    while (st > 0 && ((unsigned char)s[st] & 0xC0) == 0x80) st--;
                    sc__j_utf8_dec(s + st, b - st, &c);
                    if (sc__j_py_isspace(c)) break;
                    b = st;
                }
                if (!str_new(r, s + b, e - b, &part) || !sc__j_list_push(r->ar, l, part)) OOM();
                e = b;
            }
        }
    } else {
        if (sep.t != JT_STR)
            return sc__j_fail(r, at, SC_EINVAL, "TypeError: must be str or None, not %s", sc__j_type_name(sep));
        const char *p = sep.u.s->s;
        size_t pl = sep.u.s->len;
        if (pl == 0) return sc__j_fail(r, at, SC_EINVAL, "ValueError: empty separator");
        if (!right) {
            size_t i = 0;
            for (;;) {
                const char *m = (maxsplit < 0 || (int64_t)l->n < maxsplit) ? memmem(s + i, n - i, p, pl) : NULL;
                size_t end = m ? (size_t)(m - s) : n;
                if (!str_new(r, s + i, end - i, &part) || !sc__j_list_push(r->ar, l, part)) OOM();
                if (!m) break;
                i = end + pl;
            }
        } else {
            size_t e = n;
            for (;;) {
                size_t hit = SIZE_MAX;
                if ((maxsplit < 0 || (int64_t)l->n < maxsplit) && e >= pl)
                    for (size_t j = e - pl + 1; j-- > 0;)
                        if (memcmp(s + j, p, pl) == 0) {
                            hit = j;
                            break;
                        }
                size_t b = hit == SIZE_MAX ? 0 : hit + pl;
                if (!str_new(r, s + b, e - b, &part) || !sc__j_list_push(r->ar, l, part)) OOM();
                if (hit == SIZE_MAX) break;
                e = hit;
            }
        }
    }
    if (right) /* built back to front */
        for (size_t i = 0; i < l->n / 2; i++) {
            jv t = l->v[i];
            l->v[i] = l->v[l->n - 1 - i];
            l->v[l->n - 1 - i] = t;
        }
    *out = sc__j_listv(l);
    return SC_OK;
}

/* startswith / endswith with an optional [start, end) in code points */
static int starts_ends(jrender *r, const jnode *at, jv self, jv *p, bool ends, jv *out) {
    const jstr *s = self.u.s;
    int64_t len = (int64_t)sc__j_utf8_len(s->s, s->len), st = 0, en = len;
    if (!sc__j_missing(p[1]) && p[1].t != JT_NONE) {
        if (p[1].t != JT_INT) return sc__j_fail(r, at, SC_EINVAL, "TypeError: slice indices must be integers or None");
        st = p[1].u.i < 0 ? SC_MAX(0, p[1].u.i + len) : p[1].u.i;
    }
    if (!sc__j_missing(p[2]) && p[2].t != JT_NONE) {
        if (p[2].t != JT_INT) return sc__j_fail(r, at, SC_EINVAL, "TypeError: slice indices must be integers or None");
        en = p[2].u.i < 0 ? SC_MAX(0, p[2].u.i + len) : SC_MIN(p[2].u.i, len);
    }
    size_t b = cp_off(s, st), e = cp_off(s, en);
    jv one = p[0];
    size_t nprefix = 1;
    const jv *prefixes = &one;
    if (p[0].t == JT_LIST && p[0].u.l->kind == JL_TUPLE) {
        prefixes = p[0].u.l->v;
        nprefix = p[0].u.l->n;
    }
    *out = sc__j_bool(false);
    for (size_t i = 0; i < nprefix; i++) {
        jv x = prefixes[i];
        if (x.t != JT_STR)
            return sc__j_fail(r, at, SC_EINVAL, "TypeError: %s first arg must be str or a tuple of str, not %s",
                              ends ? "endswith" : "startswith", sc__j_type_name(x));
        if (st > len || b > e || e - b < x.u.s->len) continue;
        const char *where = ends ? s->s + e - x.u.s->len : s->s + b;
        if (memcmp(where, x.u.s->s, x.u.s->len) == 0) {
            *out = sc__j_bool(true);
            break;
        }
    }
    return SC_OK;
}

/* find / rfind / index / rindex / count on [start, end) */
static int find_sub(jrender *r, const jnode *at, jv self, jv *p, const char *name, jv *out) {
    const jstr *s = self.u.s;
    if (p[0].t != JT_STR)
        return sc__j_fail(r, at, SC_EINVAL, "TypeError: must be str, not %s", sc__j_type_name(p[0]));
    int64_t len = (int64_t)sc__j_utf8_len(s->s, s->len), st = 0, en = len;
    if (!sc__j_missing(p[1]) && p[1].t == JT_INT) st = p[1].u.i < 0 ? SC_MAX(0, p[1].u.i + len) : p[1].u.i;
    if (!sc__j_missing(p[2]) && p[2].t == JT_INT) en = p[2].u.i < 0 ? SC_MAX(0, p[2].u.i + len) : SC_MIN(p[2].u.i, len);
    const jstr *sub = p[0].u.s;
    bool rev = name[0] == 'r', count = !strcmp(name, "count");
    int64_t found = -1, hits = 0;
    if (st <= en) {
        size_t b = cp_off(s, st), e = cp_off(s, en);
        if (count && sub->len == 0) {
            hits = en - st + 1;
        } else if (count) {
            for (size_t i = b; i + sub->len <= e;) {
                const char *m = memmem(s->s + i, e - i, sub->s, sub->len);
                if (!m || (size_t)(m - s->s) + sub->len > e) break;
                hits++;
                i = (size_t)(m - s->s) + sub->len;
            }
        } else if (e - b >= sub->len) {
            size_t pos = SIZE_MAX;
            if (!rev) {
                const char *m = memmem(s->s + b, e - b, sub->s, sub->len);
                if (m) pos = (size_t)(m - s->s);
            } else {
                for (size_t j = e - sub->len + 1; j-- > b;)
                    if (memcmp(s->s + j, sub->s, sub->len) == 0) {
                        pos = j;
                        break;
                    }
            }
            if (pos != SIZE_MAX) found = (int64_t)sc__j_utf8_len(s->s, pos);
        }
    }
    if (count) *out = sc__j_int(hits);
    else if (found < 0 && strstr(name, "index")) return sc__j_fail(r, at, SC_EINVAL, "ValueError: substring not found");
    else *out = sc__j_int(found);
    return SC_OK;
}

typedef bool (*cp_pred)(uint32_t);
static bool is_alpha(uint32_t c) {
    if (c < 0x80) return ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
    int cat = utf8proc_category((utf8proc_int32_t)c);
    return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
}
static bool is_decimal(uint32_t c) { return c < 0x80 ? c >= '0' && c <= '9' : utf8proc_category((utf8proc_int32_t)c) == UTF8PROC_CATEGORY_ND; }
static bool is_numeric(uint32_t c) {
    if (c < 0x80) return c >= '0' && c <= '9';
    int cat = utf8proc_category((utf8proc_int32_t)c);
    return cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO;
}
static bool is_alnum(uint32_t c) { return is_alpha(c) || is_numeric(c); }
static bool is_ascii(uint32_t c) { return c < 0x80; }

static bool all_of(const jstr *s, cp_pred pred, bool empty_ok) {
    if (s->len == 0) return empty_ok;
    for (size_t i = 0; i < s->len;) {
        uint32_t c;
        i += sc__j_utf8_dec(s->s + i, s->len - i, &c);
        if (!pred(c)) return false;
    }
    return true;
}

/* Python's str.title()/swapcase(): case by the previous character */
static int title_like(jrender *r, const jnode *at, jv self, bool swap, jv *out) {
    jsb b;
    sc__j_sb_init(&b, SC_J_MAX_MEMORY);
    bool prev_cased = false;
    for (size_t i = 0; i < self.u.s->len;) {
        uint32_t c;
        i += sc__j_utf8_dec(self.u.s->s + i, self.u.s->len - i, &c);
        if (swap) {
            uint32_t u = sc__j_cp_upper(c), l = sc__j_cp_lower(c);
            sc__j_utf8_put(&b, u != c ? u : l);
            continue;
        }
        sc__j_utf8_put(&b, prev_cased ? sc__j_cp_lower(c) : sc__j_cp_title(c));
        prev_cased = sc__j_cp_cased(c);
    }
    return sc__j_str_sb(r->ar, &b, out) ? SC_OK : sc__j_oom(r, at);
}

static int pad(jrender *r, const jnode *at, jv self, jv *p, int mode, jv *out) {
    if (p[0].t != JT_INT) return sc__j_fail(r, at, SC_EINVAL, "TypeError: an integer is required");
    uint32_t fill = ' ';
    if (mode != 3 && !sc__j_missing(p[1])) {
        if (p[1].t != JT_STR || sc__j_utf8_len(p[1].u.s->s, p[1].u.s->len) != 1)
            return sc__j_fail(r, at, SC_EINVAL, "TypeError: The fill character must be exactly one character long");
        sc__j_utf8_dec(p[1].u.s->s, p[1].u.s->len, &fill);
    }
    int64_t len = (int64_t)sc__j_utf8_len(self.u.s->s, self.u.s->len), width = p[0].u.i;
    if (width <= len) {
        *out = self;
        return SC_OK;
    }
    if (width > (int64_t)SC_J_MAX_OUTPUT) OOM();
    int64_t marg = width - len, left = mode == 0 ? 0 : mode == 1 ? marg : mode == 2 ? marg / 2 + (marg & width & 1) : marg;
    jsb b;
    sc__j_sb_init(&b, SC_J_MAX_MEMORY);
    size_t body = 0;
    if (mode == 3 && self.u.s->len && (self.u.s->s[0] == '+' || self.u.s->s[0] == '-')) { /* zfill keeps the sign first */
        sc__j_sb_putc(&b, self.u.s->s[0]);
        body = 1;
        fill = '0';
    } else if (mode == 3) {
        fill = '0';
    }
    for (int64_t i = 0; i < left; i++) sc__j_utf8_put(&b, fill);
    sc__j_sb_putn(&b, self.u.s->s + body, self.u.s->len - body);
    for (int64_t i = 0; i < marg - left; i++) sc__j_utf8_put(&b, fill);
    return sc__j_str_sb(r->ar, &b, out) ? SC_OK : sc__j_oom(r, at);
}

/* str.format with the sandbox's formatter: {} {0} {name} {0.attr} {0[key]}
 * and !s / !r conversions; format specs are not supported. */
static int str_format(jrender *r, const jnode *at, jv self, jv *args, int nargs, const char **kwn, jv *kwv, int nkw,
                      jv *out) {
    const char *s = self.u.s->s;
    size_t n = self.u.s->len;
    int auto_idx = 0;
    jsb b;
    sc__j_sb_init(&b, SC_J_MAX_MEMORY);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '}' ) {
            if (i + 1 < n && s[i + 1] == '}') i++;
            else goto bad;
            sc__j_sb_putc(&b, '}');
            continue;
        }
        if (s[i] != '{') {
            sc__j_sb_putc(&b, s[i]);
            continue;
        }
        if (i + 1 < n && s[i + 1] == '{') {
            sc__j_sb_putc(&b, '{');
            i++;
            continue;
        }
        const char *end = memchr(s + i, '}', n - i);
        if (!end) goto bad;
        const char *f = s + i + 1, *fe = end;
        char conv = 0;
        const char *bang = memchr(f, '!', (size_t)(fe - f)), *colon = memchr(f, ':', (size_t)(fe - f));
        if (colon && (!bang || colon < bang)) {
            if (colon + 1 != fe) {
                sc__j_sb_free(&b);
                return sc__j_fail(r, at, SC_ENOTSUP, "str.format() format specs are not supported");
            }
            fe = colon;
        }
        if (bang) {
            conv = bang + 1 < end ? bang[1] : 0;
            fe = bang;
        }
        /* the argument: index, name or automatic */
        size_t k = 0;
        while (f + k < fe && f[k] != '.' && f[k] != '[') k++;
        jv v;
        if (k == 0) {
            if (auto_idx >= nargs) goto index_err;
            v = args[auto_idx++];
        } else if (f[0] >= '0' && f[0] <= '9') {
            long idx = strtol(f, NULL, 10);
            if (idx >= nargs) goto index_err;
            v = args[idx];
        } else {
            int kk = 0;
            while (kk < nkw && (strlen(kwn[kk]) != k || strncmp(kwn[kk], f, k) != 0)) kk++;
            if (kk == nkw) {
                sc__j_sb_free(&b);
                return sc__j_fail(r, at, SC_EINVAL, "KeyError: '%.*s'", (int)k, f);
            }
            v = kwv[kk];
        }
        const char *q = f + k;
        while (q < fe) { /* .attr and [key] */
            bool attr = *q == '.';
            const char *st = q + 1, *e2 = st;
            while (e2 < fe && *e2 != '.' && *e2 != '[' && *e2 != ']') e2++;
            char key[128];
            snprintf(key, sizeof key, "%.*s", (int)(e2 - st), st);
            int rc;
            if (attr) {
                rc = sc__j_getattr(r, at, v, key, &v);
            } else {
                jv kv;
                bool digits = e2 > st;
                for (const char *d = st; d < e2; d++) digits = digits && *d >= '0' && *d <= '9';
                if (digits) kv = sc__j_int(strtoll(key, NULL, 10));
                else if (!sc__j_str(r->ar, key, strlen(key), &kv)) OOM();
                rc = sc__j_getitem(r, at, v, kv, &v);
                if (e2 < fe && *e2 == ']') e2++;
            }
            if (rc) {
                sc__j_sb_free(&b);
                return rc;
            }
            q = e2;
        }
        if (conv == 'r') sc__j_repr(&b, v);
        else sc__j_str_of(&b, v);
        i = (size_t)(end - s);
    }
    return sc__j_str_sb(r->ar, &b, out) ? SC_OK : sc__j_oom(r, at);
bad:
    sc__j_sb_free(&b);
    return sc__j_fail(r, at, SC_EINVAL, "ValueError: Single '}' encountered in format string");
index_err:
    sc__j_sb_free(&b);
    return sc__j_fail(r, at, SC_EINVAL, "IndexError: Replacement index out of range for positional args tuple");
}

/* ------------------------------------------------------------------------ */
/* method dispatch                                                           */
/* ------------------------------------------------------------------------ */
#define BINDM(...)                                                                                      \
    static const char *const params_[] = {__VA_ARGS__};                                                 \
    jv p[SC_ARRAY_LEN(params_)];                                                                        \
    if (sc__j_bind(r, at, name, params_, (int)SC_ARRAY_LEN(params_), args, nargs, kwn, kwv, nkw, p)) \
        return r->err
#define NOARGS()                                                                                           \
    if (nargs || nkw) return sc__j_fail(r, at, SC_EINVAL, "TypeError: %s.%s() takes no arguments", \
                                        sc__j_type_name(self), name)

static int str_method_impl(jrender *r, const jnode *at, jv self, const char *name, jv *args, int nargs,
                           const char **kwn, jv *kwv, int nkw, jv *out);

/* markupsafe.Markup's methods return Markup again (split & co. lists of it) */
static int str_method(jrender *r, const jnode *at, jv self, const char *name, jv *args, int nargs, const char **kwn,
                      jv *kwv, int nkw, jv *out) {
    static const char *const wrapped[] = {"capitalize", "title", "lower", "upper", "replace", "ljust", "rjust",
                                          "lstrip", "rstrip", "center", "strip", "swapcase", "zfill", "split",
                                          "rsplit", "splitlines", "partition", "rpartition"};
    int rc = str_method_impl(r, at, self, name, args, nargs, kwn, kwv, nkw, out);
    if (rc || !self.markup || !IN(wrapped, name)) return rc;
    if (out->t == JT_STR) out->markup = 1;
    else if (out->t == JT_LIST)
        for (size_t i = 0; i < out->u.l->n; i++)
            if (out->u.l->v[i].t == JT_STR) out->u.l->v[i].markup = 1;
    return SC_OK;
}

static int str_method_impl(jrender *r, const jnode *at, jv self, const char *name, jv *args, int nargs,
                           const char **kwn, jv *kwv, int nkw, jv *out) {
    const jstr *s = self.u.s;
    if (!strcmp(name, "startswith") || !strcmp(name, "endswith")) {
        BINDM("prefix", "start", "end");
        return starts_ends(r, at, self, p, name[0] == 'e', out);
    }
    if (!strcmp(name, "strip") || !strcmp(name, "lstrip") || !strcmp(name, "rstrip")) {
        BINDM("chars");
        return sc__j_str_strip(r, at, self, sc__j_missing(p[0]) ? sc__j_none() : p[0],
                               name[0] == 'l' ? 1 : name[0] == 'r' ? 2 : 3, out);
    }
    if (!strcmp(name, "split") || !strcmp(name, "rsplit")) {
        BINDM("sep", "maxsplit");
        int64_t maxsplit = -1;
        if (!sc__j_missing(p[1])) {
            if (p[1].t != JT_INT) return sc__j_fail(r, at, SC_EINVAL, "TypeError: maxsplit must be an integer");
            maxsplit = p[1].u.i;
        }
        return split(r, at, self, sc__j_missing(p[0]) ? sc__j_none() : p[0], maxsplit, name[0] == 'r', out);
    }
    if (!strcmp(name, "replace")) {
        if (nkw) return sc__j_fail(r, at, SC_EINVAL, "TypeError: replace() takes no keyword arguments");
        if (nargs < 2 || nargs > 3 || args[0].t != JT_STR || args[1].t != JT_STR)
            return sc__j_fail(r, at, SC_EINVAL, "TypeError: replace() takes two or three arguments: str, str[, int]");
        return sc__j_filter(r, at, "replace", self, args, nargs, kwn, kwv, 0, out);
    }
    if (!strcmp(name, "upper") || !strcmp(name, "lower") || !strcmp(name, "capitalize") || !strcmp(name, "casefold")) {
        NOARGS();
        return sc__j_filter(r, at, name[0] == 'c' && name[1] == 'a' && name[2] == 's' ? "lower" : name, self, NULL, 0,
                            NULL, NULL, 0, out);
    }
    if (!strcmp(name, "title") || !strcmp(name, "swapcase")) {
        NOARGS();
        return title_like(r, at, self, name[0] == 's', out);
    }
    if (!strcmp(name, "find") || !strcmp(name, "rfind") || !strcmp(name, "index") || !strcmp(name, "rindex") ||
        !strcmp(name, "count")) {
        BINDM("sub", "start", "end");
        if (sc__j_missing(p[0])) return sc__j_fail(r, at, SC_EINVAL, "TypeError: %s() takes at least 1 argument", name);
        return find_sub(r, at, self, p, name, out);
    }
    if (!strcmp(name, "join")) {
        BINDM("iterable");
        jlist *l;
        char msg[128] = "";
        if (!sc__j_iterate(r->ar, p[0], &l, msg, sizeof msg))
            return msg[0] ? sc__j_fail(r, at, SC_EINVAL, "TypeError: can only join an iterable") : sc__j_oom(r, at);
        jsb b;
        sc__j_sb_init(&b, SC_J_MAX_MEMORY);
        for (size_t i = 0; i < l->n; i++) {
            if (l->v[i].t != JT_STR) {
                sc__j_sb_free(&b);
                return sc__j_fail(r, at, SC_EINVAL, "TypeError: sequence item %zu: expected str instance, %s found", i,
                                  sc__j_type_name(l->v[i]));
            }
            if (i) sc__j_sb_putn(&b, s->s, s->len);
            sc__j_sb_putn(&b, l->v[i].u.s->s, l->v[i].u.s->len);
        }
        return sc__j_str_sb(r->ar, &b, out) ? SC_OK : sc__j_oom(r, at);
    }
    if (!strcmp(name, "format")) return str_format(r, at, self, args, nargs, kwn, kwv, nkw, out);
    if (!strncmp(name, "is", 2)) {
        NOARGS();
        bool res;
        if (!strcmp(name, "isdigit") || !strcmp(name, "isdecimal")) res = all_of(s, is_decimal, false);
        else if (!strcmp(name, "isnumeric")) res = all_of(s, is_numeric, false);
        else if (!strcmp(name, "isalpha")) res = all_of(s, is_alpha, false);
        else if (!strcmp(name, "isalnum")) res = all_of(s, is_alnum, false);
        else if (!strcmp(name, "isspace")) res = all_of(s, sc__j_py_isspace, false);
        else if (!strcmp(name, "isascii")) res = all_of(s, is_ascii, true);
        else if (!strcmp(name, "islower") || !strcmp(name, "isupper")) {
            bool b;
            return sc__j_test(r, at, name + 2, self, NULL, 0, NULL, NULL, 0, &b) ? r->err : (*out = sc__j_bool(b), SC_OK);
        } else if (!strcmp(name, "isidentifier")) {
            res = s->len > 0 && !(s->s[0] >= '0' && s->s[0] <= '9');
            for (size_t i = 0; i < s->len && res; i++) {
                unsigned char c = (unsigned char)s->s[i];
                res = c == '_' || c >= 0x80 || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
            }
        } else return sc__j_fail(r, at, SC_ENOTSUP, "str.%s() is not supported", name);
        *out = sc__j_bool(res);
        return SC_OK;
    }
    if (!strcmp(name, "splitlines")) {
        BINDM("keepends");
        bool keep = !sc__j_missing(p[0]) && sc__j_truthy(p[0]);
        jlist *l = sc__j_list_new(r->ar, JL_LIST, 4);
        if (!l) OOM();
        size_t st = 0;
        for (size_t i = 0; i < s->len;) {
            uint32_t c;
            size_t k = sc__j_utf8_dec(s->s + i, s->len - i, &c), brk = 0;
            if (c == '\r') brk = i + 1 < s->len && s->s[i + 1] == '\n' ? 2 : 1;
            else if (c == '\n' || c == 0x0B || c == 0x0C || (c >= 0x1C && c <= 0x1E) || c == 0x85 || c == 0x2028 || c == 0x2029)
                brk = k;
            if (!brk) {
                i += k;
                continue;
            }
            jv part;
            if (!str_new(r, s->s + st, i - st + (keep ? brk : 0), &part) || !sc__j_list_push(r->ar, l, part)) OOM();
            i += brk;
            st = i;
        }
        if (st < s->len) {
            jv part;
            if (!str_new(r, s->s + st, s->len - st, &part) || !sc__j_list_push(r->ar, l, part)) OOM();
        }
        *out = sc__j_listv(l);
        return SC_OK;
    }
    if (!strcmp(name, "partition") || !strcmp(name, "rpartition")) {
        BINDM("sep");
        if (p[0].t != JT_STR) return sc__j_fail(r, at, SC_EINVAL, "TypeError: must be str");
        if (p[0].u.s->len == 0) return sc__j_fail(r, at, SC_EINVAL, "ValueError: empty separator");
        jv parts;
        if (split(r, at, self, p[0], 1, name[0] == 'r', &parts)) return r->err;
        jlist *t = sc__j_list_new(r->ar, JL_TUPLE, 3);
        jv empty;
        if (!t || !str_new(r, "", 0, &empty)) OOM();
        t->n = 3;
        if (parts.u.l->n == 2) {
            t->v[0] = parts.u.l->v[0];
            t->v[1] = p[0];
            t->v[2] = parts.u.l->v[1];
        } else if (name[0] == 'r') {
            t->v[0] = empty;
            t->v[1] = empty;
            t->v[2] = self;
        } else {
            t->v[0] = self;
            t->v[1] = empty;
            t->v[2] = empty;
        }
        *out = sc__j_listv(t);
        return SC_OK;
    }
    if (!strcmp(name, "removeprefix") || !strcmp(name, "removesuffix")) {
        BINDM("affix");
        if (p[0].t != JT_STR) return sc__j_fail(r, at, SC_EINVAL, "TypeError: must be str");
        const jstr *a = p[0].u.s;
        bool pre = name[6] == 'p';
        if (a->len <= s->len && memcmp(pre ? s->s : s->s + s->len - a->len, a->s, a->len) == 0)
            return str_new(r, pre ? s->s + a->len : s->s, s->len - a->len, out) ? SC_OK : sc__j_oom(r, at);
        *out = self;
        return SC_OK;
    }
    if (!strcmp(name, "ljust") || !strcmp(name, "rjust") || !strcmp(name, "center") || !strcmp(name, "zfill")) {
        BINDM("width", "fillchar");
        if (sc__j_missing(p[0])) return sc__j_fail(r, at, SC_EINVAL, "TypeError: %s() takes at least 1 argument", name);
        return pad(r, at, self, p, name[0] == 'l' ? 0 : name[0] == 'r' ? 1 : name[0] == 'c' ? 2 : 3, out);
    }
    return sc__j_fail(r, at, SC_ENOTSUP, "str.%s() is not supported", name);
}

static int loop_method(jrender *r, const jnode *at, jloop *l, const char *name, jv *args, int nargs, int nkw,
                       jv *out) {
    if (nkw) return sc__j_fail(r, at, SC_EINVAL, "TypeError: loop.%s() takes no keyword arguments", name);
    if (!strcmp(name, "cycle")) {
        if (nargs == 0) return sc__j_fail(r, at, SC_EINVAL, "TypeError: no items for cycling given");
        *out = args[l->idx % (size_t)nargs];
        return SC_OK;
    }
    /* changed(*values): true when the values differ from the last call */
    jlist *now = sc__j_list_new(r->ar, JL_LIST, (size_t)nargs);
    if (!now) OOM();
    for (int i = 0; i < nargs; i++) now->v[now->n++] = args[i];
    jv nv = sc__j_listv(now);
    bool changed = !l->has_changed || !sc__j_eq(l->changed_last, nv);
    l->has_changed = true;
    l->changed_last = nv;
    *out = sc__j_bool(changed);
    return SC_OK;
}

int sc__j_call_method(jrender *r, const jnode *at, jmethod *m, jv *args, int nargs, const char **kwn, jv *kwv,
                      int nkw, jv *out) {
    jv self = m->self;
    const char *name = m->name;
    if (self.t == JT_STR) return str_method(r, at, self, name, args, nargs, kwn, kwv, nkw, out);
    if (self.t == JT_LOOP) return loop_method(r, at, self.u.loop, name, args, nargs, nkw, out);
    if (self.t == JT_DICT) {
        jdict *d = self.u.d;
        if (!strcmp(name, "get")) {
            if (nkw || nargs < 1 || nargs > 2)
                return sc__j_fail(r, at, SC_EINVAL, "TypeError: get expected 1 or 2 arguments, got %d", nargs + nkw);
            jv *v = sc__j_dict_get(d, args[0]);
            *out = v ? *v : nargs == 2 ? args[1] : sc__j_none();
            return SC_OK;
        }
        if (!strcmp(name, "items") || !strcmp(name, "keys") || !strcmp(name, "values") || !strcmp(name, "copy")) {
            NOARGS();
            if (name[0] == 'c') {
                jdict *c = sc__j_dict_new(r->ar, d->n);
                if (!c) OOM();
                for (size_t i = 0; i < d->n; i++) c->k[i] = d->k[i], c->v[i] = d->v[i];
                c->n = d->n;
                *out = sc__j_dictv(c);
                return SC_OK;
            }
            jlist *l = sc__j_list_new(r->ar, name[0] == 'i' ? JL_ITEMS : name[0] == 'k' ? JL_KEYS : JL_VALUES, d->n);
            if (!l) OOM();
            for (size_t i = 0; i < d->n; i++) {
                if (name[0] == 'i') {
                    jlist *pair = sc__j_list_new(r->ar, JL_TUPLE, 2);
                    if (!pair) OOM();
                    pair->v[0] = d->k[i];
                    pair->v[1] = d->v[i];
                    pair->n = 2;
                    l->v[l->n++] = sc__j_listv(pair);
                } else {
                    l->v[l->n++] = name[0] == 'k' ? d->k[i] : d->v[i];
                }
            }
            *out = sc__j_listv(l);
            return SC_OK;
        }
    } else if (self.t == JT_LIST) {
        jlist *l = self.u.l;
        if (!strcmp(name, "count") || !strcmp(name, "index")) {
            if (nkw || nargs < 1 || (name[0] == 'c' && nargs != 1) || nargs > 3)
                return sc__j_fail(r, at, SC_EINVAL, "TypeError: %s() takes %s argument", name,
                                  name[0] == 'c' ? "exactly one" : "1 to 3");
            int64_t cnt = 0, st = 0, en = (int64_t)l->n;
            if (nargs > 1 && args[1].t == JT_INT) st = args[1].u.i < 0 ? SC_MAX(0, args[1].u.i + en) : args[1].u.i;
            if (nargs > 2 && args[2].t == JT_INT) en = args[2].u.i < 0 ? SC_MAX(0, args[2].u.i + (int64_t)l->n) : SC_MIN(args[2].u.i, en);
            for (int64_t i = st; i < en; i++)
                if (sc__j_eq(l->v[i], args[0])) {
                    if (name[0] == 'i') {
                        *out = sc__j_int(i);
                        return SC_OK;
                    }
                    cnt++;
                }
            if (name[0] == 'i') return sc__j_fail(r, at, SC_EINVAL, "ValueError: value is not in list");
            *out = sc__j_int(cnt);
            return SC_OK;
        }
        if (!strcmp(name, "copy")) {
            NOARGS();
            jlist *c = sc__j_list_new(r->ar, JL_LIST, l->n);
            if (!c) OOM();
            for (size_t i = 0; i < l->n; i++) c->v[c->n++] = l->v[i];
            *out = sc__j_listv(c);
            return SC_OK;
        }
        if (!strcmp(name, "clear")) { /* allowed by the sandbox, and mutating */
            NOARGS();
            l->n = 0;
            *out = sc__j_none();
            return SC_OK;
        }
        if (!strcmp(name, "pop")) {
            if (nkw || nargs > 1) return sc__j_fail(r, at, SC_EINVAL, "TypeError: pop expected at most 1 argument");
            int64_t i = (int64_t)l->n - 1;
            if (nargs == 1) {
                if (args[0].t != JT_INT) return sc__j_fail(r, at, SC_EINVAL, "TypeError: list indices must be integers");
                i = args[0].u.i < 0 ? args[0].u.i + (int64_t)l->n : args[0].u.i;
            }
            if (l->n == 0) return sc__j_fail(r, at, SC_EINVAL, "IndexError: pop from empty list");
            if (i < 0 || i >= (int64_t)l->n) return sc__j_fail(r, at, SC_EINVAL, "IndexError: pop index out of range");
            *out = l->v[i];
            memmove(l->v + i, l->v + i + 1, (l->n - (size_t)i - 1) * sizeof(jv));
            l->n--;
            return SC_OK;
        }
    }
    return sc__j_fail(r, at, SC_ENOTSUP, "%s.%s() is not supported", sc__j_type_name(self), name);
}

/* ------------------------------------------------------------------------ */
/* global functions                                                          */
/* ------------------------------------------------------------------------ */
/* dict(*args, **kwargs) as Python builds it (also Namespace's init) */
static int build_dict(jrender *r, const jnode *at, const char *fname, jv *args, int nargs, const char **kwn, jv *kwv,
                      int nkw, jdict **out) {
    jdict *d = sc__j_dict_new(r->ar, (size_t)nkw + 4);
    if (!d) OOM();
    if (nargs > 1)
        return sc__j_fail(r, at, SC_EINVAL, "TypeError: %s expected at most 1 argument, got %d", fname, nargs);
    if (nargs == 1) {
        jv src = args[0];
        if (src.t == JT_DICT && !src.u.d->ns) {
            for (size_t i = 0; i < src.u.d->n; i++)
                if (!sc__j_dict_set(r->ar, d, src.u.d->k[i], src.u.d->v[i])) OOM();
        } else {
            jlist *l;
            char msg[128] = "";
            if (!sc__j_iterate(r->ar, src, &l, msg, sizeof msg))
                return msg[0] ? sc__j_fail(r, at, SC_EINVAL, "TypeError: %s", msg) : sc__j_oom(r, at);
            for (size_t i = 0; i < l->n; i++) {
                jlist *pair;
                if (l->v[i].t != JT_LIST || !sc__j_iterate(r->ar, l->v[i], &pair, msg, sizeof msg) || pair->n != 2)
                    return sc__j_fail(r, at, SC_EINVAL,
                                      "ValueError: dictionary update sequence element #%zu has the wrong length", i);
                if (!sc__j_dict_set(r->ar, d, pair->v[0], pair->v[1])) OOM();
            }
        }
    }
    for (int k = 0; k < nkw; k++) {
        jv key;
        if (!sc__j_str(r->ar, kwn[k], strlen(kwn[k]), &key) || !sc__j_dict_set(r->ar, d, key, kwv[k])) OOM();
    }
    *out = d;
    return SC_OK;
}

int sc__j_call_func(jrender *r, const jnode *at, int fn, jv *args, int nargs, const char **kwn, jv *kwv, int nkw,
                    jv *out) {
    switch (fn) {
    case JF_RANGE: {
        int64_t a[3] = {0, 0, 1};
        if (nkw) return sc__j_fail(r, at, SC_EINVAL, "TypeError: range() takes no keyword arguments");
        if (nargs < 1 || nargs > 3)
            return sc__j_fail(r, at, SC_EINVAL, "TypeError: range expected at most 3 arguments, got %d", nargs);
        for (int i = 0; i < nargs; i++) {
            if (args[i].t != JT_INT && args[i].t != JT_BOOL)
                return sc__j_fail(r, at, SC_EINVAL, "TypeError: '%s' object cannot be interpreted as an integer",
                                  sc__j_type_name(args[i]));
            a[nargs == 1 ? 1 : i] = args[i].t == JT_BOOL ? args[i].u.b : args[i].u.i;
        }
        int64_t start = a[0], stop = a[1], step = a[2];
        if (step == 0) return sc__j_fail(r, at, SC_EINVAL, "ValueError: range() arg 3 must not be zero");
        int64_t count = step > 0 ? (stop > start ? (stop - start - 1) / step + 1 : 0)
                                 : (start > stop ? (start - stop - 1) / (-step) + 1 : 0);
        if (count > SC_J_MAX_RANGE)
            return sc__j_fail(r, at, SC_ERANGE,
                              "OverflowError: Range too big. The sandbox blocks ranges larger than MAX_RANGE (%d).",
                              SC_J_MAX_RANGE);
        jlist *l = sc__j_list_new(r->ar, JL_RANGE, (size_t)count);
        if (!l) OOM();
        for (int64_t i = 0; i < count; i++) l->v[l->n++] = sc__j_int(start + i * step);
        l->r0 = start;
        l->r1 = stop;
        l->rs = step;
        *out = sc__j_listv(l);
        return SC_OK;
    }
    case JF_NAMESPACE:
    case JF_DICT: {
        jdict *d = NULL;
        if (build_dict(r, at, fn == JF_DICT ? "dict" : "Namespace", args, nargs, kwn, kwv, nkw, &d)) return r->err;
        d->ns = fn == JF_NAMESPACE;
        *out = sc__j_dictv(d);
        return SC_OK;
    }
    case JF_RAISE: {
        /* transformers: raise TemplateError(message); the message is the error */
        jsb b;
        sc__j_sb_init(&b, 4096);
        if (nargs >= 1) sc__j_str_of(&b, args[0]);
        int rc = sc__j_fail(r, at, SC_EINVAL, "%s", b.p ? b.p : "");
        sc__j_sb_free(&b);
        return rc;
    }
    case JF_STRFTIME: {
        if (nargs != 1 || args[0].t != JT_STR)
            return sc__j_fail(r, at, SC_EINVAL, "TypeError: strftime_now() takes one string argument");
        time_t now = time(NULL);
        struct tm tm;
        char buf[512];
        if (!localtime_r(&now, &tm)) return sc__j_fail(r, at, SC_EINVAL, "strftime_now: no local time");
        size_t n = strftime(buf, sizeof buf, args[0].u.s->s, &tm);
        return str_new(r, buf, n, out) ? SC_OK : sc__j_oom(r, at);
    }
    default:
        return sc__j_fail(r, at, SC_ENOTSUP, "%s is not supported",
                          fn == JF_LIPSUM ? "lipsum()" : fn == JF_CYCLER ? "cycler()" : "joiner()");
    }
}
