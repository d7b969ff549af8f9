/*
 * core/src/jinja_tests.c - Jinja's built-in tests (`x is defined`, ...), as
 * in jinja2/tests.py, with the Python quirks templates can observe:
 * Undefined is a sequence and callable, booleans are numbers, `lower`
 * looks at str(value).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "jinja.h"

static int want_int(jrender *r, const jnode *at, jv v, const char *what, int64_t *out) {
    if (v.t == JT_INT) *out = v.u.i;
    else if (v.t == JT_BOOL) *out = v.u.b;
    else return sc__j_fail(r, at, SC_EINVAL, "TypeError: %s must be an integer, not '%s'", what, sc__j_type_name(v));
    return SC_OK;
}
/* str(value).islower() / .isupper() */
static bool str_case_test(jrender *r, jv v, bool upper) {
    if (v.t != JT_STR) {
        jsb b;
        sc__j_sb_init(&b, SC_J_MAX_MEMORY);
        sc__j_str_of(&b, v);
        bool ok = !b.fail && sc__j_str(r->ar, b.p ? b.p : "", b.len, &v);
        sc__j_sb_free(&b);
        if (!ok) return false;
    }
    bool cased = false;
    for (size_t i = 0; i < v.u.s->len;) {
        uint32_t cp;
        i += sc__j_utf8_dec(v.u.s->s + i, v.u.s->len - i, &cp);
        if (!sc__j_cp_cased(cp)) continue;
        cased = true;
        if (upper ? sc__j_cp_upper(cp) != cp || sc__j_cp_lower(cp) == cp : sc__j_cp_lower(cp) != cp || sc__j_cp_upper(cp) == cp)
            return false;
    }
    return cased;
}

static const char *const k_tests[] = {
    "defined", "undefined", "none", "boolean", "false", "true", "integer", "float", "number", "string", "mapping",
    "iterable", "sequence", "callable", "sameas", "escaped", "in", "divisibleby", "even", "odd", "eq", "equalto",
    "==", "ne", "!=", "lt", "lessthan", "<", "le", "<=", "gt", "greaterthan", ">", "ge", ">=", "lower", "upper",
    "filter", "test",
};

bool sc__j_test_known(const char *name) {
    for (size_t i = 0; i < SC_ARRAY_LEN(k_tests); i++)
        if (!strcmp(k_tests[i], name)) return true;
    return false;
}

