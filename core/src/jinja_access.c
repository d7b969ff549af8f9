/*
 * core/src/jinja_access.c - how templates reach into values: obj.name and
 * obj[key] with the sandbox's rules (methods before keys, Undefined instead
 * of KeyError), Python slicing, str % args, escaping, the Undefined error
 * messages, and argument binding for built-in functions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jinja.h"

const char *sc__j_undef_msg(jv v) { return v.u.hint && v.u.hint != SC_J_MISSING ? v.u.hint : "value is undefined"; }

int sc__j_undef_error(jrender *r, const jnode *at, jv v) {
    return sc__j_fail(r, at, SC_EINVAL, "UndefinedError: %s", sc__j_undef_msg(v));
}

/* An arena copy of a formatted message (for Undefined hints). */
const char *sc__j_hintf(jrender *r, const char *fmt, ...) {
    char buf[320];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return NULL;
    size_t len = SC_MIN((size_t)n, sizeof buf - 1);
    char *s = sc__j_alloc(r->ar, len + 1);
    if (s) memcpy(s, buf, len + 1);
    return s;
}

jv sc__j_undef_attr(jrender *r, jv obj, jv key) {
    /* jinja2.utils.object_type_repr: "None", "dict object", ... */
    char tn[64];
    if (obj.t == JT_NONE) snprintf(tn, sizeof tn, "None");
    else snprintf(tn, sizeof tn, "%s object", sc__j_type_name(obj));
    if (key.t == JT_STR) {
        jsb b;
        sc__j_sb_init(&b, 256);
        sc__j_repr(&b, key);
        const char *h = sc__j_hintf(r, "'%s' has no attribute %s", tn, b.p ? b.p : "''");
        sc__j_sb_free(&b);
        return sc__j_undef(h);
    }
    jsb b;
    sc__j_sb_init(&b, 256);
    sc__j_repr(&b, key);
    const char *h = sc__j_hintf(r, "%s has no element %s", tn, b.p ? b.p : "");
    sc__j_sb_free(&b);
    return sc__j_undef(h);
}

/* ------------------------------------------------------------------------ */
/* argument binding                                                          */
/* ------------------------------------------------------------------------ */
int sc__j_bind(jrender *r, const jnode *at, const char *fname, const char *const *params, int np, jv *args,
               int nargs, const char **kwn, jv *kwv, int nkw, jv *out) {
    if (nargs > np)
        return sc__j_fail(r, at, SC_EINVAL, "TypeError: %s() takes %d positional argument%s but %d were given",
                          fname, np, np == 1 ? "" : "s", nargs);
    for (int i = 0; i < np; i++) out[i] = i < nargs ? args[i] : sc__j_undef(SC_J_MISSING);
    for (int k = 0; k < nkw; k++) {
        int i = 0;
        while (i < np && strcmp(params[i], kwn[k]) != 0) i++;
        if (i == np)
            return sc__j_fail(r, at, SC_EINVAL, "TypeError: %s() got an unexpected keyword argument '%s'", fname,
                              kwn[k]);
        if (!sc__j_missing(out[i]))
            return sc__j_fail(r, at, SC_EINVAL, "TypeError: %s() got multiple values for argument '%s'", fname,
                              kwn[k]);
        out[i] = kwv[k];
    }
    return SC_OK;
}

/* ------------------------------------------------------------------------ */
/* attribute and item access                                                 */
/* ------------------------------------------------------------------------ */
static int loop_attr(jrender *r, jloop *l, const char *name, jv *out, bool *found) {
    size_t n = l->items->n, i = l->idx;
    *found = true;
    if (!strcmp(name, "index")) *out = sc__j_int((int64_t)i + 1);
    else if (!strcmp(name, "index0")) *out = sc__j_int((int64_t)i);
    else if (!strcmp(name, "revindex")) *out = sc__j_int((int64_t)(n - i));
    else if (!strcmp(name, "revindex0")) *out = sc__j_int((int64_t)(n - i - 1));
    else if (!strcmp(name, "first")) *out = sc__j_bool(i == 0);
    else if (!strcmp(name, "last")) *out = sc__j_bool(i + 1 == n);
    else if (!strcmp(name, "length")) *out = sc__j_int((int64_t)n);
    else if (!strcmp(name, "depth")) *out = sc__j_int(l->depth);
    else if (!strcmp(name, "depth0")) *out = sc__j_int(l->depth - 1);
    else if (!strcmp(name, "previtem")) *out = i > 0 ? l->items->v[i - 1] : sc__j_undef("there is no previous item");
    else if (!strcmp(name, "nextitem")) *out = i + 1 < n ? l->items->v[i + 1] : sc__j_undef("there is no next item");
    else if (!strcmp(name, "cycle") || !strcmp(name, "changed")) {
        jmethod *m = sc__j_alloc(r->ar, sizeof(*m));
        if (!m) return sc__j_oom(r, NULL);
        m->self.t = JT_LOOP;
        m->self.u.loop = l;
        m->name = name[0] == 'c' && name[1] == 'y' ? "cycle" : "changed";
        out->t = JT_METHOD;
        out->u.bm = m;
    } else *found = false;
    return SC_OK;
}

