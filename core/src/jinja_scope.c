/*
 * core/src/jinja_scope.c - Jinja's compile-time symbol tracking
 * (jinja2/idtracking.py), reduced to the one result that changes output.
 *
 * Jinja compiles each frame (the template, a loop body, a macro body, a
 * {% set %} block, ...) to a Python function with local variables. A name
 * assigned in a frame whose first mention there is the assignment starts
 * out *missing* - it does not fall back to the variable passed in - unless
 * an enclosing frame already refers to it. So with x=1 passed in,
 *     {% for i in [1] %}{{ x }}{% endfor %}{% set x = 5 %}
 * prints nothing: the loop reads the template's own, not yet assigned x.
 * Everything else about Jinja's scoping falls out of the evaluator's frame
 * chain; this pass only lists, per frame, the names to pre-set as missing
 * (jnode.undefs; jtemplate.undefs for the template itself).
 */
#include <string.h>

#include "jinja.h"

enum { K_RESOLVE = 0, K_ALIAS, K_UNDEF, K_PARAM };

typedef struct syms {
    const struct syms *parent;
    const char **names; /* refs, with their load kind */
    uint8_t *kinds;
    int n, cap;
    const char **stores;
    int ns, scap;
} syms;

typedef struct scope {
    jarena *a;
    bool oom;
} scope;

static int find_local(const syms *s, const char *name) {
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->names[i], name)) return i;
    return -1;
}

static bool find_ref(const syms *s, const char *name) {
    for (; s; s = s->parent)
        if (find_local(s, name) >= 0) return true;
    return false;
}

static void define(scope *sc, syms *s, const char *name, uint8_t kind) {
    int i = find_local(s, name);
    if (i >= 0) {
        s->kinds[i] = kind;
        return;
    }
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 8;
        const char **names = sc__j_alloc(sc->a, (size_t)cap * sizeof(char *));
        uint8_t *kinds = sc__j_alloc(sc->a, (size_t)cap);
        if (!names || !kinds) {
            sc->oom = true;
            return;
        }
        if (s->n) {
            memcpy(names, s->names, (size_t)s->n * sizeof(char *));
            memcpy(kinds, s->kinds, (size_t)s->n);
        }
        s->names = names;
        s->kinds = kinds;
        s->cap = cap;
    }
    s->names[s->n] = name;
    s->kinds[s->n++] = kind;
}

static bool stored(const syms *s, const char *name) {
    for (int i = 0; i < s->ns; i++)
        if (!strcmp(s->stores[i], name)) return true;
    return false;
}

static void add_store(scope *sc, syms *s, const char *name) {
    if (stored(s, name)) return;
    if (s->ns == s->scap) {
        int cap = s->scap ? s->scap * 2 : 8;
        const char **stores = sc__j_alloc(sc->a, (size_t)cap * sizeof(char *));
        if (!stores) {
            sc->oom = true;
            return;
        }
        if (s->ns) memcpy(stores, s->stores, (size_t)s->ns * sizeof(char *));
        s->stores = stores;
        s->scap = cap;
    }
    s->stores[s->ns++] = name;
}

static void sym_load(scope *sc, syms *s, const char *name) {
    if (!find_ref(s, name)) define(sc, s, name, K_RESOLVE);
}

static void sym_store(scope *sc, syms *s, const char *name) {
    add_store(sc, s, name);
    if (find_local(s, name) >= 0) return;
    define(sc, s, name, s->parent && find_ref(s->parent, name) ? K_ALIAS : K_UNDEF);
}

static void sym_param(scope *sc, syms *s, const char *name) {
    add_store(sc, s, name);
    define(sc, s, name, K_PARAM);
}

static syms copy_syms(scope *sc, const syms *s) {
    syms c = {.parent = s->parent};
    for (int i = 0; i < s->n; i++) define(sc, &c, s->names[i], s->kinds[i]);
    for (int i = 0; i < s->ns; i++) add_store(sc, &c, s->stores[i]);
    return c;
}

static void visit(scope *sc, syms *s, const jnode *n);
static void visit_list(scope *sc, syms *s, const jnlist *l) {
    for (int i = 0; i < l->n; i++) visit(sc, s, l->v[i]);
}

static void visit_target(scope *sc, syms *s, const jnode *t, bool param) {
    if (!t) return;
    if (t->kind == JN_NAME) param ? sym_param(sc, s, t->name) : sym_store(sc, s, t->name);
    else if (t->kind == JN_NSREF) sym_load(sc, s, t->name);
    else if (t->kind == JN_TUPLE)
        for (int i = 0; i < t->args.n; i++) visit_target(sc, s, t->args.v[i], param);
}

