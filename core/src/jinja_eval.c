/*
 * core/src/jinja_eval.c - evaluates the AST: expressions with Python's
 * operator semantics, statements with Jinja's scoping rules.
 *
 * Scoping, as jinja2's compiler does it:
 *   - `if` does not open a scope; `set` writes to the innermost frame.
 *   - every iteration of a `for` gets a fresh frame on top of the loop's
 *     frame, so assignments in a loop body never leak out (nor into the
 *     next iteration) - the reason templates use namespace().
 *   - a macro resolves free names in the frame it was defined in, at call
 *     time (lexical closure over live frames).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jinja.h"

const char SC_J_MISSING[] = "missing";

enum { JX_BREAK = 1, JX_CONTINUE = 2 };

int sc__j_fail(jrender *r, const jnode *at, int code, const char *fmt, ...) {
    if (r->err) return r->err;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (at) snprintf(r->errbuf, r->err_len, "%d:%d: %s", at->line, at->col, msg);
    else snprintf(r->errbuf, r->err_len, "%s", msg);
    r->err = code;
    return code;
}

int sc__j_oom(jrender *r, const jnode *at) {
    return sc__j_fail(r, at, SC_ENOMEM, "out of memory (render limit %zu MiB)", SC_J_MAX_MEMORY >> 20);
}

/* ------------------------------------------------------------------------ */
/* frames                                                                    */
/* ------------------------------------------------------------------------ */
static jframe *frame_new(jrender *r, jframe *parent) {
    jframe *f = sc__j_alloc(r->ar, sizeof(*f));
    if (f) f->parent = parent;
    return f;
}

static bool frame_set(jrender *r, jframe *f, const char *name, jv v) {
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->names[i], name) == 0) {
            f->vals[i] = v;
            return true;
        }
    if (f->n == f->cap) {
        int cap = f->cap ? f->cap * 2 : 4;
        const char **nn = sc__j_alloc(r->ar, (size_t)cap * sizeof(char *));
        jv *nv = sc__j_alloc(r->ar, (size_t)cap * sizeof(jv));
        if (!nn || !nv) return false;
        if (f->n) {
            memcpy(nn, f->names, (size_t)f->n * sizeof(char *));
            memcpy(nv, f->vals, (size_t)f->n * sizeof(jv));
        }
        f->names = nn;
        f->vals = nv;
        f->cap = cap;
    }
    f->names[f->n] = name;
    f->vals[f->n] = v;
    f->n++;
    return true;
}

/* Names Jinja's compiler makes start out missing in a new frame. */
static bool predefine(jrender *r, jframe *f, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (!frame_set(r, f, names[i], sc__j_undef(sc__j_hintf(r, "'%s' is undefined", names[i])))) return false;
    return true;
}