int sc__j_getattr(jrender *r, const jnode *at, jv obj, const char *name, jv *out) {
    if (obj.t == JT_UNDEF) return sc__j_undef_error(r, at, obj);
    jv key;
    if (!sc__j_str(r->ar, name, strlen(name), &key)) return sc__j_oom(r, at);
    if (obj.t == JT_LOOP) {
        bool found;
        if (loop_attr(r, obj.u.loop, name, out, &found)) return r->err;
        if (found) return SC_OK;
    } else if (obj.t == JT_MACRO && !strcmp(name, "name")) {
        return sc__j_str(r->ar, obj.u.m->name, strlen(obj.u.m->name), out) ? SC_OK : sc__j_oom(r, at);
    } else if (obj.t == JT_DICT && obj.u.d->ns) {
        jv *v = sc__j_dict_get(obj.u.d, key);
        if (v) {
            *out = *v;
            return SC_OK;
        }
    } else {
        /* Python getattr first: methods of str/list/dict win over keys */
        bool unsafe;
        if (sc__j_has_method(obj, name, &unsafe)) {
            if (unsafe) {
                *out = sc__j_undef(sc__j_hintf(r, "access to attribute '%s' of '%s' object is unsafe.", name,
                                         sc__j_type_name(obj)));
                return SC_OK;
            }
            jmethod *m = sc__j_alloc(r->ar, sizeof(*m));
            if (!m) return sc__j_oom(r, at);
            m->self = obj;
            m->name = key.u.s->s;
            out->t = JT_METHOD;
            out->markup = 0;
            out->u.bm = m;
            return SC_OK;
        }
        if (obj.t == JT_DICT) {
            jv *v = sc__j_dict_get(obj.u.d, key);
            if (v) {
                *out = *v;
                return SC_OK;
            }
        }
    }
    *out = sc__j_undef_attr(r, obj, key);
    return SC_OK;
}

/* Python's PySlice_AdjustIndices. */
static size_t slice_indices(int64_t len, bool has_start, int64_t start, bool has_stop, int64_t stop, int64_t step,
                            int64_t *ostart) {
    if (step > 0) {
        if (!has_start) start = 0;
        else if (start < 0 && (start += len) < 0) start = 0;
        else if (start > len) start = len;
        if (!has_stop) stop = len;
        else if (stop < 0 && (stop += len) < 0) stop = 0;
        else if (stop > len) stop = len;
        *ostart = start;
        return start < stop ? (size_t)((stop - start - 1) / step + 1) : 0;
    }
    if (!has_start) start = len - 1;
    else if (start < 0 && (start += len) < 0) start = -1;
    else if (start >= len) start = len - 1;
    if (!has_stop) stop = -1;
    else if (stop < 0 && (stop += len) < 0) stop = -1;
    else if (stop >= len) stop = len - 1;
    *ostart = start;
    return stop < start ? (size_t)((start - stop - 1) / (-step) + 1) : 0;
}

/* The adjusted stop index of a slice (PySlice_AdjustIndices). */
static void slice_stop(size_t n, bool has_stop, int64_t stop, int64_t step, int64_t *out) {
    int64_t len = (int64_t)n;
    if (!has_stop) stop = step > 0 ? len : -1;
    else if (stop < 0 && (stop += len) < 0) stop = step > 0 ? 0 : -1;
    else if (stop >= len) stop = step > 0 ? len : len - 1;
    *out = stop;
}

static bool as_index(jv v, int64_t *i) {
    if (v.t == JT_INT) *i = v.u.i;
    else if (v.t == JT_BOOL) *i = v.u.b;
    else return false;
    return true;
}