/* idtracking's If: body, the elif chain and else are three branches; a name
 * first assigned in only some of them is resolved from outside instead of
 * starting out missing. */
static void visit_if(scope *sc, syms *s, const jnode *n) {
    visit(sc, s, n->a);
    syms br[3];
    br[0] = copy_syms(sc, s);
    visit_list(sc, &br[0], &n->body);
    const jnlist *els = &n->else_body;
    br[1] = copy_syms(sc, s);
    if (!n->is_elif) {
        while (els->n == 1 && els->v[0]->kind == JN_IF && els->v[0]->is_elif) {
            const jnode *e = els->v[0];
            visit_if(sc, &br[1], e); /* an elif is an If of its own, visited in the elif branch */
            els = &e->else_body;
        }
    }
    br[2] = copy_syms(sc, s);
    if (!n->is_elif) visit_list(sc, &br[2], els);
    /* branch_update: count in how many branches each new name is stored */
    int total = br[0].ns + br[1].ns + br[2].ns, np = 0;
    const char **partial = sc__j_alloc(sc->a, (size_t)(total + 1) * sizeof(char *));
    int *counts = sc__j_alloc(sc->a, (size_t)(total + 1) * sizeof(int));
    if (!partial || !counts) {
        sc->oom = true;
        return;
    }
    for (int b = 0; b < 3; b++)
        for (int i = 0; i < br[b].ns; i++) {
            const char *name = br[b].stores[i];
            if (stored(s, name)) continue;
            int k = 0;
            while (k < np && strcmp(partial[k], name)) k++;
            if (k == np) {
                partial[np] = name;
                counts[np++] = 0;
            }
            counts[k]++;
        }
    for (int b = 0; b < 3; b++) {
        for (int i = 0; i < br[b].n; i++) define(sc, s, br[b].names[i], br[b].kinds[i]);
        for (int i = 0; i < br[b].ns; i++) add_store(sc, s, br[b].stores[i]);
    }
    for (int k = 0; k < np; k++) {
        if (counts[k] == 3) continue;
        define(sc, s, partial[k], s->parent && find_ref(s->parent, partial[k]) ? K_ALIAS : K_RESOLVE);
    }
}

/* FrameSymbolVisitor: what a frame itself evaluates; child frames stop it. */
static void visit(scope *sc, syms *s, const jnode *n) {
    if (!n || sc->oom) return;
    switch (n->kind) {
    case JN_NAME: sym_load(sc, s, n->name); return;
    case JN_NSREF: sym_load(sc, s, n->name); return;
    case JN_IF: visit_if(sc, s, n); return;
    case JN_MACRO: sym_store(sc, s, n->name); return;
    case JN_SET:
        visit(sc, s, n->b);
        visit_target(sc, s, n->a, false);
        return;
    case JN_SETBLOCK: visit_target(sc, s, n->a, false); return;
    case JN_FOR: visit(sc, s, n->b); return;
    case JN_CALLBLOCK: visit(sc, s, n->a); return;
    case JN_FILTERBLOCK: visit(sc, s, n->b); return;
    case JN_WITH: visit_list(sc, s, &n->kw); return;
    case JN_SCOPE: return;
    default:
        visit(sc, s, n->a);
        visit(sc, s, n->b);
        visit(sc, s, n->c);
        visit(sc, s, n->d);
        visit_list(sc, s, &n->args);
        visit_list(sc, s, &n->kw);
        return;
    }
}

/* Does a macro get defined anywhere below (it would capture the frame)? */
static bool defines_macro(const jnlist *l) {
    for (int i = 0; i < l->n; i++) {
        const jnode *n = l->v[i];
        if (n->kind == JN_MACRO) return true;
        if (defines_macro(&n->body) || defines_macro(&n->else_body)) return true;
    }
    return false;
}

static bool collect(scope *sc, const syms *s, const char ***out, int *nout) {
    int n = 0;
    for (int i = 0; i < s->n; i++) n += s->kinds[i] == K_UNDEF;
    *nout = 0;
    if (!n) return true;
    *out = sc__j_alloc(sc->a, (size_t)n * sizeof(char *));
    if (!*out) return false;
    for (int i = 0; i < s->n; i++)
        if (s->kinds[i] == K_UNDEF) (*out)[(*nout)++] = s->names[i];
    return true;
}

