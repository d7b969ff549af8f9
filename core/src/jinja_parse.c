/*
 * core/src/jinja_parse.c - tokens -> AST, following jinja2/parser.py rule
 * by rule so that precedence, tuple handling and the odd corners (filters
 * bind tighter than unary minus's operand, `is` tests take one bare
 * argument, `a if b` without else) match Python.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jinja.h"

typedef struct parser {
    jarena *a;
    jtoken *t;
    size_t n, i;
    char *err;
    size_t err_len;
    int rc;
    int depth;     /* nesting of expressions and blocks */
    int loops;     /* enclosing for loops in the current macro body */
    bool soft;     /* inside an if / conditional expression: Jinja only
                    * complains about unknown filters and tests when such
                    * code actually runs */
    const char *const *end_tags; /* innermost block's end tags, for errors */
    const char *block_name;
} parser;

static jtoken *cur(parser *p) { return &p->t[p->i]; }
static jtoken *look(parser *p) { return &p->t[p->i + 1 < p->n ? p->i + 1 : p->i]; }
static void next(parser *p) {
    if (p->i + 1 < p->n) p->i++;
}

static bool tok_name(const jtoken *t, const char *name) {
    return t->type == TK_NAME && t->len == strlen(name) && memcmp(t->s, name, t->len) == 0;
}
static bool tok_op(const jtoken *t, jop op) { return t->type == TK_OP && t->op == op; }

static void describe(const jtoken *t, char *buf, size_t n) {
    switch (t->type) {
    case TK_EOF: snprintf(buf, n, "end of template"); break;
    case TK_DATA: snprintf(buf, n, "template data / text"); break;
    case TK_VAR_BEGIN: snprintf(buf, n, "begin of print statement"); break;
    case TK_VAR_END: snprintf(buf, n, "end of print statement"); break;
    case TK_BLOCK_BEGIN: snprintf(buf, n, "begin of statement block"); break;
    case TK_BLOCK_END: snprintf(buf, n, "end of statement block"); break;
    case TK_NAME: snprintf(buf, n, "%.*s", (int)SC_MIN(t->len, 64), t->s); break;
    case TK_STRING: snprintf(buf, n, "string"); break;
    case TK_INT: snprintf(buf, n, "integer"); break;
    case TK_FLOAT: snprintf(buf, n, "float"); break;
    default: snprintf(buf, n, "%s", sc__j_op_text(t->op)); break;
    }
}