int sc__j_slice(jrender *r, const jnode *at, jv obj, jv start, jv stop, jv step, jv *out) {
    int64_t s0 = 0, s1 = 0, st = 1;
    bool has0 = start.t != JT_NONE, has1 = stop.t != JT_NONE;
    if ((has0 && !as_index(start, &s0)) || (has1 && !as_index(stop, &s1)) ||
        (step.t != JT_NONE && !as_index(step, &st)))
        return sc__j_fail(r, at, SC_EINVAL,
                          "TypeError: slice indices must be integers or None or have an __index__ method");
    if (st == 0) return sc__j_fail(r, at, SC_EINVAL, "ValueError: slice step cannot be zero");
    int64_t first;
    if (obj.t == JT_STR) {
        const jstr *s = obj.u.s;
        /* code point offsets */
        size_t ncp = sc__j_utf8_len(s->s, s->len);
        size_t *off = sc__j_alloc(r->ar, (ncp + 1) * sizeof(size_t));
        if (!off) return sc__j_oom(r, at);
        for (size_t i = 0, k = 0; k <= ncp; k++) {
            off[k] = i;
            uint32_t cp;
            if (i < s->len) i += sc__j_utf8_dec(s->s + i, s->len - i, &cp);
        }
        size_t cnt = slice_indices((int64_t)ncp, has0, s0, has1, s1, st, &first);
        jsb b;
        sc__j_sb_init(&b, s->len + 1);
        for (size_t k = 0; k < cnt; k++) {
            size_t idx = (size_t)(first + (int64_t)k * st);
            sc__j_sb_putn(&b, s->s + off[idx], off[idx + 1] - off[idx]);
        }
        if (!sc__j_str_sb(r->ar, &b, out)) return sc__j_oom(r, at);
        out->markup = obj.markup;
        return SC_OK;
    }
    if (obj.t == JT_LIST && obj.u.l->kind != JL_GEN && obj.u.l->kind < JL_ITEMS) {
        const jlist *l = obj.u.l;
        size_t cnt = slice_indices((int64_t)l->n, has0, s0, has1, s1, st, &first);
        jlist *nl = sc__j_list_new(r->ar, l->kind == JL_TUPLE ? JL_TUPLE : l->kind == JL_RANGE ? JL_RANGE : JL_LIST, cnt);
        if (!nl) return sc__j_oom(r, at);
        for (size_t k = 0; k < cnt; k++) nl->v[nl->n++] = l->v[first + (int64_t)k * st];
        if (l->kind == JL_RANGE) { /* a slice of a range is a range: range(start', stop', step') */
            int64_t stop_idx;
            slice_stop(l->n, has1, s1, st, &stop_idx);
            nl->r0 = l->r0 + first * l->rs;
            nl->r1 = l->r0 + stop_idx * l->rs;
            nl->rs = l->rs * st;
        }
        *out = sc__j_listv(nl);
        return SC_OK;
    }
    /* slices bypass environment.getitem: plain Python subscription. Except
     * when Jinja's optimizer folded a constant expression at compile time:
     * it went through getitem, which gives an Undefined. */
    if (at->folded && obj.t != JT_UNDEF) {
        *out = sc__j_undef_attr(r, obj, sc__j_none());
        return SC_OK;
    }
    if (obj.t == JT_UNDEF) return sc__j_undef_error(r, at, obj);
    if (obj.t == JT_DICT && !obj.u.d->ns) return sc__j_fail(r, at, SC_EINVAL, "TypeError: unhashable type: 'slice'");
    return sc__j_fail(r, at, SC_EINVAL, "TypeError: '%s' object is not subscriptable", sc__j_type_name(obj));
}