static void frames_in(scope *sc, const syms *s, const jnlist *l);

/* Analyse the frames a node opens (RootVisitor), then the frames inside. */
static void child_frames(scope *sc, const syms *s, jnode *n) {
    if (!n || sc->oom) return;
    syms f = {.parent = s}, g = {.parent = s};
    switch (n->kind) {
    case JN_FOR:
        n->reuse_frame = !defines_macro(&n->body);
        visit_target(sc, &f, n->a, true);
        visit_list(sc, &f, &n->body);
        visit_list(sc, &g, &n->else_body);
        if (!collect(sc, &f, &n->undefs, &n->n_undefs) || !collect(sc, &g, &n->undefs2, &n->n_undefs2)) sc->oom = true;
        frames_in(sc, &f, &n->body);
        frames_in(sc, &g, &n->else_body);
        return;
    case JN_MACRO:
    case JN_CALLBLOCK:
        for (int i = 0; i < n->args.n; i++) sym_param(sc, &f, n->args.v[i]->name);
        if (n->uses_caller) sym_param(sc, &f, "caller");
        if (n->uses_kwargs) sym_param(sc, &f, "kwargs");
        if (n->uses_varargs) sym_param(sc, &f, "varargs");
        visit_list(sc, &f, &n->kw);
        visit_list(sc, &f, &n->body);
        break;
    case JN_SETBLOCK:
    case JN_SCOPE:
        visit_list(sc, &f, &n->body);
        break;
    case JN_FILTERBLOCK:
        visit_list(sc, &f, &n->body);
        visit(sc, &f, n->b);
        break;
    case JN_WITH:
        for (int i = 0; i < n->args.n; i++) visit_target(sc, &f, n->args.v[i], true);
        visit_list(sc, &f, &n->body);
        break;
    case JN_IF:
        frames_in(sc, s, &n->body);
        frames_in(sc, s, &n->else_body);
        return;
    default:
        return;
    }
    if (!collect(sc, &f, &n->undefs, &n->n_undefs)) sc->oom = true;
    frames_in(sc, &f, &n->body);
}

static void frames_in(scope *sc, const syms *s, const jnlist *l) {
    for (int i = 0; i < l->n; i++) child_frames(sc, s, l->v[i]);
}

/* Would Jinja's code generator evaluate this {{ expression }} at compile
 * time (as_const)? Only expressions of literals; filters that need the
 * context are not folded. It matters for slices: folded ones go through
 * environment.getitem and give an Undefined where runtime slicing raises. */
static bool foldable(const jnode *n) {
    if (!n) return true;
    switch (n->kind) {
    case JN_CONST: return true;
    case JN_NAME: case JN_CALL: case JN_NSREF: return false;
    case JN_FILTER:
        if (!n->a || n->c || n->d || !strcmp(n->name, "map") || !strcmp(n->name, "select") ||
            !strcmp(n->name, "reject") || !strcmp(n->name, "selectattr") || !strcmp(n->name, "rejectattr"))
            return false;
        break;
    default: break;
    }
    if (!foldable(n->a) || !foldable(n->b) || !foldable(n->c) || !foldable(n->d)) return false;
    for (int i = 0; i < n->args.n; i++)
        if (!foldable(n->args.v[i])) return false;
    for (int i = 0; i < n->kw.n; i++)
        if (!foldable(n->kw.v[i])) return false;
    return true;
}

static void mark_folded(jnode *n) {
    if (!n) return;
    if (n->kind == JN_GETITEM && n->b && n->b->kind == JN_SLICE) n->folded = true;
    mark_folded(n->a);
    mark_folded(n->b);
    mark_folded(n->c);
    mark_folded(n->d);
    for (int i = 0; i < n->args.n; i++) mark_folded(n->args.v[i]);
    for (int i = 0; i < n->kw.n; i++) mark_folded(n->kw.v[i]);
}

void sc__j_mark_folded(jnode *expr) {
    if (foldable(expr)) mark_folded(expr);
}

int sc__j_analyze(jtemplate *t, char *err, size_t err_len) {
    scope sc = {.a = t->arena};
    syms root = {0};
    visit_list(&sc, &root, &t->body);
    if (!collect(&sc, &root, &t->undefs, &t->n_undefs)) sc.oom = true;
    frames_in(&sc, &root, &t->body);
    if (sc.oom) {
        if (err && err_len) strncpy(err, "out of memory", err_len - 1);
        return SC_ENOMEM;
    }
    return SC_OK;
}