static int pfail_at(parser *p, const jtoken *t, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int pfail_at(parser *p, const jtoken *t, int code, const char *fmt, ...) {
    if (p->rc) return p->rc;
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(p->err, p->err_len, "%d:%d: %s", t->line, t->col, msg);
    p->rc = code;
    return code;
}
#define PFAIL(p, ...) pfail_at((p), cur(p), SC_EFORMAT, __VA_ARGS__)

static int expect_op(parser *p, jop op) {
    if (tok_op(cur(p), op)) {
        next(p);
        return SC_OK;
    }
    char d[80];
    describe(cur(p), d, sizeof d);
    return PFAIL(p, "expected token '%s', got '%s'", sc__j_op_text(op), d);
}

static int expect_type(parser *p, jtok type, const char *what) {
    if (cur(p)->type == type) {
        next(p);
        return SC_OK;
    }
    char d[80];
    describe(cur(p), d, sizeof d);
    return PFAIL(p, "expected token '%s', got '%s'", what, d);
}

static char *pstr(parser *p, const char *s, size_t n) {
    char *c = sc__j_alloc(p->a, n + 1);
    if (!c) {
        pfail_at(p, cur(p), SC_ENOMEM, "out of memory");
        return NULL;
    }
    memcpy(c, s, n);
    c[n] = 0;
    return c;
}

static jnode *node(parser *p, jkind kind, const jtoken *at) {
    jnode *nd = sc__j_alloc(p->a, sizeof(jnode));
    if (!nd) {
        pfail_at(p, cur(p), SC_ENOMEM, "out of memory");
        return NULL;
    }
    nd->kind = (uint8_t)kind;
    nd->line = at->line;
    nd->col = at->col;
    return nd;
}

static bool push(parser *p, jnlist *l, jnode *nd) {
    if (!nd) return false;
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 4;
        jnode **v = sc__j_alloc(p->a, (size_t)cap * sizeof(jnode *));
        if (!v) {
            pfail_at(p, cur(p), SC_ENOMEM, "out of memory");
            return false;
        }
        if (l->n) memcpy(v, l->v, (size_t)l->n * sizeof(jnode *));
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = nd;
    return true;
}

/* Expression trees built by loops (a+b+c..., x.a.b..., x|f|g...) grow
 * without parser recursion; bound them so evaluation cannot run the C
 * stack out. */
static jnode *deep(parser *p, jnode *n) {
    if (!n) return NULL;
    int d = 0;
    const jnode *kids[4] = {n->a, n->b, n->c, n->d};
    for (int i = 0; i < 4; i++)
        if (kids[i] && kids[i]->depth > d) d = kids[i]->depth;
    for (int i = 0; i < n->args.n; i++)
        if (n->args.v[i] && n->args.v[i]->depth > d) d = n->args.v[i]->depth;
    for (int i = 0; i < n->kw.n; i++)
        if (n->kw.v[i] && n->kw.v[i]->depth > d) d = n->kw.v[i]->depth;
    n->depth = d + 1;
    if (n->depth > SC_J_MAX_EXPR) {
        pfail_at(p, cur(p), SC_ERANGE, "expression nested too deeply (limit %d)", SC_J_MAX_EXPR);
        return NULL;
    }
    return n;
}

static bool enter(parser *p) {
    if (++p->depth > SC_J_MAX_NESTING) {
        pfail_at(p, cur(p), SC_ERANGE, "template nested too deeply (limit %d)", SC_J_MAX_NESTING);
        return false;
    }
    return true;
}
static void leave(parser *p) { p->depth--; }

/* ------------------------------------------------------------------------ */
/* expressions                                                               */
/* ------------------------------------------------------------------------ */
static jnode *parse_expression(parser *p, bool with_condexpr);
static jnode *parse_tuple(parser *p, bool simplified, bool with_condexpr, const char *end1, const char *end2,
                          bool explicit_parens);
static jnode *parse_unary(parser *p, bool with_filter);
static jnode *parse_primary(parser *p);
static jnode *parse_postfix(parser *p, jnode *nd);
static jnode *parse_filter(parser *p, jnode *nd, bool start_inline);

/* Jinja built-ins this interpreter does not implement: a clear "not
 * supported" instead of "no such filter". */
static const char *const k_unsupported_filters[] = {
    "batch", "filesizeformat", "forceescape", "groupby", "pprint", "random", "slice", "striptags",
    "urlencode", "urlize", "wordwrap", "xmlattr",
};

static int check_filter(parser *p, const jtoken *at, const char *name, bool is_filter) {
    if (p->soft || (is_filter ? sc__j_filter_known(name) : sc__j_test_known(name))) return SC_OK;
    if (is_filter)
        for (size_t i = 0; i < SC_ARRAY_LEN(k_unsupported_filters); i++)
            if (strcmp(name, k_unsupported_filters[i]) == 0)
                return pfail_at(p, at, SC_ENOTSUP, "filter '%s' is not supported", name);
    return pfail_at(p, at, SC_EFORMAT, "No %s named '%s'.", is_filter ? "filter" : "test", name);
}

/* "name(.name)*" for filters and tests */
static const char *dotted_name(parser *p) {
    if (cur(p)->type != TK_NAME) {
        expect_type(p, TK_NAME, "name");
        return NULL;
    }
    jsb b;
    sc__j_sb_init(&b, 4096);
    sc__j_sb_putn(&b, cur(p)->s, cur(p)->len);
    next(p);
    while (tok_op(cur(p), OP_DOT)) {
        next(p);
        if (cur(p)->type != TK_NAME) {
            sc__j_sb_free(&b);
            expect_type(p, TK_NAME, "name");
            return NULL;
        }
        sc__j_sb_putc(&b, '.');
        sc__j_sb_putn(&b, cur(p)->s, cur(p)->len);
        next(p);
    }
    char *s = b.fail ? NULL : pstr(p, b.p, b.len);
    sc__j_sb_free(&b);
    return s;
}

/* "(" args, name=kw, *dyn, **dyn ")" into nd->args / kw / c / d */
static int parse_call_args(parser *p, jnode *nd) {
    const jtoken *open = cur(p);
    if (expect_op(p, OP_LPAREN)) return p->rc;
    bool require_comma = false;
    jnlist kwn = {0};
    while (!tok_op(cur(p), OP_RPAREN)) {
        if (p->rc) return p->rc;
        if (require_comma) {
            if (expect_op(p, OP_COMMA)) return p->rc;
            if (tok_op(cur(p), OP_RPAREN)) break; /* trailing comma */
        }
        if (tok_op(cur(p), OP_MUL)) {
            if (nd->c || nd->d) return pfail_at(p, open, SC_EFORMAT, "invalid syntax for function call expression");
            next(p);
            nd->c = parse_expression(p, true);
        } else if (tok_op(cur(p), OP_POW)) {
            if (nd->d) return pfail_at(p, open, SC_EFORMAT, "invalid syntax for function call expression");
            next(p);
            nd->d = parse_expression(p, true);
        } else if (cur(p)->type == TK_NAME && tok_op(look(p), OP_ASSIGN)) {
            if (nd->d) return pfail_at(p, open, SC_EFORMAT, "invalid syntax for function call expression");
            jnode *k = node(p, JN_CONST, cur(p));
            if (!k) return p->rc;
            k->name = pstr(p, cur(p)->s, cur(p)->len);
            next(p);
            next(p);
            if (!push(p, &kwn, k) || !push(p, &nd->kw, parse_expression(p, true))) return p->rc;
        } else {
            if (nd->c || nd->d || nd->kw.n)
                return pfail_at(p, open, SC_EFORMAT, "invalid syntax for function call expression");
            if (!push(p, &nd->args, parse_expression(p, true))) return p->rc;
        }
        require_comma = true;
    }
    if (p->rc) return p->rc;
    if (kwn.n) {
        nd->kwnames = sc__j_alloc(p->a, (size_t)kwn.n * sizeof(char *));
        if (!nd->kwnames) return pfail_at(p, open, SC_ENOMEM, "out of memory");
        for (int i = 0; i < kwn.n; i++) nd->kwnames[i] = kwn.v[i]->name;
    }
    return expect_op(p, OP_RPAREN);
}

static jnode *parse_filter(parser *p, jnode *nd, bool start_inline) {
    while (!p->rc && (tok_op(cur(p), OP_PIPE) || start_inline)) {
        if (!start_inline) next(p);
        const jtoken *at = cur(p);
        jnode *f = node(p, JN_FILTER, at);
        if (!f || !(f->name = dotted_name(p))) return NULL;
        if (check_filter(p, at, f->name, true)) return NULL;
        f->a = nd;
        if (tok_op(cur(p), OP_LPAREN) && parse_call_args(p, f)) return NULL;
        if (!(nd = deep(p, f))) return NULL;
        start_inline = false;
    }
    return p->rc ? NULL : nd;
}

static jnode *parse_test(parser *p, jnode *nd) {
    const jtoken *is_tok = cur(p);
    next(p); /* "is" */
    bool negated = false;
    if (tok_name(cur(p), "not")) {
        next(p);
        negated = true;
    }
    const jtoken *at = cur(p);
    jnode *t = node(p, JN_TEST, is_tok);
    if (!t || !(t->name = dotted_name(p))) return NULL;
    if (check_filter(p, at, t->name, false)) return NULL;
    t->a = nd;
    jtoken *c = cur(p);
    if (tok_op(c, OP_LPAREN)) {
        if (parse_call_args(p, t)) return NULL;
    } else if ((c->type == TK_NAME || c->type == TK_STRING || c->type == TK_INT || c->type == TK_FLOAT ||
                tok_op(c, OP_LPAREN) || tok_op(c, OP_LBRACKET) || tok_op(c, OP_LBRACE)) &&
               !tok_name(c, "else") && !tok_name(c, "or") && !tok_name(c, "and")) {
        if (tok_name(c, "is")) {
            PFAIL(p, "You cannot chain multiple tests with is");
            return NULL;
        }
        jnode *arg = parse_postfix(p, parse_primary(p));
        if (!push(p, &t->args, arg)) return NULL;
    }
    if (!negated) return deep(p, t);
    jnode *n = node(p, JN_NOT, is_tok);
    if (n) n->a = deep(p, t);
    return n && n->a ? deep(p, n) : NULL;
}

static jnode *parse_filter_expr(parser *p, jnode *nd) {
    while (nd && !p->rc) {
        if (tok_op(cur(p), OP_PIPE)) nd = parse_filter(p, nd, false);
        else if (tok_name(cur(p), "is")) nd = parse_test(p, nd);
        else if (tok_op(cur(p), OP_LPAREN)) {
            jnode *c = node(p, JN_CALL, cur(p));
            if (!c) return NULL;
            c->a = nd;
            if (parse_call_args(p, c) || !(nd = deep(p, c))) return NULL;
        } else break;
    }
    return p->rc ? NULL : nd;
}

/* One subscript: an expression or a slice a:b:c. */
static jnode *parse_subscribed(parser *p) {
    const jtoken *at = cur(p);
    jnode *start = NULL;
    if (!tok_op(cur(p), OP_COLON)) {
        start = parse_expression(p, true);
        if (!start || !tok_op(cur(p), OP_COLON)) return start;
    }
    next(p); /* first colon */
    jnode *s = node(p, JN_SLICE, at);
    if (!s) return NULL;
    s->a = start;
    if (!tok_op(cur(p), OP_COLON) && !tok_op(cur(p), OP_RBRACKET) && !tok_op(cur(p), OP_COMMA))
        s->b = parse_expression(p, true);
    if (tok_op(cur(p), OP_COLON)) {
        next(p);
        if (!tok_op(cur(p), OP_RBRACKET) && !tok_op(cur(p), OP_COMMA)) s->c = parse_expression(p, true);
    }
    return p->rc ? NULL : deep(p, s);
}

static jnode *parse_postfix(parser *p, jnode *nd) {
    while (nd && !p->rc) {
        jtoken *t = cur(p);
        if (tok_op(t, OP_DOT)) {
            next(p);
            jtoken *attr = cur(p);
            if (attr->type == TK_NAME) {
                jnode *g = node(p, JN_GETATTR, t);
                if (!g || !(g->name = pstr(p, attr->s, attr->len))) return NULL;
                g->a = nd;
                next(p);
                if (!(nd = deep(p, g))) return NULL;
            } else if (attr->type == TK_INT) {
                jnode *g = node(p, JN_GETITEM, t), *k = node(p, JN_CONST, attr);
                if (!g || !k) return NULL;
                k->cval = sc__j_int(attr->i);
                g->a = nd;
                g->b = k;
                next(p);
                if (!(nd = deep(p, g))) return NULL;
            } else {
                PFAIL(p, "expected name or number");
                return NULL;
            }
        } else if (tok_op(t, OP_LBRACKET)) {
            next(p);
            jnode *g = node(p, JN_GETITEM, t);
            if (!g) return NULL;
            g->a = nd;
            jnlist subs = {0};
            while (!p->rc && !tok_op(cur(p), OP_RBRACKET)) {
                if (subs.n && expect_op(p, OP_COMMA)) return NULL;
                if (!push(p, &subs, parse_subscribed(p))) return NULL;
            }
            if (expect_op(p, OP_RBRACKET)) return NULL;
            if (subs.n == 1) {
                g->b = subs.v[0];

            } else {
                jnode *tup = node(p, JN_TUPLE, t);
                if (!tup) return NULL;
                tup->args = subs;
                g->b = deep(p, tup);
            }
            if (!(nd = deep(p, g))) return NULL;
        } else if (tok_op(t, OP_LPAREN)) {
            jnode *c = node(p, JN_CALL, t);
            if (!c) return NULL;
            c->line = nd->line; /* errors point at the callee, not at "(" */
            c->col = nd->col;
            c->a = nd;
            if (parse_call_args(p, c) || !(nd = deep(p, c))) return NULL;
        } else {
            break;
        }
    }
    return p->rc ? NULL : nd;
}

static jnode *parse_primary(parser *p) {
    jtoken *t = cur(p);
    jnode *nd = NULL;
    if (p->rc) return NULL;
    if (t->type == TK_NAME) {
        nd = node(p, JN_CONST, t);
        if (!nd) return NULL;
        if (tok_name(t, "true") || tok_name(t, "True")) nd->cval = sc__j_bool(true);
        else if (tok_name(t, "false") || tok_name(t, "False")) nd->cval = sc__j_bool(false);
        else if (tok_name(t, "none") || tok_name(t, "None")) nd->cval = sc__j_none();
        else {
            nd->kind = JN_NAME;
            if (!(nd->name = pstr(p, t->s, t->len))) return NULL;
        }
        next(p);
    } else if (t->type == TK_STRING) {
        /* adjacent string literals concatenate */
        jsb b;
        sc__j_sb_init(&b, (size_t)1 << 30);
        while (cur(p)->type == TK_STRING) {
            sc__j_sb_putn(&b, cur(p)->s, cur(p)->len);
            next(p);
        }
        nd = node(p, JN_CONST, t);
        if (nd && !sc__j_str(p->a, b.p ? b.p : "", b.len, &nd->cval)) nd = NULL;
        sc__j_sb_free(&b);
        if (!nd) pfail_at(p, t, SC_ENOMEM, "out of memory");
    } else if (t->type == TK_INT || t->type == TK_FLOAT) {
        nd = node(p, JN_CONST, t);
        if (!nd) return NULL;
        nd->cval = t->type == TK_INT ? sc__j_int(t->i) : sc__j_float(t->f);
        next(p);
    } else if (tok_op(t, OP_LPAREN)) {
        next(p);
        nd = parse_tuple(p, false, true, NULL, NULL, true);
        if (expect_op(p, OP_RPAREN)) return NULL;
    } else if (tok_op(t, OP_LBRACKET) || tok_op(t, OP_LBRACE)) {
        bool is_dict = tok_op(t, OP_LBRACE);
        jop close = is_dict ? OP_RBRACE : OP_RBRACKET;
        nd = node(p, is_dict ? JN_DICT : JN_LIST, t);
        if (!nd) return NULL;
        next(p);
        while (!p->rc && !tok_op(cur(p), close)) {
            if (nd->args.n && expect_op(p, OP_COMMA)) return NULL;
            if (tok_op(cur(p), close)) break;
            if (!push(p, &nd->args, parse_expression(p, true))) return NULL;
            if (is_dict && (expect_op(p, OP_COLON) || !push(p, &nd->kw, parse_expression(p, true)))) return NULL;
        }
        if (expect_op(p, close)) return NULL;
    } else {
        char d[80];
        describe(t, d, sizeof d);
        PFAIL(p, "unexpected '%s'", d);
        return NULL;
    }
    return p->rc ? NULL : deep(p, nd);
}

static bool tuple_end(parser *p, const char *end1, const char *end2) {
    jtoken *t = cur(p);
    if (t->type == TK_VAR_END || t->type == TK_BLOCK_END || tok_op(t, OP_RPAREN)) return true;
    return (end1 && tok_name(t, end1)) || (end2 && tok_name(t, end2));
}

static jnode *parse_tuple(parser *p, bool simplified, bool with_condexpr, const char *end1, const char *end2,
                          bool explicit_parens) {
    const jtoken *at = cur(p);
    jnlist items = {0};
    bool is_tuple = false;
    for (;;) {
        if (items.n && expect_op(p, OP_COMMA)) return NULL;
        if (tuple_end(p, end1, end2)) break;
        jnode *e = simplified ? parse_primary(p) : parse_expression(p, with_condexpr);
        if (!push(p, &items, e)) return NULL;
        if (tok_op(cur(p), OP_COMMA)) is_tuple = true;
        else break;
    }
    if (!is_tuple) {
        if (items.n) return items.v[0];
        if (!explicit_parens) {
            char d[80];
            describe(cur(p), d, sizeof d);
            PFAIL(p, "Expected an expression, got '%s'", d);
            return NULL;
        }
    }
    jnode *t = node(p, JN_TUPLE, at);
    if (t) t->args = items;
    return deep(p, t);
}

static jnode *binop(parser *p, jkind kind, jop op, const jtoken *at, jnode *l, jnode *r) {
    if (!l || !r) return NULL;
    jnode *n = node(p, kind, at);
    if (!n) return NULL;
    n->op = (uint8_t)op;
    n->a = l;
    n->b = r;
    return deep(p, n);
}

static jnode *parse_unary(parser *p, bool with_filter) {
    const jtoken *t = cur(p);
    jnode *nd;
    if (tok_op(t, OP_SUB) || tok_op(t, OP_ADD)) {
        if (!enter(p)) return NULL;
        next(p);
        nd = node(p, tok_op(t, OP_SUB) ? JN_NEG : JN_POS, t);
        if (nd && !(nd->a = parse_unary(p, false))) nd = NULL;
        nd = deep(p, nd);
        leave(p);
    } else {
        nd = parse_primary(p);
    }
    nd = parse_postfix(p, nd);
    if (with_filter) nd = parse_filter_expr(p, nd);
    return nd;
}

static jnode *parse_pow(parser *p) {
    jnode *l = parse_unary(p, true);
    while (l && tok_op(cur(p), OP_POW)) {
        const jtoken *at = cur(p);
        next(p);
        l = binop(p, JN_BINOP, OP_POW, at, l, parse_unary(p, true));
    }
    return l;
}

static jnode *parse_math2(parser *p) {
    jnode *l = parse_pow(p);
    while (l && (tok_op(cur(p), OP_MUL) || tok_op(cur(p), OP_DIV) || tok_op(cur(p), OP_FLOORDIV) ||
                 tok_op(cur(p), OP_MOD))) {
        const jtoken *at = cur(p);
        jop op = (jop)at->op;
        next(p);
        l = binop(p, JN_BINOP, op, at, l, parse_pow(p));
    }
    return l;
}

static jnode *parse_concat(parser *p) {
    const jtoken *at = cur(p);
    jnode *first = parse_math2(p);
    if (!first || !tok_op(cur(p), OP_TILDE)) return first;
    jnode *c = node(p, JN_CONCAT, at);
    if (!c || !push(p, &c->args, first)) return NULL;
    while (tok_op(cur(p), OP_TILDE)) {
        next(p);
        if (!push(p, &c->args, parse_math2(p))) return NULL;
    }
    return deep(p, c);
}

static jnode *parse_math1(parser *p) {
    jnode *l = parse_concat(p);
    while (l && (tok_op(cur(p), OP_ADD) || tok_op(cur(p), OP_SUB))) {
        const jtoken *at = cur(p);
        jop op = (jop)at->op;
        next(p);
        l = binop(p, JN_BINOP, op, at, l, parse_concat(p));
    }
    return l;
}

static jnode *parse_compare(parser *p) {
    const jtoken *at = cur(p);
    jnode *first = parse_math1(p);
    if (!first) return NULL;
    jnode *cmp = NULL;
    uint8_t ops[64];
    for (;;) {
        jtoken *t = cur(p);
        jop op;
        if (t->type == TK_OP && (t->op == OP_EQ || t->op == OP_NE || t->op == OP_LT || t->op == OP_LTEQ ||
                                 t->op == OP_GT || t->op == OP_GTEQ)) {
            op = (jop)t->op;
            next(p);
        } else if (tok_name(t, "in")) {
            op = OP_IN;
            next(p);
        } else if (tok_name(t, "not") && tok_name(look(p), "in")) {
            op = OP_NOTIN;
            next(p);
            next(p);
        } else {
            break;
        }
        if (!cmp && !(cmp = node(p, JN_COMPARE, at))) return NULL;
        if (cmp->args.n == (int)sizeof ops) {
            PFAIL(p, "too many chained comparisons");
            return NULL;
        }
        ops[cmp->args.n] = (uint8_t)op;
        if (!push(p, &cmp->args, parse_math1(p))) return NULL;
    }
    if (!cmp) return first;
    cmp->a = first;
    cmp->ops = sc__j_alloc(p->a, (size_t)cmp->args.n);
    if (!cmp->ops) {
        pfail_at(p, at, SC_ENOMEM, "out of memory");
        return NULL;
    }
    memcpy(cmp->ops, ops, (size_t)cmp->args.n);
    return deep(p, cmp);
}

static jnode *parse_not(parser *p) {
    if (!tok_name(cur(p), "not")) return parse_compare(p);
    const jtoken *at = cur(p);
    if (!enter(p)) return NULL;
    next(p);
    jnode *n = node(p, JN_NOT, at);
    if (n && !(n->a = parse_not(p))) n = NULL;
    leave(p);
    return deep(p, n);
}

static jnode *parse_and(parser *p) {
    jnode *l = parse_not(p);
    while (l && tok_name(cur(p), "and")) {
        const jtoken *at = cur(p);
        next(p);
        l = binop(p, JN_AND, OP_NONE, at, l, parse_not(p));
    }
    return l;
}

static jnode *parse_or(parser *p) {
    jnode *l = parse_and(p);
    while (l && tok_name(cur(p), "or")) {
        const jtoken *at = cur(p);
        next(p);
        l = binop(p, JN_OR, OP_NONE, at, l, parse_and(p));
    }
    return l;
}

static jnode *parse_expression(parser *p, bool with_condexpr) {
    if (!enter(p)) return NULL;
    const jtoken *at = cur(p);
    jnode *e = parse_or(p);
    while (with_condexpr && e && tok_name(cur(p), "if")) {
        next(p);
        jnode *c = node(p, JN_COND, at);
        if (!c) return NULL;
        bool soft = p->soft;
        p->soft = true;
        c->a = e;
        c->b = parse_or(p);
        if (c->b && tok_name(cur(p), "else")) {
            next(p);
            c->c = parse_expression(p, true);
            if (!c->c) e = NULL;
        }
        p->soft = soft;
        e = c->b ? deep(p, c) : NULL;
        at = cur(p);
    }
    leave(p);
    return p->rc ? NULL : e;
}

/* ------------------------------------------------------------------------ */
/* statements                                                                */
/* ------------------------------------------------------------------------ */
static int subparse(parser *p, jnlist *body, const char *const *end_tags);

static bool can_assign(const jnode *t, bool allow_tuple) {
    if (!t) return false;
    if (t->kind == JN_NAME || t->kind == JN_NSREF) return true;
    if (t->kind == JN_TUPLE && allow_tuple) {
        for (int i = 0; i < t->args.n; i++)
            if (!can_assign(t->args.v[i], false)) return false;
        return true;
    }
    return false;
}

static jnode *parse_assign_target(parser *p, bool name_only, const char *end1, bool with_ns) {
    const jtoken *at = cur(p);
    jnode *t;
    if (with_ns && at->type == TK_NAME && tok_op(look(p), OP_DOT)) {
        t = node(p, JN_NSREF, at);
        if (!t || !(t->name = pstr(p, at->s, at->len))) return NULL;
        next(p);
        next(p);
        if (cur(p)->type != TK_NAME) {
            expect_type(p, TK_NAME, "name");
            return NULL;
        }
        if (!(t->name2 = pstr(p, cur(p)->s, cur(p)->len))) return NULL;
        next(p);
        return t;
    }
    if (name_only) {
        if (at->type != TK_NAME) {
            expect_type(p, TK_NAME, "name");
            return NULL;
        }
        t = node(p, JN_NAME, at);
        if (!t || !(t->name = pstr(p, at->s, at->len))) return NULL;
        next(p);
        return t;
    }
    t = parse_tuple(p, true, true, end1, NULL, false);
    if (!t) return NULL;
    if (!can_assign(t, true)) {
        pfail_at(p, at, SC_EFORMAT, "can't assign to '%s'",
                 t->kind == JN_CONST ? "const" : t->kind == JN_TUPLE ? "tuple" : "expression");
        return NULL;
    }
    return t;
}

/* Optional ':' then block end, then the body up to one of end_tags. The
 * current token is then the end tag's name; drop_needle skips it. */
static int parse_statements(parser *p, jnlist *body, const char *const *end_tags, bool drop_needle) {
    if (tok_op(cur(p), OP_COLON)) next(p);
    if (expect_type(p, TK_BLOCK_END, "end of statement block")) return p->rc;
    if (subparse(p, body, end_tags)) return p->rc;
    if (cur(p)->type == TK_EOF) {
        char tags[160] = "";
        for (int i = 0; end_tags[i]; i++)
            snprintf(tags + strlen(tags), sizeof tags - strlen(tags), "%s'%s'", i ? " or " : "", end_tags[i]);
        return PFAIL(p, "Unexpected end of template. Jinja was looking for the following tags: %s.", tags);
    }
    if (drop_needle) next(p);
    return SC_OK;
}

static int parse_signature(parser *p, jnode *nd) {
    if (expect_op(p, OP_LPAREN)) return p->rc;
    while (!p->rc && !tok_op(cur(p), OP_RPAREN)) {
        if (nd->args.n && expect_op(p, OP_COMMA)) return p->rc;
        if (!push(p, &nd->args, parse_assign_target(p, true, NULL, false))) return p->rc;
        if (tok_op(cur(p), OP_ASSIGN)) {
            next(p);
            if (!push(p, &nd->kw, parse_expression(p, true))) return p->rc;
        } else if (nd->kw.n) {
            return PFAIL(p, "non-default argument follows default argument");
        }
    }
    return p->rc ? p->rc : expect_op(p, OP_RPAREN);
}

/* Does the body use caller / kwargs / varargs (Jinja's find_undeclared,
 * which also looks inside nested macros)? */
static void scan_uses(jnode *m, const jnode *n) {
    if (!n) return;
    if (n->kind == JN_NAME) {
        if (strcmp(n->name, "caller") == 0) m->uses_caller = true;
        else if (strcmp(n->name, "kwargs") == 0) m->uses_kwargs = true;
        else if (strcmp(n->name, "varargs") == 0) m->uses_varargs = true;
        return;
    }
    scan_uses(m, n->a);
    scan_uses(m, n->b);
    scan_uses(m, n->c);
    scan_uses(m, n->d);
    const jnlist *ls[] = {&n->args, &n->kw, &n->body, &n->else_body};
    for (size_t k = 0; k < SC_ARRAY_LEN(ls); k++)
        for (int i = 0; i < ls[k]->n; i++) scan_uses(m, ls[k]->v[i]);
}

/* A body compiled as its own Python function: loops outside it do not
 * count for break/continue, and unknown filters are compile errors again. */
static int parse_function_body(parser *p, jnode *nd, const char *const *end) {
    int loops = p->loops;
    bool soft = p->soft;
    p->loops = 0;
    p->soft = false;
    int rc = parse_statements(p, &nd->body, end, true);
    p->loops = loops;
    p->soft = soft;
    for (int i = 0; !rc && i < nd->body.n; i++) scan_uses(nd, nd->body.v[i]);
    return rc;
}

static jnode *parse_for(parser *p, const jtoken *at) {
    static const char *const end_body[] = {"endfor", "else", NULL}, *const end_else[] = {"endfor", NULL};
    jnode *f = node(p, JN_FOR, at);
    if (!f) return NULL;
    f->a = parse_assign_target(p, false, "in", false);
    if (!f->a) return NULL;
    if (!tok_name(cur(p), "in")) {
        expect_type(p, TK_NAME, "in");
        return NULL;
    }
    next(p);
    f->b = parse_tuple(p, false, false, "recursive", NULL, false);
    if (!f->b) return NULL;
    bool soft = p->soft;
    p->soft = false; /* the loop body and filter run in an inner frame */
    if (tok_name(cur(p), "if")) {
        next(p);
        if (!(f->c = parse_expression(p, true))) return NULL;
    }
    if (tok_name(cur(p), "recursive")) {
        next(p);
        f->recursive = true;
    }
    p->loops++;
    int rc = parse_statements(p, &f->body, end_body, false);
    p->loops--;
    if (!rc) {
        bool has_else = tok_name(cur(p), "else");
        next(p);
        if (has_else) rc = parse_statements(p, &f->else_body, end_else, true);
    }
    p->soft = soft;
    return rc ? NULL : f;
}

static jnode *parse_if(parser *p, const jtoken *at) {
    static const char *const end_body[] = {"elif", "else", "endif", NULL}, *const end_else[] = {"endif", NULL};
    bool soft = p->soft;
    p->soft = true;
    jnode *top = node(p, JN_IF, at), *nd = top;
    while (nd) {
        if (!(nd->a = parse_tuple(p, false, false, NULL, NULL, false))) break;
        if (parse_statements(p, &nd->body, end_body, false)) break;
        if (tok_name(cur(p), "elif")) {
            jnode *e = node(p, JN_IF, cur(p));
            if (e) e->is_elif = true;
            next(p);
            if (!push(p, &nd->else_body, e)) break;
            nd = e;
            continue;
        }
        bool has_else = tok_name(cur(p), "else");
        next(p);
        if (has_else) parse_statements(p, &nd->else_body, end_else, true);
        break;
    }
    p->soft = soft;
    return p->rc ? NULL : top;
}

static int parse_statement(parser *p, jnlist *body) {
    static const char *const end_set[] = {"endset", NULL}, *const end_macro[] = {"endmacro", NULL},
                             *const end_call[] = {"endcall", NULL}, *const end_filter[] = {"endfilter", NULL},
                             *const end_with[] = {"endwith", NULL}, *const end_gen[] = {"endgeneration", NULL};
    jtoken *at = cur(p);
    if (at->type != TK_NAME) return PFAIL(p, "tag name expected");
    if (!enter(p)) return p->rc;
    jnode *nd = NULL;
    const char *outer_block = p->block_name;
    char tag[32];
    snprintf(tag, sizeof tag, "%.*s", (int)SC_MIN(at->len, 31), at->s);
    p->block_name = tag;
    next(p);
    if (strcmp(tag, "for") == 0) {
        nd = parse_for(p, at);
    } else if (strcmp(tag, "if") == 0) {
        nd = parse_if(p, at);
    } else if (strcmp(tag, "set") == 0) {
        jnode *target = parse_assign_target(p, false, NULL, true);
        if (target && tok_op(cur(p), OP_ASSIGN)) {
            next(p);
            if ((nd = node(p, JN_SET, at))) {
                nd->a = target;
                if (!(nd->b = parse_tuple(p, false, true, NULL, NULL, false))) nd = NULL;
            }
        } else if (target && (nd = node(p, JN_SETBLOCK, at))) {
            nd->a = target;
            if (tok_op(cur(p), OP_PIPE)) {
                next(p);
                nd->b = parse_filter(p, NULL, true);
            }
            if (p->rc || parse_statements(p, &nd->body, end_set, true)) nd = NULL;
        }
    } else if (strcmp(tag, "macro") == 0 || strcmp(tag, "call") == 0) {
        bool is_macro = tag[0] == 'm';
        nd = node(p, is_macro ? JN_MACRO : JN_CALLBLOCK, at);
        if (nd && is_macro) {
            jnode *name = parse_assign_target(p, true, NULL, false);
            if (!name || parse_signature(p, nd)) nd = NULL;
            else nd->name = name->name;
        } else if (nd) {
            if (tok_op(cur(p), OP_LPAREN) && parse_signature(p, nd)) nd = NULL;
            else if (!(nd->a = parse_expression(p, true))) nd = NULL;
            else if (nd->a->kind != JN_CALL) {
                pfail_at(p, at, SC_EFORMAT, "expected call");
                nd = NULL;
            }
            if (nd) nd->name = "caller";
        }
        if (nd && parse_function_body(p, nd, is_macro ? end_macro : end_call)) nd = NULL;
    } else if (strcmp(tag, "filter") == 0) {
        if ((nd = node(p, JN_FILTERBLOCK, at)) && (!(nd->b = parse_filter(p, NULL, true)) ||
                                                  parse_statements(p, &nd->body, end_filter, true)))
            nd = NULL;
    } else if (strcmp(tag, "with") == 0) {
        nd = node(p, JN_WITH, at);
        while (nd && !p->rc && cur(p)->type != TK_BLOCK_END) {
            if (nd->args.n && expect_op(p, OP_COMMA)) break;
            if (!push(p, &nd->args, parse_assign_target(p, false, NULL, false)) || expect_op(p, OP_ASSIGN) ||
                !push(p, &nd->kw, parse_expression(p, true)))
                break;
        }
        if (nd && (p->rc || parse_statements(p, &nd->body, end_with, true))) nd = NULL;
    } else if (strcmp(tag, "generation") == 0) {
        /* transformers' AssistantTracker: marks assistant text, renders as is */
        if ((nd = node(p, JN_SCOPE, at)) && parse_statements(p, &nd->body, end_gen, true)) nd = NULL;
    } else if (strcmp(tag, "break") == 0 || strcmp(tag, "continue") == 0) {
        if (p->loops == 0) pfail_at(p, at, SC_EFORMAT, "'%s' outside loop", tag);
        else nd = node(p, tag[0] == 'b' ? JN_BREAK : JN_CONTINUE, at);
    } else if (strcmp(tag, "print") == 0) {
        for (int count = 0; !p->rc && cur(p)->type != TK_BLOCK_END; count++) {
            if (count && expect_op(p, OP_COMMA)) break;
            jnode *pr = node(p, JN_PRINT, at);
            if (!pr || !(pr->a = parse_expression(p, true)) || !push(p, body, pr)) break;
        }
        leave(p);
        p->block_name = outer_block;
        return p->rc;
    } else if (!strcmp(tag, "extends") || !strcmp(tag, "block") || !strcmp(tag, "include") ||
               !strcmp(tag, "import") || !strcmp(tag, "from") || !strcmp(tag, "autoescape")) {
        pfail_at(p, at, SC_ENOTSUP, "'{%% %s %%}' is not supported in chat templates", tag);
    } else {
        char extra[256] = "";
        if (p->end_tags) {
            size_t o = (size_t)snprintf(extra, sizeof extra, " Jinja was looking for the following tags: ");
            for (int i = 0; p->end_tags[i] && o < sizeof extra; i++)
                o += (size_t)snprintf(extra + o, sizeof extra - o, "%s'%s'", i ? " or " : "", p->end_tags[i]);
            if (o < sizeof extra && outer_block)
                snprintf(extra + o, sizeof extra - o, ". The innermost block that needs to be closed is '%s'.",
                         outer_block);
        }
        pfail_at(p, at, SC_EFORMAT, "Encountered unknown tag '%s'.%s", tag, extra);
    }
    leave(p);
    p->block_name = outer_block;
    if (p->rc || !nd) return p->rc ? p->rc : PFAIL(p, "invalid statement");
    push(p, body, nd);
    return p->rc;
}

static int subparse(parser *p, jnlist *body, const char *const *end_tags) {
    const char *const *outer = p->end_tags;
    p->end_tags = end_tags;
    while (!p->rc && cur(p)->type != TK_EOF) {
        jtoken *t = cur(p);
        if (t->type == TK_DATA) {
            jnode *d = node(p, JN_DATA, t);
            if (!d) break;
            d->text = t->s;
            d->text_len = t->len;
            push(p, body, d);
            next(p);
        } else if (t->type == TK_VAR_BEGIN) {
            next(p);
            jnode *pr = node(p, JN_PRINT, t);
            if (!pr || !(pr->a = parse_tuple(p, false, true, NULL, NULL, false))) break;
            sc__j_mark_folded(pr->a);
            if (expect_type(p, TK_VAR_END, "end of print statement")) break;
            push(p, body, pr);
        } else if (t->type == TK_BLOCK_BEGIN) {
            next(p);
            if (end_tags)
                for (int i = 0; end_tags[i]; i++)
                    if (tok_name(cur(p), end_tags[i])) goto out;
            if (parse_statement(p, body)) break;
            if (expect_type(p, TK_BLOCK_END, "end of statement block")) break;
        } else {
            PFAIL(p, "internal parsing error");
        }
    }
out:
    p->end_tags = outer;
    return p->rc;
}

int sc__j_parse(const char *src, size_t len, jtemplate **out, char *err, size_t err_len) {
    *out = NULL;
    jtemplate *t = calloc(1, sizeof(*t));
    if (!t || !(t->arena = sc__j_arena_create((size_t)1 << 30))) {
        free(t);
        snprintf(err, err_len, "out of memory");
        return SC_ENOMEM;
    }
    parser p = {.a = t->arena, .err = err, .err_len = err_len};
    int rc = sc__j_lex(t->arena, src, len, &p.t, &p.n, err, err_len);
    if (rc == SC_OK) {
        rc = subparse(&p, &t->body, NULL);
        if (!rc && cur(&p)->type != TK_EOF) rc = PFAIL(&p, "unexpected token");
        if (!rc) rc = sc__j_analyze(t, err, err_len);
    }
    free(p.t);
    if (rc) {
        sc__j_template_free(t);
        return rc;
    }
    *out = t;
    return SC_OK;
}

void sc__j_template_free(jtemplate *t) {
    if (!t) return;
    sc__j_arena_destroy(t->arena);
    free(t);
}