static jv *frame_get(jframe *f, const char *name) {
    for (; f; f = f->parent)
        for (int i = f->n - 1; i >= 0; i--)
            if (f->names[i] == name || strcmp(f->names[i], name) == 0) return &f->vals[i];
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* expressions                                                               */
/* ------------------------------------------------------------------------ */
static int eval(jrender *r, const jnode *n, jframe *f, jv *out);
static int exec_list(jrender *r, const jnlist *body, jframe *f);
static int run_for(jrender *r, const jnode *n, jframe *f, jv iterable, int depth);

static bool add_overflows(int64_t a, int64_t b, int64_t *o) { return __builtin_add_overflow(a, b, o); }
static bool sub_overflows(int64_t a, int64_t b, int64_t *o) { return __builtin_sub_overflow(a, b, o); }
static bool mul_overflows(int64_t a, int64_t b, int64_t *o) { return __builtin_mul_overflow(a, b, o); }

static int type_error_op(jrender *r, const jnode *at, const char *op, jv a, jv b) {
    return sc__j_fail(r, at, SC_EINVAL, "TypeError: unsupported operand type(s) for %s: '%s' and '%s'", op,
                      sc__j_type_name(a), sc__j_type_name(b));
}

static int seq_repeat(jrender *r, const jnode *at, jv seq, int64_t times, jv *out) {
    if (seq.t == JT_STR) {
        jsb b;
        sc__j_sb_init(&b, SC_J_MAX_MEMORY);
        for (int64_t i = 0; i < times && !b.fail; i++) sc__j_sb_putn(&b, seq.u.s->s, seq.u.s->len);
        if (!sc__j_str_sb(r->ar, &b, out)) return sc__j_oom(r, at);
        out->markup = seq.markup;
        return SC_OK;
    }
    const jlist *l = seq.u.l;
    if (times > 0 && l->n > 0 && (uint64_t)times > SC_J_MAX_MEMORY / sizeof(jv) / l->n) return sc__j_oom(r, at);
    jlist *nl = sc__j_list_new(r->ar, l->kind, times > 0 ? l->n * (size_t)times : 0);
    if (!nl) return sc__j_oom(r, at);
    for (int64_t i = 0; i < times; i++)
        for (size_t k = 0; k < l->n; k++) nl->v[nl->n++] = l->v[k];
    *out = sc__j_listv(nl);
    return SC_OK;
}


static int binop(jrender *r, const jnode *at, int op, jv a, jv b, jv *out) {
    static const char *const names[] = {[OP_ADD] = "+", [OP_SUB] = "-", [OP_MUL] = "*", [OP_DIV] = "/",
                                        [OP_FLOORDIV] = "//", [OP_MOD] = "%", [OP_POW] = "**"};
    const char *opname = names[op];
    if (op == OP_MOD && a.t == JT_STR) return sc__j_percent(r, at, a, b, out); /* str.__mod__ goes first */
    if (a.t == JT_UNDEF) return sc__j_undef_error(r, at, a);
    if (b.t == JT_UNDEF) return sc__j_undef_error(r, at, b);
    if (sc__j_is_number(a) && sc__j_is_number(b)) {
        bool fl = a.t == JT_FLOAT || b.t == JT_FLOAT;
        int64_t x = a.t == JT_BOOL ? a.u.b : a.u.i, y = b.t == JT_BOOL ? b.u.b : b.u.i, z;
        double fx = sc__j_num(a), fy = sc__j_num(b);
        switch (op) {
        case OP_ADD:
            if (fl) *out = sc__j_float(fx + fy);
            else if (add_overflows(x, y, &z)) goto overflow;
            else *out = sc__j_int(z);
            return SC_OK;
        case OP_SUB:
            if (fl) *out = sc__j_float(fx - fy);
            else if (sub_overflows(x, y, &z)) goto overflow;
            else *out = sc__j_int(z);
            return SC_OK;
        case OP_MUL:
            if (fl) *out = sc__j_float(fx * fy);
            else if (mul_overflows(x, y, &z)) goto overflow;
            else *out = sc__j_int(z);
            return SC_OK;
        case OP_DIV:
            if (fy == 0) return sc__j_fail(r, at, SC_EINVAL, "ZeroDivisionError: division by zero");
            *out = sc__j_float(fx / fy);
            return SC_OK;
        case OP_FLOORDIV:
        case OP_MOD:
            if (fl ? fy == 0 : y == 0)
                return sc__j_fail(r, at, SC_EINVAL, "ZeroDivisionError: %s",
                                  fl ? "float divmod()" : op == OP_MOD ? "integer division or modulo by zero"
                                                                       : "integer division or modulo by zero");
            if (!fl) {
                if (x == INT64_MIN && y == -1) goto overflow;
                int64_t q = x / y, m = x % y;
                if (m != 0 && ((m < 0) != (y < 0))) {
                    q--;
                    m += y;
                }
                *out = sc__j_int(op == OP_MOD ? m : q);
                return SC_OK;
            } else {
                /* Python's float_divmod */
                double mod = fmod(fx, fy), div = (fx - mod) / fy, floordiv;
                if (mod != 0) {
                    if ((fy < 0) != (mod < 0)) {
                        mod += fy;
                        div -= 1.0;
                    }
                } else {
                    mod = copysign(0.0, fy);
                }
                if (div != 0) {
                    floordiv = floor(div);
                    if (div - floordiv > 0.5) floordiv += 1.0;
                } else {
                    floordiv = copysign(0.0, fx / fy);
                }
                *out = sc__j_float(op == OP_MOD ? mod : floordiv);
                return SC_OK;
            }
        case OP_POW:
            if (!fl && y >= 0) {
                int64_t acc = 1, base = x;
                for (int64_t e = y; e > 0; e >>= 1) {
                    if ((e & 1) && mul_overflows(acc, base, &acc)) goto overflow;
                    if (e > 1 && mul_overflows(base, base, &base)) goto overflow;
                }
                *out = sc__j_int(acc);
                return SC_OK;
            }
            if (fx == 0 && fy < 0)
                return sc__j_fail(r, at, SC_EINVAL, "ZeroDivisionError: 0.0 cannot be raised to a negative power");
            *out = sc__j_float(pow(fx, fy));
            return SC_OK;
        default:
            break;
        }
    }
    if (op == OP_ADD && a.t == JT_STR && b.t == JT_STR) {
        jsb sb;
        sc__j_sb_init(&sb, SC_J_MAX_MEMORY);
        /* Markup + str escapes the plain operand (markupsafe) */
        if (b.markup && !a.markup) sc__j_escape(&sb, a.u.s->s, a.u.s->len);
        else sc__j_sb_putn(&sb, a.u.s->s, a.u.s->len);
        if (a.markup && !b.markup) sc__j_escape(&sb, b.u.s->s, b.u.s->len);
        else sc__j_sb_putn(&sb, b.u.s->s, b.u.s->len);
        if (!sc__j_str_sb(r->ar, &sb, out)) return sc__j_oom(r, at);
        out->markup = a.markup || b.markup;
        return SC_OK;
    }
    if (op == OP_ADD && a.t == JT_LIST && b.t == JT_LIST && a.u.l->kind == b.u.l->kind &&
        (a.u.l->kind == JL_LIST || a.u.l->kind == JL_TUPLE)) {
        jlist *nl = sc__j_list_new(r->ar, a.u.l->kind, a.u.l->n + b.u.l->n);
        if (!nl) return sc__j_oom(r, at);
        for (size_t i = 0; i < a.u.l->n; i++) nl->v[nl->n++] = a.u.l->v[i];
        for (size_t i = 0; i < b.u.l->n; i++) nl->v[nl->n++] = b.u.l->v[i];
        *out = sc__j_listv(nl);
        return SC_OK;
    }
    if (op == OP_ADD && (a.t == JT_STR || (a.t == JT_LIST && a.u.l->kind <= JL_TUPLE)))
        return sc__j_fail(r, at, SC_EINVAL, "TypeError: can only concatenate %s (not \"%s\") to %s",
                          sc__j_type_name(a), sc__j_type_name(b), sc__j_type_name(a));
    if (op == OP_MUL) {
        bool a_seq = a.t == JT_STR || (a.t == JT_LIST && a.u.l->kind <= JL_TUPLE);
        bool b_seq = b.t == JT_STR || (b.t == JT_LIST && b.u.l->kind <= JL_TUPLE);
        if (a_seq && (b.t == JT_INT || b.t == JT_BOOL)) return seq_repeat(r, at, a, b.t == JT_BOOL ? b.u.b : b.u.i, out);
        if (b_seq && (a.t == JT_INT || a.t == JT_BOOL)) return seq_repeat(r, at, b, a.t == JT_BOOL ? a.u.b : a.u.i, out);
        if (a_seq || b_seq)
            return sc__j_fail(r, at, SC_EINVAL, "TypeError: can't multiply sequence by non-int of type '%s'",
                              sc__j_type_name(a_seq ? b : a));
    }
    return type_error_op(r, at, opname, a, b);
overflow:
    return sc__j_fail(r, at, SC_ERANGE, "integer overflow in '%s' (values are limited to 64 bits)", opname);
}

/* `needle in hay` */
static int contains(jrender *r, const jnode *at, jv needle, jv hay, bool *res) {
    *res = false;
    switch (hay.t) {
    case JT_UNDEF: return SC_OK;
    case JT_STR:
        if (needle.t != JT_STR)
            return sc__j_fail(r, at, SC_EINVAL, "TypeError: 'in <string>' requires string as left operand, not %s",
                              sc__j_type_name(needle));
        *res = needle.u.s->len == 0 || memmem(hay.u.s->s, hay.u.s->len, needle.u.s->s, needle.u.s->len) != NULL;
        return SC_OK;
    case JT_LIST: {
        jlist *l = hay.u.l;
        for (size_t i = l->kind == JL_GEN ? l->pos : 0; i < l->n; i++)
            if (sc__j_eq(l->v[i], needle)) {
                *res = true;
                if (l->kind == JL_GEN) l->pos = i + 1; /* `in` consumes an iterator */
                return SC_OK;
            }
        if (l->kind == JL_GEN) l->pos = l->n;
        return SC_OK;
    }
    case JT_DICT:
        if (hay.u.d->ns) break;
        if (needle.t == JT_LIST || needle.t == JT_DICT)
            return sc__j_fail(r, at, SC_EINVAL, "TypeError: unhashable type: '%s'", sc__j_type_name(needle));
        *res = sc__j_dict_get(hay.u.d, needle) != NULL;
        return SC_OK;
    default:
        break;
    }
    return sc__j_fail(r, at, SC_EINVAL, "TypeError: argument of type '%s' is not iterable", sc__j_type_name(hay));
}

static int compare(jrender *r, const jnode *at, int op, jv a, jv b, bool *res) {
    char msg[160];
    int lt;
    switch (op) {
    case OP_EQ: *res = sc__j_eq(a, b); return SC_OK;
    case OP_NE: *res = !sc__j_eq(a, b); return SC_OK;
    case OP_IN: return contains(r, at, a, b, res);
    case OP_NOTIN:
        if (contains(r, at, a, b, res)) return r->err;
        *res = !*res;
        return SC_OK;
    default:
        break;
    }
    if (a.t == JT_UNDEF) return sc__j_undef_error(r, at, a);
    if (b.t == JT_UNDEF) return sc__j_undef_error(r, at, b);
    /* a > b is b < a; a <= b is not b < a (for totally ordered types) */
    bool swap = op == OP_GT || op == OP_LTEQ;
    lt = swap ? sc__j_lt(b, a, msg, sizeof msg) : sc__j_lt(a, b, msg, sizeof msg);
    if (lt < 0)
        return sc__j_fail(r, at, SC_EINVAL, "TypeError: '%s' not supported between instances of '%s' and '%s'",
                          sc__j_op_text(op), sc__j_type_name(a), sc__j_type_name(b));
    if ((op == OP_LTEQ || op == OP_GTEQ) && (sc__j_num(a) != sc__j_num(a) || sc__j_num(b) != sc__j_num(b))) {
        *res = false; /* NaN compares false every way */
        return SC_OK;
    }
    *res = op == OP_LT || op == OP_GT ? lt == 1 : lt == 0;
    return SC_OK;
}

/* Positional args, keyword args and *args / **kwargs of a call node. */
typedef struct jargs {
    jv *args, *kwv;
    const char **kwn;
    int nargs, nkw;
} jargs;

static int eval_args(jrender *r, const jnode *n, jframe *f, jargs *a, int extra_kw) {
    memset(a, 0, sizeof(*a));
    jv dyn = {0}, dynkw = {0};
    if (n->c && eval(r, n->c, f, &dyn)) return r->err;
    if (n->d && eval(r, n->d, f, &dynkw)) return r->err;
    jlist *dl = NULL;
    char msg[128] = "";
    if (n->c && !sc__j_iterate(r->ar, dyn, &dl, msg, sizeof msg))
        return r->err ? r->err : sc__j_fail(r, n, SC_EINVAL, "TypeError: %s", msg);
    if (n->d && (dynkw.t != JT_DICT || dynkw.u.d->ns))
        return sc__j_fail(r, n, SC_EINVAL, "TypeError: argument after ** must be a mapping, not %s",
                          sc__j_type_name(dynkw));
    size_t np = (size_t)n->args.n + (dl ? dl->n : 0);
    size_t nk = (size_t)n->kw.n + (n->d ? dynkw.u.d->n : 0) + (size_t)extra_kw;
    a->args = sc__j_alloc(r->ar, (np + 1) * sizeof(jv));
    a->kwv = sc__j_alloc(r->ar, (nk + 1) * sizeof(jv));
    a->kwn = sc__j_alloc(r->ar, (nk + 1) * sizeof(char *));
    if (!a->args || !a->kwv || !a->kwn) return sc__j_oom(r, n);
    for (int i = 0; i < n->args.n; i++)
        if (eval(r, n->args.v[i], f, &a->args[a->nargs++])) return r->err;
    for (size_t i = 0; dl && i < dl->n; i++) a->args[a->nargs++] = dl->v[i];
    for (int i = 0; i < n->kw.n; i++) {
        a->kwn[a->nkw] = n->kwnames[i];
        if (eval(r, n->kw.v[i], f, &a->kwv[a->nkw++])) return r->err;
    }
    for (size_t i = 0; n->d && i < dynkw.u.d->n; i++) {
        if (dynkw.u.d->k[i].t != JT_STR) return sc__j_fail(r, n, SC_EINVAL, "TypeError: keywords must be strings");
        a->kwn[a->nkw] = dynkw.u.d->k[i].u.s->s;
        a->kwv[a->nkw++] = dynkw.u.d->v[i];
    }
    return SC_OK;
}

static int eval_filter_chain(jrender *r, const jnode *n, jframe *f, jv val, jv *out) {
    if (!n) {
        *out = val;
        return SC_OK;
    }
    if (n->a) { /* inner filters first: (x|a)|b */
        if (eval_filter_chain(r, n->a, f, val, &val)) return r->err;
    }
    jargs a;
    if (eval_args(r, n, f, &a, 0)) return r->err;
    return sc__j_filter(r, n, n->name, val, a.args, a.nargs, a.kwn, a.kwv, a.nkw, out);
}

static int eval(jrender *r, const jnode *n, jframe *f, jv *out) {
    if (r->err) return r->err;
    jv a, b;
    switch (n->kind) {
    case JN_CONST:
        *out = n->cval;
        return SC_OK;
    case JN_NAME: {
        jv *v = frame_get(f, n->name);
        *out = v ? *v : sc__j_undef(sc__j_hintf(r, "'%s' is undefined", n->name));
        return SC_OK;
    }
    case JN_GETATTR:
        if (eval(r, n->a, f, &a)) return r->err;
        return sc__j_getattr(r, n, a, n->name, out);
    case JN_GETITEM:
        if (eval(r, n->a, f, &a)) return r->err;
        if (n->b->kind == JN_SLICE) {
            jv s[3] = {sc__j_none(), sc__j_none(), sc__j_none()};
            const jnode *parts[3] = {n->b->a, n->b->b, n->b->c};
            for (int i = 0; i < 3; i++)
                if (parts[i] && eval(r, parts[i], f, &s[i])) return r->err;
            return sc__j_slice(r, n, a, s[0], s[1], s[2], out);
        }
        if (eval(r, n->b, f, &b)) return r->err;
        return sc__j_getitem(r, n, a, b, out);
    case JN_CALL: {
        if (eval(r, n->a, f, &a)) return r->err;
        jargs args;
        if (eval_args(r, n, f, &args, 0)) return r->err;
        return sc__j_call(r, n, a, args.args, args.nargs, args.kwn, args.kwv, args.nkw, out);
    }
    case JN_FILTER:
        if (eval(r, n->a, f, &a)) return r->err;
        {
            jargs args;
            if (eval_args(r, n, f, &args, 0)) return r->err;
            return sc__j_filter(r, n, n->name, a, args.args, args.nargs, args.kwn, args.kwv, args.nkw, out);
        }
    case JN_TEST: {
        if (eval(r, n->a, f, &a)) return r->err;
        jargs args;
        if (eval_args(r, n, f, &args, 0)) return r->err;
        bool res;
        if (sc__j_test(r, n, n->name, a, args.args, args.nargs, args.kwn, args.kwv, args.nkw, &res)) return r->err;
        *out = sc__j_bool(res);
        return SC_OK;
    }
    case JN_NOT:
        if (eval(r, n->a, f, &a)) return r->err;
        *out = sc__j_bool(!sc__j_truthy(a));
        return SC_OK;
    case JN_NEG:
    case JN_POS:
        if (eval(r, n->a, f, &a)) return r->err;
        if (a.t == JT_UNDEF) return sc__j_undef_error(r, n, a);
        if (a.t == JT_FLOAT) *out = sc__j_float(n->kind == JN_NEG ? -a.u.f : a.u.f);
        else if (a.t == JT_INT || a.t == JT_BOOL) {
            int64_t v = a.t == JT_BOOL ? a.u.b : a.u.i;
            if (n->kind == JN_NEG && v == INT64_MIN) return sc__j_fail(r, n, SC_ERANGE, "integer overflow");
            *out = sc__j_int(n->kind == JN_NEG ? -v : v);
        } else
            return sc__j_fail(r, n, SC_EINVAL, "TypeError: bad operand type for unary %s: '%s'",
                              n->kind == JN_NEG ? "-" : "+", sc__j_type_name(a));
        return SC_OK;
    case JN_BINOP:
        if (eval(r, n->a, f, &a) || eval(r, n->b, f, &b)) return r->err;
        return binop(r, n, n->op, a, b, out);
    case JN_AND:
    case JN_OR:
        if (eval(r, n->a, f, &a)) return r->err;
        if (sc__j_truthy(a) == (n->kind == JN_OR)) {
            *out = a;
            return SC_OK;
        }
        return eval(r, n->b, f, out);
    case JN_COMPARE: {
        if (eval(r, n->a, f, &a)) return r->err;
        bool res = true;
        for (int i = 0; i < n->args.n && res; i++) {
            if (eval(r, n->args.v[i], f, &b) || compare(r, n, n->ops[i], a, b, &res)) return r->err;
            a = b;
        }
        *out = sc__j_bool(res);
        return SC_OK;
    }
    case JN_CONCAT: {
        jsb sb;
        sc__j_sb_init(&sb, SC_J_MAX_MEMORY);
        for (int i = 0; i < n->args.n; i++) {
            if (eval(r, n->args.v[i], f, &a)) {
                sc__j_sb_free(&sb);
                return r->err;
            }
            sc__j_str_of(&sb, a);
        }
        return sc__j_str_sb(r->ar, &sb, out) ? SC_OK : sc__j_oom(r, n);
    }
    case JN_COND:
        if (eval(r, n->b, f, &a)) return r->err;
        if (sc__j_truthy(a)) return eval(r, n->a, f, out);
        if (n->c) return eval(r, n->c, f, out);
        *out = sc__j_undef(sc__j_hintf(r, "the inline if-expression on line %d evaluated to false and no else section "
                                    "was defined.", n->line));
        return SC_OK;
    case JN_LIST:
    case JN_TUPLE: {
        jlist *l = sc__j_list_new(r->ar, n->kind == JN_TUPLE ? JL_TUPLE : JL_LIST, (size_t)n->args.n);
        if (!l) return sc__j_oom(r, n);
        for (int i = 0; i < n->args.n; i++)
            if (eval(r, n->args.v[i], f, &l->v[l->n++])) return r->err;
        *out = sc__j_listv(l);
        return SC_OK;
    }
    case JN_DICT: {
        jdict *d = sc__j_dict_new(r->ar, (size_t)n->args.n);
        if (!d) return sc__j_oom(r, n);
        for (int i = 0; i < n->args.n; i++) {
            if (eval(r, n->args.v[i], f, &a) || eval(r, n->kw.v[i], f, &b)) return r->err;
            if (a.t == JT_LIST || a.t == JT_DICT || a.t == JT_UNDEF)
                return sc__j_fail(r, n, SC_EINVAL, "TypeError: unhashable type: '%s'", sc__j_type_name(a));
            if (!sc__j_dict_set(r->ar, d, a, b)) return sc__j_oom(r, n);
        }
        *out = sc__j_dictv(d);
        return SC_OK;
    }
    default:
        return sc__j_fail(r, n, SC_ENOTSUP, "unsupported expression");
    }
}

/* ------------------------------------------------------------------------ */
/* calls                                                                     */
/* ------------------------------------------------------------------------ */
static int capture(jrender *r, const jnlist *body, jframe *f, jv *out, const jnode *at) {
    jsb buf, *saved = r->out;
    sc__j_sb_init(&buf, SC_J_MAX_OUTPUT);
    r->out = &buf;
    int rc = exec_list(r, body, f);
    r->out = saved;
    if (rc < 0 || r->err) {
        sc__j_sb_free(&buf);
        return r->err ? r->err : rc;
    }
    if (buf.fail) {
        sc__j_sb_free(&buf);
        return sc__j_fail(r, at, SC_ERANGE, "output exceeds %zu MiB", SC_J_MAX_OUTPUT >> 20);
    }
    if (!sc__j_str_sb(r->ar, &buf, out)) return sc__j_oom(r, at);
    return rc; /* JX_BREAK / JX_CONTINUE propagate out of set blocks */
}

static int count_step(jrender *r, const jnode *at) {
    if (++r->iters > SC_J_MAX_ITERS)
        return sc__j_fail(r, at, SC_ERANGE, "render exceeded %u loop iterations and calls", SC_J_MAX_ITERS);
    return SC_OK;
}

static int call_macro(jrender *r, const jnode *at, jmacro *m, jv *args, int nargs, const char **kwn, jv *kwv,
                      int nkw, jv *out) {
    const jnode *mn = m->node;
    int np = mn->args.n, nd = mn->kw.n;
    if (count_step(r, at)) return r->err;
    if (r->depth >= SC_J_MAX_DEPTH)
        return sc__j_fail(r, at, SC_ERANGE, "macro calls nested deeper than %d", SC_J_MAX_DEPTH);
    jframe *fr = frame_new(r, m->closure);
    bool *used = sc__j_alloc(r->ar, (size_t)nkw + 1);
    if (!fr || !used || !predefine(r, fr, mn->undefs, mn->n_undefs)) return sc__j_oom(r, at);
    bool found_caller = false;
    for (int i = 0; i < np; i++) {
        const char *pname = mn->args.v[i]->name;
        jv v = sc__j_undef(SC_J_MISSING);
        if (i < nargs) {
            v = args[i];
        } else {
            for (int k = 0; k < nkw; k++)
                if (!used[k] && strcmp(kwn[k], pname) == 0) {
                    v = kwv[k];
                    used[k] = true;
                    break;
                }
            if (!strcmp(pname, "caller")) found_caller = true;
        }
        if (sc__j_missing(v)) {
            if (i >= np - nd) {
                if (eval(r, mn->kw.v[i - (np - nd)], fr, &v)) return r->err;
            } else {
                v = sc__j_undef(sc__j_hintf(r, "parameter '%s' was not provided", pname));
            }
        }
        if (!frame_set(r, fr, pname, v)) return sc__j_oom(r, at);
    }
    if (mn->uses_caller && !found_caller) {
        jv c = sc__j_undef("No caller defined");
        for (int k = 0; k < nkw; k++)
            if (!used[k] && !strcmp(kwn[k], "caller")) {
                c = kwv[k];
                used[k] = true;
            }
        if (!frame_set(r, fr, "caller", c)) return sc__j_oom(r, at);
    }
    if (mn->uses_kwargs) {
        jdict *kd = sc__j_dict_new(r->ar, (size_t)nkw);
        if (!kd) return sc__j_oom(r, at);
        for (int k = 0; k < nkw; k++) {
            jv key;
            if (used[k]) continue;
            if (!sc__j_str(r->ar, kwn[k], strlen(kwn[k]), &key) || !sc__j_dict_set(r->ar, kd, key, kwv[k]))
                return sc__j_oom(r, at);
        }
        if (!frame_set(r, fr, "kwargs", sc__j_dictv(kd))) return sc__j_oom(r, at);
    } else {
        for (int k = 0; k < nkw; k++)
            if (!used[k])
                return sc__j_fail(r, at, SC_EINVAL, "TypeError: macro '%s' takes no keyword argument '%s'", m->name,
                                  kwn[k]);
    }
    if (mn->uses_varargs) {
        jlist *va = sc__j_list_new(r->ar, JL_TUPLE, nargs > np ? (size_t)(nargs - np) : 0);
        if (!va) return sc__j_oom(r, at);
        for (int i = np; i < nargs; i++) va->v[va->n++] = args[i];
        if (!frame_set(r, fr, "varargs", sc__j_listv(va))) return sc__j_oom(r, at);
    } else if (nargs > np) {
        return sc__j_fail(r, at, SC_EINVAL, "TypeError: macro '%s' takes not more than %d argument(s)", m->name, np);
    }
    r->depth++;
    int rc = capture(r, &mn->body, fr, out, at);
    r->depth--;
    return rc < 0 ? rc : r->err;
}

int sc__j_call(jrender *r, const jnode *at, jv fn, jv *args, int nargs, const char **kwn, jv *kwv, int nkw,
               jv *out) {
    switch (fn.t) {
    case JT_MACRO: return call_macro(r, at, fn.u.m, args, nargs, kwn, kwv, nkw, out);
    case JT_FUNC: return sc__j_call_func(r, at, fn.u.fn, args, nargs, kwn, kwv, nkw, out);
    case JT_METHOD: return sc__j_call_method(r, at, fn.u.bm, args, nargs, kwn, kwv, nkw, out);
    case JT_LOOP: {
        jloop *l = fn.u.loop;
        if (!l->node->recursive)
            return sc__j_fail(r, at, SC_EINVAL,
                              "TypeError: Tried to call non recursive loop. Maybe you forgot the 'recursive' modifier.");
        if (nargs != 1 || nkw) return sc__j_fail(r, at, SC_EINVAL, "TypeError: loop() takes exactly one argument");
        if (r->depth >= SC_J_MAX_DEPTH)
            return sc__j_fail(r, at, SC_ERANGE, "recursive loops nested deeper than %d", SC_J_MAX_DEPTH);
        jsb buf, *saved = r->out;
        sc__j_sb_init(&buf, SC_J_MAX_OUTPUT);
        r->out = &buf;
        r->depth++;
        int rc = run_for(r, l->node, l->frame, args[0], l->depth + 1);
        r->depth--;
        r->out = saved;
        if (rc < 0 || r->err) {
            sc__j_sb_free(&buf);
            return r->err ? r->err : rc;
        }
        return sc__j_str_sb(r->ar, &buf, out) ? SC_OK : sc__j_oom(r, at);
    }
    case JT_UNDEF: return sc__j_undef_error(r, at, fn);
    default:
        return sc__j_fail(r, at, SC_EINVAL, "TypeError: '%s' object is not callable", sc__j_type_name(fn));
    }
}

/* ------------------------------------------------------------------------ */
/* statements                                                                */
/* ------------------------------------------------------------------------ */
static int assign(jrender *r, const jnode *target, jframe *f, jv v) {
    if (target->kind == JN_NAME) return frame_set(r, f, target->name, v) ? SC_OK : sc__j_oom(r, target);
    if (target->kind == JN_NSREF) {
        jv *ns = frame_get(f, target->name);
        if (!ns || ns->t != JT_DICT || !ns->u.d->ns)
            return sc__j_fail(r, target, SC_EINVAL, "TemplateRuntimeError: cannot assign attribute on non-namespace object");
        jv key;
        if (!sc__j_str(r->ar, target->name2, strlen(target->name2), &key) || !sc__j_dict_set(r->ar, ns->u.d, key, v))
            return sc__j_oom(r, target);
        return SC_OK;
    }
    /* tuple unpacking */
    jlist *items;
    char msg[128];
    if (!sc__j_iterate(r->ar, v, &items, msg, sizeof msg))
        return r->err ? r->err : sc__j_fail(r, target, SC_EINVAL, "TypeError: cannot unpack non-iterable %s object",
                                            sc__j_type_name(v));
    size_t want = (size_t)target->args.n;
    if (items->n != want)
        return sc__j_fail(r, target, SC_EINVAL, "ValueError: %s values to unpack (expected %zu%s%zu)",
                          items->n > want ? "too many" : "not enough", want, items->n > want ? "" : ", got ",
                          items->n > want ? (size_t)0 : items->n);
    for (size_t i = 0; i < want; i++)
        if (assign(r, target->args.v[i], f, items->v[i])) return r->err;
    return SC_OK;
}

static int out_value(jrender *r, const jnode *at, jv v) {
    sc__j_str_of(r->out, v);
    if (r->out->fail) return sc__j_fail(r, at, SC_ERANGE, "output exceeds %zu MiB", SC_J_MAX_OUTPUT >> 20);
    return SC_OK;
}

static int run_for(jrender *r, const jnode *n, jframe *f, jv iterable, int depth) {
    jlist *items;
    char msg[128] = "";
    if (!sc__j_iterate(r->ar, iterable, &items, msg, sizeof msg))
        return r->err ? r->err : msg[0] ? sc__j_fail(r, n->b, SC_EINVAL, "TypeError: %s", msg) : sc__j_oom(r, n);
    if (n->c) { /* `for x in y if cond`: filter before the loop so loop.length counts */
        jlist *kept = sc__j_list_new(r->ar, JL_LIST, items->n);
        if (!kept) return sc__j_oom(r, n);
        jframe *tf = frame_new(r, f); /* reused: a test cannot define macros */
        if (!tf) return sc__j_oom(r, n);
        for (size_t i = 0; i < items->n; i++) {
            jv t;
            tf->n = 0;
            if (count_step(r, n) || assign(r, n->a, tf, items->v[i]) || eval(r, n->c, tf, &t)) return r->err;
            if (sc__j_truthy(t)) kept->v[kept->n++] = items->v[i];
        }
        items = kept;
    }
    if (items->n == 0) {
        jframe *ef = frame_new(r, f);
        if (!ef || !predefine(r, ef, n->undefs2, n->n_undefs2)) return sc__j_oom(r, n);
        int rc = exec_list(r, &n->else_body, ef);
        return rc < 0 ? rc : SC_OK;
    }
    jloop *loop = sc__j_alloc(r->ar, sizeof(*loop));
    if (!loop) return sc__j_oom(r, n);
    loop->items = items;
    loop->depth = depth;
    loop->node = n;
    loop->frame = f;
    jv lv = {0};
    lv.t = JT_LOOP;
    lv.u.loop = loop;
    jframe *it = NULL;
    for (size_t i = 0; i < items->n; i++) {
        loop->idx = i;
        /* a fresh frame per iteration; the previous one's storage is reused
         * unless a macro defined in the body could still refer to it */
        if (it && n->reuse_frame) it->n = 0;
        else if (!(it = frame_new(r, f))) return sc__j_oom(r, n);
        if (!predefine(r, it, n->undefs, n->n_undefs)) return sc__j_oom(r, n);
        if (count_step(r, n) || !frame_set(r, it, "loop", lv) || assign(r, n->a, it, items->v[i]))
            return r->err ? r->err : sc__j_oom(r, n);
        int rc = exec_list(r, &n->body, it);
        if (rc < 0) return rc;
        if (rc == JX_BREAK) break;
    }
    return SC_OK;
}

static int exec(jrender *r, const jnode *n, jframe *f) {
    jv v;
    switch (n->kind) {
    case JN_DATA:
        sc__j_sb_putn(r->out, n->text, n->text_len);
        if (r->out->fail) return sc__j_fail(r, n, SC_ERANGE, "output exceeds %zu MiB", SC_J_MAX_OUTPUT >> 20);
        return SC_OK;
    case JN_PRINT:
        if (eval(r, n->a, f, &v)) return r->err;
        return out_value(r, n, v);
    case JN_IF:
        if (eval(r, n->a, f, &v)) return r->err;
        return exec_list(r, sc__j_truthy(v) ? &n->body : &n->else_body, f);
    case JN_FOR:
        if (eval(r, n->b, f, &v)) return r->err;
        return run_for(r, n, f, v, 1);
    case JN_SET:
        if (eval(r, n->b, f, &v)) return r->err;
        return assign(r, n->a, f, v);
    case JN_SETBLOCK:
    case JN_FILTERBLOCK: {
        jframe *inner = frame_new(r, f);
        if (!inner || !predefine(r, inner, n->undefs, n->n_undefs)) return sc__j_oom(r, n);
        int rc = capture(r, &n->body, inner, &v, n);
        if (rc) return rc;
        if (n->b && eval_filter_chain(r, n->b, f, v, &v)) return r->err;
        return n->kind == JN_SETBLOCK ? assign(r, n->a, f, v) : out_value(r, n, v);
    }
    case JN_MACRO:
    case JN_CALLBLOCK: {
        jmacro *m = sc__j_alloc(r->ar, sizeof(*m));
        if (!m) return sc__j_oom(r, n);
        m->node = n;
        m->closure = f;
        m->name = n->name;
        jv mv = {0};
        mv.t = JT_MACRO;
        mv.u.m = m;
        if (n->kind == JN_MACRO) return frame_set(r, f, n->name, mv) ? SC_OK : sc__j_oom(r, n);
        /* call block: the callee gets caller=<the block's body> */
        const jnode *call = n->a;
        jv fn;
        jargs args;
        if (eval(r, call->a, f, &fn) || eval_args(r, call, f, &args, 1)) return r->err;
        args.kwn[args.nkw] = "caller";
        args.kwv[args.nkw++] = mv;
        if (sc__j_call(r, call, fn, args.args, args.nargs, args.kwn, args.kwv, args.nkw, &v)) return r->err;
        return out_value(r, n, v);
    }
    case JN_WITH: {
        jframe *inner = frame_new(r, f);
        if (!inner || !predefine(r, inner, n->undefs, n->n_undefs)) return sc__j_oom(r, n);
        for (int i = 0; i < n->args.n; i++)
            if (eval(r, n->kw.v[i], f, &v) || assign(r, n->args.v[i], inner, v)) return r->err;
        return exec_list(r, &n->body, inner);
    }
    case JN_SCOPE: {
        jframe *inner = frame_new(r, f);
        if (!inner || !predefine(r, inner, n->undefs, n->n_undefs)) return sc__j_oom(r, n);
        return exec_list(r, &n->body, inner);
    }
    case JN_BREAK: return JX_BREAK;
    case JN_CONTINUE: return JX_CONTINUE;
    default: return sc__j_fail(r, n, SC_ENOTSUP, "unsupported statement");
    }
}

static int exec_list(jrender *r, const jnlist *body, jframe *f) {
    for (int i = 0; i < body->n; i++) {
        int rc = exec(r, body->v[i], f);
        if (rc) return r->err ? r->err : rc;
    }
    return SC_OK;
}

int sc__j_render(const jtemplate *t, jdict *vars, jarena *ar, jsb *out, char *err, size_t err_len) {
    jrender r = {.ar = ar, .out = out, .errbuf = err, .err_len = err_len};
    static const struct { const char *name; int fn; } globals[] = {
        {"range", JF_RANGE}, {"namespace", JF_NAMESPACE}, {"dict", JF_DICT}, {"raise_exception", JF_RAISE},
        {"strftime_now", JF_STRFTIME}, {"lipsum", JF_LIPSUM}, {"cycler", JF_CYCLER}, {"joiner", JF_JOINER},
    };
    r.globals = frame_new(&r, NULL);
    jframe *top = r.globals ? frame_new(&r, r.globals) : NULL;
    if (!top) return sc__j_oom(&r, NULL);
    for (size_t i = 0; i < SC_ARRAY_LEN(globals); i++) {
        jv g = {0};
        g.t = JT_FUNC;
        g.u.fn = globals[i].fn;
        if (!frame_set(&r, r.globals, globals[i].name, g)) return sc__j_oom(&r, NULL);
    }
    for (size_t i = 0; vars && i < vars->n; i++)
        if (vars->k[i].t == JT_STR && !frame_set(&r, top, vars->k[i].u.s->s, vars->v[i])) return sc__j_oom(&r, NULL);
    /* the template's own variables sit above the ones passed in */
    jframe *root = frame_new(&r, top);
    if (!root || !predefine(&r, root, t->undefs, t->n_undefs)) return sc__j_oom(&r, NULL);
    int rc = exec_list(&r, &t->body, root);
    if (r.err) return r.err;
    return rc < 0 ? rc : SC_OK;
}
