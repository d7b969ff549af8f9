/*
 * core/src/jinja_value.c - runtime values of the Jinja interpreter with the
 * Python semantics templates observe: equality, ordering, truthiness,
 * iteration, str()/repr() and json.dumps().
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "jinja.h"

/* ------------------------------------------------------------------------ */
/* arena                                                                     */
/* ------------------------------------------------------------------------ */
typedef struct jchunk {
    struct jchunk *next;
    size_t used, cap;
    max_align_t data[];
} jchunk;

struct jarena {
    jchunk *head;
    size_t total, limit;
};

jarena *sc__j_arena_create(size_t limit) {
    jarena *a = calloc(1, sizeof(*a));
    if (a) a->limit = limit;
    return a;
}

void sc__j_arena_destroy(jarena *a) {
    if (!a) return;
    for (jchunk *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(a);
}

void *sc__j_alloc(jarena *a, size_t n) {
    n = SC_ALIGN_UP(n ? n : 1, sizeof(max_align_t));
    jchunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        if (a->total + cap > a->limit) return NULL;
        /* calloc: every allocation comes back zeroed */
        c = calloc(1, sizeof(jchunk) + cap);
        if (!c) return NULL;
        c->cap = cap;
        a->total += cap;
        /* a big one-off allocation goes behind the current chunk so the
         * remaining space of the current chunk stays usable */
        if (a->head && cap == n && a->head->cap - a->head->used > 1024) {
            c->next = a->head->next;
            a->head->next = c;
            c->used = n;
            return (char *)c->data;
        }
        c->next = a->head;
        a->head = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p;
}

/* ------------------------------------------------------------------------ */
/* string builder                                                            */
/* ------------------------------------------------------------------------ */
void sc__j_sb_init(jsb *b, size_t limit) {
    memset(b, 0, sizeof(*b));
    b->limit = limit;
}

void sc__j_sb_free(jsb *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

void sc__j_sb_putn(jsb *b, const char *s, size_t n) {
    if (b->fail || n == 0) return;
    if (n > b->limit || b->len > b->limit - n) {
        b->fail = true;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->fail = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void sc__j_sb_puts(jsb *b, const char *s) { sc__j_sb_putn(b, s, strlen(s)); }
void sc__j_sb_putc(jsb *b, char c) { sc__j_sb_putn(b, &c, 1); }

void sc__j_sb_printf(jsb *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->fail = true;
        return;
    }
    sc__j_sb_putn(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* ------------------------------------------------------------------------ */
/* constructors                                                              */
/* ------------------------------------------------------------------------ */
bool sc__j_str(jarena *a, const char *s, size_t n, jv *out) {
    jstr *js = sc__j_alloc(a, sizeof(jstr) + n + 1);
    if (!js) return false;
    js->len = n;
    if (n) memcpy(js->s, s, n);
    js->s[n] = 0;
    memset(out, 0, sizeof(*out));
    out->t = JT_STR;
    out->u.s = js;
    return true;
}

bool sc__j_str_sb(jarena *a, jsb *b, jv *out) {
    bool ok = !b->fail && sc__j_str(a, b->p ? b->p : "", b->len, out);
    sc__j_sb_free(b);
    return ok;
}

jlist *sc__j_list_new(jarena *a, jlkind kind, size_t cap) {
    jlist *l = sc__j_alloc(a, sizeof(*l));
    if (!l) return NULL;
    l->kind = (uint8_t)kind;
    if (cap) {
        l->v = sc__j_alloc(a, cap * sizeof(jv));
        if (!l->v) return NULL;
        l->cap = cap;
    }
    return l;
}

bool sc__j_list_push(jarena *a, jlist *l, jv v) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        jv *nv = sc__j_alloc(a, cap * sizeof(jv));
        if (!nv) return false;
        if (l->n) memcpy(nv, l->v, l->n * sizeof(jv));
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = v;
    return true;
}

jdict *sc__j_dict_new(jarena *a, size_t cap) {
    jdict *d = sc__j_alloc(a, sizeof(*d));
    if (!d) return NULL;
    if (cap) {
        d->k = sc__j_alloc(a, cap * sizeof(jv));
        d->v = sc__j_alloc(a, cap * sizeof(jv));
        if (!d->k || !d->v) return NULL;
        d->cap = cap;
    }
    return d;
}

jv *sc__j_dict_get(const jdict *d, jv k) {
    for (size_t i = 0; i < d->n; i++)
        if (sc__j_eq(d->k[i], k)) return &d->v[i];
    return NULL;
}

jv *sc__j_dict_gets(const jdict *d, const char *k) {
    size_t n = strlen(k);
    for (size_t i = 0; i < d->n; i++)
        if (d->k[i].t == JT_STR && d->k[i].u.s->len == n && memcmp(d->k[i].u.s->s, k, n) == 0) return &d->v[i];
    return NULL;
}

bool sc__j_dict_set(jarena *a, jdict *d, jv k, jv v) {
    jv *slot = sc__j_dict_get(d, k);
    if (slot) {
        *slot = v; /* Python keeps the first insertion position */
        return true;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        jv *nk = sc__j_alloc(a, cap * sizeof(jv)), *nv = sc__j_alloc(a, cap * sizeof(jv));
        if (!nk || !nv) return false;
        if (d->n) {
            memcpy(nk, d->k, d->n * sizeof(jv));
            memcpy(nv, d->v, d->n * sizeof(jv));
        }
        d->k = nk;
        d->v = nv;
        d->cap = cap;
    }
    d->k[d->n] = k;
    d->v[d->n] = v;
    d->n++;
    return true;
}

/* ------------------------------------------------------------------------ */
/* UTF-8 and Python character classes                                        */
/* ------------------------------------------------------------------------ */
size_t sc__j_utf8_dec(const char *s, size_t n, uint32_t *cp) {
    const unsigned char *u = (const unsigned char *)s;
    if (n == 0) {
        *cp = 0;
        return 0;
    }
    if (u[0] < 0x80) {
        *cp = u[0];
        return 1;
    }
    int len = u[0] >= 0xF0 ? 4 : u[0] >= 0xE0 ? 3 : u[0] >= 0xC0 ? 2 : 0;
    if (len == 0 || (size_t)len > n) goto bad;
    uint32_t c = u[0] & (0x3F >> (len - 1));
    for (int i = 1; i < len; i++) {
        if ((u[i] & 0xC0) != 0x80) goto bad;
        c = (c << 6) | (u[i] & 0x3F);
    }
    *cp = c;
    return (size_t)len;
bad:
    /* Python would have refused to decode this; keep the byte as a unit */
    *cp = u[0];
    return 1;
}

void sc__j_utf8_put(jsb *b, uint32_t cp) {
    char t[4];
    if (cp < 0x80) {
        t[0] = (char)cp;
        sc__j_sb_putn(b, t, 1);
    } else if (cp < 0x800) {
        t[0] = (char)(0xC0 | (cp >> 6));
        t[1] = (char)(0x80 | (cp & 0x3F));
        sc__j_sb_putn(b, t, 2);
    } else if (cp < 0x10000) {
        t[0] = (char)(0xE0 | (cp >> 12));
        t[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        t[2] = (char)(0x80 | (cp & 0x3F));
        sc__j_sb_putn(b, t, 3);
    } else {
        t[0] = (char)(0xF0 | (cp >> 18));
        t[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        t[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        t[3] = (char)(0x80 | (cp & 0x3F));
        sc__j_sb_putn(b, t, 4);
    }
}

size_t sc__j_utf8_len(const char *s, size_t n) {
    size_t count = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        i += sc__j_utf8_dec(s + i, n - i, &cp);
        count++;
    }
    return count;
}

/* str.isspace(): bidi classes WS, B, S or category Zs. */
bool sc__j_py_isspace(uint32_t c) {
    if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
    switch (c) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
        return true;
    default:
        return c >= 0x2000 && c <= 0x200A;
    }
}

uint32_t sc__j_cp_upper(uint32_t c) { return c < 0x80 ? (c >= 'a' && c <= 'z' ? c - 32 : c) : (uint32_t)utf8proc_toupper((utf8proc_int32_t)c); }
uint32_t sc__j_cp_lower(uint32_t c) { return c < 0x80 ? (c >= 'A' && c <= 'Z' ? c + 32 : c) : (uint32_t)utf8proc_tolower((utf8proc_int32_t)c); }
uint32_t sc__j_cp_title(uint32_t c) { return c < 0x80 ? sc__j_cp_upper(c) : (uint32_t)utf8proc_totitle((utf8proc_int32_t)c); }

bool sc__j_cp_cased(uint32_t c) {
    if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)c);
    return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
}

/* str.isprintable(): everything but the categories "Other" and "Separator",
 * except the ASCII space. */
static bool py_isprintable(uint32_t c) {
    if (c < 0x80) return c >= 0x20 && c < 0x7F;
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO: case UTF8PROC_CATEGORY_CN: case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP: case UTF8PROC_CATEGORY_ZS:
        return false;
    default:
        return true;
    }
}

/* ------------------------------------------------------------------------ */
/* Python semantics                                                          */
/* ------------------------------------------------------------------------ */
bool sc__j_is_number(jv v) { return v.t == JT_BOOL || v.t == JT_INT || v.t == JT_FLOAT; }

double sc__j_num(jv v) {
    return v.t == JT_FLOAT ? v.u.f : v.t == JT_INT ? (double)v.u.i : v.t == JT_BOOL ? (double)v.u.b : 0.0;
}

static int64_t as_i64(jv v) { return v.t == JT_BOOL ? (int64_t)v.u.b : v.u.i; }

bool sc__j_truthy(jv v) {
    switch (v.t) {
    case JT_UNDEF: case JT_NONE: return false;
    case JT_BOOL: return v.u.b;
    case JT_INT: return v.u.i != 0;
    case JT_FLOAT: return v.u.f != 0.0;
    case JT_STR: return v.u.s->len > 0;
    case JT_LIST: return v.u.l->kind == JL_GEN ? true : v.u.l->n > 0; /* iterators are always true */
    case JT_DICT: return v.u.d->ns ? true : v.u.d->n > 0;
    default: return true;
    }
}

static bool eq_depth(jv a, jv b, int depth);
bool sc__j_eq(jv a, jv b) { return eq_depth(a, b, 0); }

static bool eq_depth(jv a, jv b, int depth) {
    if (depth > SC_J_MAX_VALUE) return false; /* Python: RecursionError */
    if (sc__j_is_number(a) && sc__j_is_number(b)) {
        if (a.t != JT_FLOAT && b.t != JT_FLOAT) return as_i64(a) == as_i64(b);
        return sc__j_num(a) == sc__j_num(b);
    }
    if (a.t != b.t) return false;
    switch (a.t) {
    case JT_UNDEF: case JT_NONE: return true; /* Undefined == Undefined is True */
    case JT_STR: return a.u.s->len == b.u.s->len && memcmp(a.u.s->s, b.u.s->s, a.u.s->len) == 0;
    case JT_LIST: {
        jlist *x = a.u.l, *y = b.u.l;
        if (x == y) return true;
        bool seq_x = x->kind == JL_LIST || x->kind == JL_TUPLE || x->kind == JL_RANGE;
        if (!seq_x || x->kind != y->kind || x->n != y->n) return false;
        for (size_t i = 0; i < x->n; i++)
            if (!eq_depth(x->v[i], y->v[i], depth + 1)) return false;
        return true;
    }
    case JT_DICT: {
        jdict *x = a.u.d, *y = b.u.d;
        if (x == y) return true;
        if (x->ns || y->ns || x->n != y->n) return false;
        for (size_t i = 0; i < x->n; i++) {
            jv *o = sc__j_dict_get(y, x->k[i]);
            if (!o || !eq_depth(x->v[i], *o, depth + 1)) return false;
        }
        return true;
    }
    case JT_MACRO: return a.u.m == b.u.m;
    case JT_FUNC: return a.u.fn == b.u.fn;
    case JT_METHOD: return a.u.bm == b.u.bm;
    case JT_LOOP: return a.u.loop == b.u.loop;
    default: return false;
    }
}

static int lt_depth(jv a, jv b, char *msg, size_t msg_len, int depth);
int sc__j_lt(jv a, jv b, char *msg, size_t msg_len) { return lt_depth(a, b, msg, msg_len, 0); }

static int lt_depth(jv a, jv b, char *msg, size_t msg_len, int depth) {
    if (depth > SC_J_MAX_VALUE) {
        snprintf(msg, msg_len, "maximum recursion depth exceeded in comparison");
        return -1;
    }
    if (sc__j_is_number(a) && sc__j_is_number(b)) {
        if (a.t != JT_FLOAT && b.t != JT_FLOAT) return as_i64(a) < as_i64(b);
        return sc__j_num(a) < sc__j_num(b);
    }
    if (a.t == JT_STR && b.t == JT_STR) {
        /* UTF-8 byte order is code point order */
        size_t n = SC_MIN(a.u.s->len, b.u.s->len);
        int c = memcmp(a.u.s->s, b.u.s->s, n);
        return c < 0 || (c == 0 && a.u.s->len < b.u.s->len);
    }
    if (a.t == JT_LIST && b.t == JT_LIST && a.u.l->kind == b.u.l->kind &&
        (a.u.l->kind == JL_LIST || a.u.l->kind == JL_TUPLE)) {
        jlist *x = a.u.l, *y = b.u.l;
        for (size_t i = 0; i < x->n && i < y->n; i++) {
            if (eq_depth(x->v[i], y->v[i], depth + 1)) continue;
            return lt_depth(x->v[i], y->v[i], msg, msg_len, depth + 1);
        }
        return x->n < y->n;
    }
    snprintf(msg, msg_len, "'<' not supported between instances of '%s' and '%s'", sc__j_type_name(a),
             sc__j_type_name(b));
    return -1;
}

const char *sc__j_type_name(jv v) {
    switch (v.t) {
    case JT_UNDEF: return "Undefined";
    case JT_NONE: return "NoneType";
    case JT_BOOL: return "bool";
    case JT_INT: return "int";
    case JT_FLOAT: return "float";
    case JT_STR: return v.markup ? "Markup" : "str";
    case JT_LIST:
        switch (v.u.l->kind) {
        case JL_TUPLE: return "tuple";
        case JL_GEN: return v.u.l->tname ? v.u.l->tname : "generator";
        case JL_RANGE: return "range";
        case JL_ITEMS: return "dict_items";
        case JL_KEYS: return "dict_keys";
        case JL_VALUES: return "dict_values";
        default: return "list";
        }
    case JT_DICT: return v.u.d->ns ? "Namespace" : "dict";
    case JT_MACRO: return "Macro";
    case JT_FUNC: return "function";
    case JT_METHOD: return "builtin_function_or_method";
    case JT_LOOP: return "LoopContext";
    default: return "object";
    }
}

size_t sc__j_len_or(jv v, bool *ok) {
    *ok = true;
    switch (v.t) {
    case JT_UNDEF: return 0; /* Undefined.__len__ returns 0 */
    case JT_STR: return sc__j_utf8_len(v.u.s->s, v.u.s->len);
    case JT_LIST:
        if (v.u.l->kind == JL_GEN) break;
        return v.u.l->n;
    case JT_DICT:
        if (v.u.d->ns) break;
        return v.u.d->n;
    case JT_LOOP: return v.u.loop->items->n;
    default: break;
    }
    *ok = false;
    return 0;
}

bool sc__j_iterate(jarena *a, jv v, jlist **out, char *msg, size_t msg_len) {
    jlist *l;
    switch (v.t) {
    case JT_UNDEF: /* iterating an Undefined yields nothing */
        *out = sc__j_list_new(a, JL_LIST, 0);
        return *out != NULL;
    case JT_STR: {
        l = sc__j_list_new(a, JL_LIST, v.u.s->len);
        if (!l) return false;
        for (size_t i = 0; i < v.u.s->len;) {
            uint32_t cp;
            size_t k = sc__j_utf8_dec(v.u.s->s + i, v.u.s->len - i, &cp);
            jv c;
            if (!sc__j_str(a, v.u.s->s + i, k, &c) || !sc__j_list_push(a, l, c)) return false;
            i += k;
        }
        *out = l;
        return true;
    }
    case JT_LIST: {
        jlist *src = v.u.l;
        size_t from = src->kind == JL_GEN ? src->pos : 0;
        l = sc__j_list_new(a, JL_LIST, src->n - from);
        if (!l) return false;
        for (size_t i = from; i < src->n; i++) l->v[l->n++] = src->v[i];
        if (src->kind == JL_GEN) src->pos = src->n; /* single pass */
        *out = l;
        return true;
    }
    case JT_DICT:
        if (v.u.d->ns) break;
        l = sc__j_list_new(a, JL_LIST, v.u.d->n);
        if (!l) return false;
        for (size_t i = 0; i < v.u.d->n; i++) l->v[l->n++] = v.u.d->k[i];
        *out = l;
        return true;
    default:
        break;
    }
    snprintf(msg, msg_len, "'%s' object is not iterable", sc__j_type_name(v));
    return false;
}

/* ------------------------------------------------------------------------ */
/* str() and repr()                                                          */
/* ------------------------------------------------------------------------ */
/* repr(float): the shortest digits that round-trip, laid out as Python's
 * float_repr_style 'short' does (exponent when decpt <= -4 or > 16). */
void sc__j_float_repr(char buf[32], double f) {
    if (isnan(f)) {
        strcpy(buf, "nan");
        return;
    }
    if (isinf(f)) {
        strcpy(buf, f < 0 ? "-inf" : "inf");
        return;
    }
    if (f == 0) {
        strcpy(buf, signbit(f) ? "-0.0" : "0.0");
        return;
    }
    char tmp[40];
    int prec = 1;
    for (; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, f);
        if (strtod(tmp, NULL) == f) break;
    }
    /* tmp: [-]d[.ddd]e[+-]xx */
    char digits[24];
    int nd = 0;
    const char *p = tmp;
    bool neg = *p == '-';
    if (neg) p++;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9') digits[nd++] = *p;
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    int exp10 = atoi(p + 1);
    int decpt = exp10 + 1;
    char *o = buf;
    if (neg) *o++ = '-';
    if (decpt <= -4 || decpt > 16) {
        *o++ = digits[0];
        if (nd > 1) {
            *o++ = '.';
            memcpy(o, digits + 1, (size_t)nd - 1);
            o += nd - 1;
        }
        snprintf(o, 16, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
        return;
    }
    if (decpt <= 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -decpt; i++) *o++ = '0';
        memcpy(o, digits, (size_t)nd);
        o += nd;
    } else if (decpt >= nd) {
        memcpy(o, digits, (size_t)nd);
        o += nd;
        for (int i = nd; i < decpt; i++) *o++ = '0';
        *o++ = '.';
        *o++ = '0';
    } else {
        memcpy(o, digits, (size_t)decpt);
        o += decpt;
        *o++ = '.';
        memcpy(o, digits + decpt, (size_t)(nd - decpt));
        o += nd - decpt;
    }
    *o = 0;
}

static void repr_str(jsb *b, const char *s, size_t n) {
    bool has_sq = memchr(s, '\'', n) != NULL, has_dq = memchr(s, '"', n) != NULL;
    char q = has_sq && !has_dq ? '"' : '\'';
    sc__j_sb_putc(b, q);
    for (size_t i = 0; i < n;) {
        uint32_t c;
        size_t k = sc__j_utf8_dec(s + i, n - i, &c);
        if (c == (uint32_t)q || c == '\\') {
            sc__j_sb_putc(b, '\\');
            sc__j_sb_putc(b, (char)c);
        } else if (c == '\t') {
            sc__j_sb_puts(b, "\\t");
        } else if (c == '\n') {
            sc__j_sb_puts(b, "\\n");
        } else if (c == '\r') {
            sc__j_sb_puts(b, "\\r");
        } else if (c < 0x20 || c == 0x7F) {
            sc__j_sb_printf(b, "\\x%02x", c);
        } else if (c < 0x7F || py_isprintable(c)) {
            sc__j_sb_putn(b, s + i, k);
        } else if (c <= 0xFF) {
            sc__j_sb_printf(b, "\\x%02x", c);
        } else if (c <= 0xFFFF) {
            sc__j_sb_printf(b, "\\u%04x", c);
        } else {
            sc__j_sb_printf(b, "\\U%08x", c);
        }
        i += k;
    }
    sc__j_sb_putc(b, q);
}

static void str_or_repr(jsb *b, jv v, bool repr);

static void seq_repr(jsb *b, const jlist *l, size_t from, const char *open, const char *close) {
    sc__j_sb_puts(b, open);
    b->depth++;
    for (size_t i = from; i < l->n && !b->fail; i++) {
        if (i > from) sc__j_sb_puts(b, ", ");
        str_or_repr(b, l->v[i], true);
    }
    b->depth--;
    sc__j_sb_puts(b, close);
}

static const char *func_repr(int fn) {
    switch (fn) {
    case JF_RANGE: return "<class 'range'>";
    case JF_NAMESPACE: return "<class 'jinja2.utils.Namespace'>";
    case JF_DICT: return "<class 'dict'>";
    case JF_RAISE: return "<function raise_exception>";
    case JF_STRFTIME: return "<function strftime_now>";
    case JF_LIPSUM: return "<function generate_lorem_ipsum>";
    case JF_CYCLER: return "<class 'jinja2.utils.Cycler'>";
    case JF_JOINER: return "<class 'jinja2.utils.Joiner'>";
    default: return "<function>";
    }
}

/* Objects whose Python repr contains a memory address print without it:
 * such output cannot match byte for byte anyway. */
static void str_or_repr(jsb *b, jv v, bool repr) {
    char num[32];
    if ((v.t == JT_LIST || v.t == JT_DICT) && b->depth >= SC_J_MAX_VALUE) {
        sc__j_sb_puts(b, "..."); /* Python would hit its recursion limit */
        return;
    }
    switch (v.t) {
    case JT_UNDEF:
        if (repr) sc__j_sb_puts(b, "Undefined");
        return;
    case JT_NONE: sc__j_sb_puts(b, "None"); return;
    case JT_BOOL: sc__j_sb_puts(b, v.u.b ? "True" : "False"); return;
    case JT_INT: sc__j_sb_printf(b, "%lld", (long long)v.u.i); return;
    case JT_FLOAT:
        sc__j_float_repr(num, v.u.f);
        sc__j_sb_puts(b, num);
        return;
    case JT_STR:
        if (!repr) {
            sc__j_sb_putn(b, v.u.s->s, v.u.s->len);
        } else if (v.markup) {
            sc__j_sb_puts(b, "Markup(");
            repr_str(b, v.u.s->s, v.u.s->len);
            sc__j_sb_putc(b, ')');
        } else {
            repr_str(b, v.u.s->s, v.u.s->len);
        }
        return;
    case JT_LIST: {
        const jlist *l = v.u.l;
        switch (l->kind) {
        case JL_LIST: seq_repr(b, l, 0, "[", "]"); return;
        case JL_TUPLE: seq_repr(b, l, 0, "(", l->n == 1 ? ",)" : ")"); return;
        case JL_RANGE:
            if (l->rs == 1) sc__j_sb_printf(b, "range(%lld, %lld)", (long long)l->r0, (long long)l->r1);
            else sc__j_sb_printf(b, "range(%lld, %lld, %lld)", (long long)l->r0, (long long)l->r1, (long long)l->rs);
            return;
        case JL_ITEMS: seq_repr(b, l, 0, "dict_items([", "])"); return;
        case JL_KEYS: seq_repr(b, l, 0, "dict_keys([", "])"); return;
        case JL_VALUES: seq_repr(b, l, 0, "dict_values([", "])"); return;
        default: sc__j_sb_printf(b, "<%s object>", l->tname ? l->tname : "generator"); return;
        }
    }
    case JT_DICT:
        if (v.u.d->ns) {
            sc__j_sb_puts(b, "<jinja2.utils.Namespace object>");
            return;
        }
        sc__j_sb_putc(b, '{');
        b->depth++;
        for (size_t i = 0; i < v.u.d->n && !b->fail; i++) {
            if (i) sc__j_sb_puts(b, ", ");
            str_or_repr(b, v.u.d->k[i], true);
            sc__j_sb_puts(b, ": ");
            str_or_repr(b, v.u.d->v[i], true);
        }
        b->depth--;
        sc__j_sb_putc(b, '}');
        return;
    case JT_MACRO: sc__j_sb_printf(b, "<Macro '%s'>", v.u.m->name); return;
    case JT_FUNC: sc__j_sb_puts(b, func_repr(v.u.fn)); return;
    case JT_METHOD:
        sc__j_sb_printf(b, "<built-in method %s of %s object>", v.u.bm->name, sc__j_type_name(v.u.bm->self));
        return;
    case JT_LOOP:
        sc__j_sb_printf(b, "<LoopContext %zu/%zu>", v.u.loop->idx + 1, v.u.loop->items->n);
        return;
    default: return;
    }
}

void sc__j_str_of(jsb *b, jv v) { str_or_repr(b, v, false); }
void sc__j_repr(jsb *b, jv v) { str_or_repr(b, v, true); }

/* ------------------------------------------------------------------------ */
/* json.dumps                                                                */
/* ------------------------------------------------------------------------ */
typedef struct jdump {
    jsb *b;
    bool ascii, sort;
    const char *indent, *isep, *ksep;
    char *msg;
    size_t msg_len;
    int depth;
} jdump;

static void json_str(jdump *d, const char *s, size_t n) {
    jsb *b = d->b;
    sc__j_sb_putc(b, '"');
    for (size_t i = 0; i < n;) {
        uint32_t c;
        size_t k = sc__j_utf8_dec(s + i, n - i, &c);
        switch (c) {
        case '"': sc__j_sb_puts(b, "\\\""); break;
        case '\\': sc__j_sb_puts(b, "\\\\"); break;
        case '\n': sc__j_sb_puts(b, "\\n"); break;
        case '\r': sc__j_sb_puts(b, "\\r"); break;
        case '\t': sc__j_sb_puts(b, "\\t"); break;
        case '\b': sc__j_sb_puts(b, "\\b"); break;
        case '\f': sc__j_sb_puts(b, "\\f"); break;
        default:
            if (c < 0x20) {
                sc__j_sb_printf(b, "\\u%04x", c);
            } else if (d->ascii && c >= 0x7F) {
                if (c == 0x7F) {
                    sc__j_sb_putc(b, 0x7F);
                } else if (c >= 0x10000) {
                    uint32_t v = c - 0x10000;
                    sc__j_sb_printf(b, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
                } else {
                    sc__j_sb_printf(b, "\\u%04x", c);
                }
            } else {
                sc__j_sb_putn(b, s + i, k);
            }
        }
        i += k;
    }
    sc__j_sb_putc(b, '"');
}

static void json_newline(jdump *d) {
    sc__j_sb_putc(d->b, '\n');
    for (int i = 0; i < d->depth; i++) sc__j_sb_puts(d->b, d->indent);
}

static bool json_val(jdump *d, jv v);

/* Python's float repr, but NaN and Infinity as json.dumps spells them. */
static void json_float(jdump *d, double f) {
    char num[32];
    if (isnan(f)) {
        sc__j_sb_puts(d->b, "NaN");
    } else if (isinf(f)) {
        sc__j_sb_puts(d->b, f < 0 ? "-Infinity" : "Infinity");
    } else {
        sc__j_float_repr(num, f);
        sc__j_sb_puts(d->b, num);
    }
}

static bool json_key(jdump *d, jv k) {
    switch (k.t) {
    case JT_STR: json_str(d, k.u.s->s, k.u.s->len); return true;
    case JT_INT: sc__j_sb_printf(d->b, "\"%lld\"", (long long)k.u.i); return true;
    case JT_BOOL: sc__j_sb_puts(d->b, k.u.b ? "\"true\"" : "\"false\""); return true;
    case JT_NONE: sc__j_sb_puts(d->b, "\"null\""); return true;
    case JT_FLOAT:
        sc__j_sb_putc(d->b, '"');
        json_float(d, k.u.f);
        sc__j_sb_putc(d->b, '"');
        return true;
    default:
        snprintf(d->msg, d->msg_len, "keys must be str, int, float, bool or None, not %s", sc__j_type_name(k));
        return false;
    }
}

static bool json_dict(jdump *d, const jdict *o) {
    if (o->n == 0) {
        sc__j_sb_puts(d->b, "{}");
        return true;
    }
    /* sort_keys: an insertion sort of indices by key (dicts are small) */
    size_t order_buf[64];
    size_t *order = o->n <= 64 ? order_buf : malloc(o->n * sizeof(size_t));
    if (!order) {
        snprintf(d->msg, d->msg_len, "out of memory");
        return false;
    }
    for (size_t i = 0; i < o->n; i++) order[i] = i;
    bool ok = true;
    if (d->sort) {
        for (size_t i = 1; i < o->n && ok; i++) {
            size_t x = order[i], j = i;
            while (j > 0) {
                int lt = sc__j_lt(o->k[x], o->k[order[j - 1]], d->msg, d->msg_len);
                if (lt < 0) {
                    ok = false;
                    break;
                }
                if (!lt) break;
                order[j] = order[j - 1];
                j--;
            }
            order[j] = x;
        }
    }
    if (ok) {
        sc__j_sb_putc(d->b, '{');
        d->depth++;
        for (size_t i = 0; i < o->n && ok; i++) {
            if (i) sc__j_sb_puts(d->b, d->isep);
            if (d->indent) json_newline(d);
            ok = json_key(d, o->k[order[i]]);
            sc__j_sb_puts(d->b, d->ksep);
            ok = ok && json_val(d, o->v[order[i]]);
        }
        d->depth--;
        if (d->indent) json_newline(d);
        sc__j_sb_putc(d->b, '}');
    }
    if (order != order_buf) free(order);
    return ok;
}

static bool json_val(jdump *d, jv v) {
    if (d->depth > 1000) {
        snprintf(d->msg, d->msg_len, "maximum recursion depth exceeded while encoding a JSON object");
        return false;
    }
    switch (v.t) {
    case JT_NONE: sc__j_sb_puts(d->b, "null"); return true;
    case JT_BOOL: sc__j_sb_puts(d->b, v.u.b ? "true" : "false"); return true;
    case JT_INT: sc__j_sb_printf(d->b, "%lld", (long long)v.u.i); return true;
    case JT_FLOAT: json_float(d, v.u.f); return true;
    case JT_STR: json_str(d, v.u.s->s, v.u.s->len); return true;
    case JT_LIST:
        if (v.u.l->kind == JL_LIST || v.u.l->kind == JL_TUPLE) {
            const jlist *l = v.u.l;
            if (l->n == 0) {
                sc__j_sb_puts(d->b, "[]");
                return true;
            }
            sc__j_sb_putc(d->b, '[');
            d->depth++;
            for (size_t i = 0; i < l->n; i++) {
                if (i) sc__j_sb_puts(d->b, d->isep);
                if (d->indent) json_newline(d);
                if (!json_val(d, l->v[i])) return false;
            }
            d->depth--;
            if (d->indent) json_newline(d);
            sc__j_sb_putc(d->b, ']');
            return true;
        }
        break;
    case JT_DICT:
        if (!v.u.d->ns) return json_dict(d, v.u.d);
        break;
    default:
        break;
    }
    snprintf(d->msg, d->msg_len, "Object of type %s is not JSON serializable", sc__j_type_name(v));
    return false;
}

bool sc__j_json_dump(jsb *b, jv v, bool ensure_ascii, const char *indent, const char *item_sep,
                     const char *key_sep, bool sort_keys, char *msg, size_t msg_len) {
    jdump d = {.b = b, .ascii = ensure_ascii, .sort = sort_keys, .indent = indent, .msg = msg, .msg_len = msg_len};
    /* json.dumps' default separators depend on whether indent is set */
    d.isep = item_sep ? item_sep : indent ? "," : ", ";
    d.ksep = key_sep ? key_sep : ": ";
    return json_val(&d, v);
}