int sc__j_test(jrender *r, const jnode *at, const char *name, jv v, jv *args, int nargs, const char **kwn, jv *kwv,
               int nkw, bool *out) {
    jv p[1] = {sc__j_undef(SC_J_MISSING)};
    static const char *const one[] = {"other"};
    bool unary = !strcmp(name, "defined") || !strcmp(name, "undefined") || !strcmp(name, "none") ||
                 !strcmp(name, "boolean") || !strcmp(name, "false") || !strcmp(name, "true") ||
                 !strcmp(name, "integer") || !strcmp(name, "float") || !strcmp(name, "number") ||
                 !strcmp(name, "string") || !strcmp(name, "mapping") || !strcmp(name, "iterable") ||
                 !strcmp(name, "sequence") || !strcmp(name, "callable") || !strcmp(name, "escaped") ||
                 !strcmp(name, "even") || !strcmp(name, "odd") || !strcmp(name, "lower") || !strcmp(name, "upper");
    if (!sc__j_test_known(name))
        return sc__j_fail(r, at, SC_EINVAL, "TemplateRuntimeError: No test named '%s' found.", name);
    if (unary) {
        if (nargs || nkw) return sc__j_fail(r, at, SC_EINVAL, "TypeError: test '%s' takes no arguments", name);
    } else if (sc__j_bind(r, at, name, one, 1, args, nargs, kwn, kwv, nkw, p)) {
        return r->err;
    } else if (sc__j_missing(p[0]) && strcmp(name, "filter") && strcmp(name, "test")) {
        return sc__j_fail(r, at, SC_EINVAL, "TypeError: test '%s' missing 1 required positional argument", name);
    }
    jv o = p[0];
    char msg[160];
    if (!strcmp(name, "defined")) *out = v.t != JT_UNDEF;
    else if (!strcmp(name, "undefined")) *out = v.t == JT_UNDEF;
    else if (!strcmp(name, "none")) *out = v.t == JT_NONE;
    else if (!strcmp(name, "boolean")) *out = v.t == JT_BOOL;
    else if (!strcmp(name, "false")) *out = v.t == JT_BOOL && !v.u.b;
    else if (!strcmp(name, "true")) *out = v.t == JT_BOOL && v.u.b;
    else if (!strcmp(name, "integer")) *out = v.t == JT_INT;
    else if (!strcmp(name, "float")) *out = v.t == JT_FLOAT;
    else if (!strcmp(name, "number")) *out = sc__j_is_number(v);
    else if (!strcmp(name, "string")) *out = v.t == JT_STR;
    else if (!strcmp(name, "mapping")) *out = v.t == JT_DICT && !v.u.d->ns;
    else if (!strcmp(name, "iterable")) *out = v.t == JT_UNDEF || v.t == JT_STR || v.t == JT_LIST || (v.t == JT_DICT && !v.u.d->ns);
    else if (!strcmp(name, "sequence")) /* len() and __getitem__: Undefined has both */
        *out = v.t == JT_UNDEF || v.t == JT_STR || (v.t == JT_DICT && !v.u.d->ns) ||
               (v.t == JT_LIST && v.u.l->kind != JL_GEN && v.u.l->kind < JL_ITEMS);
    else if (!strcmp(name, "callable")) /* Undefined defines __call__ */
        *out = v.t == JT_MACRO || v.t == JT_FUNC || v.t == JT_METHOD || v.t == JT_LOOP || v.t == JT_UNDEF;
    else if (!strcmp(name, "escaped")) *out = v.t == JT_STR && v.markup;
    else if (!strcmp(name, "sameas")) {
        if (v.t != o.t) *out = false;
        else if (v.t == JT_NONE || v.t == JT_UNDEF) *out = v.t == JT_NONE || v.u.hint == o.u.hint;
        else if (v.t == JT_BOOL) *out = v.u.b == o.u.b;
        else if (v.t == JT_INT) *out = v.u.i == o.u.i && v.u.i >= -5 && v.u.i <= 256; /* CPython's small ints */
        else if (v.t == JT_STR) *out = v.u.s == o.u.s;
        else *out = v.t == JT_LIST ? v.u.l == o.u.l : v.t == JT_DICT ? v.u.d == o.u.d : sc__j_eq(v, o);
    } else if (!strcmp(name, "in")) {
        jv seq = o;
        /* `value in seq` */
        if (seq.t == JT_STR && v.t != JT_STR)
            return sc__j_fail(r, at, SC_EINVAL, "TypeError: 'in <string>' requires string as left operand, not %s", sc__j_type_name(v));
        if (seq.t == JT_STR) *out = v.u.s->len == 0 || memmem(seq.u.s->s, seq.u.s->len, v.u.s->s, v.u.s->len);
        else if (seq.t == JT_DICT && !seq.u.d->ns) {
            if (v.t == JT_LIST || v.t == JT_DICT)
                return sc__j_fail(r, at, SC_EINVAL, "TypeError: unhashable type: '%s'", sc__j_type_name(v));
            *out = sc__j_dict_get(seq.u.d, v) != NULL;
        }
        else if (seq.t == JT_UNDEF) *out = false;
        else if (seq.t == JT_LIST) {
            *out = false;
            for (size_t i = seq.u.l->kind == JL_GEN ? seq.u.l->pos : 0; i < seq.u.l->n && !*out; i++) *out = sc__j_eq(seq.u.l->v[i], v);
        } else
            return sc__j_fail(r, at, SC_EINVAL, "TypeError: argument of type '%s' is not iterable", sc__j_type_name(seq));
    } else if (!strcmp(name, "divisibleby") || !strcmp(name, "even") || !strcmp(name, "odd")) {
        int64_t a = 0, b = !strcmp(name, "divisibleby") ? 0 : 2;
        if (v.t == JT_FLOAT || (b == 0 && o.t == JT_FLOAT)) {
            double x = sc__j_num(v), y = b ? 2.0 : sc__j_num(o);
            if (y == 0) return sc__j_fail(r, at, SC_EINVAL, "ZeroDivisionError: float modulo");
            double m = fmod(x, y);
            if (m != 0 && ((m < 0) != (y < 0))) m += y;
            *out = name[0] == 'o' ? m == 1 : m == 0;
            return SC_OK;
        }
        if (want_int(r, at, v, "value", &a) || (b == 0 && want_int(r, at, o, "num", &b))) return r->err;
        if (b == 0) return sc__j_fail(r, at, SC_EINVAL, "ZeroDivisionError: integer division or modulo by zero");
        int64_t m = b == -1 ? 0 : a % b;
        if (m != 0 && ((m < 0) != (b < 0))) m += b;
        *out = name[0] == 'o' ? m == 1 : m == 0;
    } else if (!strcmp(name, "eq") || !strcmp(name, "equalto") || !strcmp(name, "==")) *out = sc__j_eq(v, o);
    else if (!strcmp(name, "ne") || !strcmp(name, "!=")) *out = !sc__j_eq(v, o);
    else if (!strcmp(name, "lower")) *out = str_case_test(r, v, false);
    else if (!strcmp(name, "upper")) *out = str_case_test(r, v, true);
    else if (!strcmp(name, "filter") || !strcmp(name, "test")) {
        *out = v.t == JT_STR && (name[0] == 'f' ? sc__j_filter_known(v.u.s->s) : sc__j_test_known(v.u.s->s));
    } else {
        /* lt le gt ge */
        if (v.t == JT_UNDEF || o.t == JT_UNDEF)
            return sc__j_fail(r, at, SC_EINVAL, "UndefinedError: %s", sc__j_undef_msg(v.t == JT_UNDEF ? v : o));
        bool lt_like = name[0] == 'l' || name[0] == '<';
        bool eq_ok = !strcmp(name, "le") || !strcmp(name, "<=") || !strcmp(name, "ge") || !strcmp(name, ">=");
        int lt = lt_like ? sc__j_lt(v, o, msg, sizeof msg) : sc__j_lt(o, v, msg, sizeof msg);
        if (lt < 0) return sc__j_fail(r, at, SC_EINVAL, "TypeError: %s", msg);
        *out = lt == 1 || (eq_ok && sc__j_eq(v, o));
    }
    return SC_OK;
}