int sc__j_getitem(jrender *r, const jnode *at, jv obj, jv key, jv *out) {
    int64_t idx;
    if (obj.t == JT_UNDEF) return sc__j_undef_error(r, at, obj);
    if (obj.t == JT_DICT && !obj.u.d->ns) {
        jv *v = sc__j_dict_get(obj.u.d, key);
        if (v) {
            *out = *v;
            return SC_OK;
        }
    } else if ((obj.t == JT_LIST && obj.u.l->kind != JL_GEN && obj.u.l->kind < JL_ITEMS) && as_index(key, &idx)) {
        int64_t n = (int64_t)obj.u.l->n;
        if (idx < 0) idx += n;
        if (idx >= 0 && idx < n) {
            *out = obj.u.l->v[idx];
            return SC_OK;
        }
    } else if (obj.t == JT_STR && as_index(key, &idx)) {
        const jstr *s = obj.u.s;
        int64_t n = (int64_t)sc__j_utf8_len(s->s, s->len);
        if (idx < 0) idx += n;
        if (idx >= 0 && idx < n) {
            size_t i = 0;
            uint32_t cp;
            for (int64_t k = 0; k < idx; k++) i += sc__j_utf8_dec(s->s + i, s->len - i, &cp);
            size_t k = sc__j_utf8_dec(s->s + i, s->len - i, &cp);
            if (!sc__j_str(r->ar, s->s + i, k, out)) return sc__j_oom(r, at);
            out->markup = obj.markup;
            return SC_OK;
        }
    }
    /* obj[key] failed: Jinja tries getattr for string keys */
    if (key.t == JT_STR) return sc__j_getattr(r, at, obj, key.u.s->s, out);
    *out = sc__j_undef_attr(r, obj, key);
    return SC_OK;
}

void sc__j_escape(jsb *b, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&': sc__j_sb_puts(b, "&amp;"); break;
        case '<': sc__j_sb_puts(b, "&lt;"); break;
        case '>': sc__j_sb_puts(b, "&gt;"); break;
        case '\'': sc__j_sb_puts(b, "&#39;"); break;
        case '"': sc__j_sb_puts(b, "&#34;"); break;
        default: sc__j_sb_putc(b, s[i]);
        }
    }
}

/* "..." % args: %s %r %d %i %% with a tuple or single value. */
int sc__j_percent(jrender *r, const jnode *at, jv fmt, jv args, jv *out) {
    const jlist *tup = args.t == JT_LIST && args.u.l->kind == JL_TUPLE ? args.u.l : NULL;
    /* Python treats a non-tuple argument with __getitem__ as a mapping: it
     * is then never "not all converted" */
    bool mapping = !tup && (args.t == JT_DICT || args.t == JT_LIST || args.t == JT_UNDEF);
    size_t ai = 0, nargs = tup ? tup->n : 1;
    jsb b;
    sc__j_sb_init(&b, SC_J_MAX_MEMORY);
    const char *s = fmt.u.s->s;
    for (size_t i = 0; i < fmt.u.s->len; i++) {
        if (s[i] != '%') {
            sc__j_sb_putc(&b, s[i]);
            continue;
        }
        char c = i + 1 < fmt.u.s->len ? s[++i] : 0;
        if (c == '%') {
            sc__j_sb_putc(&b, '%');
            continue;
        }
        if (c != 's' && c != 'r' && c != 'd' && c != 'i') {
            sc__j_sb_free(&b);
            return sc__j_fail(r, at, SC_ENOTSUP, "'%%' formatting supports only %%s %%r %%d %%i");
        }
        if (ai >= nargs) {
            sc__j_sb_free(&b);
            return sc__j_fail(r, at, SC_EINVAL, "TypeError: not enough arguments for format string");
        }
        jv v = tup ? tup->v[ai] : args;
        ai++;
        if (v.t == JT_UNDEF && c != 'r') { /* str()/int() of an Undefined */
            if (c == 's') continue;
            sc__j_sb_free(&b);
            return sc__j_fail(r, at, SC_EINVAL, "UndefinedError: %s", sc__j_undef_msg(v));
        }
        if (c == 's') sc__j_str_of(&b, v);
        else if (c == 'r') sc__j_repr(&b, v);
        else if (sc__j_is_number(v))
            sc__j_sb_printf(&b, "%lld", (long long)(v.t == JT_FLOAT ? (int64_t)v.u.f : v.t == JT_BOOL ? v.u.b : v.u.i));
        else {
            sc__j_sb_free(&b);
            return sc__j_fail(r, at, SC_EINVAL, "TypeError: %%%c format: a real number is required, not %s", c,
                              sc__j_type_name(v));
        }
    }
    if (ai < nargs && !mapping) {
        sc__j_sb_free(&b);
        return sc__j_fail(r, at, SC_EINVAL, "TypeError: not all arguments converted during string formatting");
    }
    if (!sc__j_str_sb(r->ar, &b, out)) return sc__j_oom(r, at);
    return SC_OK;
}

